"""Outbound pacing: stay inside IB's limits instead of being told off (error 100, error 162).

- :class:`TokenBucket`: at most ``rate`` messages per second with a small burst; ``acquire`` waits for a token.
- :class:`HistoricalPacer`: IB's historical-data rules (no identical request within 15 s; fewer than 6 requests
  for one contract/exchange/tick type within 2 s; at most 60 requests in any 10 minutes; BID_ASK counts twice).
  ``delay`` says how long a request must wait; the adapter queues it for that long rather than violate a rule.

Both take the clock as an argument (``time.monotonic`` by default) so the rules are tested without waiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

MAX_MESSAGES_PER_SECOND = 50
#: What the adapter uses: a little below IB's 50/s, as the clocks of two machines never agree exactly.
DEFAULT_RATE = 45.0
IDENTICAL_WINDOW_S = 15.0
BURST_WINDOW_S = 2.0
BURST_LIMIT = 5  # IB: "six or more" is a violation, so at most five
TEN_MINUTES_S = 600.0
TEN_MINUTE_LIMIT = 60


class TokenBucket:
    """A thread-safe token bucket: ``rate`` tokens per second, at most ``burst`` stored."""

    def __init__(self, rate: float = DEFAULT_RATE, burst: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self) -> float:
        """Take a token if one is there (returns 0.0), else return the seconds until one will be."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            if self._tokens >= 1.0 - 1e-9:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Wait until a token is available and take it; returns the seconds waited."""
        waited = 0.0
        while True:
            wait = self.try_take()
            if wait <= 0.0:
                self.waited_s += waited
                return waited
            sleep(wait)
            waited += wait


@dataclass(frozen=True)
class HistoryKey:
    """What IB's pacing rules look at in a historical request."""

    identity: Hashable  # every parameter: identical requests have equal identities
    family: Hashable  # (contract, exchange, whatToShow)
    weight: int = 1  # BID_ASK counts twice


class HistoricalPacer:
    """IB's historical-data pacing rules as a schedule: when may the next request go out?"""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent: deque[tuple[float, HistoryKey]] = deque()
        self._lock = threading.RLock()

    def _prune(self, now: float) -> None:
        while self._sent and now - self._sent[0][0] >= TEN_MINUTES_S:
            self._sent.popleft()

    def delay(self, key: HistoryKey, now: float | None = None) -> float:
        """Seconds to wait before ``key`` may be sent (0.0: now)."""
        with self._lock:
            now = self._clock() if now is None else now
            self._prune(now)
            wait = 0.0
            for t, k in self._sent:
                if k.identity == key.identity:
                    wait = max(wait, t + IDENTICAL_WINDOW_S - now)
            burst = [t for t, k in self._sent for _ in range(k.weight) if k.family == key.family and
                     now - t < BURST_WINDOW_S]
            if len(burst) + key.weight > BURST_LIMIT:
                # wait until enough of the burst has aged out
                idx = len(burst) + key.weight - BURST_LIMIT - 1
                wait = max(wait, sorted(burst)[idx] + BURST_WINDOW_S - now)
            total = sum(k.weight for _, k in self._sent)
            if total + key.weight > TEN_MINUTE_LIMIT:
                stamps = sorted(t for t, k in self._sent for _ in range(k.weight))
                idx = total + key.weight - TEN_MINUTE_LIMIT - 1
                wait = max(wait, stamps[idx] + TEN_MINUTES_S - now)
            return max(wait, 0.0)

    def record(self, key: HistoryKey, now: float | None = None) -> None:
        """Note that ``key`` was sent."""
        with self._lock:
            now = self._clock() if now is None else now
            self._prune(now)
            self._sent.append((now, key))

    def reserve(self, key: HistoryKey) -> float:
        """Atomically: the wait for ``key`` and, if it is zero, record it as sent. Returns the wait."""
        with self._lock:
            wait = self.delay(key)
            if wait <= 0.0:
                self.record(key)
            return wait
