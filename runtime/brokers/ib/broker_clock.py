"""The broker's clock, and round trips through ``reqCurrentTime``.

:class:`BrokerClock` is the time of a run on TWS / IB Gateway: IB's ``currentTime`` (whole seconds) carried forward
with the local monotonic clock between answers. TWS answers the real time, so the clock is the wall clock corrected
by any offset; a replaying ``ibalgo gateway`` answers its replay time, which may run N times faster than real time,
so the rate is measured over the answers of one connection (and snapped to 1 when within 2 % of it: the answers'
whole seconds make short measurements coarse). The clock never goes backwards. Every answer syncs it: the adapter asks
at each connection (first and reconnects), every :data:`RESYNC_S` seconds, and at each round-trip barrier.

:class:`RoundTrips` is the barrier: ibapi handles messages in the order TWS sent them, so once the answer to a
``reqCurrentTime`` is in, every message sent before it (fills, commissions, quotes) has been handled too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

_NS = 1_000_000_000
#: seconds between two unsolicited syncs of the broker's clock
RESYNC_S = 30.0
#: a measured rate within this of 1.0 is taken as real time
REAL_TIME_TOLERANCE = 0.02
#: the shortest baseline (wall seconds) over which a rate is measured
MIN_RATE_BASELINE_S = 3.0


class BrokerClock:
    """The broker's time (see the module docstring); thread-safe."""

    def __init__(self, mono_ns: Callable[[], int] = time.monotonic_ns,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        self._mono = mono_ns
        self._lock = threading.Lock()
        self._anchor: tuple[int, int] | None = None  # (monotonic ns, broker ns) of the latest answer
        self._first: tuple[int, int] | None = None  # the first answer of this connection (the rate's baseline)
        self._rate = 1.0
        self._last = 0
        self._wall = wall_ns
        self.synced = threading.Event()
        self.syncs = 0

    def now_ns(self) -> int:
        """The broker's time now (the wall clock until the first answer), int64 ns UTC, never decreasing."""
        with self._lock:
            if self._anchor is None:
                now = self._wall()
            else:
                mono, broker = self._anchor
                now = broker + int((self._mono() - mono) * self._rate)
            if now < self._last:
                return self._last
            self._last = now
            return now

    @property
    def rate(self) -> float:
        """Broker seconds per local second (1.0 for TWS; N for a replay at N x real time)."""
        return self._rate

    def sync(self, epoch_s: int, sent_mono_ns: int, received_mono_ns: int) -> None:
        """An answer of ``reqCurrentTime`` sent at ``sent_mono_ns`` and handled at ``received_mono_ns``."""
        mono = (sent_mono_ns + received_mono_ns) // 2
        broker = int(epoch_s) * _NS + _NS // 2  # the answer truncates to the whole second: its middle
        with self._lock:
            if self._first is None:
                self._first = (mono, broker)
            else:
                m0, b0 = self._first
                span = mono - m0
                if span >= MIN_RATE_BASELINE_S * _NS and broker > b0:
                    rate = (broker - b0) / span
                    self._rate = 1.0 if abs(rate - 1.0) <= REAL_TIME_TOLERANCE else rate
            if self._anchor is not None:
                # keep within the answer's second: a carried-forward time inside it is as good and keeps steps small
                predicted = self._anchor[1] + int((mono - self._anchor[0]) * self._rate)
                if abs(predicted - broker) < _NS // 2:
                    broker = predicted
            self._anchor = (mono, broker)
            self.syncs += 1
        self.synced.set()

    def restart(self) -> None:
        """A new connection: the rate is measured again (a gateway may have restarted at another time)."""
        with self._lock:
            self._first = None

    def wait_until(self, target_ns: int, stop: threading.Event | None = None) -> bool:
        """Sleep until the broker's time reaches ``target_ns``; False if ``stop`` was set first."""
        stop = stop or threading.Event()
        while True:
            remaining = target_ns - self.now_ns()
            if remaining <= 0:
                return True
            if stop.wait(min(remaining / _NS / max(self._rate, 1e-9), 0.5)):
                return False

    def __repr__(self) -> str:
        return f"BrokerClock(rate={self._rate:g}, syncs={self.syncs})"


class RoundTrips:
    """``reqCurrentTime`` requests in flight (FIFO, as TWS answers them); each answer syncs the broker clock."""

    def __init__(self, clock: BrokerClock | None = None, mono_ns: Callable[[], int] = time.monotonic_ns) -> None:
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
