"""date_rules / time_rules / EventRule: verified fire times, zipline's semantics, errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from runtime.core.rules import (
    CalendarMismatchError,
    EventRule,
    InvalidDaysOffsetError,
    InvalidOffsetError,
    InvalidSpotTimeError,
    ScheduleError,
    UncalledRuleError,
    UnknownCalendarError,
    calendars,
    date_rules,
    is_early_close,
    is_trading_day,
    resolve_calendar,
    time_rules,
)
from runtime.data.calendars import get_calendar

ET = "America/New_York"


@pytest.fixture(scope="module")
def cal():
    return get_calendar("XNYS")


def fires(cal, rule: EventRule, first: str, last: str, frequency: str = "minute") -> list[str]:
    i = cal.session_index_on_or_after(first)
    j = cal.session_index_on_or_before(last)
    return [cal.to_local(int(t)).strftime("%Y-%m-%d %H:%M") for t in rule.fire_times(cal, i, j, frequency)]


def et_ns(text: str) -> int:
    return pd.Timestamp(text, tz=ET).value


# The reference's table of verified fire times (ET).
VECTORS = [
    (
        "DST change",
        EventRule(date_rules.every_day(), time_rules.market_open(minutes=1)),
        ("2024-03-08", "2024-03-12"),
        ["2024-03-08 09:31", "2024-03-11 09:31", "2024-03-12 09:31"],
    ),
    (
        "month_start(2) after the 2025-01-01 holiday",
        EventRule(date_rules.month_start(days_offset=2), time_rules.market_open(minutes=30)),
        ("2025-01-01", "2025-02-28"),
        ["2025-01-06 10:00", "2025-02-05 10:00"],
    ),
    (
        "month_start(5) around the 2025-01-09 closure",
        EventRule(date_rules.month_start(days_offset=5)),
        ("2025-01-01", "2025-01-31"),
        ["2025-01-10 09:31"],
    ),
    (
        "week_end in Good Friday's week",
        EventRule(date_rules.week_end(), time_rules.market_close(minutes=30)),
        ("2024-03-18", "2024-04-07"),
        ["2024-03-22 15:30", "2024-03-28 15:30", "2024-04-05 15:30"],
    ),
    (
        "week_end(1) in the same weeks",
        EventRule(date_rules.week_end(days_offset=1)),
        ("2024-03-18", "2024-04-07"),
        ["2024-03-21 09:31", "2024-03-27 09:31", "2024-04-04 09:31"],
    ),
    (
        "week_start(4) skips the 4-session week",
        EventRule(date_rules.week_start(days_offset=4)),
        ("2024-03-25", "2024-04-07"),
        ["2024-04-05 09:31"],
    ),
    (
        "market_close(15) over the 2024-11-29 early close",
        EventRule(date_rules.every_day(), time_rules.market_close(minutes=15), half_days=True),
        ("2024-11-26", "2024-12-02"),
        ["2024-11-26 15:45", "2024-11-27 15:45", "2024-11-29 12:45", "2024-12-02 15:45"],
    ),
    (
        "the same with half_days=False",
        EventRule(date_rules.every_day(), time_rules.market_close(minutes=15), half_days=False),
        ("2024-11-26", "2024-12-02"),
        ["2024-11-26 15:45", "2024-11-27 15:45", "2024-12-02 15:45"],
    ),
    (
        "13:01 is after the early close",
        EventRule(date_rules.every_day(), time_rules.market_open(hours=3, minutes=31)),
        ("2024-11-29", "2024-11-29"),
        [],
    ),
    (
        "week_start after the 2024-01-01 holiday",
        EventRule(date_rules.week_start()),
        ("2024-01-01", "2024-01-05"),
        ["2024-01-02 09:31"],
    ),
]


@pytest.mark.parametrize(("label", "rule", "span", "expected"), VECTORS, ids=[v[0] for v in VECTORS])
def test_verified_vectors(cal, label, rule, span, expected):
    assert fires(cal, rule, *span) == expected


def test_minute_bars_2024(cal):
    i = cal.session_index_on_or_after("2024-01-01")
    j = cal.session_index_on_or_before("2024-12-31")
    assert len(cal.minutes_between(i, j)) == 97_740
    k = cal.session_index_on_or_after("2024-11-29")
    assert cal.minutes_in_session(k) == 210


def test_dst_keeps_exchange_wall_time(cal):
    rule = EventRule(time_rule=time_rules.market_open())
    i = cal.session_index_on_or_after("2024-03-08")
    times = rule.fire_times(cal, i, i + 1)
    utc = [pd.Timestamp(int(t), tz="UTC").strftime("%H:%M") for t in times]
    assert utc == ["14:31", "13:31"]  # 09:31 ET in EST, then in EDT


def test_defaults_and_at_most_once_per_session(cal):
    a = fires(cal, EventRule(), "2024-03-04", "2024-03-08")
    assert a == [f"2024-03-0{d} 09:31" for d in range(4, 9)]
    assert fires(cal, EventRule(time_rule=time_rules.every_minute()), "2024-03-04", "2024-03-08") == a
    i = cal.session_index_on_or_after("2000-01-01")
    times, sessions = EventRule().fires(cal, i, len(cal) - 1)
    assert len(np.unique(sessions)) == len(sessions) == len(times)
    assert np.all(np.diff(times) > 0)


@pytest.mark.parametrize(
    ("time_rule", "regular", "early"),
    [
        (time_rules.market_open(), "09:31", "09:31"),
        (time_rules.market_open(minutes=30), "10:00", "10:00"),
        (time_rules.market_open(hours=1, minutes=1), "10:31", "10:31"),
        (time_rules.market_open(dt.timedelta(hours=2)), "11:30", "11:30"),
        (time_rules.market_open(hours=6, minutes=30), "16:00", None),  # the close's bar; after a 13:00 close
        (time_rules.market_open(hours=3, minutes=30), "13:00", "13:00"),
        (time_rules.market_close(), "15:59", "12:59"),
        (time_rules.market_close(minutes=30), "15:30", "12:30"),
        (time_rules.market_close(hours=6, minutes=29), "09:31", None),  # 06:31 before a 13:00 close
        (time_rules.market_close(hours=6, minutes=30), None, None),  # 09:30 is the open, not a bar
        (time_rules.market_close(hours=12), None, None),
        (time_rules.spot_time(9, 25), "09:25", "09:25"),  # IBridgePy: a pre-open time is allowed
        (time_rules.spot_time(15, 45, 30), "15:45", None),  # never after the close
        (time_rules.spot_time(13, 0), "13:00", "13:00"),
    ],
)
def test_time_rules_on_regular_and_early_close(cal, time_rule, regular, early):
    rule = EventRule(time_rule=time_rule)
    got = fires(cal, rule, "2024-11-27", "2024-11-29")
    want = [f"2024-11-27 {regular}"] if regular else []
    want += [f"2024-11-29 {early}"] if early else []
    assert got == want


def test_spot_time_seconds(cal):
    i = cal.session_index_on_or_after("2024-07-01")
    (t,) = EventRule(time_rule=time_rules.spot_time(15, 45, 30)).fire_times(cal, i, i)
    assert t == et_ns("2024-07-01 15:45:30")


def test_daily_frequency_ignores_time_rule(cal):
    rule = EventRule(date_rules.week_end(), time_rules.market_open(minutes=30))
    assert fires(cal, rule, "2024-03-18", "2024-04-07", "daily") == [
        "2024-03-22 16:00",
        "2024-03-28 16:00",
        "2024-04-05 16:00",
    ]
    rule = EventRule(time_rule=time_rules.market_close(minutes=15), half_days=False)
    assert fires(cal, rule, "2024-11-27", "2024-12-02", "daily") == ["2024-11-27 16:00", "2024-12-02 16:00"]
    rule = EventRule(time_rule=time_rules.market_close(minutes=15))
    assert "2024-11-29 13:00" in fires(cal, rule, "2024-11-27", "2024-12-02", "daily")


def test_daily_frequency_runs_on_early_close_after_full_session(cal):
    # Quantopian's half_days=True: the function runs on 2012-07-03 (13:00 close, 21 hours after 07-02's close);
    # zipline's daily clock skips it (README: "Where ibalgo deliberately differs from zipline").
    assert fires(cal, EventRule(date_rules.every_day()), "2012-07-02", "2012-07-05", "daily") == [
        "2012-07-02 16:00",
        "2012-07-03 13:00",
        "2012-07-05 16:00",
    ]


def test_month_end_and_month_start_offsets(cal):
    assert fires(cal, EventRule(date_rules.month_end()), "2024-01-01", "2024-04-30") == [
        "2024-01-31 09:31",
        "2024-02-29 09:31",
        "2024-03-28 09:31",  # Good Friday 2024-03-29
        "2024-04-30 09:31",
    ]
    assert fires(cal, EventRule(date_rules.month_end(2)), "2024-03-01", "2024-03-31") == ["2024-03-26 09:31"]
    # February 2024 has 20 sessions: offset 19 is its first, offset 20 does not fire.
    assert fires(cal, EventRule(date_rules.month_end(19)), "2024-02-01", "2024-02-29") == ["2024-02-01 09:31"]
    assert fires(cal, EventRule(date_rules.month_start(20)), "2024-02-01", "2024-02-29") == []
    assert fires(cal, EventRule(date_rules.month_start(19)), "2024-02-01", "2024-02-29") == ["2024-02-29 09:31"]


def _reference_sessions(cal, kind: str, n: int) -> set[np.datetime64]:
    """The session selection as zipline defines it: group all sessions by ISO week or month and take the n-th
    (from the end for *_end), computed with pandas, independently of the runtime's array code."""
    sessions = pd.DatetimeIndex(cal.sessions)
    series = pd.Series(sessions, index=sessions)
    if kind.startswith("week"):
        iso = sessions.isocalendar()
        groups = series.groupby([iso.year.to_numpy(), iso.week.to_numpy()])
    else:
        groups = series.groupby([sessions.year, sessions.month])
    picked = groups.nth(-n - 1 if kind.endswith("end") else n)
    return set(pd.DatetimeIndex(picked).to_numpy())


@pytest.mark.parametrize("kind", ["week_start", "week_end", "month_start", "month_end"])
def test_session_selection_matches_groupby_reference(kind):
    cal = get_calendar("XNYS", "2015-01-01", "2025-12-31")  # whole months and weeks at both ends
    top = 4 if kind.startswith("week") else 22
    for n in range(top + 1):
        rule = EventRule(getattr(date_rules, kind)(n))
        _, idx = rule.fires(cal, 0, len(cal) - 1)
        got = set(cal.sessions[idx])
        want = _reference_sessions(cal, kind, n)
        # The first/last ISO weeks straddle the calendar's dates; drop them from the reference's side as well.
        first_day, last_day = (np.datetime64(d, "ns") for d in cal.date_bounds())
        week = np.timedelta64(7, "D")
        want = {s for s in want if not kind.startswith("week") or first_day + week <= s <= last_day - week}
        got = {s for s in got if not kind.startswith("week") or first_day + week <= s <= last_day - week}
        assert got == want, (kind, n)


def test_truncated_calendar_edges_do_not_fire_wrongly():
    late = get_calendar("XNYS", "2024-03-13", "2024-06-14")  # starts mid-month (a Wednesday), ends mid-month
    all_sessions = (0, len(late) - 1)
    assert fires(late, EventRule(date_rules.month_start()), "2024-03-01", "2024-06-30") == [
        "2024-04-01 09:31",
        "2024-05-01 09:31",
        "2024-06-03 09:31",
    ]
    assert fires(late, EventRule(date_rules.month_end()), "2024-03-01", "2024-06-30") == [
        "2024-03-28 09:31",
        "2024-04-30 09:31",
        "2024-05-31 09:31",
    ]
    assert fires(late, EventRule(date_rules.week_start()), "2024-03-13", "2024-03-22") == ["2024-03-18 09:31"]
    rule = EventRule(date_rules.month_end())
    assert late.to_local(rule.known_until_ns(late)).strftime("%Y-%m-%d %H:%M") == "2024-06-03 09:30"
    assert EventRule(date_rules.month_start()).known_until_ns(late) == late.closes[all_sessions[1]] + 1
    # A calendar asked to start on a holiday still knows that month completely.
    jan = get_calendar("XNYS", "2024-01-01", "2024-01-31")
    assert fires(jan, EventRule(date_rules.month_start()), "2024-01-01", "2024-01-31") == ["2024-01-02 09:31"]
    assert fires(jan, EventRule(date_rules.month_end()), "2024-01-01", "2024-01-31") == ["2024-01-31 09:31"]


def test_counts_use_the_whole_calendar_not_the_range(cal):
    # A range that starts on Wednesday does not make Wednesday the week's first session.
    assert fires(cal, EventRule(date_rules.week_start()), "2024-03-13", "2024-03-22") == ["2024-03-18 09:31"]


def test_us_futures_calendar():
    fut = get_calendar("US_FUTURES", "2024-01-01", "2024-12-31")
    rule = EventRule(time_rule=time_rules.market_open(), calendar=calendars.US_FUTURES)
    i = fut.session_index_on_or_after("2024-03-12")
    (t,) = rule.fire_times(fut, i, i)
    assert fut.to_local(int(t)).strftime("%Y-%m-%d %H:%M") == "2024-03-11 18:01"
    evening = EventRule(time_rule=time_rules.spot_time(20, 0), calendar="US_FUTURES")
    assert fut.to_local(int(evening.fire_times(fut, i, i)[0])).strftime("%Y-%m-%d %H:%M") == "2024-03-11 20:00"
    morning = EventRule(time_rule=time_rules.spot_time(10, 0), calendar=calendars.US_FUTURES)
    assert fut.to_local(int(morning.fire_times(fut, i, i)[0])).strftime("%Y-%m-%d %H:%M") == "2024-03-12 10:00"
    with pytest.raises(CalendarMismatchError):
        rule.fire_times(get_calendar("XNYS"), 0, 10)


# ---------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "make",
    [
        lambda: time_rules.market_open(minutes=0),
        lambda: time_rules.market_close(hours=12, minutes=1),
        lambda: time_rules.market_open(hours=-1),
        lambda: time_rules.market_open(offset=dt.timedelta(seconds=30)),
        lambda: time_rules.market_open(offset=dt.timedelta(seconds=90)),
        lambda: time_rules.market_close(minutes=1.5),
        lambda: time_rules.market_open(offset=dt.timedelta(minutes=5), minutes=5),
        lambda: time_rules.market_open(offset=30),
        lambda: time_rules.market_open(minutes="30"),
        lambda: time_rules.market_open(minutes=True),
    ],
)
def test_bad_offsets(make):
    with pytest.raises(InvalidOffsetError) as err:
        make()
    assert isinstance(err.value, ValueError) and isinstance(err.value, ScheduleError)


def test_offset_bounds_are_inclusive():
    assert time_rules.market_open(minutes=1).offset == dt.timedelta(minutes=1)
    assert time_rules.market_close(hours=12).offset == dt.timedelta(hours=12)
    assert time_rules.market_open(offset=pd.Timedelta(minutes=90)).offset == dt.timedelta(minutes=90)
    assert time_rules.market_open(hours=0.5).offset == dt.timedelta(minutes=30)


@pytest.mark.parametrize(
    "make",
    [
        lambda: date_rules.week_start(5),
        lambda: date_rules.week_end(-1),
        lambda: date_rules.month_start(23),
        lambda: date_rules.month_end(1.5),
        lambda: date_rules.month_end("1"),
        lambda: date_rules.week_start(True),
    ],
)
def test_bad_days_offsets(make):
    with pytest.raises(InvalidDaysOffsetError, match="days_offset"):
        make()


def test_integral_float_days_offset_is_accepted():
    assert date_rules.month_start(2.0) == date_rules.month_start(2)
    assert date_rules.week_end(4).days_offset == 4 and date_rules.month_end(22).days_offset == 22


@pytest.mark.parametrize(("hour", "minute", "second"), [(24, 0, 0), (9, 60, 0), (9, 30, 60), (9.5, 0, 0), (-1, 0, 0)])
def test_bad_spot_time(hour, minute, second):
    with pytest.raises(InvalidSpotTimeError):
        time_rules.spot_time(hour, minute, second)


@pytest.mark.parametrize(
    ("kwargs", "hint"),
    [
        ({"date_rule": date_rules.every_day}, "date_rules.every_day()"),
        ({"date_rule": date_rules.month_start}, "date_rules.month_start()"),
        ({"time_rule": time_rules.market_open}, "time_rules.market_open()"),
        ({"time_rule": time_rules.every_minute}, "time_rules.every_minute()"),
        ({"date_rule": date_rules.week_end(), "time_rule": time_rules.spot_time}, "time_rules.spot_time()"),
    ],
)
def test_forgotten_parentheses(kwargs, hint):
    with pytest.raises(UncalledRuleError) as err:
        EventRule(**kwargs)
    assert hint in str(err.value)
    assert isinstance(err.value, TypeError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"date_rule": "every_day"},
        {"date_rule": date_rules},
        {"time_rule": time_rules},
        {"date_rule": date_rules.every_day(), "time_rule": date_rules.week_start()},
        {"date_rule": time_rules.market_open(), "time_rule": time_rules.market_close()},
        {"half_days": "no"},
    ],
)
def test_wrong_rule_objects(kwargs):
    with pytest.raises(ScheduleError):
        EventRule(**kwargs)


def test_time_rule_in_date_slot_is_accepted_with_a_warning(cal):
    rule = EventRule(time_rules.market_close(minutes=30))
    assert rule.date_rule == date_rules.every_day() and rule.time_rule == time_rules.market_close(minutes=30)
    assert rule.warnings and "time_rule=" in rule.warnings[0]
    assert fires(cal, rule, "2024-03-04", "2024-03-04") == ["2024-03-04 15:30"]


def test_calendars():
    assert resolve_calendar(None) is None
    assert resolve_calendar(calendars.US_EQUITIES).code == "XNYS"
    assert resolve_calendar("us_futures") is calendars.US_FUTURES
    assert EventRule(calendar=calendars.US_FUTURES).calendar_code("XNYS") == "us_futures"
    assert EventRule().calendar_code("XNYS") == "XNYS"
    for bad in ("XLON", 3, object()):
        with pytest.raises(UnknownCalendarError, match="US_EQUITIES"):
            EventRule(calendar=bad)
    with pytest.raises(ScheduleError, match="frequency"):
        EventRule().fire_times(get_calendar("XNYS"), 0, 1, "hourly")


def test_reprs_read_like_the_api():
    assert repr(time_rules.market_open(hours=1, minutes=1)) == "time_rules.market_open(hours=1, minutes=1)"
    assert repr(time_rules.spot_time(9, 30, 5)) == "time_rules.spot_time(9, 30, 5)"
    assert repr(date_rules.week_end(2)) == "date_rules.week_end(days_offset=2)"
    assert repr(calendars.US_FUTURES) == "calendars.US_FUTURES"


# ------------------------------------------------------------------------------------------ IBridgePy helpers
@pytest.mark.parametrize(
    ("when", "trading", "early"),
    [
        ("2024-11-29 12:00", True, True),
        ("2024-11-29 20:00", True, True),
        ("2024-11-28 12:00", False, False),  # Thanksgiving
        ("2024-11-27 09:00", True, False),
        ("2025-01-09 12:00", False, False),  # national day of mourning
        ("2024-03-09 12:00", False, False),  # a Saturday
        ("2024-07-03 10:00", True, True),
        ("2024-12-24 23:59", True, True),
    ],
)
def test_is_trading_day_and_is_early_close(cal, when, trading, early):
    ns = et_ns(when)
    assert is_trading_day(cal, ns) is trading
    assert is_early_close(cal, ns) is early


def test_is_trading_day_uses_exchange_local_date(cal):
    # 2024-11-29 02:00 UTC is still Thanksgiving evening in New York.
    assert not is_trading_day(cal, pd.Timestamp("2024-11-29 02:00", tz="UTC").value)
    assert is_trading_day(cal, pd.Timestamp("2024-11-29 06:00", tz="UTC").value)
