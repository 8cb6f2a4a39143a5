"""reqHistoricalData: parsing IB's bar sizes, durations and end times, and building the bars from a series.

Intraday bars are aggregated from the instrument's minute bars (seconds bars from the seeded path inside each
minute), daily bars come from the daily store, weeks and months aggregate the days. Prices are adjusted for splits
and dividends as of the gateway's clock (what the backtester's ``data.history`` shows). Bars are labelled by their
start, as IB does; stock volumes are in round lots of 100 (IB's convention at this server version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from runtime.gateway.contracts import Instrument
from runtime.gateway.market import NS_PER_SECOND, Bars, Series
from runtime.gateway.protocol import fmt_float

DAY = 86_400
WEEK = 7 * DAY
MONTH = 31 * DAY
_UNITS = {"sec": 1, "secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600, "day": DAY, "days": DAY,
          "week": WEEK, "weeks": WEEK, "w": WEEK, "month": MONTH, "months": MONTH, "m": MONTH, "d": DAY}
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST")
#: Most bars one request may return (IB answers "Time length exceed max" beyond its own limits).
MAX_BARS = 200_000


class HistoryRequestError(ValueError):
    """A request IB would refuse with error 162 or 321; ``code`` says which."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def parse_bar_size(text: str) -> int:
    """Seconds per bar for IB's bar size strings ('1 secs', '5 mins', '1 hour', '1 day', '1 week', '1 month')."""
    m = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]+)\s*", text or "")
    if not m:
        raise HistoryRequestError(321, f"Error validating request:-'bP' : cause - Historical data bar size setting is "
                           f"invalid: {text!r}")
    n, unit = int(m.group(1)), m.group(2).lower()
    if unit not in _UNITS or n <= 0:
        raise HistoryRequestError(321, f"Error validating request:-'bP' : cause - Historical data bar size setting is "
                           f"invalid: {text!r}")
    size = n * _UNITS[unit]
    if size >= DAY and n != 1:
        raise HistoryRequestError(321, f"Error validating request:-'bP' : cause - Historical data bar size setting is "
                           f"invalid: {text!r}")
    return size


@dataclass(frozen=True)
class Duration:
    count: int
    unit: str  # S, D, W, M, Y


def parse_duration(text: str) -> Duration:
    m = re.fullmatch(r"\s*(\d+)\s*([SDWMY])\s*", (text or "").upper())
    if not m or int(m.group(1)) <= 0:
        raise HistoryRequestError(321, f"Error validating request:-'bQ' : cause - Historical data query duration is "
                           f"invalid: {text!r} (use e.g. '3600 S', '2 D', '1 W', '6 M', '1 Y')")
    return Duration(int(m.group(1)), m.group(2))


def parse_end(text: str, now_ns: int, default_tz: str) -> int:
    """The end instant of a request: empty = now; 'yyyymmdd hh:mm:ss [zone]', 'yyyymmdd-hh:mm:ss' (UTC), 'yyyymmdd'."""
    text = (text or "").strip()
    if not text:
        return now_ns
    try:
        if re.fullmatch(r"\d{8}-\d{2}:\d{2}:\d{2}", text):
            ts = pd.Timestamp(pd.to_datetime(text, format="%Y%m%d-%H:%M:%S")).tz_localize("UTC")
        else:
            parts = text.split()
            zone = default_tz
            if len(parts) >= 3 or (len(parts) == 2 and not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", parts[1])):
                zone = parts[-1]
                parts = parts[:-1]
            zone = {"EST": "US/Eastern", "EDT": "US/Eastern", "GMT": "UTC", "CST": "US/Central"}.get(zone, zone)
            stamp = " ".join(parts)
            fmt = "%Y%m%d %H:%M:%S" if len(parts) == 2 else "%Y%m%d"
            if len(parts) == 2 and stamp.count(":") == 1:
                fmt = "%Y%m%d %H:%M"
            ts = pd.Timestamp(pd.to_datetime(stamp, format=fmt)).tz_localize(zone)
            if len(parts) == 1:
                ts = ts + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    except (ValueError, TypeError, KeyError) as exc:
        raise HistoryRequestError(321, f"Error validating request:-'bP' : cause - end date/time {text!r} is invalid: "
                           f"{exc}") from None
    return min(int(ts.value), now_ns)


def window_start(series: Series, end_ns: int, duration: Duration) -> int:
    """The first instant of a request's window."""
    cal = series.calendar
    if duration.unit == "S":
        return end_ns - duration.count * NS_PER_SECOND
    if duration.unit == "D":
        k = int(np.searchsorted(cal.opens, end_ns, side="left")) - 1  # last session opened before end
        k0 = max(k - duration.count + 1, 0)
        return int(cal.opens[k0]) - 1
    end = pd.Timestamp(end_ns, tz="UTC")
    offset = {"W": pd.DateOffset(weeks=duration.count), "M": pd.DateOffset(months=duration.count),
              "Y": pd.DateOffset(years=duration.count)}[duration.unit]
    return int((end - offset).value)


@dataclass(frozen=True)
class BarRows:
    """Aggregated bars ready to format: START instants, OHLC, volume, wap, count; plus whether they are daily+."""

    start_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    daily: bool

    def __len__(self) -> int:
        return len(self.start_ns)


def _aggregate(bars: Bars, keys: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Group consecutive bars by key: first open, max high, min low, last close, summed volume."""
    if not len(bars):
        e = np.empty(0)
        return np.empty(0, dtype=np.int64), e, e, e, e, e
    edges = np.flatnonzero(np.diff(keys)) + 1
    first = np.concatenate([[0], edges])
    last = np.concatenate([edges - 1, [len(keys) - 1]])
    return (
        starts[first],
        bars.open[first],
        np.maximum.reduceat(bars.high, first),
        np.minimum.reduceat(bars.low, first),
        bars.close[last],
        np.add.reduceat(bars.volume, first),
    )


def _adjust(series: Series, bars: Bars, as_of_ns: int) -> Bars:
    d = series.daily
    if (not d.splits and not d.dividends) or not len(bars):
        return bars
    rows = np.clip(np.searchsorted(d.times, bars.end_ns, side="left"), 0, d.n_rows - 1)
    as_of = max(min(d.row_at_or_before(as_of_ns), d.n_rows - 1), 0)
    pf = d.price_factor[:, series.col]
    f = pf[rows] / pf[as_of]
    f = np.where(np.isfinite(f), f, 1.0)
    vf_all = d.volume_factor[:, series.col]
    vf = vf_all[rows] / vf_all[as_of]
    vf = np.where(np.isfinite(vf) & (vf > 0), vf, 1.0)
    return Bars(bars.end_ns, bars.open * f, bars.high * f, bars.low * f, bars.close * f, bars.volume * vf)


def build_bars(series: Series, bar_seconds: int, start_ns: int, end_ns: int, use_rth: bool, now_ns: int,
               time_zone: str) -> BarRows:
    """Bars of ``bar_seconds`` covering ``(start_ns, end_ns]``, labelled by their start."""
    inst = series.inst
    if bar_seconds >= DAY:
        return _daily_rows(series, bar_seconds, start_ns, end_ns, now_ns)
    if bar_seconds < 60:
        if end_ns - start_ns > 2 * DAY * NS_PER_SECOND:
            raise HistoryRequestError(162, "Historical Market Data Service error message:Time length exceed max.")
        base = series.seconds_between(start_ns, end_ns)
        step = NS_PER_SECOND
    else:
        base = Bars.concat([series.minutes_between(start_ns, end_ns), _minute_in_progress(series, end_ns)])
        step = 60 * NS_PER_SECOND
    if use_rth and inst.sec_type == "FUT" and len(base):
        local = pd.DatetimeIndex(base.end_ns, tz="UTC").tz_convert("America/Chicago")
        minutes = local.hour * 60 + local.minute
        keep = np.asarray((minutes > 8 * 60 + 30) & (minutes <= 15 * 60 + 15))
        base = Bars(*(getattr(base, f)[keep] for f in Bars.__slots__))
    if len(base) // max(bar_seconds * NS_PER_SECOND // step, 1) > MAX_BARS:
        raise HistoryRequestError(162, "Historical Market Data Service error message:Time length exceed max.")
    base = _adjust(series, base, now_ns)
    bar_start = base.end_ns - step
    local = pd.DatetimeIndex(bar_start, tz="UTC").tz_convert(series.calendar.tz)
    local_ns = local.tz_localize(None).asi8
    bucket = local_ns // (bar_seconds * NS_PER_SECOND)
    # a new bucket also starts at every session open, so the first bar of a session starts at the open
    cal = series.calendar
    session = np.searchsorted(cal.closes, base.end_ns, side="left")
    keys = bucket * 100_000 + session % 100_000
    starts_local = bucket * bar_seconds * NS_PER_SECOND
    starts_utc = bar_start - (local_ns - starts_local)
    starts_utc = np.maximum(starts_utc, cal.opens[np.minimum(session, len(cal) - 1)])
    starts, o, h, low, c, v = _aggregate(base, keys, starts_utc)
    return BarRows(starts, o, h, low, c, v, False)


def _minute_in_progress(series: Series, end_ns: int) -> Bars:
    """The part of the minute containing ``end_ns`` that has happened, as one bar labelled by the minute's end."""
    minute = 60 * NS_PER_SECOND
    start = end_ns - end_ns % minute
    if start == end_ns:
        return Bars.empty()
    secs = series.seconds_between(start, end_ns)
    if not len(secs):
        return Bars.empty()
    return Bars(np.array([start + minute]), secs.open[:1], secs.high.max(keepdims=True), secs.low.min(keepdims=True),
                secs.close[-1:], secs.volume.sum(keepdims=True))


def _daily_rows(series: Series, bar_seconds: int, start_ns: int, end_ns: int, now_ns: int) -> BarRows:
    cal = series.calendar
    k0 = int(np.searchsorted(cal.closes, start_ns, side="right"))
    k_last = int(np.searchsorted(cal.opens, end_ns, side="left")) - 1
    if k_last < k0:
        e = np.empty(0)
        return BarRows(np.empty(0, dtype=np.int64), e, e, e, e, e, True)
    complete_to = k_last if int(cal.closes[k_last]) <= end_ns else k_last - 1
    days = series.daily_bars(k0, complete_to, as_of_ns=now_ns)
    sessions = list(np.searchsorted(cal.closes, days.end_ns, side="left"))
    blocks = [days]
    if complete_to < k_last:  # the session in progress: a partial bar from its minutes so far
        part = series.minutes_between(int(cal.opens[k_last]), end_ns)
        if len(part):
            blocks.append(Bars(np.array([int(cal.closes[k_last])]), part.open[:1], np.array([part.high.max()]),
                               np.array([part.low.min()]), part.close[-1:], np.array([part.volume.sum()])))
            sessions.append(k_last)
    days = Bars.concat(blocks)
    sess = np.asarray(sessions, dtype=np.int64)
    labels = cal.sessions[sess].astype("datetime64[ns]").astype(np.int64)
    if bar_seconds == DAY:
        keys = sess
    elif bar_seconds == WEEK:
        keys = (labels // (DAY * NS_PER_SECOND) + 3) // 7  # weeks starting on Monday (epoch was a Thursday)
    else:
        dt = pd.DatetimeIndex(labels)
        keys = np.asarray(dt.year * 12 + dt.month)
    starts, o, h, low, c, v = _aggregate(days, keys, labels)
    return BarRows(starts, o, h, low, c, v, True)


def transform(rows: BarRows, inst: Instrument, what: str) -> list[list[str]]:
    """Formatted bar fields after 'whatToShow': date placeholder first (filled by :func:`format_rows`)."""
    tick = inst.min_tick
    lots = inst.md_size_multiplier if what in ("TRADES", "ADJUSTED_LAST") else 1
    o, h, low, c, v = rows.open, rows.high, rows.low, rows.close, rows.volume
    if what == "BID":
        o, h, low, c = o - tick, h - tick, low - tick, c - tick
    elif what == "ASK":
        o, h, low, c = o + tick, h + tick, low + tick, c + tick
    elif what == "BID_ASK":
        o, h, low, c = o - tick, h + tick, low - tick, c + tick
    decimals = max(int(np.ceil(-np.log10(tick))) + 2, 2) if tick > 0 else 6
    out: list[list[str]] = []
    trades = what in ("TRADES", "ADJUSTED_LAST")
    for i in range(len(rows)):
        if trades:
            vol = round(float(v[i]) / lots)
            wap = (h[i] + low[i] + c[i]) / 3.0
            count = max(int(v[i] // 100), 1)
            tail = [str(vol), fmt_float(round(wap, decimals)), str(count)]
        else:
            tail = ["-1", "-1", "-1"]
        out.append(["", fmt_float(round(float(o[i]), decimals)), fmt_float(round(float(h[i]), decimals)),
                    fmt_float(round(float(low[i]), decimals)), fmt_float(round(float(c[i]), decimals)), *tail])
    return out


def format_time(ns: int, format_date: int, time_zone: str, daily: bool) -> str:
    """A bar's date as IB formats it: 'yyyymmdd' for daily+ bars, else 'yyyymmdd  hh:mm:ss' or epoch seconds."""
    if daily:
        return pd.Timestamp(ns).strftime("%Y%m%d")
    if format_date == 2:
        return str(ns // NS_PER_SECOND)
    return pd.Timestamp(ns, tz="UTC").tz_convert(time_zone).strftime("%Y%m%d  %H:%M:%S")


def format_rows(rows: BarRows, inst: Instrument, what: str, format_date: int, time_zone: str) -> list[list[str]]:
    out = transform(rows, inst, what)
    for i, row in enumerate(out):
        row[0] = format_time(int(rows.start_ns[i]), format_date, time_zone, rows.daily)
    return out


def window_text(ns: int, time_zone: str) -> str:
    """The start/end strings of a historicalData message."""
    return pd.Timestamp(ns, tz="UTC").tz_convert(time_zone).strftime("%Y%m%d  %H:%M:%S")


def check_what_to_show(inst: Instrument, what: str) -> None:
    if what not in WHAT_TO_SHOW:
        raise HistoryRequestError(162, f"Historical Market Data Service error message:No historical market data for "
                           f"{inst.symbol}/{inst.sec_type}@{inst.exchange} {what}")
    if inst.sec_type == "CASH" and what in ("TRADES", "ADJUSTED_LAST"):
        raise HistoryRequestError(162, f"Historical Market Data Service error message:No historical market data for "
                           f"{inst.symbol}/CASH@IDEALPRO Last (currency pairs have no trades: use MIDPOINT, BID, "
                           "ASK or BID_ASK)")
