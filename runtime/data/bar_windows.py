"""History windows in IB's terms over the runtime's bars: how many bars a duration such as '5 D', '3600 S' or '2 W'
covers as of an instant, the cut of a window to it, minute bars aggregated into IB's bar sizes ('5 mins',
'1 hour'...), daily bars into weeks and months, and IB's start labels of bars the runtime labels by their end.

IBridgePy's ``request_historical_data`` is built from these (:mod:`runtime.algorithm.ib_history`); the windows are
read through ``data.history``, so their values are the ones the algorithm sees everywhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from runtime.core.calendar import NS_PER_MINUTE, TradingCalendar
from runtime.core.ib_mapping import normalize_bar_size

#: the columns of a history window, in IB's order
HISTORY_FIELDS = ["open", "high", "low", "close", "volume"]

#: IB bar sizes served from the runtime's bars: minutes per bar (0: daily bars)
HISTORY_BAR_MINUTES: dict[str, int] = {
    "1 min": 1, "2 mins": 2, "3 mins": 3, "5 mins": 5, "10 mins": 10, "15 mins": 15, "20 mins": 20, "30 mins": 30,
    "1 hour": 60, "2 hours": 120, "3 hours": 180, "4 hours": 240, "8 hours": 480, "1 day": 0,
}

#: bar sizes made from daily bars
DAY_GROUPS = ("1 week", "1 month")


def empty_window() -> pd.DataFrame:
    """A window without bars."""
    return pd.DataFrame(columns=HISTORY_FIELDS, dtype=float)


def bar_minutes(bar_size: str) -> int | None:
    """Minutes per bar of an IB bar size served from the runtime's bars (0: daily), None for any other size."""
    try:
        name = normalize_bar_size(bar_size)
    except ValueError:
        return None
    return HISTORY_BAR_MINUTES.get(name)


def calendar_offset(unit: str, n: int) -> pd.DateOffset:
    """``n`` calendar weeks ('W'), months ('M') or years ('Y')."""
    return pd.DateOffset(**{{"W": "weeks", "M": "months", "Y": "years"}[unit]: n})


@dataclass(frozen=True)
class DailyWindow:
    """The daily bars of a duration: ``count`` bars up to now to read, cut to sessions ``first..last``."""

    count: int
    first: int
    last: int


def daily_window(cal: TradingCalendar, session: int, now_ns: int, n: int, unit: str,
                 end_ns: int) -> DailyWindow | None:
    """The daily bars of ``n`` ``unit`` ('S', 'D', 'W', 'M', 'Y') ending at ``end_ns`` (at most now), seen at
    ``now_ns`` in session ``session``; None when no session has ended by ``end_ns``."""
    k_now = max(session, 0)
    k_end = k_now if end_ns >= now_ns else int(np.searchsorted(cal.closes, end_ns, side="right")) - 1
    if k_end < 0:
        return None
    if unit in ("D", "S"):
        sessions = n if unit == "D" else math.ceil(n / 86_400)
        first = k_end - sessions + 1
    else:
        first = cal.session_index_on_or_before(cal.session_label(k_end) - calendar_offset(unit, n))
    count = max(min(k_now - max(first, 0) + 2, k_now + 1), 1)
    return DailyWindow(count, first, k_end)


def cut_daily(frame: pd.DataFrame, cal: TradingCalendar, window: DailyWindow, n: int, unit: str) -> pd.DataFrame:
    """The rows of ``frame`` (daily bars indexed by session) inside ``window``."""
    labels = frame.index.tz_localize(None) if frame.index.tz is not None else frame.index
    frame = frame[labels <= cal.session_label(window.last)]
    if not len(frame):
        return frame
    if unit in ("D", "S"):
        return frame.iloc[-(window.last - window.first + 1):]
    last = pd.Timestamp(frame.index[-1])
    last = last.tz_localize(None) if last.tzinfo is not None else last
    labels = frame.index.tz_localize(None) if frame.index.tz is not None else frame.index
    return frame[labels > last - calendar_offset(unit, n)]


@dataclass(frozen=True)
class MinuteWindow:
    """The minute bars of a duration: ``count`` bars up to now to read, the first ending at ``first_end``."""

    count: int
    first_end: int


def minute_window(cal: TradingCalendar, now_ns: int, bars_so_far: int, n: int, unit: str,
                  end_ns: int) -> MinuteWindow | None:
    """The minute bars of ``n`` ``unit`` ending at ``end_ns`` (at most now), seen at ``now_ns`` when the store has
    ``bars_so_far`` bars up to now; None when there are none."""
    k_end = cal.last_session_started_by(end_ns)
    if k_end < 0 or bars_so_far < 1:
        return None
    if unit == "S":
        need = math.ceil(n / 60)
        span = math.ceil(need / max(cal.minutes_in_session(k_end), 1)) + 1
        ends = cal.minutes_between(max(k_end - span, 0), k_end)
        ends = ends[ends <= end_ns][-need:]
        first_end = int(ends[0]) if len(ends) else end_ns
    elif unit == "D":
        first_end = int(cal.session_minutes(max(k_end - n + 1, 0))[0])
    else:
        end_ts = pd.Timestamp(end_ns, tz="UTC").tz_convert(cal.tz)
        cutoff = end_ts - calendar_offset(unit, n)
        first_end = cutoff.value + NS_PER_MINUTE
    k_first = max(cal.last_session_started_by(first_end), 0)
    k_now = max(cal.last_session_started_by(now_ns), k_first)
    all_ends = cal.minutes_between(k_first, k_now)
    count = int(((all_ends >= first_end) & (all_ends <= now_ns)).sum())
    count = min(count, bars_so_far)
    if count < 1:
        return None
    return MinuteWindow(count, first_end)


def cut_minutes(frame: pd.DataFrame, window: MinuteWindow, end_ns: int) -> pd.DataFrame:
    """The rows of ``frame`` (minute bars indexed by their end, UTC) inside ``window`` and not after ``end_ns``."""
    stamps = frame.index.asi8
    return frame[(stamps >= window.first_end) & (stamps <= end_ns)]


def aggregate_minutes(frame: pd.DataFrame, minutes: int, cal: TradingCalendar) -> pd.DataFrame:
    """Minute bars (END labels, UTC) as ``minutes``-minute bars labelled by their START (UTC), clock-aligned in
    exchange time and never before the session's open."""
    ends = frame.index.asi8
    starts = ends - NS_PER_MINUTE
    opens = cal.opens[np.minimum(np.searchsorted(cal.closes, ends, side="left"), len(cal.closes) - 1)]
    if minutes == 1:
        out = frame.copy()
        out.index = pd.DatetimeIndex(starts, tz="UTC")
        return out
    local = pd.DatetimeIndex(starts, tz="UTC").tz_convert(cal.tz)
    bucket = local.floor(f"{minutes}min", ambiguous=False, nonexistent="shift_forward").asi8
    bucket = np.maximum(bucket, opens)
    grouped = frame.groupby(bucket, sort=True)
    out = pd.DataFrame({"open": grouped["open"].first(), "high": grouped["high"].max(),
                        "low": grouped["low"].min(), "close": grouped["close"].last(),
                        "volume": grouped["volume"].sum()})
    out.index = pd.DatetimeIndex(out.index.to_numpy(dtype=np.int64), tz="UTC")
    return out


def group_days(frame: pd.DataFrame, bar_size: str) -> pd.DataFrame:
    """Daily bars as weekly ('1 week') or monthly ('1 month') bars, each labelled by its first session."""
    if not len(frame):
        return frame
    index = pd.DatetimeIndex(frame.index)
    naive = index.tz_localize(None)
    key = naive.to_period("W-SUN" if "w" in bar_size else "M")
    grouped = frame.groupby(key, sort=True)
    out = pd.DataFrame({"open": grouped["open"].first(), "high": grouped["high"].max(), "low": grouped["low"].min(),
                        "close": grouped["close"].last(), "volume": grouped["volume"].sum()})
    firsts = pd.Series(index, index=key).groupby(level=0).first()
    out.index = pd.DatetimeIndex(firsts.loc[out.index].to_numpy()).rename("time")
    if index.tz is not None and out.index.tz is None:
        out.index = out.index.tz_localize(index.tz)
    return out


def start_labels(end_ns: np.ndarray, seconds: int, cal: TradingCalendar) -> np.ndarray:
    """IB's START labels (int64 ns UTC) of intraday bars of ``seconds`` each that the runtime labels by their END
    (start + size, or the session's close for the session's last bar), never before the session's open."""
    ends = np.asarray(end_ns, dtype=np.int64)
    k = np.minimum(np.searchsorted(cal.closes, ends, side="left"), len(cal.closes) - 1)
    opens, closes = cal.opens[k], cal.closes[k]
    local = pd.DatetimeIndex(ends - 1, tz="UTC").tz_convert(cal.tz)
    floored = local.floor(f"{seconds}s", ambiguous=False, nonexistent="shift_forward").asi8
    starts = np.where(ends == closes, floored, ends - seconds * 1_000_000_000)
    return np.where((ends > opens) & (starts < opens), opens, starts)
