"""Risk and performance metrics over daily returns, computed by empyrical-reloaded with zipline's conventions.

zipline-reloaded's per-session perf columns call empyrical on the returns of sessions 0..t (expanding):
``algo_volatility`` = ``annual_volatility`` (sample std x sqrt(252)), ``sharpe`` = ``sharpe_ratio``, ``sortino`` =
``sortino_ratio``, ``max_drawdown`` = ``max_drawdown`` (from the starting capital), ``alpha``/``beta`` =
``alpha_beta_aligned`` against the benchmark's returns (alpha compounded to a year: ``(1 + daily alpha)**252 - 1``),
and a value that is not finite is reported as missing (NaN here, None in zipline). This module does the same, so a
results table compares with zipline's row by row. ``benchmark_volatility`` is zipline's expanding sample std of the
benchmark's returns (from the second session) x sqrt(252).

Pure: numbers in, numbers out; no I/O, no clock.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import empyrical as ep
import numpy as np

TRADING_DAYS = 252


def _finite(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else math.nan


def _expanding_columns(fn: Callable[..., tuple[float, ...]], width: int, *series: np.ndarray) -> np.ndarray:
    """``fn`` (returning ``width`` figures) over sessions 0..t for every t, as zipline's
    ReturnsStatistic/AlphaBeta do each session: an array of shape (n, width)."""
    n = len(series[0])
    out = np.empty((n, width))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for t in range(n):
            out[t] = [_finite(x) for x in fn(*(s[: t + 1] for s in series))]
    return out


def _expanding(fn: Callable[..., float], *series: np.ndarray) -> np.ndarray:
    """``fn`` over sessions 0..t for every t (one figure a session)."""
    return _expanding_columns(lambda *s: (fn(*s),), 1, *series)[:, 0]


def expanding_volatility(returns: np.ndarray) -> np.ndarray:
    """Annualised volatility (``empyrical.annual_volatility``) of the returns up to each session; NaN on the first."""
    return _expanding(ep.annual_volatility, np.asarray(returns, dtype=float))


def expanding_sharpe(returns: np.ndarray) -> np.ndarray:
    """Annualised Sharpe ratio (``empyrical.sharpe_ratio``, risk-free 0) up to each session; NaN when undefined."""
    return _expanding(ep.sharpe_ratio, np.asarray(returns, dtype=float))


def expanding_sortino(returns: np.ndarray) -> np.ndarray:
    """Annualised Sortino ratio (``empyrical.sortino_ratio``) up to each session.

    NaN on the first session (one return has no downside deviation: empyrical's and zipline's rule) and while
    there has been no losing session (an infinite ratio is reported as missing, as zipline does).
    """
    return _expanding(ep.sortino_ratio, np.asarray(returns, dtype=float))


def expanding_max_drawdown(returns: np.ndarray) -> np.ndarray:
    """The worst peak-to-trough fall (negative fraction, ``empyrical.max_drawdown``) up to each session.

    Measured from the starting capital: a loss on the first session is already a drawdown.
    """
    return _expanding(ep.max_drawdown, np.asarray(returns, dtype=float))


def expanding_alpha_beta(returns: np.ndarray, bench: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alpha (annualised by compounding) and beta of the returns against the benchmark's, up to each session."""
    r = np.asarray(returns, dtype=float)
    b = np.asarray(bench, dtype=float)
    both = _expanding_columns(lambda x, y: tuple(ep.alpha_beta_aligned(x, y)), 2, r, b)  # one call gives both
    return both[:, 0], both[:, 1]


def expanding_benchmark_volatility(bench: np.ndarray) -> np.ndarray:
    """zipline's ``benchmark_volatility``: the expanding sample std (from two sessions on) x sqrt(252)."""
    b = np.asarray(bench, dtype=float)
    n = np.arange(1, len(b) + 1, dtype=float)
    mean = np.cumsum(b) / n
    with np.errstate(all="ignore"):
        var = (np.cumsum(b * b) - n * mean * mean) / (n - 1)
    out = np.sqrt(np.maximum(var, 0.0)) * math.sqrt(TRADING_DAYS)
    out[n < 2] = np.nan
    return out


@dataclass(frozen=True)
class Summary:
    """The end-of-run figures printed to the console and saved in ``summary.json``.

    Ratios follow zipline's end-of-run risk report (empyrical over all sessions); ``alpha``, ``beta`` and
    ``benchmark_return`` are NaN without a benchmark. ``win_rate`` is the share of sessions with a gain among the
    sessions whose value changed (quantstats' definition); ``turnover`` the mean over sessions of the value traded
    that session over the portfolio value; ``commissions`` the total paid.
    """

    start: str
    end: str
    sessions: int
    starting_value: float
    ending_value: float
    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    max_drawdown: float
    trades: int
    orders: int
    sortino: float = math.nan
    alpha: float = math.nan
    beta: float = math.nan
    benchmark: str | None = None
    benchmark_return: float = math.nan
    win_rate: float = math.nan
    turnover: float = math.nan
    commissions: float = 0.0

    def lines(self) -> list[str]:
        """The summary as aligned console lines ("n/a" where a figure is undefined)."""

        def pct(x: float) -> str:
            return "n/a" if not math.isfinite(x) else f"{x * 100:,.2f}%"

        def num(x: float) -> str:
            return "n/a" if not math.isfinite(x) else f"{x:,.2f}"

        lines = [
            f"period            {self.start} .. {self.end} ({self.sessions} sessions)",
            f"starting value    {self.starting_value:,.2f}",
            f"ending value      {self.ending_value:,.2f}",
            f"total return      {pct(self.total_return)}",
            f"annual return     {pct(self.annual_return)}",
            f"annual volatility {pct(self.annual_volatility)}",
            f"Sharpe ratio      {num(self.sharpe)}",
            f"Sortino ratio     {num(self.sortino)}",
            f"max drawdown      {pct(self.max_drawdown)}",
        ]
        if self.benchmark:
            lines += [
                f"benchmark return  {pct(self.benchmark_return)} ({self.benchmark})",
                f"alpha             {num(self.alpha)}",
                f"beta              {num(self.beta)}",
            ]
        lines += [
            f"win rate          {pct(self.win_rate)} of sessions that moved",
            f"turnover          {pct(self.turnover)} of the portfolio per session (mean)",
            f"commissions       {self.commissions:,.2f}",
            f"trades            {self.trades} fills from {self.orders} orders",
        ]
        return lines


def summarize(
    start: str,
    end: str,
    starting_value: float,
    values: np.ndarray,
    returns: np.ndarray,
    trades: int,
    orders: int,
    *,
    bench: np.ndarray | None = None,
    benchmark: str | None = None,
    traded_value: np.ndarray | None = None,
    commissions: float = 0.0,
) -> Summary:
    """Compute the end-of-run summary from the per-session portfolio values and returns (empyrical's figures).

    ``bench`` (the benchmark's daily returns, aligned with ``returns``) adds alpha, beta and the benchmark's total
    return; ``traded_value`` (absolute value traded per session) gives the turnover.
    """
    n = len(values)
    r = np.asarray(returns, dtype=float)
    ending = float(values[-1]) if n else starting_value
    total = ending / starting_value - 1.0 if starting_value else math.nan
    annual = (1.0 + total) ** (TRADING_DAYS / n) - 1.0 if n and total > -1 else math.nan
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        vol = _finite(ep.annual_volatility(r)) if n > 1 else math.nan
        sharpe = _finite(ep.sharpe_ratio(r)) if n > 1 else math.nan
        sortino = _finite(ep.sortino_ratio(r)) if n > 1 else math.nan
        mdd = _finite(ep.max_drawdown(r)) if n else 0.0
        alpha = beta = bench_total = math.nan
        if bench is not None and n:
            b = np.asarray(bench, dtype=float)
            a, bt = ep.alpha_beta_aligned(r, b)
            alpha, beta = _finite(a), _finite(bt)
            bench_total = _finite(ep.cum_returns_final(b))
    moved = r[r != 0]
    win_rate = float(np.mean(moved > 0)) if len(moved) else math.nan
    turnover = math.nan
    if traded_value is not None and n:
        with np.errstate(all="ignore"):
            per_day = np.where(values > 0, np.asarray(traded_value, dtype=float) / values, np.nan)
        turnover = _finite(np.nanmean(per_day)) if np.isfinite(per_day).any() else math.nan
    return Summary(start, end, n, starting_value, ending, total, annual, vol, sharpe, mdd, trades, orders,
                   sortino, alpha, beta, benchmark, bench_total, win_rate, turnover, float(commissions))
