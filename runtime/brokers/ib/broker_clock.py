"""Round trips through ``reqCurrentTime``, and the broker's time they carry.

:class:`RoundTrips` is the barrier: ibapi handles messages in the order TWS sent them, so once the answer to a
``reqCurrentTime`` is in, every message sent before it (fills, commissions, quotes) has been handled too. Each answer
also carries the broker's time (whole seconds): a :class:`ClockFollower` (the run's clock on TWS / IB Gateway,
:class:`runtime.live.broker_clock.BrokerClock`) is synced with it. The adapter asks at each connection, every
:data:`RESYNC_S` seconds and at each barrier.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

#: seconds between two unsolicited syncs of a following clock
RESYNC_S = 30.0


class ClockFollower(Protocol):
    """A clock that follows the broker's time."""

    def sync(self, epoch_s: int, sent_mono_ns: int, received_mono_ns: int) -> None:
        """An answer ``epoch_s`` to a request sent at ``sent_mono_ns`` and handled at ``received_mono_ns``."""

    def restart(self) -> None:
        """A new connection (the broker may be another process, at another time)."""


class RoundTrips:
    """``reqCurrentTime`` requests in flight (FIFO, as TWS answers them); each answer syncs the broker clock."""

    def __init__(self, clock: ClockFollower | None = None, mono_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.clock = clock
        self._mono = mono_ns
        self._lock = threading.Lock()
        self._waiting: deque[tuple[int, threading.Event | None]] = deque()

    def sent(self, waiter: threading.Event | None = None) -> tuple[int, threading.Event | None]:
        """Note a request about to be sent (``waiter`` is set when its answer is in)."""
        entry = (self._mono(), waiter)
        with self._lock:
            self._waiting.append(entry)
        return entry

    def withdraw(self, entry: tuple[int, threading.Event | None]) -> None:
        """A request that was not sent, or whose waiter gave up."""
        with self._lock:
            if entry in self._waiting:
                self._waiting.remove(entry)

    def answered(self, epoch_s: int) -> None:
        """An answer (message thread): sync the clock, release the oldest waiter."""
        now = self._mono()
        with self._lock:
            entry = self._waiting.popleft() if self._waiting else None
        sent = entry[0] if entry is not None else now
        if self.clock is not None:
            self.clock.sync(epoch_s, sent, now)
        if entry is not None and entry[1] is not None:
            entry[1].set()

    def lost(self) -> None:
        """The connection is gone: no answer will come; every waiter is released."""
        with self._lock:
            waiting, self._waiting = list(self._waiting), deque()
        for _, waiter in waiting:
            if waiter is not None:
                waiter.set()
