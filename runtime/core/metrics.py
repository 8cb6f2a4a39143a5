"""Risk and performance metrics over daily returns, with empyrical-reloaded's (zipline's) conventions.

zipline-reloaded's per-session perf columns call empyrical on the returns of sessions 0..t (expanding):
``algo_volatility`` = ``annual_volatility`` (sample std x sqrt(252)), ``sharpe`` = ``sharpe_ratio``, ``sortino`` =
``sortino_ratio``, ``max_drawdown`` = ``max_drawdown`` (from the starting capital), ``alpha``/``beta`` =
``alpha_beta_aligned`` against the benchmark's returns (alpha compounded to a year: ``(1 + daily alpha)**252 - 1``),
and a value that is not finite is reported as missing (NaN here, None in zipline). This module gives the same
figures, so a results table compares with zipline's row by row, but computes every session's figure in one pass of
running sums (numpy cumulative forms, O(sessions)) instead of calling empyrical once per session prefix
(O(sessions^2), and importing empyrical loads scipy.stats). The rules carried over from empyrical, each checked
against empyrical itself in the tests (tests/test_metrics.py): NaN returns are skipped (``nanmean``/``nanstd``),
fewer than two sessions give NaN (the session count includes NaN sessions, as ``len(returns)``), a series whose
values are all equal has no dispersion (Sharpe NaN), a benchmark variance under 1e-30 gives no beta, the drawdown
treats a NaN return as 0. ``benchmark_volatility`` is zipline's expanding sample std of the benchmark's returns
(from the second session) x sqrt(252).

Running sums are taken of each value minus the series' first valid value: the same statistics (they do not depend
on a shift) without the cancellation of large sums, and exactly zero spread for a constant series, as empyrical.

Pure: numbers in, numbers out; no I/O, no clock.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

TRADING_DAYS = 252
#: empyrical's ``beta_aligned``: a benchmark variance below this gives no beta
_MIN_VARIANCE = 1.0e-30


def _finite(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else math.nan


def _finite_array(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=float).copy()
    out[~np.isfinite(out)] = np.nan
    return out


@dataclass(frozen=True)
class _Running:
    """Running count, mean and (ddof=1) variance of the valid values of a series, at every prefix."""

    count: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    #: running sums of the shifted values (value - shift) and of their squares, and the shift
    sum: np.ndarray
    shift: float


def _running(x: np.ndarray, valid: np.ndarray | None = None) -> _Running:
    if valid is None:
        valid = ~np.isnan(x)
    count = np.cumsum(valid).astype(float)
    shift = float(x[valid][0]) if valid.any() else 0.0
    d = np.where(valid, x - shift, 0.0)
    s1 = np.cumsum(d)
    s2 = np.cumsum(d * d)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, shift + s1 / count, np.nan)
        var = np.where(count > 1, np.maximum(s2 - s1 * s1 / count, 0.0) / (count - 1), np.nan)
    return _Running(count, mean, var, s1, shift)


def _constant(x: np.ndarray) -> np.ndarray:
    """Whether the valid values up to each session are all equal (empyrical's ``_zero_dispersion_std``)."""
    hi = np.fmax.accumulate(x) if len(x) else x
    lo = np.fmin.accumulate(x) if len(x) else x
    return hi == lo  # NaN while there is no valid value: False


def _first_missing(out: np.ndarray, sessions: int) -> np.ndarray:
    """empyrical's ``len(returns) < sessions``: NaN for the first ``sessions - 1`` prefixes."""
    out[: sessions - 1] = np.nan
    return out


def expanding_volatility(returns: np.ndarray) -> np.ndarray:
    """Annualised volatility (``empyrical.annual_volatility``) of the returns up to each session; NaN on the first."""
    r = np.asarray(returns, dtype=float)
    with np.errstate(invalid="ignore"):
        out = np.sqrt(_running(r).var) * TRADING_DAYS ** (1.0 / 2.0)
    return _finite_array(_first_missing(out, 2))


def expanding_sharpe(returns: np.ndarray) -> np.ndarray:
    """Annualised Sharpe ratio (``empyrical.sharpe_ratio``, risk-free 0) up to each session; NaN when undefined."""
    r = np.asarray(returns, dtype=float)
    run = _running(r)
    std = np.sqrt(run.var)
    std = np.where(_constant(r) & np.isfinite(std), 0.0, std)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = run.mean / std * np.sqrt(TRADING_DAYS)
    return _finite_array(_first_missing(out, 2))


def expanding_sortino(returns: np.ndarray) -> np.ndarray:
    """Annualised Sortino ratio (``empyrical.sortino_ratio``) up to each session.

    NaN on the first session (one return has no downside deviation: empyrical's and zipline's rule) and while
    there has been no losing session (an infinite ratio is reported as missing, as zipline does).
    """
    r = np.asarray(returns, dtype=float)
    valid = ~np.isnan(r)
    run = _running(r, valid)
    down = np.where(valid, np.minimum(r, 0.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        downside = np.sqrt(np.cumsum(down * down) / run.count) * np.sqrt(TRADING_DAYS)
        out = run.mean * TRADING_DAYS / downside
    return _finite_array(_first_missing(out, 2))


def drawdown_series(returns: np.ndarray) -> np.ndarray:
    """The fall from the running peak at each session (negative fraction; ``empyrical.drawdown_series``): the
    peak starts at the starting capital and a NaN return counts as 0."""
    r = np.nan_to_num(np.asarray(returns, dtype=float), nan=0.0)
    wealth = np.empty(len(r) + 1)
    wealth[0] = 100.0
    np.multiply(np.cumprod(r + 1.0), 100.0, out=wealth[1:])
    peak = np.fmax.accumulate(wealth)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((wealth - peak) / peak)[1:]


def expanding_max_drawdown(returns: np.ndarray) -> np.ndarray:
    """The worst peak-to-trough fall (negative fraction, ``empyrical.max_drawdown``) up to each session.

    Measured from the starting capital: a loss on the first session is already a drawdown.
    """
    dd = drawdown_series(returns)
    return _finite_array(np.fmin.accumulate(dd)) if len(dd) else dd


def expanding_alpha_beta(returns: np.ndarray, bench: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alpha (annualised by compounding) and beta of the returns against the benchmark's, up to each session
    (``empyrical.alpha_beta_aligned``; sessions where either return is NaN are left out of both)."""
    r = np.asarray(returns, dtype=float)
    b = np.asarray(bench, dtype=float)
    valid = ~np.isnan(r) & ~np.isnan(b)
    x = _running(b, valid)
    y = _running(r, valid)
    dx = np.where(valid, b - x.shift, 0.0)
    dy = np.where(valid, r - y.shift, 0.0)
    sxy = np.cumsum(dx * dy)
    with np.errstate(divide="ignore", invalid="ignore"):
        # mean((x - mean x) * y) and mean((x - mean x)**2), as empyrical's beta_aligned, from shifted sums
        cov = (sxy - x.sum * y.sum / x.count) / x.count
        var = x.var * (x.count - 1) / x.count
        var = np.where(var < _MIN_VARIANCE, np.nan, var)
        beta = cov / var
        alpha = (1.0 + (y.mean - beta * x.mean)) ** TRADING_DAYS - 1.0
    return _finite_array(_first_missing(alpha, 2)), _finite_array(_first_missing(beta, 2))


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


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No warnings for empty or all-NaN windows (their figure is NaN, as empyrical's)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _windows(x: np.ndarray, window: int) -> np.ndarray:
    """empyrical's rolling windows: one row per window end (a shorter series is one window of all of it)."""
    return np.lib.stride_tricks.sliding_window_view(x, min(len(x), window))


def rolling_volatility(returns: np.ndarray, window: int) -> np.ndarray:
    """``empyrical.roll_annual_volatility``: annualised volatility of each ``window`` sessions ending at each
    session from the ``window``-th on (``len - window + 1`` values; empty for no session)."""
    r = np.asarray(returns, dtype=float)
    if not len(r):
        return np.empty(0)
    w = _windows(r, window)
    with _quiet():
        out = np.nanstd(w, axis=1, ddof=1) * TRADING_DAYS ** (1.0 / 2.0) if w.shape[1] > 1 else \
            np.full(len(w), np.nan)
    return _finite_array(out)


def rolling_sharpe(returns: np.ndarray, window: int) -> np.ndarray:
    """``empyrical.roll_sharpe_ratio`` (risk-free 0) over each ``window`` sessions (see :func:`rolling_volatility`)."""
    r = np.asarray(returns, dtype=float)
    if not len(r):
        return np.empty(0)
    w = _windows(r, window)
    if w.shape[1] < 2:
        return np.full(len(w), np.nan)
    with _quiet():
        std = np.nanstd(w, axis=1, ddof=1)
        std = np.where((np.nanmax(w, axis=1) == np.nanmin(w, axis=1)) & np.isfinite(std), 0.0, std)
        out = np.nanmean(w, axis=1) / std * np.sqrt(TRADING_DAYS)
    return _finite_array(out)


def rolling_beta(returns: np.ndarray, bench: np.ndarray, window: int) -> np.ndarray:
    """``empyrical.roll_beta`` of the returns against the benchmark's over each ``window`` sessions."""
    r = np.asarray(returns, dtype=float)
    b = np.asarray(bench, dtype=float)
    if not len(r) or not len(b) or window < 1:
        return np.empty(0)
    y, x = _windows(r, window), _windows(b, window)
    if x.shape[1] < 2:
        return np.full(len(x), np.nan)
    with _quiet():
        x = np.where(np.isnan(y), np.nan, x)
        residual = x - np.nanmean(x, axis=1, keepdims=True)
        cov = np.nanmean(residual * y, axis=1)
        var = np.nanmean(residual * residual, axis=1)
        var[var < _MIN_VARIANCE] = np.nan
        return _finite_array(cov / var)


def _last(values: np.ndarray) -> float:
    return _finite(values[-1]) if len(values) else math.nan


def annual_volatility(returns: np.ndarray) -> float:
    """``empyrical.annual_volatility`` of the whole series (NaN under two sessions)."""
    return _last(expanding_volatility(returns))


def sharpe_ratio(returns: np.ndarray) -> float:
    """``empyrical.sharpe_ratio`` (risk-free 0) of the whole series, NaN when not finite."""
    return _last(expanding_sharpe(returns))


def sortino_ratio(returns: np.ndarray) -> float:
    """``empyrical.sortino_ratio`` of the whole series, NaN when not finite."""
    return _last(expanding_sortino(returns))


def max_drawdown(returns: np.ndarray) -> float:
    """``empyrical.max_drawdown`` of the whole series (NaN without a session)."""
    return _last(expanding_max_drawdown(returns))


def alpha_beta(returns: np.ndarray, bench: np.ndarray) -> tuple[float, float]:
    """``empyrical.alpha_beta_aligned`` of the whole series: (compounded annual alpha, beta)."""
    alpha, beta = expanding_alpha_beta(returns, bench)
    return _last(alpha), _last(beta)


def cum_returns_final(returns: np.ndarray) -> float:
    """``empyrical.cum_returns_final``: the compounded total return (NaN returns skipped; NaN without a session)."""
    r = np.asarray(returns, dtype=float)
    return float(np.nanprod(r + 1.0) - 1.0) if len(r) else math.nan


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
    """Compute the end-of-run summary from the per-session portfolio values and returns (empyrical's figures:
    the last session's values of the expanding columns).

    ``bench`` (the benchmark's daily returns, aligned with ``returns``) adds alpha, beta and the benchmark's total
    return; ``traded_value`` (absolute value traded per session) gives the turnover.
    """
    n = len(values)
    r = np.asarray(returns, dtype=float)
    ending = float(values[-1]) if n else starting_value
    total = ending / starting_value - 1.0 if starting_value else math.nan
    annual = (1.0 + total) ** (TRADING_DAYS / n) - 1.0 if n and total > -1 else math.nan
    vol = annual_volatility(r) if n > 1 else math.nan
    sharpe = sharpe_ratio(r) if n > 1 else math.nan
    sortino = sortino_ratio(r) if n > 1 else math.nan
    mdd = max_drawdown(r) if n else 0.0
    alpha = beta = bench_total = math.nan
    if bench is not None and n:
        b = np.asarray(bench, dtype=float)
        alpha, beta = alpha_beta(r, b)
        bench_total = _finite(cum_returns_final(b))
    moved = r[r != 0]
    win_rate = float(np.mean(moved > 0)) if len(moved) else math.nan
    turnover = math.nan
    if traded_value is not None and n:
        with np.errstate(all="ignore"):
            per_day = np.where(values > 0, np.asarray(traded_value, dtype=float) / values, np.nan)
        turnover = _finite(np.nanmean(per_day)) if np.isfinite(per_day).any() else math.nan
    return Summary(start, end, n, starting_value, ending, total, annual, vol, sharpe, mdd, trades, orders,
                   sortino, alpha, beta, benchmark, bench_total, win_rate, turnover, float(commissions))
