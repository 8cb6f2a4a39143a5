"""APScheduler 3.x triggers over precomputed fire instants.

A scheduling rule becomes a sorted int64 array of fire instants (ns UTC) once; asking a trigger for its next fire
time is then a binary search, cheap and free of side effects. The same trigger objects serve:

- the live scheduler: APScheduler calls :meth:`InstantTrigger.get_next_fire_time` with timezone-aware datetimes;
  answers are aware datetimes in the exchange time zone;
- the replay loop and simulations: they call :meth:`InstantTrigger.next_ns` with plain integers.

Horizon: exchange calendars only know about a year ahead. A trigger built by a *builder* records the instant up
to which its array is final (``known_until_ns``). It never answers "no more fire times" (which would make
APScheduler drop the job) merely because its array ended: it answers a wake-up at that instant instead
(:meth:`InstantTrigger.is_fire_ns` is False for it), and whoever drives it rebuilds the array then, or earlier on a
fixed cadence (the live dispatcher rebuilds daily). A long-running process therefore never silently loses a job.
"""

from __future__ import annotations

import datetime as _dt
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from apscheduler.triggers.base import BaseTrigger

from runtime.core.calendar import TradingCalendar
from runtime.core.rules import EventRule
from runtime.data.calendars import get_calendar
from runtime.engine.timeline import Timeline

UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = _dt.timedelta(microseconds=1)
DEFAULT_RETRY_NS = 15 * 60 * 1_000_000_000


def ns_to_datetime(ns: int, tz: _dt.tzinfo) -> _dt.datetime:
    """An int64 ns UTC instant as an aware datetime in ``tz`` (floored to the microsecond)."""
    return (_EPOCH + _dt.timedelta(microseconds=ns // 1000)).astimezone(tz)


def datetime_to_ns(dt: _dt.datetime) -> int:
    """An aware datetime as int64 ns UTC. Naive datetimes are refused (they are ambiguous)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {dt!r}")
    return ((dt - _EPOCH) // _ONE_US) * 1000


def _as_tz(tz: str | _dt.tzinfo) -> _dt.tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


@dataclass(frozen=True, eq=False)
class FireTimes:
    """Sorted distinct fire instants (int64 ns UTC) and the instant before which they are final (None: all)."""

    times: np.ndarray
    known_until_ns: int | None = None

    def __post_init__(self) -> None:
        times = np.unique(np.asarray(self.times, dtype=np.int64))
        object.__setattr__(self, "times", times)


Builder = Callable[[int], FireTimes]


class InstantTrigger(BaseTrigger):
    """Base of the triggers here: fire instants as int64 ns, searched, never computed by stepping time."""

    def __init__(self, tz: str | _dt.tzinfo) -> None:
        self.tz = _as_tz(tz)

    # ---------------------------------------------------------------------------------------- integer interface
    @abstractmethod
    def next_ns(self, after_ns: int) -> int | None:
        """The first instant strictly after ``after_ns`` at which to wake up (a fire time or a horizon wake-up),
        or None if there is none, ever."""

    @abstractmethod
    def is_fire_ns(self, ns: int) -> bool:
        """Whether ``ns`` is a real fire instant (False for a horizon wake-up)."""

    def needs_rebuild(self, now_ns: int, max_age_ns: int | None = None) -> bool:
        """Whether the arrays should be rebuilt at ``now_ns`` (horizon reached, or older than ``max_age_ns``)."""
        return False

    def rebuild(self, now_ns: int) -> None:
        """Recompute the arrays around ``now_ns`` (no-op for triggers without a builder)."""

    def horizon_ns(self) -> int | None:
        """The earliest instant from which fire times are not known yet (None: everything is known)."""
        return None

    # -------------------------------------------------------------------------------------- APScheduler interface
    def get_next_fire_time(self, previous_fire_time: _dt.datetime | None, now: _dt.datetime) -> _dt.datetime | None:
        """APScheduler's question: the first fire time strictly after ``previous_fire_time`` or, without one, at
        or after ``now``; an aware datetime in the exchange time zone, or None when nothing will ever fire."""
        if previous_fire_time is not None:
            # Everything within the previous fire's microsecond counts as already fired.
            after = datetime_to_ns(previous_fire_time) + 999
        else:
            after = datetime_to_ns(now) - 1
        ns = self.next_ns(after)
        return None if ns is None else ns_to_datetime(ns, self.tz)

    def exact_ns(self, dt: _dt.datetime) -> int:
        """The exact instant (ns) behind a fire time this trigger returned as a (microsecond) datetime."""
        us = datetime_to_ns(dt)
        ns = self.next_ns(us - 1)
        return ns if ns is not None and ns < us + 1000 else us

    def __str__(self) -> str:
        return type(self).__name__


class ArrayTrigger(InstantTrigger):
    """Fires at the instants of a sorted array; optionally rebuilt by ``builder(now_ns) -> FireTimes``.

    Without a builder the array is all there is: after its last instant the trigger is exhausted. With one, the
    array is final only before ``known_until_ns``: past it the trigger answers a wake-up at ``known_until_ns``
    (then every ``retry_ns`` while a rebuild does not move the horizon), so the job is never dropped.
    Thread-safe: the arrays are swapped atomically by :meth:`rebuild` while readers search the old or the new ones.
    """

    def __init__(
        self,
        times_ns: np.ndarray | Sequence[int] | FireTimes,
        tz: str | _dt.tzinfo,
        *,
        builder: Builder | None = None,
        built_at_ns: int | None = None,
        retry_ns: int = DEFAULT_RETRY_NS,
    ) -> None:
        super().__init__(tz)
        fire = times_ns if isinstance(times_ns, FireTimes) else FireTimes(np.asarray(times_ns, dtype=np.int64))
        self._builder = builder
        self._retry_ns = int(retry_ns)
        self._lock = threading.Lock()
        built = built_at_ns if built_at_ns is not None else (int(fire.times[0]) if len(fire.times) else 0)
        self._state: tuple[np.ndarray, int | None, int] = (fire.times, fire.known_until_ns, built)

    @classmethod
    def from_builder(
        cls, builder: Builder, tz: str | _dt.tzinfo, now_ns: int, *, retry_ns: int = DEFAULT_RETRY_NS
    ) -> ArrayTrigger:
        """A trigger whose arrays come from ``builder(now_ns)`` now and from later rebuilds."""
        return cls(builder(now_ns), tz, builder=builder, built_at_ns=now_ns, retry_ns=retry_ns)

    @property
    def times(self) -> np.ndarray:
        return self._state[0]

    @property
    def known_until_ns(self) -> int | None:
        return self._state[1]

    def next_ns(self, after_ns: int) -> int | None:
        times, known, _ = self._state
        i = int(np.searchsorted(times, after_ns, side="right"))
        t = int(times[i]) if i < len(times) else None
        if self._builder is None or known is None:
            return t
        if t is not None and t < known:
            return t
        return known if after_ns < known else after_ns + self._retry_ns

    def is_fire_ns(self, ns: int) -> bool:
        times, known, _ = self._state
        i = int(np.searchsorted(times, ns, side="left"))
        return i < len(times) and int(times[i]) == ns and (self._builder is None or known is None or ns < known)

    def needs_rebuild(self, now_ns: int, max_age_ns: int | None = None) -> bool:
        if self._builder is None:
            return False
        _, known, built = self._state
        if known is not None and now_ns >= known:
            return True
        return max_age_ns is not None and now_ns - built >= max_age_ns

    def horizon_ns(self) -> int | None:
        return self._state[1] if self._builder is not None else None

    def rebuild(self, now_ns: int) -> None:
        if self._builder is None:
            return
        with self._lock:  # one rebuild at a time; readers never wait
            fire = self._builder(now_ns)
            self._state = (fire.times, fire.known_until_ns, now_ns)

    def __repr__(self) -> str:
        times, known, _ = self._state
        return f"ArrayTrigger({len(times)} fire times, known_until_ns={known}, rebuildable={self._builder is not None})"


class PeriodicTrigger(InstantTrigger):
    """Fires at ``anchor_ns + k * period_ns`` (k >= 0) up to ``end_ns`` inclusive: IBridgePy's REGULAR mode
    (handle_data every ``repBarFreq`` seconds around the clock), computed rather than stored."""

    def __init__(self, anchor_ns: int, period_ns: int, tz: str | _dt.tzinfo, end_ns: int | None = None) -> None:
        super().__init__(tz)
        if period_ns <= 0:
            raise ValueError(f"period_ns must be positive, got {period_ns}")
        self.anchor_ns = int(anchor_ns)
        self.period_ns = int(period_ns)
        self.end_ns = end_ns

    def next_ns(self, after_ns: int) -> int | None:
        if after_ns < self.anchor_ns:
            t = self.anchor_ns
        else:
            t = self.anchor_ns + ((after_ns - self.anchor_ns) // self.period_ns + 1) * self.period_ns
        return None if self.end_ns is not None and t > self.end_ns else t

    def is_fire_ns(self, ns: int) -> bool:
        inside = ns >= self.anchor_ns and (self.end_ns is None or ns <= self.end_ns)
        return inside and (ns - self.anchor_ns) % self.period_ns == 0

    def __repr__(self) -> str:
        return f"PeriodicTrigger(anchor_ns={self.anchor_ns}, period_ns={self.period_ns}, end_ns={self.end_ns})"


class MergedTrigger(InstantTrigger):
    """The union of several triggers: fires whenever any of them does (one job can serve them all)."""

    def __init__(self, triggers: Iterable[InstantTrigger], tz: str | _dt.tzinfo | None = None) -> None:
        children = tuple(triggers)
        if not children and tz is None:
            raise ValueError("a MergedTrigger needs at least one trigger or a time zone")
        super().__init__(tz if tz is not None else children[0].tz)
        self.triggers = children

    def next_ns(self, after_ns: int) -> int | None:
        best: int | None = None
        for trigger in self.triggers:
            t = trigger.next_ns(after_ns)
            if t is not None and (best is None or t < best):
                best = t
        return best

    def is_fire_ns(self, ns: int) -> bool:
        return any(trigger.is_fire_ns(ns) for trigger in self.triggers)

    def needs_rebuild(self, now_ns: int, max_age_ns: int | None = None) -> bool:
        return any(trigger.needs_rebuild(now_ns, max_age_ns) for trigger in self.triggers)

    def rebuild(self, now_ns: int) -> None:
        for trigger in self.triggers:
            trigger.rebuild(now_ns)

    def horizon_ns(self) -> int | None:
        known = [h for h in (t.horizon_ns() for t in self.triggers) if h is not None]
        return min(known) if known else None

    def __repr__(self) -> str:
        return f"MergedTrigger({', '.join(repr(t) for t in self.triggers)})"


# ---------------------------------------------------------------------------------------------------- builders
def calendar_window(name: str, now_ns: int, *, back_days: int = 70, ahead_days: int = 366) -> TradingCalendar:
    """The calendar ``name`` from the start of the month about ``back_days`` before ``now_ns`` to ``ahead_days``
    after it: whole months and weeks around now, and the furthest horizon exchange_calendars is trusted with."""
    day = np.datetime64(now_ns, "ns").astype("datetime64[D]")
    start = (day - np.timedelta64(back_days, "D")).astype("datetime64[M]").astype("datetime64[D]")
    end = day + np.timedelta64(ahead_days, "D")
    return get_calendar(name, str(start), str(end))


def rule_builder(
    rule: EventRule,
    calendar_name: str = "XNYS",
    frequency: str = "minute",
    *,
    calendar_for: Callable[[str, int], TradingCalendar] = calendar_window,
) -> Builder:
    """A builder of one scheduled rule's fire times around ``now_ns`` (for :meth:`ArrayTrigger.from_builder`)."""
    code = rule.calendar_code(calendar_name)

    def build(now_ns: int) -> FireTimes:
        cal = calendar_for(code, now_ns)
        first = max(cal.last_session_started_by(now_ns), 0)
        return FireTimes(rule.fire_times(cal, first, len(cal) - 1, frequency), rule.known_until_ns(cal))

    return build


def timeline_builder(build: Callable[[int], Timeline]) -> Builder:
    """A builder of fire times from a timeline builder: every distinct instant of the timeline."""

    def fire_times(now_ns: int) -> FireTimes:
        timeline = build(now_ns)
        return FireTimes(timeline.fire_times(), timeline.known_until_ns)

    return fire_times


def trigger_for_rule(rule: EventRule, calendar_name: str, now_ns: int, frequency: str = "minute") -> ArrayTrigger:
    """A rebuildable trigger for one scheduled rule, in its calendar's time zone."""
    builder = rule_builder(rule, calendar_name, frequency)
    fire = builder(now_ns)
    tz = calendar_window(rule.calendar_code(calendar_name), now_ns).tz
    return ArrayTrigger(fire, tz, builder=builder, built_at_ns=now_ns)
