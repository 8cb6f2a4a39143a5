"""Risk and performance metrics over daily returns (pure numpy), as zipline reports them per session.

All "cumulative" metrics are expanding: the value on day t uses days 0..t only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TRADING_DAYS = 252


def _expanding_std(x: np.ndarray) -> np.ndarray:
    n = np.arange(1, len(x) + 1, dtype=float)
    mean = np.cumsum(x) / n
    sq = np.cumsum(x * x) / n
    var = np.maximum(sq - mean * mean, 0.0) * n / np.maximum(n - 1, 1)
    out = np.sqrt(var)
    out[n < 2] = np.nan
    return out


def expanding_volatility(returns: np.ndarray) -> np.ndarray:
    """Annualised volatility (sample std * sqrt(252)) of returns up to each day; NaN on the first day."""
    return _expanding_std(returns) * math.sqrt(TRADING_DAYS)


def expanding_sharpe(returns: np.ndarray) -> np.ndarray:
    """Annualised Sharpe ratio (risk-free 0) up to each day."""
    n = np.arange(1, len(returns) + 1, dtype=float)
    mean = np.cumsum(returns) / n
    std = _expanding_std(returns)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mean / std * math.sqrt(TRADING_DAYS)
    out[~np.isfinite(out)] = np.nan
    return out


def expanding_sortino(returns: np.ndarray) -> np.ndarray:
    """Annualised Sortino ratio (downside deviation around 0) up to each day."""
    n = np.arange(1, len(returns) + 1, dtype=float)
    mean = np.cumsum(returns) / n
    downside = np.sqrt(np.cumsum(np.minimum(returns, 0.0) ** 2) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mean / downside * math.sqrt(TRADING_DAYS)
    out[~np.isfinite(out)] = np.nan
    return out


def expanding_max_drawdown(values: np.ndarray) -> np.ndarray:
    """The worst peak-to-trough fall (negative fraction) of a value series up to each day."""
    if len(values) == 0:
        return np.empty(0)
    peaks = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peaks > 0, values / peaks - 1.0, 0.0)
    return np.minimum.accumulate(dd)


def expanding_beta_alpha(returns: np.ndarray, bench: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beta of the returns against the benchmark and annualised alpha, up to each day (NaN until 2 days)."""
    n = np.arange(1, len(returns) + 1, dtype=float)
    mr = np.cumsum(returns) / n
    mb = np.cumsum(bench) / n
    cov = np.cumsum(returns * bench) / n - mr * mb
    var = np.cumsum(bench * bench) / n - mb * mb
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(var > 1e-18, cov / var, np.nan)
    alpha = (mr - beta * mb) * TRADING_DAYS
    beta[n < 2] = np.nan
    alpha[n < 2] = np.nan
    return beta, alpha


@dataclass(frozen=True)
class Summary:
    """The end-of-run figures printed to the console."""

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

    def lines(self) -> list[str]:
        def pct(x: float) -> str:
            return "n/a" if not math.isfinite(x) else f"{x * 100:,.2f}%"

        def num(x: float) -> str:
            return "n/a" if not math.isfinite(x) else f"{x:,.2f}"

        return [
            f"period            {self.start} .. {self.end} ({self.sessions} sessions)",
            f"starting value    {self.starting_value:,.2f}",
            f"ending value      {self.ending_value:,.2f}",
            f"total return      {pct(self.total_return)}",
            f"annual return     {pct(self.annual_return)}",
            f"annual volatility {pct(self.annual_volatility)}",
            f"Sharpe ratio      {num(self.sharpe)}",
            f"max drawdown      {pct(self.max_drawdown)}",
            f"trades            {self.trades} fills from {self.orders} orders",
        ]


def summarize(
    start: str, end: str, starting_value: float, values: np.ndarray, returns: np.ndarray, trades: int, orders: int
) -> Summary:
    """Compute the console summary from the per-session portfolio values and returns."""
    n = len(values)
    ending = float(values[-1]) if n else starting_value
    total = ending / starting_value - 1.0 if starting_value else math.nan
    annual = (1.0 + total) ** (TRADING_DAYS / n) - 1.0 if n and total > -1 else math.nan
    vol = float(expanding_volatility(returns)[-1]) if n > 1 else math.nan
    sharpe = float(expanding_sharpe(returns)[-1]) if n > 1 else math.nan
    mdd = float(expanding_max_drawdown(np.concatenate([[starting_value], values]))[-1]) if n else 0.0
    return Summary(start, end, n, starting_value, ending, total, annual, vol, sharpe, mdd, trades, orders)
