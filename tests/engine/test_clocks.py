"""Clocks and the live dispatcher: the live clock produces the same event sequence as the simulated one."""

from __future__ import annotations

import dataclasses
import queue
import threading
import time

import numpy as np
import pandas as pd
import pytest

from runtime.core.rules import EventRule, date_rules, time_rules
from runtime.data.calendars import get_calendar
from runtime.engine.clocks import LiveDispatcher, ReplayClock, Tick, WallClock
from runtime.engine.timeline import Timeline, build_timeline, plan_due
from runtime.engine.triggers import ArrayTrigger, FireTimes, timeline_builder

ET = "America/New_York"
MS = 1_000_000
S = 1_000_000_000


def et(text: str) -> int:
    return pd.Timestamp(text, tz=ET).value


RULES = [
    EventRule(date_rules.every_day(), time_rules.market_open()),  # collides with the first bar
    EventRule(date_rules.every_day(), time_rules.every_minute()),  # same instant, registered later
    EventRule(date_rules.every_day(), time_rules.market_close(minutes=15)),
    EventRule(date_rules.every_day(), time_rules.market_open(hours=6, minutes=30)),  # at the close, with the bar
    EventRule(date_rules.week_start(), time_rules.spot_time(9, 25)),
    EventRule(date_rules.month_start(), time_rules.market_open(minutes=2)),
]


# ----------------------------------------------------------------------------------------------------- clocks
def test_wall_clock():
    clock = WallClock()
    assert abs(clock.now_ns() - time.time_ns()) < 50 * MS
    stop = threading.Event()
    stop.set()
    assert clock.wait_until(clock.now_ns() + 10 * S, stop) is False
    assert clock.wait_until(clock.now_ns() + MS) is True


def test_replay_clock_paced_maps_wall_time():
    wall = [1_000]
    clock = ReplayClock(et("2024-03-08 09:30"), 60.0, wall_ns=lambda: wall[0])
    assert clock.now_ns() == et("2024-03-08 09:30")
    wall[0] += S  # one wall second = one virtual minute
    assert clock.now_ns() == et("2024-03-08 09:31")
    assert clock.speed == 60.0 and not clock.as_fast_as_possible
    with pytest.raises(RuntimeError):
        clock.advance_to(et("2024-03-08 10:00"))


def test_replay_clock_paced_waits_in_scaled_wall_time():
    clock = ReplayClock(0, 1000.0)
    t0 = time.monotonic()
    assert clock.wait_until(clock.now_ns() + S)  # one virtual second: ~1 ms of wall time
    assert time.monotonic() - t0 < 0.5
    stop = threading.Event()
    stop.set()
    assert clock.wait_until(clock.now_ns() + 3600 * S, stop) is False
    assert clock.wait_until(clock.now_ns() + 3600 * S, timeout_s=0.01) is False


def test_replay_clock_as_fast_as_possible():
    clock = ReplayClock(100, None)
    assert clock.now_ns() == 100 and clock.as_fast_as_possible
    assert clock.advance_to(500) == 500
    assert clock.advance_to(300) == 500  # never backwards
    assert clock.wait_until(400) is True
    assert clock.wait_until(600, timeout_s=0.02) is False

    def later() -> None:
        time.sleep(0.05)
        clock.advance_to(1000)

    threading.Thread(target=later).start()
    assert clock.wait_until(900, timeout_s=5) is True and clock.now_ns() == 1000


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_replay_clock_rejects_bad_speed(bad):
    with pytest.raises(ValueError):
        ReplayClock(0, bad)


@pytest.mark.parametrize("speed", [None, 50.0])
def test_replay_clock_is_monotonic_across_threads(speed):
    clock = ReplayClock(0, speed)
    errors: list[str] = []
    done = threading.Event()

    def reader() -> None:
        last = -1
        while not done.is_set():
            now = clock.now_ns()
            if now < last:
                errors.append(f"{now} < {last}")
            last = now

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for r in readers:
        r.start()
    for k in range(20_000):
        if speed is None:
            clock.advance_to(k * 10)
        else:
            clock.now_ns()
    done.set()
    for r in readers:
        r.join()
    assert errors == []


def test_tick_is_a_small_frozen_value():
    tick = Tick(10, 13)
    assert tick.late_ns == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        tick.ns = 11  # type: ignore[misc]


# -------------------------------------------------------------------------------------- same sequence as sim
@pytest.fixture(scope="module")
def real_timeline() -> Timeline:
    cal = get_calendar("XNYS")
    first, last = cal.session_index_on_or_after("2024-11-29"), cal.session_index_on_or_after("2024-12-02")
    return build_timeline(cal, first, last, "minute", RULES)


def compress(tl: Timeline, base: int, spacing: int, head: int = 10, tail: int = 6) -> Timeline:
    """A synthetic schedule: the first ``head`` and last ``tail`` distinct instants of each session of ``tl``,
    moved to ``base + k * spacing``. Kinds, rules and their order are kept, collisions included."""
    keep: list[int] = []
    for s in np.unique(tl.sessions):
        instants = np.unique(tl.times[tl.sessions == s])
        keep += instants[:head].tolist() + instants[-tail:].tolist()
    chosen = np.array(sorted(set(keep)), dtype=np.int64)
    mask = np.isin(tl.times, chosen)
    new_of = dict(zip(chosen.tolist(), (base + spacing * np.arange(len(chosen))).tolist()))
    times = np.array([new_of[t] for t in tl.times[mask].tolist()], dtype=np.int64)
    deadlines = np.array([new_of[d] for d in tl.deadlines[mask].tolist()], dtype=np.int64)
    return Timeline(times, tl.kinds[mask], tl.rules[mask], tl.sessions[mask], deadlines, None)


def simulate(tl: Timeline) -> list[int]:
    """The simulated clock: jump from fire time to fire time, run what the policy says (everything)."""
    ran, cursor = [], 0
    for t in tl.fire_times().tolist():
        plan = plan_due(tl, cursor, t)
        ran += plan.run
        cursor = plan.next_index
    return ran


def consume(tl: Timeline, ticks: queue.Queue, now_of, *, ack: bool = False, timeout: float = 20.0) -> list[int]:
    """The engine's side: take ticks, ask the policy what is due, record what runs."""
    ran: list[int] = []
    cursor = 0
    deadline = time.monotonic() + timeout
    while cursor < len(tl):
        tick = ticks.get(timeout=max(deadline - time.monotonic(), 0.01))
        plan = plan_due(tl, cursor, now_of(tick))
        assert plan.skipped == ()
        ran += plan.run
        cursor = plan.next_index
        if ack:
            ticks.task_done()
    return ran


@pytest.mark.slow
def test_compressed_schedule_on_the_wall_clock(real_timeline):
    spacing = 30 * MS
    tl = compress(real_timeline, time.time_ns() + 400 * MS, spacing)
    instants = tl.fire_times()
    assert len(instants) == 32 and len(tl) > len(instants)  # collisions: several events share instants
    expected = simulate(tl)
    assert expected == list(range(len(tl)))
    ticks: queue.Queue[Tick] = queue.Queue()
    dispatcher = LiveDispatcher(ArrayTrigger(instants, ET), ticks.put, WallClock())
    dispatcher.start()
    try:
        ran = consume(tl, ticks, lambda tick: tick.ns)
    finally:
        dispatcher.stop()
    assert ran == expected
    assert dispatcher.posted == len(instants)


def test_compressed_schedule_as_fast_as_possible(real_timeline):
    tl = compress(real_timeline, et("2026-01-05 09:00"), 7 * MS)
    clock = ReplayClock(et("2026-01-05 08:00"), None)
    ticks: queue.Queue[Tick] = queue.Queue()
    dispatcher = LiveDispatcher(ArrayTrigger(tl.fire_times(), ET), ticks.put, clock, wait_idle=ticks.join)
    with dispatcher:
        # The consumer can use the replay clock's own "now": time only moves once it has caught up.
        ran = consume(tl, ticks, lambda tick: clock.now_ns(), ack=True)
    assert ran == simulate(tl)
    assert clock.now_ns() == int(tl.times[-1])


@pytest.mark.slow
def test_real_schedule_on_a_paced_replay_clock(real_timeline):
    """The real morning of Monday 2024-12-02 (before_trading_start, a pre-open spot time, the open with
    collisions, a month_start rule) at 3000x: one minute is 20 ms of wall time."""
    lo, hi = et("2024-12-02 08:44"), et("2024-12-02 09:36")
    window = (real_timeline.times >= lo) & (real_timeline.times <= hi)
    tl = Timeline(
        real_timeline.times[window],
        real_timeline.kinds[window],
        real_timeline.rules[window],
        real_timeline.sessions[window],
        real_timeline.deadlines[window],
        None,
    )
    clock = ReplayClock(lo, 3000.0)
    ticks: queue.Queue[Tick] = queue.Queue()
    with LiveDispatcher(ArrayTrigger(tl.fire_times(), ET), ticks.put, clock):
        ran = consume(tl, ticks, lambda tick: tick.ns)
    assert ran == simulate(tl) == list(range(len(tl)))
    head = [(tl.event(i).kind.name, tl.event(i).rule) for i in ran[:7]]
    assert head == [
        ("BEFORE_TRADING_START", -1),
        ("SCHEDULED", 4),  # 09:25
        ("BAR", -1),  # 09:31
        ("SCHEDULED", 0),
        ("SCHEDULED", 1),
        ("BAR", -1),  # 09:32
        ("SCHEDULED", 5),
    ]


# ------------------------------------------------------------------------------------------------- horizons
class Growing:
    """Fire times known only ``span`` ahead of each build (a calendar's horizon, compressed)."""

    def __init__(self, times: list[int], span: int) -> None:
        self.times, self.span, self.calls = times, span, 0

    def __call__(self, now_ns: int) -> FireTimes:
        self.calls += 1
        known = now_ns + self.span
        return FireTimes(np.array([t for t in self.times if t < known + 7 * MS], dtype=np.int64), known)


def collect(ticks: queue.Queue, n: int, timeout: float = 20.0) -> list[int]:
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n:
        out.append(ticks.get(timeout=max(deadline - time.monotonic(), 0.01)).ns)
    return out


@pytest.mark.slow
def test_wall_clock_dispatcher_rebuilds_at_the_horizon():
    start = time.time_ns()
    times = [start + 300 * MS + k * 40 * MS for k in range(16)]
    builder = Growing(times, 150 * MS)
    trigger = ArrayTrigger.from_builder(builder, ET, start)
    ticks: queue.Queue[Tick] = queue.Queue()
    with LiveDispatcher(trigger, ticks.put, WallClock(), rebuild_every_ns=None):
        got = collect(ticks, len(times))
        time.sleep(0.1)
    assert got == times and ticks.empty()  # all, in order, none twice
    assert builder.calls > 3


@pytest.mark.slow
def test_wall_clock_dispatcher_rebuilds_daily_in_the_background():
    start = time.time_ns()
    times = [start + 300 * MS + k * 30 * MS for k in range(20)]
    builder = Growing(times, 3600 * S)  # the horizon is far: only the age-based rebuild runs
    trigger = ArrayTrigger.from_builder(builder, ET, start)
    ticks: queue.Queue[Tick] = queue.Queue()
    with LiveDispatcher(trigger, ticks.put, WallClock(), rebuild_every_ns=100 * MS):
        got = collect(ticks, len(times))
        time.sleep(0.1)
    assert got == times and ticks.empty()
    assert builder.calls >= 3


@pytest.mark.slow
@pytest.mark.parametrize("speed", [None, 20.0])
def test_replay_dispatcher_rebuilds_at_the_horizon(speed):
    start = et("2026-01-05 09:00")
    times = [start + k * 500 * MS for k in range(1, 40)]
    times.insert(5, times[4] + 1_000)  # two fire times a microsecond apart
    builder = Growing(times, 2 * S)  # horizons fall between and on fire times
    trigger = ArrayTrigger.from_builder(builder, ET, start)
    clock = ReplayClock(start, speed)
    ticks: queue.Queue[Tick] = queue.Queue()
    with LiveDispatcher(trigger, ticks.put, clock, rebuild_every_ns=None):
        got = collect(ticks, len(times))
    assert got == times and builder.calls > 5


def test_timeline_built_trigger_through_the_dispatcher():
    cal = get_calendar("XNYS")
    first = cal.session_index_on_or_after("2024-11-29")

    def build(now_ns: int) -> Timeline:
        return build_timeline(cal, first, first, "minute", RULES)

    tl = build(0)
    lo = et("2024-11-29 12:40")
    trigger = ArrayTrigger.from_builder(timeline_builder(build), ET, lo)
    clock = ReplayClock(lo, None)
    ticks: queue.Queue[Tick] = queue.Queue()
    with LiveDispatcher(trigger, ticks.put, clock, wait_idle=ticks.join):
        start = tl.index_at_or_after(lo)
        ran: list[int] = []
        cursor = start
        while cursor < len(tl):
            ticks.get(timeout=10)
            plan = plan_due(tl, cursor, clock.now_ns())
            ran += plan.run
            cursor = plan.next_index
            ticks.task_done()
    assert ran == list(range(start, len(tl)))
    assert tl.event(ran[-1]).kind.name == "SESSION_END"


def test_dispatcher_lifecycle():
    trigger = ArrayTrigger([time.time_ns() + 3600 * S], ET)
    dispatcher = LiveDispatcher(trigger, lambda tick: None)
    dispatcher.start()
    try:
        assert dispatcher.running
        with pytest.raises(RuntimeError):
            dispatcher.start()
    finally:
        dispatcher.stop()
    assert not dispatcher.running


def test_a_failing_callback_does_not_stop_dispatch():
    start = time.time_ns() + 200 * MS
    times = [start + k * 20 * MS for k in range(5)]
    seen: list[int] = []

    def post(tick: Tick) -> None:
        seen.append(tick.ns)
        if len(seen) == 2:
            raise RuntimeError("boom")

    clock = ReplayClock(start - MS, None)
    with LiveDispatcher(ArrayTrigger(times, ET), post, clock):
        deadline = time.monotonic() + 10
        while len(seen) < len(times) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert seen == times
