"""The live loop: the engine's thread fed by a queue of clock ticks and broker events.

A :class:`~runtime.engine.clocks.LiveDispatcher` (APScheduler on the wall clock, or the same triggers on a replay
clock) posts a ``Tick`` at each fire time of the timeline; brokers post their events (fills, cancellations,
rejections) from their own threads. This loop, on the one engine thread, takes them in order: broker events are
booked at once; on a tick, :func:`~runtime.engine.timeline.plan_due` decides which due events still run (newest
bar only, scheduled functions within the grace, nothing after the session's close, nothing twice) and the shared
:class:`~runtime.engine.dispatch.Dispatcher` runs them — the same code a backtest runs.
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass
from typing import Any

from runtime.engine.clocks import Clock, LiveDispatcher, ReplayClock, Tick, closed_market_jump
from runtime.engine.dispatch import Dispatcher
from runtime.engine.timeline import DEFAULT_GRACE_NS, Timeline, plan_due
from runtime.engine.triggers import ArrayTrigger

log = logging.getLogger("ibalgo.live")

#: a handler that takes longer than this is reported as an overrun
OVERRUN_NS = 1_000_000_000


@dataclass(frozen=True)
class StopRequest:
    """Ask the live loop to stop after the item being handled (Ctrl-C, SIGTERM, end())."""

    reason: str


class LiveLoop:
    """Runs timeline events on the calling thread as a clock reaches them."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        timeline: Timeline,
        clock: Clock,
        *,
        grace_ns: int = DEFAULT_GRACE_NS,
        resume_after_ns: int | None = None,
        skip_closed: bool = False,
    ) -> None:
        self.dispatcher = dispatcher
        #: a replay clock at a speed jumps over the closed market (nights, weekends, holidays)
        self.skip_closed = skip_closed
        #: virtual time jumped over (ns), for the run's report
        self.jumped_ns = 0
        self.resume_after_ns = resume_after_ns
        self.engine = dispatcher.engine
        self.timeline = timeline
        self.clock = clock
        self.grace_ns = grace_ns
        self.queue: queue.Queue[Any] = queue.Queue()
        self.skipped = 0
        self.overruns = 0
        self.stopped_because: str | None = None

    def post(self, item: object) -> None:
        """Thread-safe: hand a tick, a broker event or a StopRequest to the engine thread."""
        self.queue.put(item)

    def stop(self, reason: str) -> None:
        self.post(StopRequest(reason))

    def run(self) -> None:
        """Dispatch until the timeline is exhausted or a StopRequest arrives."""
        tl = self.timeline
        cal = self.engine.calendar
        cursor = tl.start_index_for(cal, self.clock.now_ns())
        if self.resume_after_ns is not None:  # a restart: never handle an event twice
            cursor = max(cursor, tl.index_after(self.resume_after_ns))
        if cursor >= len(tl):
            self.stopped_because = "nothing left to run"
            return
        times = tl.fire_times()
        times = times[times >= tl.times[cursor]]
        trigger = ArrayTrigger(times, cal.tz)
        fast = isinstance(self.clock, ReplayClock) and self.clock.as_fast_as_possible
        replay = isinstance(self.clock, ReplayClock)
        jump = closed_market_jump(cal.opens, cal.closes) if replay and not fast and self.skip_closed else None
        dispatcher = LiveDispatcher(
            trigger, self.queue.put, self.clock, wait_idle=self.queue.join if fast or jump else None,
            jump=jump, **({"rebuild_every_ns": None} if replay else {}),
        )
        with dispatcher:
            while cursor < len(tl):
                item = self.queue.get()
                try:
                    if isinstance(item, Tick):
                        cursor = self._on_tick(cursor)
                    elif isinstance(item, StopRequest):
                        self.stopped_because = item.reason
                        break
                    else:
                        self.on_item(item)
                    if self.engine.stop_requested:
                        self.stopped_because = self.engine.stop_requested
                        break
                finally:
                    self.queue.task_done()
            else:
                self.stopped_because = "the run reached its end"
        self.jumped_ns = dispatcher.jumped_ns

    def on_item(self, item: object) -> None:
        """Anything posted that is not a tick or a stop request: a broker event, booked at once."""
        self.engine.apply_broker_events([item])  # type: ignore[list-item]

    def _on_tick(self, cursor: int) -> int:
        tl = self.timeline
        now = self.clock.now_ns()
        plan = plan_due(tl, cursor, now, self.grace_ns)
        for skipped in plan.skipped:
            self.skipped += 1
            log.warning(
                "skipped %s at %s (%.1f s late): %s", skipped.kind.name.lower(),
                self.engine.calendar.to_local(skipped.time_ns), skipped.late_ns / 1e9, skipped.reason.value,
            )
        for i in plan.run:
            started = time.perf_counter_ns()
            keep_going = self.dispatcher.dispatch(
                int(tl.times[i]), int(tl.kinds[i]), int(tl.rules[i]), int(tl.sessions[i])
            )
            took = time.perf_counter_ns() - started
            if took > OVERRUN_NS:
                self.overruns += 1
                log.warning("event at %s took %.1f s", self.engine.calendar.to_local(int(tl.times[i])), took / 1e9)
            if not keep_going:
                return len(tl)
        return plan.next_index
