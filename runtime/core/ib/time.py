"""IB's time strings and time zones (reqHistoricalData's endDateTime, bar labels, 'EST' and friends)."""

from __future__ import annotations

import functools

import pandas as pd

#: nanoseconds in a second (runtime instants are int64 ns UTC)
NS_PER_SECOND = 1_000_000_000

def ib_end_time(ns: int | None) -> str:
    """reqHistoricalData's endDateTime for an instant: '' for now, else 'yyyymmdd-hh:mm:ss' (UTC)."""
    if ns is None:
        return ""
    return pd.Timestamp(int(ns), tz="UTC").strftime("%Y%m%d-%H:%M:%S")


_IB_TZ = {"EST": "US/Eastern", "EDT": "US/Eastern", "CST": "US/Central", "CDT": "US/Central", "GMT": "UTC",
          "MET": "MET", "JST": "Asia/Tokyo", "HKT": "Asia/Hong_Kong"}


@functools.lru_cache(maxsize=64)
def ib_time_zone(name: str, default: str = "US/Eastern") -> str:
    """A time zone name pandas understands for one IB uses ('EST' -> 'US/Eastern'); ``default`` if unknown."""
    name = (name or "").strip()
    if not name:
        return default
    if name in _IB_TZ:
        return _IB_TZ[name]
    try:
        pd.Timestamp(0, tz=name)
    except Exception:
        return default
    return name


def parse_ib_time(text: str, default_tz: str) -> int:
    """An IB time string as int64 ns UTC.

    Accepts epoch seconds ('1352817000', formatDate=2), 'yyyymmdd', 'yyyymmdd  hh:mm:ss' (two spaces, in
    ``default_tz``, IB's "TWS time zone"), 'yyyymmdd hh:mm:ss Zone/Name' and 'yyyymmdd-hh:mm:ss' (UTC).
    """
    s = str(text).strip()
    head = s.split()[0] if s else s
    if head.isdigit() and len(head) != 8:
        return int(head) * NS_PER_SECOND
    if "-" in s and len(s) == 17:
        return pd.Timestamp(s.replace("-", " "), tz="UTC").value
    parts = s.split()
    tz = default_tz
    if len(parts) == 3:
        tz = _IB_TZ.get(parts[2], parts[2])
        parts = parts[:2]
    if len(parts) == 1:
        return pd.Timestamp(parts[0]).tz_localize(tz).value
    return pd.Timestamp(f"{parts[0]} {parts[1]}").tz_localize(tz).value
