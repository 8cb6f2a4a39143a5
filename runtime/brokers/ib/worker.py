"""The adapter's own background thread: timed and queued tasks that must not run on ibapi's message thread.

The message thread only records what arrives; anything that SENDS (resubscribing after 1101, reconciling after a
reconnect, the reconnect attempts themselves) or waits (flushing a fill whose commission report is late) is handed
to this worker. One thread, tasks in due-time order; a failing task is logged and the worker goes on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Worker:
    """A daemon thread running ``call_soon`` / ``call_later`` tasks in due order."""

    def __init__(self, name: str = "ibalgo-ib-worker") -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay_s: float, task: Callable[[], None]) -> None:
        """Run ``task`` on the worker after ``delay_s`` seconds."""
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._heap, (time.monotonic() + max(delay_s, 0.0), next(self._seq), task))
            self._cond.notify()

    def call_soon(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the worker as soon as it is free."""
        self.call_later(0.0, task)

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def in_worker(self) -> bool:
        """Whether the caller runs on the worker thread."""
        return threading.current_thread() is self._thread

    def stop(self, timeout: float = 2.0) -> None:
        """Stop after the running task (pending tasks are dropped)."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        if not self.in_worker:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = None if not self._heap else self._heap[0][0] - time.monotonic()
                    self._cond.wait(wait)
                if self._stopped:
                    return
                _, _, task = heapq.heappop(self._heap)
            try:
                task()
            except Exception:
                log.exception("IB adapter background task failed")
