"""The run's clock on TWS / IB Gateway: the broker's time.

IB's ``currentTime`` (whole seconds, answered to the adapter's ``reqCurrentTime``: see
:mod:`runtime.brokers.ib.broker_clock`) carried forward with the local monotonic clock between answers. TWS answers
the real time, so the clock is the wall clock corrected by any offset; a replaying ``ibalgo gateway`` answers its
replay time, which may run N times faster than real time, so the rate is measured over the answers of one connection
(taken as 1 when the answers are within their whole seconds and 2 % of real time). From the first answer on
the clock never goes backwards; until then it is the wall clock.

It is driven like a replay clock at its measured speed (the live loop waits on it for each fire time), but never
jumps or advances on request: the broker's time is the broker's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from runtime.engine.clocks import ReplayClock

_NS = 1_000_000_000
#: a measured rate within this of 1.0 is taken as real time
REAL_TIME_TOLERANCE = 0.02
#: the shortest baseline (wall seconds) over which a rate is measured
MIN_RATE_BASELINE_S = 3.0


class BrokerClock(ReplayClock):
    """The broker's time (see the module docstring); thread-safe."""

    def __init__(self, mono_ns: Callable[[], int] = time.monotonic_ns,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        super().__init__(wall_ns(), speed=1.0, wall_ns=mono_ns)
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
                return self._wall()  # not the broker's time yet: the monotonic guarantee starts at the first answer
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

    @property
    def speed(self) -> float | None:
        return self._rate

    @property
    def as_fast_as_possible(self) -> bool:
        return False

    def advance_to(self, target_ns: int) -> int:
        """The broker's time does not move on request: returns the time now."""
        return self.now_ns()

    def jump_to(self, target_ns: int) -> int:
        """The broker's time does not jump on request: returns the time now."""
        return self.now_ns()

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
                    # real time unless the answers are more than their whole seconds (and 2 %) away from it
                    real = abs((broker - b0) - span) <= int(1.5 * _NS) + REAL_TIME_TOLERANCE * span
                    self._rate = 1.0 if real else (broker - b0) / span
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

    def wait_until(self, target_ns: int, stop: threading.Event | None = None, timeout_s: float | None = None) -> bool:
        """Sleep until the broker's time reaches ``target_ns``; False if ``stop`` was set or ``timeout_s`` passed
        first."""
        stop = stop or threading.Event()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            remaining = target_ns - self.now_ns()
            if remaining <= 0:
                return True
            step = min(remaining / _NS / max(self._rate, 1e-9), 0.5)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                step = min(step, left)
            if stop.wait(step):
                return False

    def __repr__(self) -> str:
        return f"BrokerClock(rate={self._rate:g}, syncs={self.syncs})"


