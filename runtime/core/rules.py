"""Date and time rules for ``schedule_function``, turned into fire instants over an exchange calendar.

The names and meanings are zipline's (``date_rules``, ``time_rules``, ``calendars``), plus IBridgePy's
``time_rules.spot_time``. A rule is a small frozen value; :meth:`EventRule.fire_times` turns a composed rule into
every instant it fires at over a range of sessions, with numpy, in one go. Nothing here reads the clock, does I/O or
keeps state between calls.

Semantics (identical to zipline-reloaded, verified against it):

- a composed rule fires AT MOST ONCE PER SESSION;
- minute bars are labelled by their end, so ``market_open()`` (offset 1 minute) fires at 09:31 ET and
  ``market_open(minutes=30)`` at 10:00; ``market_close(minutes=m)`` fires at close - m (15:59 by default, 12:59 on a
  13:00 early close);
- an instant after the session's close (or at or before its open) does not fire: it is not a bar of the session;
- ``week_start``/``week_end`` count trading sessions within the ISO week (Monday..Sunday), ``month_start``/
  ``month_end`` within the calendar month; a week or month with too few sessions does not fire;
- ``half_days=False`` skips early-close sessions (the call is not moved to another day);
- with daily data the time rule is ignored and the rule fires at the session's daily bar (the close).
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from runtime.core.calendar import NS_PER_MINUTE, TradingCalendar
from runtime.errors import ScheduleError

NS_PER_SECOND = 1_000_000_000
MAX_WEEK_OFFSET = 4
MAX_MONTH_OFFSET = 22
_MIN_OFFSET_NS = NS_PER_MINUTE
_MAX_OFFSET_NS = 12 * 60 * NS_PER_MINUTE
FREQUENCIES = ("minute", "daily")


# ------------------------------------------------------------------------------------------------------------- errors
class InvalidOffsetError(ScheduleError):
    """A time-rule offset is malformed or outside 1 minute..12 hours."""


class InvalidDaysOffsetError(ScheduleError):
    """A date-rule ``days_offset`` is not an integer in range (week 0..4, month 0..22)."""


class InvalidSpotTimeError(ScheduleError):
    """``time_rules.spot_time`` was given an impossible wall time."""


class InvalidRuleError(ScheduleError, TypeError):
    """Something that is not a date rule / time rule was passed where one was expected."""


class UncalledRuleError(InvalidRuleError):
    """A rule factory was passed instead of the rule it makes: ``date_rules.every_day`` instead of ``every_day()``."""


class UnknownCalendarError(ScheduleError):
    """``calendar=`` is neither ``calendars.US_EQUITIES`` nor ``calendars.US_FUTURES``."""


class CalendarMismatchError(ScheduleError):
    """A rule bound to one calendar was evaluated over another."""


# -------------------------------------------------------------------------------------------------------- calendars
@dataclass(frozen=True)
class CalendarSpec:
    """A calendar a user may name in ``schedule_function(..., calendar=...)``."""

    name: str
    code: str

    def __repr__(self) -> str:
        return f"calendars.{self.name}"


class calendars:
    """The calendars ``schedule_function(calendar=...)`` accepts (zipline's sentinels).

    ``US_EQUITIES`` is the NYSE calendar (XNYS, 09:30-16:00 ET with early closes); ``US_FUTURES`` is the CME
    Globex calendar (sessions open at 18:00 ET the evening before). ``None`` means the algorithm's own calendar.
    """

    US_EQUITIES = CalendarSpec("US_EQUITIES", "XNYS")
    US_FUTURES = CalendarSpec("US_FUTURES", "us_futures")


_CALENDARS = {spec.name: spec for spec in (calendars.US_EQUITIES, calendars.US_FUTURES)}


def resolve_calendar(calendar: object) -> CalendarSpec | None:
    """``None``, a :class:`CalendarSpec` or its name (``'US_EQUITIES'``) -> the spec; anything else is an error."""
    if calendar is None or isinstance(calendar, CalendarSpec):
        return calendar
    if isinstance(calendar, str) and calendar.upper() in _CALENDARS:
        return _CALENDARS[calendar.upper()]
    raise UnknownCalendarError(
        f"unknown calendar {calendar!r}: use calendars.US_EQUITIES or calendars.US_FUTURES "
        "(or leave calendar=None for the algorithm's own calendar)"
    )


# ------------------------------------------------------------------------------------------------------- date rules
class DateRuleKind(enum.Enum):
    EVERY_DAY = "every_day"
    WEEK_START = "week_start"
    WEEK_END = "week_end"
    MONTH_START = "month_start"
    MONTH_END = "month_end"

    @property
    def is_weekly(self) -> bool:
        return self in (DateRuleKind.WEEK_START, DateRuleKind.WEEK_END)

    @property
    def counts_from_end(self) -> bool:
        return self in (DateRuleKind.WEEK_END, DateRuleKind.MONTH_END)


@dataclass(frozen=True)
class DateRule:
    """On which sessions a scheduled function may fire. Make one with ``date_rules.*()``."""

    kind: DateRuleKind = DateRuleKind.EVERY_DAY
    days_offset: int = 0

    def __repr__(self) -> str:
        arg = f"days_offset={self.days_offset}" if self.days_offset else ""
        return f"date_rules.{self.kind.value}({arg})"

    def session_mask(self, cal: TradingCalendar) -> np.ndarray:
        """Boolean mask over ALL sessions of ``cal``: True where this rule selects the session.

        Sessions are counted within the whole calendar (as zipline does), never within a backtest's range: a
        backtest starting on a Wednesday does not make that Wednesday the week's first session. A week or month
        that reaches beyond the dates the calendar knows is left out when the count depends on the unknown side.
        """
        n = len(cal)
        if self.kind is DateRuleKind.EVERY_DAY:
            return np.ones(n, dtype=bool)
        key, group_first, group_last = self._groups(cal)
        first_day, last_day = (np.datetime64(d, "D") for d in cal.date_bounds())
        new_group = np.empty(n, dtype=bool)
        new_group[:1] = True
        new_group[1:] = key[1:] != key[:-1]
        starts = np.flatnonzero(new_group)
        sizes = np.diff(np.append(starts, n))
        group_of = np.cumsum(new_group) - 1
        pos = np.arange(n) - starts[group_of]
        if self.kind.counts_from_end:
            return ((sizes[group_of] - 1 - pos) == self.days_offset) & (group_last <= last_day)
        return (pos == self.days_offset) & (group_first >= first_day)

    def known_until_ns(self, cal: TradingCalendar) -> int:
        """Instant before which this rule's sessions over ``cal`` are final (later ones may change when the
        calendar is extended): the open of the first session of a week/month that reaches past the calendar's
        dates, for rules counted from the end; after the last close otherwise."""
        after_last = int(cal.closes[-1]) + 1
        if not self.kind.counts_from_end:
            return after_last
        _, _, group_last = self._groups(cal)
        unknown = np.flatnonzero(group_last > np.datetime64(cal.date_bounds()[1], "D"))
        return int(cal.opens[unknown[0]]) if len(unknown) else after_last

    def _groups(self, cal: TradingCalendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per session: its week/month key, and the first and last calendar day of that week/month."""
        days = cal.sessions.astype("datetime64[D]")
        if self.kind.is_weekly:
            # Monday-based week number: ISO weeks run Monday..Sunday, and 1970-01-01 was a Thursday.
            key = (days.astype(np.int64) + 3) // 7
            group_first = (key * 7 - 3).astype("datetime64[D]")
            return key, group_first, group_first + np.timedelta64(6, "D")
        months = days.astype("datetime64[M]")
        return (
            months.astype(np.int64),
            months.astype("datetime64[D]"),
            (months + 1).astype("datetime64[D]") - np.timedelta64(1, "D"),
        )


def _days_offset(days_offset: object, limit: int, what: str) -> int:
    if isinstance(days_offset, bool) or not isinstance(days_offset, (int, float, np.integer, np.floating)):
        raise InvalidDaysOffsetError(f"days_offset must be an integer number of trading sessions, got {days_offset!r}")
    if isinstance(days_offset, (float, np.floating)) and not float(days_offset).is_integer():
        raise InvalidDaysOffsetError(f"days_offset must be a whole number of trading sessions, got {days_offset!r}")
    n = int(days_offset)
    if not 0 <= n <= limit:
        raise InvalidDaysOffsetError(
            f"days_offset must be between 0 and {limit} inclusive for {what} (a {what} has at most {limit + 1} "
            f"trading sessions), got {n}"
        )
    return n


class date_rules:
    """Factories for the date part of ``schedule_function`` (call them: ``date_rules.every_day()``)."""

    @staticmethod
    def every_day() -> DateRule:
        """Every trading session. The default when ``schedule_function`` gets no date rule."""
        return DateRule(DateRuleKind.EVERY_DAY, 0)

    @staticmethod
    def week_start(days_offset: int = 0) -> DateRule:
        """The ``days_offset``-th trading session (0-based) of each ISO week (Monday..Sunday).

        Holidays shift the count: in a week whose Monday is a holiday, ``week_start()`` fires on Tuesday.
        ``days_offset`` is 0..4; a week with fewer than ``days_offset + 1`` sessions is skipped (``week_start(4)``
        does not fire in a 4-session week such as Good Friday's).
        """
        return DateRule(DateRuleKind.WEEK_START, _days_offset(days_offset, MAX_WEEK_OFFSET, "week"))

    @staticmethod
    def week_end(days_offset: int = 0) -> DateRule:
        """The ``days_offset``-th trading session counting back from the last session of each ISO week.

        ``week_end()`` is the week's last session (Thursday in Good Friday's week); ``days_offset`` is 0..4 and
        too-short weeks are skipped.
        """
        return DateRule(DateRuleKind.WEEK_END, _days_offset(days_offset, MAX_WEEK_OFFSET, "week"))

    @staticmethod
    def month_start(days_offset: int = 0) -> DateRule:
        """The ``days_offset``-th trading session (0-based) of each calendar month.

        Counted in trading sessions, so holidays and unscheduled closures shift it (in January 2025,
        ``month_start(2)`` is January 6th). ``days_offset`` is 0..22; too-short months are skipped.
        """
        return DateRule(DateRuleKind.MONTH_START, _days_offset(days_offset, MAX_MONTH_OFFSET, "month"))

    @staticmethod
    def month_end(days_offset: int = 0) -> DateRule:
        """The ``days_offset``-th trading session counting back from the last session of each calendar month.

        ``days_offset`` is 0..22; too-short months are skipped.
        """
        return DateRule(DateRuleKind.MONTH_END, _days_offset(days_offset, MAX_MONTH_OFFSET, "month"))


# ------------------------------------------------------------------------------------------------------- time rules
class TimeRuleKind(enum.Enum):
    MARKET_OPEN = "market_open"
    MARKET_CLOSE = "market_close"
    EVERY_MINUTE = "every_minute"
    SPOT_TIME = "spot_time"


@dataclass(frozen=True)
class TimeRule:
    """At which instant of a selected session a scheduled function fires. Make one with ``time_rules.*()``.

    ``offset_ns`` is the offset from the open or close (market_open / market_close); ``seconds_of_day`` the
    exchange-local wall time of a spot_time rule.
    """

    kind: TimeRuleKind = TimeRuleKind.EVERY_MINUTE
    offset_ns: int = 0
    seconds_of_day: int = 0

    @property
    def offset(self) -> _dt.timedelta:
        return _dt.timedelta(microseconds=self.offset_ns // 1000)

    def __repr__(self) -> str:
        if self.kind is TimeRuleKind.SPOT_TIME:
            h, rest = divmod(self.seconds_of_day, 3600)
            m, s = divmod(rest, 60)
            return f"time_rules.spot_time({h}, {m}" + (f", {s})" if s else ")")
        if self.kind is TimeRuleKind.EVERY_MINUTE:
            return "time_rules.every_minute()"
        h, m = divmod(self.offset_ns // NS_PER_MINUTE, 60)
        args = ", ".join(p for p in (f"hours={h}" if h else "", f"minutes={m}" if m else "") if p)
        return f"time_rules.{self.kind.value}({args})"

    def session_instants(self, cal: TradingCalendar, idx: np.ndarray) -> np.ndarray:
        """Fire instant (int64 ns UTC) of this rule on each session in ``idx``; -1 where it does not fire.

        An instant fires only if it is a bar of the session, i.e. after the open and at or before the close.
        spot_time rules fire at the local wall time on the session's date, even before the open (a pre-open
        check), but never after the close; for sessions that open the evening before (futures), a wall time later
        than the close is taken on the previous evening when the session is open then.
        """
        opens = cal.opens[idx]
        closes = cal.closes[idx]
        if self.kind is TimeRuleKind.EVERY_MINUTE:
            t = opens + NS_PER_MINUTE
        elif self.kind is TimeRuleKind.MARKET_OPEN:
            t = opens + self.offset_ns
        elif self.kind is TimeRuleKind.MARKET_CLOSE:
            t = closes - self.offset_ns
        else:
            same_day = _local_instants(cal, idx, 0, self.seconds_of_day)
            day_before = _local_instants(cal, idx, -1, self.seconds_of_day)
            t = np.where(same_day <= closes, same_day, np.where(day_before > opens, day_before, -1))
            return t
        return np.where((t > opens) & (t <= closes), t, -1)


def _local_instants(cal: TradingCalendar, idx: np.ndarray, day_shift: int, seconds: int) -> np.ndarray:
    """UTC ns of wall time ``seconds`` after local midnight on each session's date (+ ``day_shift`` days)."""
    if len(idx) == 0:
        return np.empty(0, dtype=np.int64)
    local = pd.DatetimeIndex(cal.sessions[idx] + np.timedelta64(day_shift, "D") + np.timedelta64(seconds, "s"))
    aware = local.tz_localize(cal.tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    return aware.tz_convert("UTC").as_unit("ns").asi8.copy()


def _offset_ns(offset: object, hours: object, minutes: object, rule: str) -> int:
    given = {k: v for k, v in (("hours", hours), ("minutes", minutes)) if v is not None}
    if offset is not None and given:
        raise InvalidOffsetError(f"time_rules.{rule}: pass either offset= or hours=/minutes=, not both")
    if offset is None and not given:
        return NS_PER_MINUTE
    if offset is not None:
        if not isinstance(offset, _dt.timedelta):
            raise InvalidOffsetError(
                f"time_rules.{rule}: offset must be a datetime.timedelta, got {offset!r}; "
                f"to give a number, write time_rules.{rule}(minutes={offset!r})"
            )
        total = pd.Timedelta(offset).value
    else:
        for k, v in given.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise InvalidOffsetError(f"time_rules.{rule}: {k} must be a number, got {v!r}")
        total = round((float(given.get("hours", 0)) * 60 + float(given.get("minutes", 0))) * NS_PER_MINUTE)
    if not _MIN_OFFSET_NS <= total <= _MAX_OFFSET_NS:
        raise InvalidOffsetError(
            f"time_rules.{rule}: the offset must be between 1 minute and 12 hours inclusive, "
            f"got {pd.Timedelta(total, unit='ns')}"
        )
    if total % NS_PER_MINUTE:
        raise InvalidOffsetError(
            f"time_rules.{rule}: the offset must be a whole number of minutes (rules fire on minute bars), "
            f"got {pd.Timedelta(total, unit='ns')}"
        )
    return int(total)


class time_rules:
    """Factories for the time part of ``schedule_function`` (call them: ``time_rules.market_open()``)."""

    @staticmethod
    def market_open(
        offset: _dt.timedelta | None = None, hours: float | None = None, minutes: float | None = None
    ) -> TimeRule:
        """Fire ``offset`` after the session's open (default 1 minute: the first bar, 09:31 ET on the NYSE).

        Give either ``offset`` (a timedelta) or ``hours``/``minutes``, between 1 minute and 12 hours inclusive and
        a whole number of minutes. ``market_open(minutes=30)`` fires at 10:00 ET. An instant after the session's
        close does not fire that day: ``market_open(hours=3, minutes=31)`` is skipped on a 13:00 early close.
        """
        return TimeRule(TimeRuleKind.MARKET_OPEN, _offset_ns(offset, hours, minutes, "market_open"))

    @staticmethod
    def market_close(
        offset: _dt.timedelta | None = None, hours: float | None = None, minutes: float | None = None
    ) -> TimeRule:
        """Fire ``offset`` before the session's close (default 1 minute: 15:59 ET, 12:59 on an early close).

        Same offset rules as :meth:`market_open`. The offset is counted from the actual close, so on half days the
        function moves with the close (``market_close(minutes=15)`` is 12:45 on a 13:00 close); use
        ``schedule_function(..., half_days=False)`` to skip half days instead.
        """
        return TimeRule(TimeRuleKind.MARKET_CLOSE, _offset_ns(offset, hours, minutes, "market_close"))

    @staticmethod
    def every_minute() -> TimeRule:
        """zipline's ``every_minute``: the rule matches every minute, but a scheduled function fires at most once
        per session, so it fires at the first bar (09:31 ET). To run code every minute, use ``handle_data``."""
        return TimeRule(TimeRuleKind.EVERY_MINUTE)

    @staticmethod
    def spot_time(hour: int, minute: int, second: int = 0) -> TimeRule:
        """IBridgePy's rule: fire at the exchange-local wall time ``hour:minute:second`` of each selected session.

        The time is exchange time (US/Eastern on the NYSE) on both sides of a DST change. Unlike market_open /
        market_close it may lie before the open (a pre-open check at 09:25); it never fires after the session's
        close, so ``spot_time(15, 45)`` does not fire on a 13:00 early close.
        """
        for name, value, top in (("hour", hour, 23), ("minute", minute, 59), ("second", second, 59)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= top:
                raise InvalidSpotTimeError(f"time_rules.spot_time: {name} must be an integer 0..{top}, got {value!r}")
        return TimeRule(TimeRuleKind.SPOT_TIME, 0, int(hour) * 3600 + int(minute) * 60 + int(second))


def _factory_names() -> dict[Callable[..., object], str]:
    names: dict[Callable[..., object], str] = {}
    for owner in (date_rules, time_rules):
        for attr, value in vars(owner).items():
            if isinstance(value, staticmethod):
                names[value.__func__] = f"{owner.__name__}.{attr}"
    return names


_FACTORIES = _factory_names()


def _check_rule(value: object, expected: type, slot: str) -> None:
    try:
        name = _FACTORIES.get(value) if callable(value) else None  # type: ignore[arg-type]
    except TypeError:  # an unhashable callable: certainly not one of the factories
        name = None
    if name is not None:
        raise UncalledRuleError(
            f"invalid {slot}: {name} is the rule factory, not a rule (hint: did you mean {name}()?)"
        )
    if value is date_rules or value is time_rules:
        example = "date_rules.every_day()" if value is date_rules else "time_rules.market_open()"
        raise InvalidRuleError(f"invalid {slot}: that is the namespace of rules; pick a rule, e.g. {example}")
    if not isinstance(value, expected):
        want = "date_rules.every_day(), week_start(), ..." if expected is DateRule else "time_rules.market_open(), ..."
        raise InvalidRuleError(f"invalid {slot}: expected a rule such as {want}, got {value!r}")


# ------------------------------------------------------------------------------------------------- composed rule
@dataclass(frozen=True)
class EventRule:
    """A date rule and a time rule composed as ``schedule_function`` does.

    ``EventRule(date_rule=None, time_rule=None, half_days=True, calendar=None)``: missing rules default to
    ``date_rules.every_day()`` and ``time_rules.every_minute()`` (the first bar of the session). A time rule given
    as the date rule with no time rule (``schedule_function(f, time_rules.market_open())``) is accepted as the time
    rule, as zipline does; ``warnings`` then holds a sentence to show the user.
    """

    date_rule: DateRule | None = None
    time_rule: TimeRule | None = None
    half_days: bool = True
    calendar: CalendarSpec | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        date_rule, time_rule, notes = self.date_rule, self.time_rule, list(self.warnings)
        if isinstance(date_rule, TimeRule) and time_rule is None:
            date_rule, time_rule = None, date_rule
            notes.append(
                "a time rule was passed as the date rule (second positional argument); pass it as time_rule= "
                "when you give no date rule"
            )
        if date_rule is None:
            date_rule = date_rules.every_day()
        if time_rule is None:
            time_rule = time_rules.every_minute()
        _check_rule(date_rule, DateRule, "date_rule")
        _check_rule(time_rule, TimeRule, "time_rule")
        if not isinstance(self.half_days, (bool, np.bool_)):
            raise ScheduleError(f"half_days must be True or False, got {self.half_days!r}")
        object.__setattr__(self, "date_rule", date_rule)
        object.__setattr__(self, "time_rule", time_rule)
        object.__setattr__(self, "half_days", bool(self.half_days))
        object.__setattr__(self, "calendar", resolve_calendar(self.calendar))
        object.__setattr__(self, "warnings", tuple(notes))

    def calendar_code(self, default: str) -> str:
        """The exchange_calendars code of the calendar this rule runs on (``default`` when calendar is None)."""
        return self.calendar.code if self.calendar is not None else default

    def fires(
        self, cal: TradingCalendar, first_session: int, last_session: int, frequency: str = "minute"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fire instants (int64 ns UTC, ascending) and the index of the session each belongs to.

        Sessions ``first_session..last_session`` (inclusive indices into ``cal``) are considered.
        """
        if frequency not in FREQUENCIES:
            raise ScheduleError(f"frequency must be 'minute' or 'daily', got {frequency!r}")
        if self.calendar is not None and cal.name != self.calendar.code:
            raise CalendarMismatchError(
                f"this rule runs on {self.calendar!r} ({self.calendar.code}) but calendar {cal.name!r} was given"
            )
        first = max(int(first_session), 0)
        last = min(int(last_session), len(cal) - 1)
        if first > last:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        assert self.date_rule is not None and self.time_rule is not None
        mask = self.date_rule.session_mask(cal)[first : last + 1]
        if not self.half_days:
            mask &= ~cal.early_close[first : last + 1]
        idx = np.flatnonzero(mask) + first
        if frequency == "daily":
            times = cal.closes[idx].astype(np.int64)
        else:
            times = self.time_rule.session_instants(cal, idx)
            keep = times >= 0
            idx, times = idx[keep], times[keep]
        return times.astype(np.int64, copy=False), idx.astype(np.int64)

    def fire_times(
        self, cal: TradingCalendar, first_session: int, last_session: int, frequency: str = "minute"
    ) -> np.ndarray:
        """Every instant this rule fires at over sessions ``first_session..last_session`` (inclusive indices into
        ``cal``), int64 ns UTC, ascending, at most one per session.

        ``frequency='daily'`` ignores the time rule and fires at each selected session's daily bar (its close),
        as zipline does with daily data.
        """
        return self.fires(cal, first_session, last_session, frequency)[0]

    def known_until_ns(self, cal: TradingCalendar) -> int:
        """Instant before which the fire times computed over ``cal`` are final; later ones need a longer calendar
        (exchange_calendars only knows about a year ahead)."""
        assert self.date_rule is not None
        return self.date_rule.known_until_ns(cal)


# --------------------------------------------------------------------------------------------- IBridgePy helpers
def is_trading_day(cal: TradingCalendar, ns: int) -> bool:
    """IBridgePy's ``isTradingDay()``: whether the exchange-local date of the instant ``ns`` is a session."""
    day = cal.local_date_of(ns)
    i = int(np.searchsorted(cal.sessions, day.astype("datetime64[ns]")))
    return bool(i < len(cal) and cal.sessions[i] == day.astype("datetime64[ns]"))


def is_early_close(cal: TradingCalendar, ns: int) -> bool:
    """IBridgePy's ``isEarlyClose()``: whether the exchange-local date of ``ns`` is a session that closes early
    (13:00 ET on the NYSE, e.g. the day after Thanksgiving). False on days without a session."""
    day = cal.local_date_of(ns).astype("datetime64[ns]")
    i = int(np.searchsorted(cal.sessions, day))
    return bool(i < len(cal) and cal.sessions[i] == day and cal.early_close[i])
