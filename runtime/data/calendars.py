"""Exchange calendars built from ``exchange_calendars`` and kept on disk between processes.

:func:`get_calendar` is what the runtime calls; the pure :class:`~runtime.core.calendar.TradingCalendar` it returns
does no I/O. Building one imports exchange_calendars and evaluates its holiday rules (about 0.3 s a process), so the
arrays of each build are kept in ``IBALGO_CACHE_DIR`` (else ``~/.cache/ibalgo``; ``off`` keeps nothing).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from runtime.core.calendar import (
    CALENDAR_ALIASES,
    TradingCalendar,
    calendar_arrays,
    calendar_from_arrays,
    calendar_from_schedule,
)


def _cache_dir() -> Path | None:
    """Where built calendars are kept between processes (IBALGO_CACHE_DIR, else ~/.cache/ibalgo); None: nowhere."""
    root = os.environ.get("IBALGO_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "ibalgo")
    return None if root.lower() in ("", "0", "off", "none") else Path(root) / "calendars"


def _cache_key(name: str, start: str, end: str | None, today: datetime.date) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        xcals_version = version("exchange_calendars")
    except PackageNotFoundError:
        xcals_version = "unknown"
    # exchange_calendars' default horizon moves with today's date, so an open-ended calendar is cached per day
    horizon = end if end is not None else f"today{today.isoformat()}"
    raw = f"{name}|{start}|{horizon}|{xcals_version}"
    return f"{name.replace('/', '_')}-{hashlib.sha1(raw.encode()).hexdigest()[:16]}.npz"


def _load_cached(path: Path, name: str) -> TradingCalendar | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return calendar_from_arrays(name, {key: z[key] for key in z.files})
    except (OSError, KeyError, ValueError):
        return None


def _store_cached(path: Path, cal: TradingCalendar) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **calendar_arrays(cal))
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    except OSError:
        pass  # a read-only home: just build it every time


def _build_cached(name: str, start: str, end: str | None) -> TradingCalendar:
    """Build a calendar, or load the arrays of an identical earlier build."""
    folder = _cache_dir()
    path = folder / _cache_key(name, start, end, datetime.date.today()) if folder is not None else None
    if path is not None and path.is_file():
        cached = _load_cached(path, name)
        if cached is not None:
            return cached
    cal = _build(name, start, end)
    if path is not None:
        _store_cached(path, cal)
    return cal


def _build(name: str, start: str, end: str | None) -> TradingCalendar:
    import exchange_calendars as xcals  # imported lazily: it costs ~0.2 s

    kwargs: dict[str, object] = {"start": start}
    if end is not None:
        kwargs["end"] = end
    cal = xcals.get_calendar(name, **kwargs)
    schedule = cal.schedule
    opens = pd.DatetimeIndex(schedule["open"]).as_unit("ns").asi8.copy()
    closes = pd.DatetimeIndex(schedule["close"]).as_unit("ns").asi8.copy()
    sessions = schedule.index.as_unit("ns").to_numpy()
    early = np.isin(sessions, cal.early_closes.to_numpy().astype("datetime64[ns]"))
    first_day = np.datetime64(pd.Timestamp(start).date(), "D")
    # Without an explicit end, exchange_calendars stops at its default horizon; nothing after the last session is known.
    last_day = np.datetime64(pd.Timestamp(end).date(), "D") if end is not None else None
    return calendar_from_schedule(name, str(cal.tz), sessions, opens, closes, early, first_day, last_day)


@functools.lru_cache(maxsize=16)
def get_calendar(name: str = "XNYS", start: str = "1995-01-01", end: str | None = None) -> TradingCalendar:
    """The exchange calendar ``name`` (an exchange_calendars code or an alias such as ``US_EQUITIES``).

    Built once per process and argument set; exchange_calendars knows sessions up to about a year ahead of today.
    """
    code = CALENDAR_ALIASES.get(name, name)
    return _build_cached(code, start, end)
