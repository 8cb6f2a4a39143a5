"""The simulation's event sequence as arrays, and the live misfire policy as pure functions.

A :class:`Timeline` lists every event of a run in the order the engine must handle them: sorted by time and, at
equal times, by kind (``BEFORE_TRADING_START``, ``BAR`` = handle_data, ``SCHEDULED`` in registration order,
``SESSION_END``). Broker events (fills, order status) are not in the timeline: at any instant the engine drains them
first, which is what :attr:`EventKind.BROKER` ranks.

The backtest iterates these arrays; live and replay runs use the same arrays plus :func:`plan_due`, which decides
what to do with the events that are due at ``now`` when the engine wakes up late. In a backtest ``now`` always
equals the event's time, so the policy runs everything: the code path is the same, the outcome identical.

Nothing here reads the clock or does I/O.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from runtime.core.calendar import TradingCalendar
from runtime.core.rules import NS_PER_SECOND, EventRule
from runtime.data.calendars import get_calendar
from runtime.errors import ScheduleError

NO_RULE = -1
NO_SESSION = -1
NO_DEADLINE = int(np.iinfo(np.int64).max)
DEFAULT_BEFORE_TRADING_START = _dt.time(8, 45)
DEFAULT_GRACE_NS = 60 * NS_PER_SECOND


class EventKind(enum.IntEnum):
    """What happens at an instant; the value is the order at equal times."""

    BROKER = 0  #: fills and order updates: never in a timeline, always handled first at an instant
    BEFORE_TRADING_START = 1  #: once per session, before its first bar (08:45 exchange time by default)
    BAR = 2  #: a bar closed: handle_data
    SCHEDULED = 3  #: a scheduled function (``rule`` says which, in registration order)
    SESSION_END = 4  #: after the session's last bar: daily bookkeeping


@dataclass(frozen=True)
class Event:
    """One timeline entry as a value (for logs and tests; the engine reads the arrays directly)."""

    index: int
    time_ns: int
    kind: EventKind
    rule: int
    session: int
    deadline_ns: int


@dataclass(frozen=True, eq=False)
class Timeline:
    """Parallel arrays, one entry per event, in handling order.

    ``times`` int64 ns UTC; ``kinds`` int8 (:class:`EventKind`); ``rules`` int32 (index of the scheduled rule, -1
    otherwise); ``sessions`` int32 (index into the run's calendar of the first session whose close is at or after
    the event, -1 without a calendar); ``deadlines`` int64 (close of the session the event belongs to, in the
    calendar its rule runs on; :data:`NO_DEADLINE` for REGULAR-mode bars).
    ``known_until_ns``: events before this instant are final; None when the whole range is known. Live runs
    rebuild the timeline before reaching it (exchange calendars only know about a year ahead).
    """

    times: np.ndarray
    kinds: np.ndarray
    rules: np.ndarray
    sessions: np.ndarray
    deadlines: np.ndarray
    known_until_ns: int | None = None

    def __len__(self) -> int:
        return len(self.times)

    def event(self, i: int) -> Event:
        return Event(
            i,
            int(self.times[i]),
            EventKind(int(self.kinds[i])),
            int(self.rules[i]),
            int(self.sessions[i]),
            int(self.deadlines[i]),
        )

    def index_after(self, ns: int) -> int:
        """Index of the first event strictly after ``ns``."""
        return int(np.searchsorted(self.times, ns, side="right"))

    def index_at_or_after(self, ns: int) -> int:
        """Index of the first event at or after ``ns``."""
        return int(np.searchsorted(self.times, ns, side="left"))

    def start_index_for(self, cal: TradingCalendar | None, now_ns: int) -> int:
        """Where a live run that starts at ``now_ns`` begins: the first event of the first session not yet closed.

        Starting mid-session therefore still offers that session's before_trading_start and its bars to the misfire
        policy, which runs before_trading_start and the newest bar and skips what is too late. Without a calendar:
        the first event at or after ``now_ns``.
        """
        if cal is None or len(self) == 0 or self.sessions[0] == NO_SESSION:
            return self.index_at_or_after(now_ns)
        current = int(np.searchsorted(cal.closes, now_ns, side="left"))
        return int(np.searchsorted(self.sessions, current, side="left"))

    def fire_times(self) -> np.ndarray:
        """The distinct instants of the timeline: what a live trigger must wake up for."""
        return np.unique(self.times)

    def kinds_at(self, lo: int, hi: int) -> list[tuple[int, EventKind, int]]:
        """``(time_ns, kind, rule)`` of events ``lo..hi-1`` (for logs and tests)."""
        return [
            (int(t), EventKind(int(k)), int(r))
            for t, k, r in zip(self.times[lo:hi].tolist(), self.kinds[lo:hi].tolist(), self.rules[lo:hi].tolist())
        ]


# ------------------------------------------------------------------------------------------------------ builders
def _bts_instants(cal: TradingCalendar, idx: np.ndarray, at: _dt.time) -> np.ndarray:
    """before_trading_start instants: ``at`` exchange time on the session's date, or the open if that is later
    than the open (sessions that open the evening before)."""
    if len(idx) == 0:
        return np.empty(0, dtype=np.int64)
    seconds = at.hour * 3600 + at.minute * 60 + at.second
    local = pd.DatetimeIndex(cal.sessions[idx] + np.timedelta64(seconds, "s") + np.timedelta64(at.microsecond, "us"))
    aware = local.tz_localize(cal.tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    t = aware.tz_convert("UTC").as_unit("ns").asi8
    return np.minimum(t, cal.opens[idx]).astype(np.int64)


def _scheduled_parts(
    cal: TradingCalendar,
    first_session: int,
    last_session: int,
    frequency: str,
    rules: Sequence[EventRule],
    other_calendars: Mapping[str, TradingCalendar] | None,
    window: tuple[int, int] | None = None,
) -> tuple[list[tuple[np.ndarray, int, np.ndarray]], int | None]:
    """Fire times of each rule as (times, rule index, deadlines), and the earliest instant that is not final."""
    parts: list[tuple[np.ndarray, int, np.ndarray]] = []
    known = int(cal.closes[-1]) + 1
    for r, rule in enumerate(rules):
        code = rule.calendar_code(cal.name)
        if code == cal.name:
            rcal, lo, hi = cal, first_session, last_session
        else:
            rcal = (other_calendars or {}).get(code) or _same_dates(code, cal)
            lo = rcal.session_index_on_or_after(cal.session_label(first_session))
            hi = rcal.session_index_on_or_before(cal.session_label(last_session))
        times, idx = rule.fires(rcal, lo, hi, frequency)
        deadlines = rcal.closes[idx].astype(np.int64)
        if window is not None:
            keep = (times >= window[0]) & (times <= window[1])
            times, deadlines = times[keep], deadlines[keep]
        parts.append((times, r, deadlines))
        known = min(known, rule.known_until_ns(rcal), int(rcal.closes[-1]) + 1)
    end = window[1] if window is not None else int(cal.closes[last_session])
    return parts, (known if known <= end else None)


def _same_dates(code: str, cal: TradingCalendar) -> TradingCalendar:
    """The calendar ``code`` over the dates ``cal`` covers (deterministic: no dependence on today's date)."""
    first_day, last_day = cal.date_bounds()
    return get_calendar(code, str(first_day), str(last_day))


def _assemble(
    pieces: list[tuple[np.ndarray, EventKind, int, np.ndarray]], cal: TradingCalendar | None, known: int | None
) -> Timeline:
    """Concatenate (times, kind, rule, deadlines) pieces given in priority order and sort stably by time."""
    times = np.concatenate([p[0] for p in pieces]).astype(np.int64, copy=False)
    kinds = np.concatenate([np.full(len(p[0]), int(p[1]), dtype=np.int8) for p in pieces])
    rules = np.concatenate([np.full(len(p[0]), p[2], dtype=np.int32) for p in pieces])
    deadlines = np.concatenate([p[3] for p in pieces]).astype(np.int64, copy=False)
    order = np.argsort(times, kind="stable")
    times, kinds, rules, deadlines = times[order], kinds[order], rules[order], deadlines[order]
    if cal is None:
        sessions = np.full(len(times), NO_SESSION, dtype=np.int32)
    else:
        sessions = np.searchsorted(cal.closes, times, side="left").astype(np.int32)
    return Timeline(times, kinds, rules, sessions, deadlines, known)


def _priority_order(
    bts: np.ndarray,
    bts_deadlines: np.ndarray,
    bars: np.ndarray,
    bar_deadlines: np.ndarray,
    parts: list[tuple[np.ndarray, int, np.ndarray]],
    ends: np.ndarray,
) -> list[tuple[np.ndarray, EventKind, int, np.ndarray]]:
    pieces: list[tuple[np.ndarray, EventKind, int, np.ndarray]] = [
        (bts, EventKind.BEFORE_TRADING_START, NO_RULE, bts_deadlines),
        (bars, EventKind.BAR, NO_RULE, bar_deadlines),
    ]
    pieces += [(times, EventKind.SCHEDULED, r, deadlines) for times, r, deadlines in parts]
    pieces.append((ends, EventKind.SESSION_END, NO_RULE, ends))
    return pieces


def build_timeline(
    cal: TradingCalendar,
    first_session: int,
    last_session: int,
    frequency: str = "minute",
    rules: Sequence[EventRule] = (),
    *,
    before_trading_start: _dt.time | None = DEFAULT_BEFORE_TRADING_START,
    other_calendars: Mapping[str, TradingCalendar] | None = None,
) -> Timeline:
    """Every event of a Quantopian-style run over sessions ``first_session..last_session`` (inclusive indices).

    - ``BEFORE_TRADING_START`` once per session at ``before_trading_start`` exchange time (08:45 by default, as
      zipline; None leaves it out). If that time is not before the open (futures sessions open the evening
      before), it is placed at the open, still ahead of the first bar.
    - ``BAR`` at every end-labelled minute of each session (09:31..16:00 ET) with ``frequency='minute'``, or once
      per session at the close with ``'daily'``.
    - ``SCHEDULED`` at each rule's fire times (``rules[i]`` gives rule index ``i``); a rule bound to another
      calendar (``calendar=calendars.US_FUTURES``) uses ``other_calendars[code]`` if given, else that calendar
      over the same dates as ``cal``.
    - ``SESSION_END`` at the close, after the close's bar and the functions scheduled there.
    """
    if frequency not in ("minute", "daily"):
        raise ScheduleError(f"frequency must be 'minute' or 'daily', got {frequency!r}")
    first = max(int(first_session), 0)
    last = min(int(last_session), len(cal) - 1)
    empty = np.empty(0, dtype=np.int64)
    if first > last:
        return Timeline(empty, empty.astype(np.int8), empty.astype(np.int32), empty.astype(np.int32), empty, None)
    idx = np.arange(first, last + 1)
    closes = cal.closes[idx].astype(np.int64)
    if frequency == "minute":
        bars = cal.minutes_between(first, last)
        bar_deadlines = np.repeat(closes, cal.minute_counts(first, last))
    else:
        bars, bar_deadlines = closes, closes
    bts = _bts_instants(cal, idx, before_trading_start) if before_trading_start is not None else empty
    bts_deadlines = closes if before_trading_start is not None else empty
    parts, known = _scheduled_parts(cal, first, last, frequency, rules, other_calendars)
    return _assemble(_priority_order(bts, bts_deadlines, bars, bar_deadlines, parts, closes), cal, known)


def regular_bar_times(start_ns: int, end_ns: int, period_ns: int) -> np.ndarray:
    """``start_ns, start_ns + period_ns, ...`` up to and including ``end_ns`` (int64 ns)."""
    if period_ns <= 0:
        raise ScheduleError(f"the bar period must be positive, got {period_ns} ns")
    if end_ns < start_ns:
        return np.empty(0, dtype=np.int64)
    return start_ns + np.arange((end_ns - start_ns) // period_ns + 1, dtype=np.int64) * period_ns


def rep_bar_freq_ns(rep_bar_freq: float) -> int:
    """IBridgePy's ``repBarFreq`` (seconds, sub-second allowed: 0.5 = twice a second) in nanoseconds, rounded to a
    whole microsecond (the resolution of the live scheduler's datetimes)."""
    if isinstance(rep_bar_freq, bool) or not isinstance(rep_bar_freq, (int, float)) or not rep_bar_freq > 0:
        raise ScheduleError(f"repBarFreq must be a positive number of seconds, got {rep_bar_freq!r}")
    period = round(rep_bar_freq * 1_000_000) * 1000
    if period < 1_000_000:
        raise ScheduleError(f"repBarFreq must be at least 0.001 seconds, got {rep_bar_freq!r}")
    return int(period)


def build_regular_timeline(
    start_ns: int,
    end_ns: int,
    rep_bar_freq: float,
    *,
    cal: TradingCalendar | None = None,
    rules: Sequence[EventRule] = (),
    before_trading_start: _dt.time | None = None,
    other_calendars: Mapping[str, TradingCalendar] | None = None,
) -> Timeline:
    """IBridgePy's REGULAR mode: handle_data every ``rep_bar_freq`` seconds around the clock, from ``start_ns`` to
    ``end_ns`` inclusive, whatever the exchange calendar says.

    With a calendar, scheduled functions (``rules``), ``before_trading_start`` (if a time is given) and
    ``SESSION_END`` are added for the sessions whose events fall inside the window. REGULAR bars have no session
    deadline: the misfire policy only checks their lateness.
    """
    bars = regular_bar_times(start_ns, end_ns, rep_bar_freq_ns(rep_bar_freq))
    bar_deadlines = np.full(len(bars), NO_DEADLINE, dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    if cal is None:
        if rules or before_trading_start is not None:
            raise ScheduleError("scheduled functions and before_trading_start need an exchange calendar")
        return _assemble(_priority_order(empty, empty, bars, bar_deadlines, [], empty), None, None)
    first = int(np.searchsorted(cal.closes, start_ns, side="left"))
    last = int(np.searchsorted(cal.opens, end_ns, side="right")) - 1
    if first > last:
        return _assemble(_priority_order(empty, empty, bars, bar_deadlines, [], empty), cal, None)
    idx = np.arange(first, last + 1)
    closes = cal.closes[idx].astype(np.int64)
    in_window = (closes >= start_ns) & (closes <= end_ns)
    ends = closes[in_window]
    if before_trading_start is not None:
        bts = _bts_instants(cal, idx, before_trading_start)
        keep = (bts >= start_ns) & (bts <= end_ns)
        bts, bts_deadlines = bts[keep], closes[keep]
    else:
        bts, bts_deadlines = empty, empty
    parts, known = _scheduled_parts(cal, first, last, "minute", rules, other_calendars, window=(start_ns, end_ns))
    return _assemble(_priority_order(bts, bts_deadlines, bars, bar_deadlines, parts, ends), cal, known)


# --------------------------------------------------------------------------------------------- misfire policy
class SkipReason(enum.Enum):
    SUPERSEDED = "a newer bar is already due; handle_data runs for the newest bar only"
    LATE = "later than the grace period"
    AFTER_CLOSE = "its session has already closed"


@dataclass(frozen=True)
class Skipped:
    """An event the policy did not run, with why (for a warning in the log)."""

    index: int
    time_ns: int
    kind: EventKind
    rule: int
    reason: SkipReason
    late_ns: int


@dataclass(frozen=True)
class DuePlan:
    """What to do with the events due at ``now``: run ``run`` (timeline indices, in order), log ``skipped``, then
    continue from ``next_index``. Events before ``next_index`` are never offered again, so nothing runs twice."""

    run: tuple[int, ...]
    skipped: tuple[Skipped, ...]
    next_index: int

    @property
    def empty(self) -> bool:
        return not self.run and not self.skipped


def plan_due(timeline: Timeline, start_index: int, now_ns: int, grace_ns: int = DEFAULT_GRACE_NS) -> DuePlan:
    """The misfire policy: which of the events from ``start_index`` that are due at ``now_ns`` still run.

    - ``BAR``: handle_data runs only for the newest due bar; older due bars are skipped (SUPERSEDED). The newest
      one is skipped too when it is later than ``grace_ns`` (LATE): after a long stall nothing runs on stale data.
    - ``SCHEDULED``: runs if late by at most ``grace_ns`` (default 60 s), otherwise skipped (LATE); never after its
      session's close (AFTER_CLOSE), except a function scheduled at the close itself, which gets the grace.
    - ``BEFORE_TRADING_START``: runs unless its session has closed (a run started mid-session still gets it).
    - ``SESSION_END``: always runs (bookkeeping).
    Events run in timeline order. In a backtest ``now_ns`` equals the events' time and everything runs.
    """
    hi = int(np.searchsorted(timeline.times, now_ns, side="right"))
    lo = max(int(start_index), 0)
    if hi <= lo:
        return DuePlan((), (), lo)
    times = timeline.times[lo:hi].tolist()
    kinds = timeline.kinds[lo:hi].tolist()
    rules = timeline.rules[lo:hi].tolist()
    deadlines = timeline.deadlines[lo:hi].tolist()
    bar_positions = [j for j, k in enumerate(kinds) if k == EventKind.BAR]
    newest_bar = bar_positions[-1] if bar_positions else -1
    run: list[int] = []
    skipped: list[Skipped] = []
    for j, (t, k, r, d) in enumerate(zip(times, kinds, rules, deadlines)):
        late = now_ns - t
        reason: SkipReason | None = None
        if k == EventKind.BAR:
            if j != newest_bar:
                reason = SkipReason.SUPERSEDED
            elif late > grace_ns:
                reason = SkipReason.LATE
        elif k == EventKind.SCHEDULED:
            if t < d < now_ns:
                reason = SkipReason.AFTER_CLOSE
            elif late > grace_ns:
                reason = SkipReason.LATE
        elif k == EventKind.BEFORE_TRADING_START and now_ns > d:
            reason = SkipReason.AFTER_CLOSE
        if reason is None:
            run.append(lo + j)
        else:
            skipped.append(Skipped(lo + j, t, EventKind(k), r, reason, late))
    return DuePlan(tuple(run), tuple(skipped), hi)
