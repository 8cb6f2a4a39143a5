"""Exchange calendars as precomputed arrays.

Sessions, opens and closes come from ``exchange_calendars`` (never a hand-written holiday list) and are turned once
into numpy arrays so that every later question (which session contains this instant, which minutes does a session
have, is it an early close) is an array lookup or a binary search.

Conventions used everywhere in the runtime:
- instants are ``int64`` nanoseconds since the epoch, UTC;
- sessions are ``datetime64[ns]`` midnight labels (naive, as exchange_calendars names them);
- a minute bar is labelled by its END, as zipline does: the first bar of a regular NYSE session is 09:31 ET and the
  last 16:00 ET (13:00 on an early close). IB labels bars by their start; the IB adapter converts at the boundary.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

NS_PER_MINUTE = 60 * 1_000_000_000
NS_PER_DAY = 86_400 * 1_000_000_000

#: The calendar names a user may pass (``calendars.US_EQUITIES`` / ``calendars.US_FUTURES``) and what they mean.
CALENDAR_ALIASES = {"US_EQUITIES": "XNYS", "US_FUTURES": "us_futures", "NYSE": "XNYS"}


@dataclass(frozen=True, eq=False)
class TradingCalendar:
    """Sessions of one exchange between two dates, as arrays.

    ``opens[i]`` is the first instant of trading of session ``i`` and ``closes[i]`` the last (both int64 ns UTC).
    """

    name: str
    tz: str
    sessions: np.ndarray
    opens: np.ndarray
    closes: np.ndarray
    early_close: np.ndarray
    _minute_offsets: np.ndarray = field(repr=False)
    #: First and last calendar dates (``datetime64[D]``) the calendar was built to cover; None if unknown.
    _date_bounds: tuple[np.datetime64, np.datetime64] | None = field(default=None, repr=False)
    _labels: dict[int, pd.Timestamp] = field(default_factory=dict, init=False, repr=False, compare=False)

    # ----------------------------------------------------------------------------------------------------- sessions
    def __len__(self) -> int:
        return len(self.sessions)

    @property
    def first_session(self) -> pd.Timestamp:
        return pd.Timestamp(self.sessions[0])

    @property
    def last_session(self) -> pd.Timestamp:
        return pd.Timestamp(self.sessions[-1])

    def session_label(self, i: int) -> pd.Timestamp:
        """The date label of session ``i`` (made once per session: Timestamps are immutable)."""
        label = self._labels.get(i)
        if label is None:
            label = self._labels[i] = pd.Timestamp(self.sessions[i])
        return label

    def is_session(self, day: pd.Timestamp | str) -> bool:
        """Whether the calendar date ``day`` is a trading session."""
        d = np.datetime64(pd.Timestamp(day).normalize().tz_localize(None).asm8, "ns")
        i = int(np.searchsorted(self.sessions, d))
        return i < len(self.sessions) and self.sessions[i] == d

    def session_index_on_or_after(self, day: pd.Timestamp | str) -> int:
        """Index of the first session whose date is ``day`` or later (``len(self)`` if none)."""
        d = np.datetime64(pd.Timestamp(day).normalize().tz_localize(None).asm8, "ns")
        return int(np.searchsorted(self.sessions, d, side="left"))

    def session_index_on_or_before(self, day: pd.Timestamp | str) -> int:
        """Index of the last session whose date is ``day`` or earlier (-1 if none)."""
        d = np.datetime64(pd.Timestamp(day).normalize().tz_localize(None).asm8, "ns")
        return int(np.searchsorted(self.sessions, d, side="right")) - 1

    def session_of_instant(self, ns: int) -> int:
        """Index of the session whose trading hours contain ``ns`` (open exclusive, close inclusive), else -1.

        With end-labelled minutes, a bar stamped exactly at the close belongs to the session, one stamped at the
        open does not (it would be the bar that ended at the open).
        """
        i = int(np.searchsorted(self.closes, ns, side="left"))
        if i < len(self.closes) and self.opens[i] < ns <= self.closes[i]:
            return i
        return -1

    def date_bounds(self) -> tuple[np.datetime64, np.datetime64]:
        """First and last calendar dates (``datetime64[D]``) whose sessions this calendar knows completely.

        A week or month that reaches outside these dates may have sessions the calendar does not know, so rules that
        count sessions within it (``week_end``, ``month_start``...) must not trust it. Without recorded bounds, the
        first and last session dates are used (the conservative choice).
        """
        if self._date_bounds is not None:
            return self._date_bounds
        days = self.sessions.astype("datetime64[D]")
        return days[0], days[-1]

    def local_date_of(self, ns: int) -> np.datetime64:
        """The exchange-local calendar date (``datetime64[D]``) of the instant ``ns``."""
        return np.datetime64(self.to_local(ns).date(), "D")

    def last_session_started_by(self, ns: int) -> int:
        """Index of the latest session whose open is at or before ``ns`` (-1 if none)."""
        return int(np.searchsorted(self.opens, ns, side="right")) - 1

    # ------------------------------------------------------------------------------------------------------ minutes
    def session_minutes(self, i: int) -> np.ndarray:
        """End-labelled minute bars of session ``i`` as int64 ns UTC (09:31..16:00 ET on a regular NYSE day)."""
        return self.opens[i] + self._minute_offsets[: self.minutes_in_session(i)]

    def minutes_in_session(self, i: int) -> int:
        return int((self.closes[i] - self.opens[i]) // NS_PER_MINUTE)

    def minutes_between(self, first: int, last: int) -> np.ndarray:
        """All end-labelled minute bars of sessions ``first..last`` (inclusive), int64 ns UTC, ascending."""
        counts = ((self.closes[first : last + 1] - self.opens[first : last + 1]) // NS_PER_MINUTE).astype(np.int64)
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        starts = np.repeat(self.opens[first : last + 1], counts)
        run_start = np.repeat(np.cumsum(counts) - counts, counts)
        steps = np.arange(total, dtype=np.int64) - run_start + 1
        return starts + steps * NS_PER_MINUTE

    def minute_counts(self, first: int, last: int) -> np.ndarray:
        return ((self.closes[first : last + 1] - self.opens[first : last + 1]) // NS_PER_MINUTE).astype(np.int64)

    # ---------------------------------------------------------------------------------------------------- display
    def to_local(self, ns: int) -> pd.Timestamp:
        """An instant as a timestamp in the exchange's time zone."""
        return pd.Timestamp(ns, tz="UTC").tz_convert(self.tz)


def _cache_dir() -> Path | None:
    """Where built calendars are kept between processes (IBALGO_CACHE_DIR, else ~/.cache/ibalgo); None: nowhere."""
    root = os.environ.get("IBALGO_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "ibalgo")
    return None if root.lower() in ("", "0", "off", "none") else Path(root) / "calendars"


def _cache_key(name: str, start: str, end: str | None) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        xcals_version = version("exchange_calendars")
    except PackageNotFoundError:
        xcals_version = "unknown"
    # exchange_calendars' default horizon moves with today's date, so an open-ended calendar is cached per day
    horizon = end if end is not None else f"today{datetime.date.today().isoformat()}"
    raw = f"{name}|{start}|{horizon}|{xcals_version}"
    return f"{name.replace('/', '_')}-{hashlib.sha1(raw.encode()).hexdigest()[:16]}.npz"


def _load_cached(path: Path, name: str) -> TradingCalendar | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            bounds = (z["bounds"][0], z["bounds"][1])
            return TradingCalendar(name, str(z["tz"]), z["sessions"], z["opens"], z["closes"], z["early"],
                                   z["offsets"], bounds)
    except (OSError, KeyError, ValueError):
        return None


def _store_cached(path: Path, cal: TradingCalendar) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, tz=np.array(cal.tz), sessions=cal.sessions, opens=cal.opens, closes=cal.closes,
                 early=cal.early_close, offsets=cal._minute_offsets, bounds=np.array(cal.date_bounds()))
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    except OSError:
        pass  # a read-only home: just build it every time


def _build_cached(name: str, start: str, end: str | None) -> TradingCalendar:
    """Build a calendar, or load the arrays of an identical earlier build (saves importing exchange_calendars and
    evaluating its holiday rules, about 0.3 s a process)."""
    folder = _cache_dir()
    path = folder / _cache_key(name, start, end) if folder is not None else None
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
    longest = int(((closes - opens) // NS_PER_MINUTE).max()) if len(opens) else 0
    offsets = np.arange(1, longest + 1, dtype=np.int64) * NS_PER_MINUTE
    tz = str(cal.tz)
    first_day = np.datetime64(pd.Timestamp(start).date(), "D")
    # Without an explicit end, exchange_calendars stops at its default horizon; nothing after the last session is known.
    last_day = np.datetime64(pd.Timestamp(end).date(), "D") if end is not None else sessions[-1].astype("datetime64[D]")
    return TradingCalendar(name, tz, sessions, opens, closes, early, offsets, (first_day, last_day))


@functools.lru_cache(maxsize=16)
def get_calendar(name: str = "XNYS", start: str = "1995-01-01", end: str | None = None) -> TradingCalendar:
    """The exchange calendar ``name`` (an exchange_calendars code or an alias such as ``US_EQUITIES``).

    Built once per process and argument set; exchange_calendars knows sessions up to about a year ahead of today.
    """
    code = CALENDAR_ALIASES.get(name, name)
    return _build_cached(code, start, end)
