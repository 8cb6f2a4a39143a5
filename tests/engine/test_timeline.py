"""The simulation's event sequence and the live misfire policy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from runtime.core.rules import NS_PER_SECOND, EventRule, calendars, date_rules, time_rules
from runtime.data.calendars import get_calendar
from runtime.engine.timeline import (
    NO_DEADLINE,
    EventKind,
    SkipReason,
    Timeline,
    build_regular_timeline,
    build_timeline,
    plan_due,
    rep_bar_freq_ns,
)
from runtime.errors import ScheduleError

ET = "America/New_York"
B, S, BTS, END = EventKind.BAR, EventKind.SCHEDULED, EventKind.BEFORE_TRADING_START, EventKind.SESSION_END


@pytest.fixture(scope="module")
def cal():
    return get_calendar("XNYS")


def et(text: str) -> int:
    return pd.Timestamp(text, tz=ET).value


def local(cal, ns: int) -> str:
    return cal.to_local(ns).strftime("%m-%d %H:%M")


def span(cal, first: str, last: str) -> tuple[int, int]:
    return cal.session_index_on_or_after(first), cal.session_index_on_or_before(last)


RULES = [
    EventRule(date_rules.every_day(), time_rules.market_open()),  # 0: 09:31, with the first bar
    EventRule(date_rules.every_day(), time_rules.every_minute()),  # 1: 09:31 too, registered later
    EventRule(date_rules.every_day(), time_rules.market_close(minutes=15)),  # 2
    EventRule(date_rules.every_day(), time_rules.market_open(hours=6, minutes=30)),  # 3: at the 16:00 close
    EventRule(date_rules.every_day(), time_rules.spot_time(9, 25)),  # 4: pre-open
]


def test_year_of_minute_bars(cal):
    first, last = span(cal, "2024-01-01", "2024-12-31")
    tl = build_timeline(cal, first, last, "minute", RULES)
    kinds = tl.kinds
    assert int((kinds == B).sum()) == 97_740
    assert int((kinds == BTS).sum()) == int((kinds == END).sum()) == 252
    # rule 3 fires at 16:00, after the three early closes of 2024
    assert [int(((kinds == S) & (tl.rules == r)).sum()) for r in range(5)] == [252, 252, 252, 249, 252]
    assert np.all(np.diff(tl.times) >= 0)
    assert tl.known_until_ns is None
    order = np.lexsort((tl.rules, tl.kinds, tl.times))
    assert np.array_equal(order, np.arange(len(tl)))  # sorted by time, kind, registration order


def test_order_at_equal_times(cal):
    first, last = span(cal, "2024-11-27", "2024-11-27")
    tl = build_timeline(cal, first, last, "minute", RULES)
    head = [(local(cal, t), k, r) for t, k, r in tl.kinds_at(0, 6)]
    assert head == [
        ("11-27 08:45", BTS, -1),
        ("11-27 09:25", S, 4),
        ("11-27 09:31", B, -1),
        ("11-27 09:31", S, 0),
        ("11-27 09:31", S, 1),
        ("11-27 09:32", B, -1),
    ]
    tail = [(local(cal, t), k, r) for t, k, r in tl.kinds_at(len(tl) - 4, len(tl))]
    assert tail == [("11-27 15:59", B, -1), ("11-27 16:00", B, -1), ("11-27 16:00", S, 3), ("11-27 16:00", END, -1)]
    e = tl.event(len(tl) - 1)
    assert e.kind is END and e.deadline_ns == et("2024-11-27 16:00") and e.session == first


def test_early_close_session(cal):
    first, last = span(cal, "2024-11-29", "2024-11-29")
    tl = build_timeline(cal, first, last, "minute", RULES)
    assert int((tl.kinds == B).sum()) == 210
    scheduled = [(local(cal, t), r) for t, k, r in tl.kinds_at(0, len(tl)) if k == S]
    assert scheduled == [("11-29 09:25", 4), ("11-29 09:31", 0), ("11-29 09:31", 1), ("11-29 12:45", 2)]
    assert local(cal, int(tl.times[-1])) == "11-29 13:00" and tl.kinds[-1] == END


def test_daily_frequency(cal):
    first, last = span(cal, "2024-03-25", "2024-03-28")
    rules = [EventRule(date_rules.week_end(), time_rules.market_open(minutes=5)), EventRule()]
    tl = build_timeline(cal, first, last, "daily", rules)
    day = [(local(cal, t), k, r) for t, k, r in tl.kinds_at(len(tl) - 5, len(tl))]
    assert day == [
        ("03-28 08:45", BTS, -1),
        ("03-28 16:00", B, -1),
        ("03-28 16:00", S, 0),
        ("03-28 16:00", S, 1),
        ("03-28 16:00", END, -1),
    ]
    assert int((tl.kinds == B).sum()) == 4


def test_before_trading_start_setting(cal):
    first, last = span(cal, "2024-03-08", "2024-03-11")
    tl = build_timeline(cal, first, last, before_trading_start=dt.time(9, 0))
    bts = [local(cal, t) for t, k, _ in tl.kinds_at(0, len(tl)) if k == BTS]
    assert bts == ["03-08 09:00", "03-11 09:00"]  # exchange time across the DST change
    assert not (build_timeline(cal, first, last, before_trading_start=None).kinds == BTS).any()
    late = build_timeline(cal, first, last, before_trading_start=dt.time(10, 0))
    assert next(local(cal, t) for t, k, _ in late.kinds_at(0, len(late)) if k == BTS) == "03-08 09:30"


def test_other_calendar_rules(cal):
    fut = get_calendar("US_FUTURES", "2024-01-01", "2024-12-31")
    rule = EventRule(time_rule=time_rules.spot_time(20, 0), calendar=calendars.US_FUTURES)
    first, last = span(cal, "2024-03-12", "2024-03-13")
    for others in ({"us_futures": fut}, None):  # given, or built over the same dates
        tl = build_timeline(cal, first, last, rules=[rule], other_calendars=others)
        got = [(local(cal, t), int(d)) for t, k, d in zip(tl.times, tl.kinds, tl.deadlines) if k == S]
        assert [g[0] for g in got] == ["03-11 20:00", "03-12 20:00"]
        assert got[0][1] == et("2024-03-12 18:00")  # its deadline is the futures session's close


def test_known_until_for_live_ranges():
    cal = get_calendar("XNYS", "2024-01-01", "2024-06-14")
    rules = [EventRule(date_rules.month_end())]
    tl = build_timeline(cal, 0, len(cal) - 1, rules=rules)
    assert tl.known_until_ns == et("2024-06-03 09:30")
    assert build_timeline(cal, 0, len(cal) - 30, rules=rules).known_until_ns is None
    assert build_timeline(cal, 0, len(cal) - 1).known_until_ns is None


def test_empty_range(cal):
    tl = build_timeline(cal, 10, 9)
    assert len(tl) == 0 and tl.known_until_ns is None
    with pytest.raises(ScheduleError):
        build_timeline(cal, 0, 1, "hourly")


def test_start_index_for_live_runs(cal):
    first, last = span(cal, "2024-11-26", "2024-11-27")
    tl = build_timeline(cal, first, last, rules=RULES)
    i = tl.start_index_for(cal, et("2024-11-26 11:00"))
    assert tl.event(i).kind is BTS and local(cal, tl.event(i).time_ns) == "11-26 08:45"
    j = tl.start_index_for(cal, et("2024-11-26 18:00"))
    assert local(cal, tl.event(j).time_ns) == "11-27 08:45"
    assert tl.start_index_for(cal, et("2024-11-28 12:00")) == len(tl)
    assert tl.start_index_for(None, et("2024-11-26 11:00")) == tl.index_at_or_after(et("2024-11-26 11:00"))


# ----------------------------------------------------------------------------------------------- REGULAR mode
def test_regular_mode_sub_second():
    start = et("2024-03-09 12:00")  # a Saturday: REGULAR ignores the calendar
    tl = build_regular_timeline(start, start + 10 * NS_PER_SECOND, 0.25)
    assert len(tl) == 41 and np.all(tl.kinds == B)
    assert np.all(np.diff(tl.times) == NS_PER_SECOND // 4)
    assert np.all(tl.deadlines == NO_DEADLINE) and np.all(tl.sessions == -1)


def test_regular_mode_with_calendar_rules(cal):
    start, end = et("2024-11-29 12:44"), et("2024-11-29 13:01")
    rules = [EventRule(time_rule=time_rules.market_close(minutes=15)), EventRule(time_rule=time_rules.market_open())]
    tl = build_regular_timeline(start, end, 60, cal=cal, rules=rules, before_trading_start=dt.time(8, 45))
    events = [(local(cal, t), k, r) for t, k, r in tl.kinds_at(0, len(tl))]
    assert ("11-29 12:45", B, -1) in events and events.index(("11-29 12:45", B, -1)) + 1 == events.index(
        ("11-29 12:45", S, 0)
    )
    assert ("11-29 13:00", END, -1) in events and events[-1] == ("11-29 13:01", B, -1)
    assert not any(k == BTS for _, k, _ in events)  # 08:45 is outside the window
    assert int((tl.kinds == B).sum()) == 18


@pytest.mark.parametrize("bad", [0, -1, "1", 0.0001, True])
def test_bad_rep_bar_freq(bad):
    with pytest.raises(ScheduleError):
        rep_bar_freq_ns(bad)


def test_rep_bar_freq_rounds_to_microseconds():
    assert rep_bar_freq_ns(1 / 3) == 333_333_000
    assert rep_bar_freq_ns(60) == 60 * NS_PER_SECOND


def test_regular_mode_needs_a_calendar_for_rules():
    with pytest.raises(ScheduleError):
        build_regular_timeline(0, NS_PER_SECOND, 1, rules=[EventRule()])


# ----------------------------------------------------------------------------------------------- misfire policy
@pytest.fixture(scope="module")
def day(cal):
    first, last = span(cal, "2024-11-29", "2024-11-29")
    return build_timeline(cal, first, last, "minute", RULES)


def run_events(cal, tl: Timeline, plan) -> list[tuple[str, EventKind, int]]:
    return [(local(cal, int(tl.times[i])), EventKind(int(tl.kinds[i])), int(tl.rules[i])) for i in plan.run]


def test_on_time_everything_runs(cal, day):
    i = day.index_at_or_after(et("2024-11-29 09:31"))
    plan = plan_due(day, i, et("2024-11-29 09:31"))
    assert run_events(cal, day, plan) == [("11-29 09:31", B, -1), ("11-29 09:31", S, 0), ("11-29 09:31", S, 1)]
    assert plan.skipped == () and plan.next_index == day.index_after(et("2024-11-29 09:31"))
    again = plan_due(day, plan.next_index, et("2024-11-29 09:31"))
    assert again.empty and again.next_index == plan.next_index  # never twice


def test_only_the_newest_bar_runs(cal, day):
    i = day.index_at_or_after(et("2024-11-29 09:31"))
    plan = plan_due(day, i, et("2024-11-29 09:32"))  # the 09:31 functions are exactly 60 s late: still run
    assert run_events(cal, day, plan) == [("11-29 09:31", S, 0), ("11-29 09:31", S, 1), ("11-29 09:32", B, -1)]
    assert [(local(cal, s.time_ns), s.reason) for s in plan.skipped] == [("11-29 09:31", SkipReason.SUPERSEDED)]
    plan = plan_due(day, i, et("2024-11-29 09:33") + 500_000_000)
    assert run_events(cal, day, plan) == [("11-29 09:33", B, -1)]
    assert [(local(cal, s.time_ns), s.kind, s.reason) for s in plan.skipped] == [
        ("11-29 09:31", B, SkipReason.SUPERSEDED),
        ("11-29 09:31", S, SkipReason.LATE),
        ("11-29 09:31", S, SkipReason.LATE),
        ("11-29 09:32", B, SkipReason.SUPERSEDED),
    ]


def test_grace(cal, day):
    i = day.index_at_or_after(et("2024-11-29 12:45"))
    j = day.index_after(et("2024-11-29 12:44"))
    assert i == j
    ok = plan_due(day, i, et("2024-11-29 12:45") + 59 * NS_PER_SECOND)
    assert ("11-29 12:45", S, 2) in run_events(cal, day, ok)
    late = plan_due(day, i, et("2024-11-29 12:46") + 1)
    assert ("11-29 12:45", S, 2) not in run_events(cal, day, late)
    assert any(s.rule == 2 and s.reason is SkipReason.LATE and s.late_ns > 60 * NS_PER_SECOND for s in late.skipped)
    custom = plan_due(day, i, et("2024-11-29 12:46") + 1, grace_ns=120 * NS_PER_SECOND)
    assert ("11-29 12:45", S, 2) in run_events(cal, day, custom)


def test_never_after_the_close(cal, day):
    i = day.index_at_or_after(et("2024-11-29 12:45"))
    plan = plan_due(day, i, et("2024-11-29 13:00") + NS_PER_SECOND, grace_ns=3600 * NS_PER_SECOND)
    reasons = {(s.kind, s.rule): s.reason for s in plan.skipped if s.kind is S}
    assert reasons == {(S, 2): SkipReason.AFTER_CLOSE}
    assert run_events(cal, day, plan) == [("11-29 13:00", B, -1), ("11-29 13:00", END, -1)]


def test_stale_bar_and_session_end(cal, day):
    i = day.index_at_or_after(et("2024-11-29 12:58"))
    plan = plan_due(day, i, et("2024-11-29 20:00"))
    assert run_events(cal, day, plan) == [("11-29 13:00", END, -1)]  # bookkeeping always runs
    assert {s.reason for s in plan.skipped} == {SkipReason.SUPERSEDED, SkipReason.LATE}


def test_mid_session_start(cal, day):
    start = day.start_index_for(cal, et("2024-11-29 10:00"))
    plan = plan_due(day, start, et("2024-11-29 10:00") + 200_000_000)
    assert run_events(cal, day, plan) == [("11-29 08:45", BTS, -1), ("11-29 10:00", B, -1)]
    late = {(s.kind, s.rule) for s in plan.skipped if s.reason is SkipReason.LATE}
    assert late == {(S, 4), (S, 0), (S, 1)}
    after = plan_due(day, 0, et("2024-11-29 13:30"))
    assert all(s.reason is not None for s in after.skipped)
    assert (BTS, -1) in {(s.kind, s.rule) for s in after.skipped if s.reason is SkipReason.AFTER_CLOSE}


def test_nothing_due_yet(day):
    plan = plan_due(day, 0, et("2024-11-29 08:00"))
    assert plan.empty and plan.next_index == 0


def test_simulation_runs_every_event_in_order(cal):
    first, last = span(cal, "2024-11-25", "2024-12-03")
    tl = build_timeline(cal, first, last, "minute", RULES)
    seen: list[int] = []
    cursor = 0
    for t in tl.fire_times().tolist():
        plan = plan_due(tl, cursor, t)
        assert plan.skipped == ()
        seen.extend(plan.run)
        cursor = plan.next_index
    assert seen == list(range(len(tl)))
