"""Exchange calendars as precomputed arrays.

Sessions, opens and closes come from ``exchange_calendars`` (never a hand-written holiday list; built, and cached on
disk, by :mod:`runtime.data.calendars`) and are turned once into numpy arrays so that every later question (which
session contains this instant, which minutes does a session have, is it an early close) is an array lookup or a
binary search. This module is pure: no I/O, no clock.

Conventions used everywhere in the runtime:
- instants are ``int64`` nanoseconds since the epoch, UTC;
- sessions are ``datetime64[ns]`` midnight labels (naive, as exchange_calendars names them);
- a minute bar is labelled by its END, as zipline does: the first bar of a regular NYSE session is 09:31 ET and the
  last 16:00 ET (13:00 on an early close). IB labels bars by their start; the IB adapter converts at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def calendar_from_schedule(name: str, tz: str, sessions: np.ndarray, opens: np.ndarray, closes: np.ndarray,
                           early_close: np.ndarray, first_day: np.datetime64,
                           last_day: np.datetime64 | None = None) -> TradingCalendar:
    """A calendar from an exchange's schedule: session labels (``datetime64[ns]``), opens and closes (int64 ns
    UTC), early-close flags, and the first and last calendar dates the schedule covers completely (``last_day``
    None: up to the last session)."""
    longest = int(((closes - opens) // NS_PER_MINUTE).max()) if len(opens) else 0
    offsets = np.arange(1, longest + 1, dtype=np.int64) * NS_PER_MINUTE
    last = last_day if last_day is not None else sessions[-1].astype("datetime64[D]")
    return TradingCalendar(name, tz, sessions, opens, closes, early_close, offsets, (first_day, last))


def calendar_arrays(cal: TradingCalendar) -> dict[str, np.ndarray]:
    """The arrays that make up ``cal`` (what :func:`calendar_from_arrays` takes back), e.g. to store it."""
    return {"tz": np.array(cal.tz), "sessions": cal.sessions, "opens": cal.opens, "closes": cal.closes,
            "early": cal.early_close, "offsets": cal._minute_offsets, "bounds": np.array(cal.date_bounds())}


def calendar_from_arrays(name: str, arrays: dict[str, np.ndarray]) -> TradingCalendar:
    """The calendar :func:`calendar_arrays` took apart. Raises KeyError for a missing array."""
    bounds = arrays["bounds"]
    return TradingCalendar(name, str(arrays["tz"]), arrays["sessions"], arrays["opens"], arrays["closes"],
                           arrays["early"], arrays["offsets"], (bounds[0], bounds[1]))
