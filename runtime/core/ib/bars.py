"""History: bar sizes, durations, whatToShow, and bar labels (IB labels bars by their START, the runtime by
their END).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from runtime.core.assets import SecType
from runtime.core.ib.time import NS_PER_SECOND

#: IB's bar sizes and their length in seconds (what reqHistoricalData accepts).
BAR_SIZES: dict[str, int] = {
    "1 secs": 1, "5 secs": 5, "10 secs": 10, "15 secs": 15, "30 secs": 30,
    "1 min": 60, "2 mins": 120, "3 mins": 180, "5 mins": 300, "10 mins": 600, "15 mins": 900, "20 mins": 1200,
    "30 mins": 1800, "1 hour": 3600, "2 hours": 7200, "3 hours": 10800, "4 hours": 14400, "8 hours": 28800,
    "1 day": 86400, "1 week": 604800, "1 month": 2592000,
}
_BAR_ALIASES = {"1m": "1 min", "minute": "1 min", "1d": "1 day", "daily": "1 day", "day": "1 day",
                "1 sec": "1 secs", "1 mins": "1 min", "1 hours": "1 hour", "1h": "1 hour", "30m": "30 mins",
                "5m": "5 mins", "15m": "15 mins"}


def normalize_bar_size(bar_size: str) -> str:
    """IB's spelling of a bar size ('1m' -> '1 min', '1d' -> '1 day'); ValueError listing the valid ones."""
    text = " ".join(str(bar_size).strip().lower().split())
    text = _BAR_ALIASES.get(text, text)
    if text not in BAR_SIZES:
        raise ValueError(f"unknown bar size {bar_size!r}: use one of {', '.join(BAR_SIZES)} (or '1m', '1d')")
    return text


def bar_seconds(bar_size: str) -> int:
    """Length of an IB bar size in seconds."""
    return BAR_SIZES[normalize_bar_size(bar_size)]


_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$", re.IGNORECASE)


def parse_duration(duration: str) -> tuple[int, str]:
    """``'5 D'`` -> ``(5, 'D')``; ValueError for anything IB would refuse."""
    m = _DURATION.match(str(duration))
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"bad IB duration {duration!r}: use '<n> S|D|W|M|Y', e.g. '30 D' or '1 Y'")
    return int(m.group(1)), m.group(2).upper()


def duration_for_sessions(n_sessions: int) -> str:
    """A duration that covers at least ``n_sessions`` trading sessions back from now (daily bars).

    Weekends and holidays are padded for (7/5 calendar days per session, plus 10 days); IB wants years above 365
    days.
    """
    if n_sessions <= 0:
        raise ValueError("n_sessions must be positive")
    days = math.ceil(n_sessions * 7 / 5) + 10
    return f"{days} D" if days <= 365 else f"{math.ceil(days / 365)} Y"


def duration_for_bars(n_bars: int, seconds: int, rth_seconds_per_day: int = 23_400) -> str:
    """A duration covering at least ``n_bars`` intraday bars of ``seconds`` each (regular hours assumed).

    Up to one day of bars is asked as seconds ('S', at most 86400); more as days with weekend padding.
    """
    if n_bars <= 0:
        raise ValueError("n_bars must be positive")
    total = n_bars * seconds
    if total <= rth_seconds_per_day:
        return f"{max(total, 60)} S" if total < 86_400 else "1 D"
    sessions = math.ceil(total / rth_seconds_per_day) + 1
    return duration_for_sessions(sessions)


def end_labels_intraday(start_ns: np.ndarray, seconds: int, session_closes: np.ndarray) -> np.ndarray:
    """END labels of intraday bars from IB's START labels: start + bar length, never past the session's close.

    ``session_closes`` (int64 ns UTC, ascending) are the closes of the calendar the bars belong to.
    """
    start = np.asarray(start_ns, dtype=np.int64)
    end = start + np.int64(seconds) * NS_PER_SECOND
    if len(session_closes) == 0 or len(start) == 0:
        return end
    i = np.minimum(np.searchsorted(session_closes, start, side="right"), len(session_closes) - 1)
    close = session_closes[i]
    return np.where((close > start) & (close < end), close, end)


def end_labels_daily(dates: list[str] | np.ndarray, sessions: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """END labels of daily bars: the close of each bar's session. Dates are 'yyyymmdd' strings.

    A date that is not a session of the calendar (IB reports a weekend bar for some markets) is labelled at its
    UTC midnight plus one day.
    """
    days = pd.to_datetime(pd.Series(list(dates), dtype=str), format="%Y%m%d").to_numpy().astype("datetime64[ns]")
    idx = np.searchsorted(sessions, days)
    idx_c = np.minimum(idx, len(sessions) - 1)
    hit = (idx < len(sessions)) & (sessions[idx_c] == days)
    fallback = days.astype(np.int64) + 86_400 * NS_PER_SECOND
    return np.where(hit, closes[idx_c], fallback).astype(np.int64)


#: The whatToShow of the price history of each security type (reqHistoricalData). IB has no TRADES (and no
#: ADJUSTED_LAST) bars for currency pairs: it answers error 162 and serves MIDPOINT, BID, ASK and BID_ASK for CASH;
#: MIDPOINT bars carry no volume (-1).
HISTORY_WHAT_TO_SHOW: dict[SecType, str] = {SecType.CASH: "MIDPOINT"}


def history_what_to_show(sec_type: SecType | str) -> str:
    """The whatToShow of a security type's price history: MIDPOINT for currency pairs, TRADES otherwise."""
    try:
        key = SecType(sec_type)
    except ValueError:
        return "TRADES"
    return HISTORY_WHAT_TO_SHOW.get(key, "TRADES")


def session_end_labels(dates: np.ndarray, sessions: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """END labels on a calendar of daily bars given by their trade date (datetime64, IB's label of a daily bar):
    the close of that calendar's session of the same date, -1 where the date is not one of its sessions."""
    days = np.asarray(dates).astype("datetime64[D]").astype("datetime64[ns]")
    sess = np.asarray(sessions).astype("datetime64[ns]")
    if not len(sess) or not len(days):
        return np.full(len(days), -1, dtype=np.int64)
    idx = np.searchsorted(sess, days)
    idx_c = np.minimum(idx, len(sess) - 1)
    hit = (idx < len(sess)) & (sess[idx_c] == days)
    return np.where(hit, np.asarray(closes, dtype=np.int64)[idx_c], -1).astype(np.int64)
