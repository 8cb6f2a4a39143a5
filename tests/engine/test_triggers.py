"""APScheduler triggers over fire-time arrays: binary search vs brute force, horizons and rebuilds."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from apscheduler.triggers.base import BaseTrigger
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.core.rules import EventRule, date_rules, time_rules
from runtime.data.calendars import get_calendar
from runtime.engine.timeline import build_timeline
from runtime.engine.triggers import (
    ArrayTrigger,
    FireTimes,
    MergedTrigger,
    PeriodicTrigger,
    calendar_window,
    datetime_to_ns,
    ns_to_datetime,
    rule_builder,
    timeline_builder,
    trigger_for_rule,
)

ET = "America/New_York"
NY = ZoneInfo(ET)
US = 1000
MIN = 60 * 1_000_000_000


def et(text: str) -> int:
    return pd.Timestamp(text, tz=ET).value


def brute_next(times: list[int], after: int) -> int | None:
    for t in times:
        if t > after:
            return t
    return None


# -------------------------------------------------------------------------------------------------- basics
def test_conversions_are_exact_and_aware():
    ns = et("2024-03-10 03:00:00.123456")  # just after the DST jump
    d = ns_to_datetime(ns, NY)
    assert d.tzinfo is NY and d.utcoffset() == dt.timedelta(hours=-4) and d.hour == 3
    assert datetime_to_ns(d) == ns
    assert datetime_to_ns(d.astimezone(dt.timezone.utc)) == ns
    with pytest.raises(ValueError, match="aware"):
        datetime_to_ns(dt.datetime(2024, 1, 1))


def test_is_an_apscheduler_trigger_in_exchange_time():
    cal = get_calendar("XNYS")
    i = cal.session_index_on_or_after("2024-03-08")
    times = EventRule(time_rule=time_rules.market_open()).fire_times(cal, i, i + 2)
    trig = ArrayTrigger(times, ET)
    assert isinstance(trig, BaseTrigger)
    first = trig.get_next_fire_time(None, ns_to_datetime(et("2024-03-08 09:00"), NY))
    assert first == dt.datetime(2024, 3, 8, 9, 31, tzinfo=NY) and first.tzinfo is NY
    second = trig.get_next_fire_time(first, first)
    assert (second.month, second.day, second.hour, second.minute) == (3, 11, 9, 31)
    assert second.utcoffset() == dt.timedelta(hours=-4)
    # Without a previous fire time, "now" itself counts.
    assert trig.get_next_fire_time(None, first) == first
    last = ns_to_datetime(int(times[-1]), NY)
    assert trig.get_next_fire_time(last, last) is None  # no builder: the array is all there is


def test_apscheduler_run_times_loop_terminates_and_matches():
    """APScheduler lists missed run times by calling get_next_fire_time(previous, now) until past now."""
    times = np.array([et("2024-03-08 09:31"), et("2024-03-08 09:31") + 500 * US, et("2024-03-08 09:32")])
    trig = ArrayTrigger(times, ET)
    now = ns_to_datetime(et("2024-03-08 10:00"), NY)
    run_times, nxt = [], trig.get_next_fire_time(None, ns_to_datetime(int(times[0]) - 1000 * US, NY))
    while nxt is not None and nxt <= now:
        run_times.append(datetime_to_ns(nxt))
        nxt = trig.get_next_fire_time(nxt, now)
    assert run_times == times.tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10**7), max_size=40),
    st.lists(st.integers(min_value=-10, max_value=10**7 + 10), min_size=1, max_size=20),
)
def test_binary_search_matches_brute_force(raw, queries):
    times = sorted({x * US for x in raw})
    trig = ArrayTrigger(np.array(times, dtype=np.int64), ET)
    base = et("2024-01-02 00:00")
    shifted = ArrayTrigger(np.array([base + t for t in times], dtype=np.int64), ET)
    for q in queries:
        after = q * US
        assert trig.next_ns(after) == brute_next(times, after)
        assert trig.is_fire_ns(after) == (after in set(times))
        # Through APScheduler's datetime interface: strictly after a previous fire, at or after "now".
        prev = ns_to_datetime(base + after, NY)
        want = brute_next(times, after)
        got = shifted.get_next_fire_time(prev, prev)
        assert (None if got is None else datetime_to_ns(got) - base) == want
        want_now = brute_next(times, after - 1)
        got_now = shifted.get_next_fire_time(None, prev)
        assert (None if got_now is None else datetime_to_ns(got_now) - base) == want_now


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=-1000, max_value=1000),
    st.integers(min_value=1, max_value=300),
    st.one_of(st.none(), st.integers(min_value=0, max_value=3000)),
    st.lists(st.integers(min_value=-2000, max_value=5000), min_size=1, max_size=20),
)
def test_periodic_matches_brute_force(anchor, period, length, queries):
    end = None if length is None else anchor + length
    trig = PeriodicTrigger(anchor, period, ET, end)
    top = end if end is not None else 10_000
    times = list(range(anchor, top + 1, period))
    for q in queries:
        assert trig.next_ns(q) == brute_next(times, q)
        assert trig.is_fire_ns(q) == (q in set(times))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(min_value=0, max_value=10**6), max_size=15), min_size=1, max_size=4),
    st.lists(st.integers(min_value=-1, max_value=10**6 + 1), min_size=1, max_size=15),
)
def test_merged_is_the_union(lists, queries):
    children = [ArrayTrigger(np.array(sorted(set(x)), dtype=np.int64), ET) for x in lists]
    merged = MergedTrigger(children)
    union = sorted({t for x in lists for t in x})
    for q in queries:
        assert merged.next_ns(q) == brute_next(union, q)
        assert merged.is_fire_ns(q) == (q in set(union))


def test_periodic_rejects_bad_period():
    with pytest.raises(ValueError):
        PeriodicTrigger(0, 0, ET)


# ------------------------------------------------------------------------------------------------ horizons
class Growing:
    """A builder whose knowledge ends ``span`` after the build instant (like a calendar a year ahead)."""

    def __init__(self, times: list[int], span: int) -> None:
        self.times, self.span, self.calls = times, span, 0

    def __call__(self, now_ns: int) -> FireTimes:
        self.calls += 1
        known = now_ns + self.span
        return FireTimes(np.array([t for t in self.times if t < known + 5], dtype=np.int64), known)


def drive(trigger, start: int, end: int) -> list[int]:
    """What a dispatcher does: follow the trigger, post real fires, rebuild at horizon wake-ups (resuming at the
    old horizon, inclusive), stop at ``end``."""
    fired, after = [], start - 1
    while True:
        t = trigger.next_ns(after)
        assert t is not None, "a rebuildable trigger must never end"
        if t > end:
            return fired
        if trigger.is_fire_ns(t):
            fired.append(t)
            after = t
        elif trigger.needs_rebuild(t):
            old = trigger.horizon_ns()
            trigger.rebuild(t)
            after = min(t, old) - 1 if trigger.horizon_ns() > old else t
        else:
            after = t


def test_horizon_wake_up_and_rebuild():
    times = list(range(0, 1000, 10))
    builder = Growing(times, 95)
    trig = ArrayTrigger.from_builder(builder, ET, 0)
    assert trig.horizon_ns() == 95
    assert trig.next_ns(85) == 90 and trig.next_ns(90) == 95  # a wake-up at the horizon ...
    assert not trig.is_fire_ns(95) and not trig.is_fire_ns(100)  # ... and nothing beyond it is trusted
    assert trig.needs_rebuild(95) and not trig.needs_rebuild(94)
    assert drive(ArrayTrigger.from_builder(Growing(times, 95), ET, 0), 0, 999) == times


def test_fire_exactly_at_the_horizon_is_not_lost():
    times = list(range(0, 1000, 10))
    trig = ArrayTrigger.from_builder(Growing(times, 100), ET, 0)  # horizons at 100, 200, ...: all fire times
    assert drive(trig, 0, 999) == times


def test_a_stuck_horizon_retries_instead_of_ending():
    trig = ArrayTrigger.from_builder(lambda now: FireTimes(np.array([10, 20]), 50), ET, 0, retry_ns=1000)
    assert trig.next_ns(20) == 50
    assert trig.next_ns(50) == 1050 and trig.next_ns(5000) == 6000
    assert not trig.is_fire_ns(50)


def test_periodic_rebuild_by_age():
    builder = Growing(list(range(0, 10**6, 1000)), 10**5)
    trig = ArrayTrigger.from_builder(builder, ET, 0)
    assert not trig.needs_rebuild(50, max_age_ns=100) and trig.needs_rebuild(100, max_age_ns=100)
    trig.rebuild(100)
    assert builder.calls == 2 and not trig.needs_rebuild(150, max_age_ns=100)
    assert not ArrayTrigger([1, 2], ET).needs_rebuild(10**18, max_age_ns=1)


@pytest.mark.slow
def test_rule_trigger_survives_calendar_horizons():
    """A long-running process with calendars that only know ~6 weeks ahead: month_end/week_end fire times found
    through repeated rebuilds equal the ones computed on one long calendar, none lost, none twice."""
    rules = [
        EventRule(date_rules.month_end(), time_rules.market_close(minutes=5)),
        EventRule(date_rules.week_end(1), time_rules.market_open(minutes=10)),
    ]
    start, end = et("2024-01-10 12:00"), et("2024-09-30 23:00")
    full = get_calendar("XNYS", "2023-10-01", "2025-12-31")
    i, j = full.session_index_on_or_after("2024-01-10"), full.session_index_on_or_before("2024-09-30")

    def short(name: str, now_ns: int):
        return calendar_window(name, now_ns, ahead_days=45)

    for rule in rules:
        trig = ArrayTrigger.from_builder(rule_builder(rule, "XNYS", calendar_for=short), ET, start)
        got = drive(trig, start, end)
        want = [t for t in rule.fire_times(full, i, j).tolist() if t >= start]
        assert got == want


def test_timeline_and_rule_trigger_helpers():
    cal = get_calendar("XNYS")
    i = cal.session_index_on_or_after("2024-03-08")
    build = timeline_builder(lambda now: build_timeline(cal, i, i + 1, "minute", [EventRule()]))
    fire = build(0)
    assert len(fire.times) == 2 * (1 + 390 + 0) + 0 and fire.known_until_ns is None  # bts + bars; 09:31 shared
    trig = trigger_for_rule(EventRule(time_rule=time_rules.market_close()), "XNYS", et("2024-03-08 12:00"))
    assert trig.next_ns(et("2024-03-08 12:00")) == et("2024-03-08 15:59")
    assert trig.tz == NY
    assert trig.horizon_ns() is not None and trig.horizon_ns() > et("2025-03-01 00:00")
