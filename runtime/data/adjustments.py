"""Derive splits and cash dividends from an unadjusted close and a source's adjusted close.

Sources such as Yahoo or Quandl ship ``Adj Close = Close * k`` where ``k`` is a cumulative factor that is constant
between corporate actions and jumps on each ex-date: ``k[before] / k[after]`` is ``1 / ratio`` for a split and
``1 - amount / previous close`` for a dividend. ``k`` may also carry actions after the data ends (a constant that
cancels out). This module finds the jumps, separates them from rounding noise, snaps splits to plausible ratios,
and returns :class:`Split` / :class:`Dividend` values from which the store recomputes its factors.

Noise handling: the adjusted close is often rounded (to cents, say), which makes ``k`` wobble a little every day.
A jump counts only if it exceeds the larger of ``min_dividend_fraction``, 1.5 x the worst-case rounding error of
the two days (from the decimals the column actually has), and 8 robust standard deviations of the daily changes;
its size is then measured between the medians of the flat stretches on both sides, and it is dropped if that
measured step is below the threshold (a one-day glitch up and back down cancels this way).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from runtime.data.actions import Dividend, Split

#: Split ratios (new shares per old share) that occur in practice; reverse splits are their reciprocals.
FORWARD_SPLIT_RATIOS: tuple[float, ...] = (
    6 / 5, 5 / 4, 4 / 3, 3 / 2, 5 / 3, 2.0, 5 / 2, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0,
    30.0, 40.0, 50.0, 100.0,
)  # fmt: skip
PLAUSIBLE_SPLIT_RATIOS: tuple[float, ...] = tuple(
    sorted({*FORWARD_SPLIT_RATIOS, *(1 / r for r in FORWARD_SPLIT_RATIOS)})
)

#: A factor jump of at least this size (in log terms, about 15%) is examined as a split first.
SPLIT_LOG_THRESHOLD = float(np.log(1.18))


def snap_split_ratio(ratio: float, tolerance: float = 0.01) -> float | None:
    """The plausible split ratio within ``tolerance`` (relative) of ``ratio``, or None.

    >>> snap_split_ratio(1.9995), snap_split_ratio(0.1002), snap_split_ratio(1.11)
    (2.0, 0.1, None)
    """
    if not ratio > 0:
        return None
    candidates = np.asarray(PLAUSIBLE_SPLIT_RATIOS)
    err = np.abs(np.log(candidates) - np.log(ratio))
    best = int(np.argmin(err))
    return float(candidates[best]) if err[best] <= tolerance else None


def derive_actions(
    sid: int,
    sessions: Sequence[pd.Timestamp] | np.ndarray | pd.DatetimeIndex,
    close: np.ndarray,
    adj_close: np.ndarray,
    *,
    min_dividend_fraction: float = 1e-5,
) -> tuple[tuple[Split, ...], tuple[Dividend, ...]]:
    """Splits and dividends of one asset implied by ``adj_close / close`` over consecutive ``sessions``.

    Rows where either value is missing or not positive are skipped. Dividend amounts are per share as traded on
    the eve of the ex-date (unadjusted), rounded to 1/100 of a cent.
    """
    close = np.asarray(close, dtype=np.float64)
    adj = np.asarray(adj_close, dtype=np.float64)
    labels = pd.DatetimeIndex(sessions)
    ok = np.isfinite(close) & np.isfinite(adj) & (close > 0) & (adj > 0)
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return (), ()
    c, a = close[idx], adj[idx]
    logk = np.log(a / c)
    d = np.diff(logk)  # d[j]: change of log k from valid row j to j + 1
    tau = _thresholds(a, d, min_dividend_fraction)
    jumps = _confirmed_jumps(logk, np.flatnonzero(np.abs(d) > tau) + 1, tau)
    splits: list[Split] = []
    dividends: list[Dividend] = []
    for pos, step in jumps:
        day = labels[idx[pos]].normalize()
        prev_close = float(c[pos - 1])
        r = float(np.exp(-step))  # k_before / k_after
        split = snap_split_ratio(1.0 / r) if abs(step) >= SPLIT_LOG_THRESHOLD else None
        if split is None and abs(step) >= SPLIT_LOG_THRESHOLD and not 0.5 < r < 1.0:
            split = round(1.0 / r, 4)  # an unusual ratio, but far too large a move to be a dividend
        if split is not None:
            splits.append(Split(sid, day, split))
            residual = r * split
            if residual < np.exp(-tau[pos - 1]):
                dividends.append(Dividend(sid, day, round(prev_close / split * (1.0 - residual), 4)))
        elif r < 1.0:
            dividends.append(Dividend(sid, day, round(prev_close * (1.0 - r), 4)))
        # a small upward jump of k is neither a split nor a dividend (a source correction): ignored
    return tuple(splits), tuple(dividends)


def _thresholds(adj: np.ndarray, d: np.ndarray, floor: float) -> np.ndarray:
    """Per-step jump threshold: rounding bound of the adjusted column, robust noise level, and a floor."""
    decimals = _decimals(adj)
    if decimals is None:
        rounding = np.zeros_like(d)
    else:
        half_unit = 0.5 * 10.0**-decimals
        rounding = half_unit / adj[:-1] + half_unit / adj[1:]
    # robust noise level (actions are rare, so the median change is noise); too few points say nothing
    sigma = 1.4826 * float(np.median(np.abs(d))) if len(d) >= 20 else 0.0
    return np.maximum(np.maximum(1.5 * rounding, 8.0 * sigma), floor)


def _decimals(values: np.ndarray, most: int = 8) -> int | None:
    """The number of decimals the values are rounded to, if at most ``most``; else None (full precision)."""
    for dec in range(most + 1):
        scaled = values * 10.0**dec
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 + 1e-9 * np.abs(scaled)):
            return dec
    return None


def _confirmed_jumps(logk: np.ndarray, cands: np.ndarray, tau: np.ndarray) -> list[tuple[int, float]]:
    """(position, step) of the jumps whose step between the medians of the neighbouring flat stretches is real."""
    cands = [int(x) for x in cands]
    while True:
        bounds = [0, *cands, len(logk)]
        levels = [float(np.median(logk[bounds[i] : bounds[i + 1]])) for i in range(len(bounds) - 1)]
        steps = [levels[i + 1] - levels[i] for i in range(len(cands))]
        drop = {i for i, s in enumerate(steps) if abs(s) <= tau[cands[i] - 1]}
        for i in range(len(cands) - 1):  # a short excursion that comes back: a glitch, not two actions
            if cands[i + 1] - cands[i] <= 2 and abs(steps[i] + steps[i + 1]) <= tau[cands[i] - 1]:
                drop.update((i, i + 1))
        if not drop:
            return list(zip(cands, steps))
        cands = [x for i, x in enumerate(cands) if i not in drop]
