"""Clocks, and the live dispatcher that wakes the engine at fire times.

- :class:`WallClock`: real time.
- :class:`ReplayClock`: virtual time for accelerated paper runs, either ``speed`` times faster than wall time or
  as fast as possible (``speed=None``: time stands still until the dispatcher jumps it to the next instant it
  needs). Thread-safe; an in-process simulated gateway can share it (it only calls ``now_ns()`` and, if it needs
  to, ``wait_until()``).
- :class:`LiveDispatcher`: runs ONE job over a (merged) trigger and, at each fire time, posts a small frozen
  :class:`Tick` to a callback (typically ``queue.put``). It never runs user code: the engine's thread takes the
  tick, asks :func:`runtime.engine.timeline.plan_due` what is due, and runs it.

With a :class:`WallClock` the job runs on an APScheduler 3 ``BackgroundScheduler`` in the exchange time zone.
APScheduler 3 cannot follow a virtual clock (its loop reads ``datetime.now()`` and sleeps on wall time), so with
a :class:`ReplayClock` the same trigger objects are driven by a small thread loop that asks the trigger for the
next instant, waits for the replay clock to reach it (or jumps it there), and posts the same ticks.
"""

from __future__ import annotations

import datetime as _dt
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler

from runtime.core.calendar import NS_PER_DAY
from runtime.engine.triggers import DEFAULT_RETRY_NS, InstantTrigger

log = logging.getLogger(__name__)
_NS_PER_S = 1_000_000_000


class Clock(Protocol):
    def now_ns(self) -> int:
        """The current instant, int64 ns UTC."""
        ...


class WallClock:
    """Real time (``time.time_ns``)."""

    def now_ns(self) -> int:
        return time.time_ns()

    def wait_until(self, target_ns: int, stop: threading.Event | None = None) -> bool:
        """Sleep until ``target_ns``; False if ``stop`` was set first."""
        stop = stop or threading.Event()
        while True:
            remaining = target_ns - time.time_ns()
            if remaining <= 0:
                return True
            if stop.wait(min(remaining / _NS_PER_S, 0.5)):
                return False

    def __repr__(self) -> str:
        return "WallClock()"


class ReplayClock:
    """Virtual time starting at ``start_ns``.

    ``speed=N`` (N > 0): virtual time runs N times faster than wall time from the moment the clock is created.
    ``speed=None``: virtual time only moves when :meth:`advance_to` is called (the dispatcher jumps it to the next
    instant it needs, as fast as the consumer keeps up). Virtual time never goes
    backwards. All methods are thread-safe.
    """

    def __init__(
        self, start_ns: int, speed: float | None = 1.0, *, wall_ns: Callable[[], int] = time.monotonic_ns
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be a positive number or None (as fast as possible), got {speed!r}")
        self._wall_ns = wall_ns
        self._speed = None if speed is None else float(speed)
        self._cond = threading.Condition(threading.Lock())
        self._start_ns = int(start_ns)
        self._wall0 = wall_ns()
        self._virtual = int(start_ns)

    @property
    def speed(self) -> float | None:
        return self._speed

    @property
    def as_fast_as_possible(self) -> bool:
        return self._speed is None

    def now_ns(self) -> int:
        if self._speed is None:
            return self._virtual
        with self._cond:
            return self._start_ns + int((self._wall_ns() - self._wall0) * self._speed)

    def advance_to(self, target_ns: int) -> int:
        """Jump virtual time to ``target_ns`` (as-fast-as-possible clocks only; never backwards). Returns now."""
        if self._speed is not None:
            raise RuntimeError("advance_to is for as-fast-as-possible replay clocks (speed=None)")
        with self._cond:
            if target_ns > self._virtual:
                self._virtual = int(target_ns)
                self._cond.notify_all()
            return self._virtual

    def jump_to(self, target_ns: int) -> int:
        """Move virtual time forward to ``target_ns`` at once, for either kind of clock (a ``speed`` clock then runs
        on from there at its speed). Never backwards. Returns now.

        A replay jumps over the closed market this way (see :func:`closed_market_jump`); whoever shares the clock
        (the embedded gateway) sees the same jump an as-fast-as-possible clock makes from one event to the next.
        """
        if self._speed is None:
            return self.advance_to(target_ns)
        with self._cond:
            now = self._start_ns + int((self._wall_ns() - self._wall0) * self._speed)
            if target_ns > now:
                self._start_ns += int(target_ns) - now
                self._cond.notify_all()
            return self._start_ns + int((self._wall_ns() - self._wall0) * self._speed)

    def wait_until(self, target_ns: int, stop: threading.Event | None = None, timeout_s: float | None = None) -> bool:
        """Block until virtual time reaches ``target_ns``. False if ``stop`` was set or ``timeout_s`` (wall
        seconds) passed first."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            remaining = target_ns - self.now_ns()
            if remaining <= 0:
                return True
            if stop is not None and stop.is_set():
                return False
            wait = 0.05 if self._speed is None else remaining / self._speed / _NS_PER_S
            wait = min(wait, 0.25)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                wait = min(wait, left)
            if self._speed is None:
                with self._cond:
                    if self._virtual < target_ns:
                        self._cond.wait(wait)
            elif stop is not None:
                stop.wait(min(wait, 0.05))
            else:
                with self._cond:  # a jump_to wakes the wait
                    self._cond.wait(wait)

    def __repr__(self) -> str:
        return f"ReplayClock(now_ns={self.now_ns()}, speed={self._speed})"


def closed_market_jump(opens: np.ndarray, closes: np.ndarray) -> Callable[[int, int], int | None]:
    """For a replay: given the clock's ``now`` and the next fire instant, where to jump the clock to, or None.

    While the market is closed (before a session's open, after its close, weekends, holidays, by the sessions'
    ``opens``/``closes``, int64 ns UTC), the clock jumps to the next fire instant or the next open, whichever is
    first; during a session it runs at its speed.
    """

    def jump(now_ns: int, target_ns: int) -> int | None:
        i = int(np.searchsorted(closes, now_ns, side="left"))  # the first session not closed yet
        if i < len(opens) and int(opens[i]) <= now_ns:
            return None  # the market is open
        to = min(target_ns, int(opens[i])) if i < len(opens) else target_ns
        return to if to > now_ns else None

    return jump


@dataclass(frozen=True, slots=True)
class Tick:
    """A wake-up for the engine: the fire instant ``ns`` was reached (posted at ``posted_ns`` by the clock)."""

    ns: int
    posted_ns: int = 0

    @property
    def late_ns(self) -> int:
        return self.posted_ns - self.ns


class _PostingExecutor(BaseExecutor):
    """Runs the dispatcher's job inline on the scheduler thread with the scheduled run times (posting a tick is
    a queue put, so there is nothing to hand to a thread pool, and the hop would only add latency)."""

    def _do_submit_job(self, job: Job, run_times: list[_dt.datetime]) -> None:
        try:
            job.func(run_times=run_times)
        except BaseException:
            self._run_job_error(job.id, *sys.exc_info()[1:])
        else:
            self._run_job_success(job.id, [])


class _JobTrigger(InstantTrigger):
    """The dispatcher's private view of its trigger, as APScheduler sees it.

    - When the trigger has nothing more, it wakes up daily instead of ending: APScheduler removes a job whose
      trigger is exhausted (and that removal races with a concurrent shutdown); the job stays ready for a rebuild.
    - After a rebuild at a horizon wake-up, the next search includes the wake-up instant itself (a fire exactly at
      the old horizon was not trusted before the rebuild and must not be lost after it).
    """

    def __init__(self, inner: InstantTrigger) -> None:
        super().__init__(inner.tz)
        self.inner = inner
        self._resume_from: int | None = None

    def resume_from(self, ns: int) -> None:
        self._resume_from = ns

    def next_ns(self, after_ns: int) -> int | None:
        resume, self._resume_from = self._resume_from, None
        if resume is not None:
            after_ns = min(after_ns, resume - 1)
        t = self.inner.next_ns(after_ns)
        return t if t is not None else after_ns + NS_PER_DAY

    def is_fire_ns(self, ns: int) -> bool:
        return self.inner.is_fire_ns(ns)


class LiveDispatcher:
    """Posts ``Tick(ns)`` to ``post`` at every fire instant of ``trigger``, in order, once each.

    ``clock`` is a :class:`WallClock` (default; an APScheduler BackgroundScheduler in the exchange time zone drives
    one job) or a :class:`ReplayClock` (a thread loop drives the same trigger in virtual time). For an
    as-fast-as-possible replay clock, ``wait_idle`` (e.g. ``queue.join``) is called before each jump so that the
    consumer has handled the previous tick before time moves on.

    Triggers with a builder are rebuilt every ``rebuild_every_ns`` (default daily; None: only when a trigger
    reaches its horizon), on the wall clock in a helper thread so that dispatch is not delayed by building a
    calendar, in a replay inline (virtual time waits for it; pass None for fast replays over long periods).
    At a horizon wake-up the rebuild is immediate, because the next fire time depends on it.
    Late fires are never dropped or merged here: each one is posted, and the engine's misfire policy decides.
    ``jump`` (replay clocks at a speed): asked before each wait where to jump the clock (e.g.
    :func:`closed_market_jump`, over the closed market); ``wait_idle`` is then called before the jump.
    """

    JOB_ID = "ibalgo-dispatcher"

    def __init__(
        self,
        trigger: InstantTrigger,
        post: Callable[[Tick], object],
        clock: Clock | None = None,
        *,
        wait_idle: Callable[[], object] | None = None,
        rebuild_every_ns: int | None = NS_PER_DAY,
        jump: Callable[[int, int], int | None] | None = None,
    ) -> None:
        self.trigger = trigger
        self.clock: Clock = clock if clock is not None else WallClock()
        self._post = post
        self._wait_idle = wait_idle
        self._jump = jump
        self.jumped_ns = 0
        self._rebuild_every_ns = rebuild_every_ns
        self._stop = threading.Event()
        self._scheduler: BackgroundScheduler | None = None
        self._thread: threading.Thread | None = None
        self._rebuilding = threading.Lock()
        self._next_background_rebuild_ns = 0
        self._job_trigger = _JobTrigger(trigger)
        self.posted = 0

    @property
    def running(self) -> bool:
        return (self._scheduler is not None and self._scheduler.running) or (
            self._thread is not None and self._thread.is_alive()
        )

    def start(self) -> None:
        if self.running:
            raise RuntimeError("the dispatcher is already running")
        self._stop.clear()
        if isinstance(self.clock, ReplayClock):
            self._thread = threading.Thread(target=self._replay_loop, name="ibalgo-replay-dispatcher", daemon=True)
            self._thread.start()
            return
        scheduler = BackgroundScheduler(
            timezone=self.trigger.tz,
            executors={"default": _PostingExecutor()},
            job_defaults={"coalesce": False, "max_instances": 1, "misfire_grace_time": None},
        )
        self._job_trigger = _JobTrigger(self.trigger)
        scheduler.add_job(self._on_fire, trigger=self._job_trigger, id=self.JOB_ID, name="dispatcher")
        scheduler.start()
        self._scheduler = scheduler

    def stop(self, wait: bool = True, timeout_s: float = 5.0) -> None:
        """Stop dispatching. Ticks already posted stay posted."""
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None
        if self._thread is not None:
            if wait:
                self._thread.join(timeout_s)
            self._thread = None

    def __enter__(self) -> LiveDispatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------------------------------------- posting
    def _handle(self, ns: int) -> int | None:
        """Post the tick for instant ``ns``, or, at a horizon wake-up, rebuild the schedule at once.

        Returns the instant the next search must start from (inclusive) when a rebuild moved the horizon: fire
        times at or after the old horizon were not trusted before and must not be lost now. Otherwise None.
        """
        if self.trigger.is_fire_ns(ns):
            try:
                self._post(Tick(ns, self.clock.now_ns()))
                self.posted += 1
                time.sleep(0)  # let the consumer take the GIL now rather than after this thread blocks
            except Exception:
                log.exception("posting the tick for %s failed", ns)
            return None
        if not self.trigger.needs_rebuild(ns):
            return None
        # The horizon is reached: the next fire time depends on the new arrays, so rebuild right here.
        old = self.trigger.horizon_ns()
        if not self._rebuild(ns):
            return None
        new = self.trigger.horizon_ns()
        if old is not None and new is not None and new <= old:
            log.warning("the schedule's horizon did not move on rebuild; retrying later")
            return None
        return ns if old is None else min(ns, old)

    def _on_fire(self, run_times: list[_dt.datetime] | None = None) -> None:
        """APScheduler job body (scheduler thread): one tick per scheduled run time, then maintenance."""
        for run_time in run_times or ():
            resume = self._handle(self.trigger.exact_ns(run_time))
            if resume is not None:
                self._job_trigger.resume_from(resume)
        now = self.clock.now_ns()
        if (
            now >= self._next_background_rebuild_ns
            and not self._rebuilding.locked()
            and self.trigger.needs_rebuild(now, self._rebuild_every_ns)
        ):
            # At most one attempt per retry interval, so a failing builder is not hammered on every fire.
            self._next_background_rebuild_ns = now + min(DEFAULT_RETRY_NS, self._rebuild_every_ns or DEFAULT_RETRY_NS)
            threading.Thread(target=self._rebuild_in_background, args=(now,), daemon=True).start()

    def _rebuild(self, now_ns: int) -> bool:
        with self._rebuilding:
            try:
                self.trigger.rebuild(now_ns)
                return True
            except Exception:
                log.exception("rebuilding the schedule failed; keeping the previous fire times and retrying later")
                return False

    def _rebuild_in_background(self, now_ns: int) -> None:
        if self._rebuild(now_ns) and self._scheduler is not None and not self._stop.is_set():
            try:
                self._scheduler.reschedule_job(self.JOB_ID, trigger=self._job_trigger)
            except Exception:
                log.exception("rescheduling the dispatcher after a rebuild failed")

    # -------------------------------------------------------------------------------------------- replay loop
    def _replay_loop(self) -> None:
        clock = self.clock
        assert isinstance(clock, ReplayClock)
        previous: int | None = None
        while not self._stop.is_set():
            after = previous if previous is not None else clock.now_ns() - 1
            target = self.trigger.next_ns(after)
            if target is None:
                log.info("the schedule has no further fire times; the replay dispatcher stops")
                return
            if clock.as_fast_as_possible:
                if self._wait_idle is not None:
                    self._wait_idle()
                if self._stop.is_set():
                    return
                clock.advance_to(target)
            else:
                to = self._jump(clock.now_ns(), target) if self._jump is not None else None
                if to is not None:
                    if self._wait_idle is not None:
                        self._wait_idle()  # what happened before the jump is handled at its own time
                    if self._stop.is_set():
                        return
                    before = clock.now_ns()
                    self.jumped_ns += max(clock.jump_to(to) - before, 0)
                if not clock.wait_until(target, self._stop):
                    return
            resume = self._handle(target)
            previous = target if resume is None else resume - 1
            if self.trigger.needs_rebuild(target, self._rebuild_every_ns):
                self._rebuild(target)  # virtual time: rebuilding inline does not make anything late
