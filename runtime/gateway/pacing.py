"""IB's historical-data pacing rules, enforced with error 162.

- no identical request within 15 seconds;
- no six or more requests for the same contract, exchange and tick type within two seconds;
- no more than 60 requests within any ten minutes;
- at most 50 requests open at once (keepUpToDate subscriptions stay open);
- a BID_ASK request counts twice.
Time is wall time (``time.monotonic``): pacing is about how fast a client asks, whatever the replay speed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

IDENTICAL_WINDOW_S = 15.0
BURST_WINDOW_S = 2.0
BURST_LIMIT = 6
TEN_MINUTES_S = 600.0
TEN_MINUTE_LIMIT = 60
OPEN_LIMIT = 50
VIOLATION_TEXT = "Historical Market Data Service error message:Historical data request pacing violation"


@dataclass(frozen=True)
class PacingDecision:
    allowed: bool
    reason: str = ""


class HistoryPacingRules:
    """Remembers recent historical requests and says whether a new one violates IB's pacing."""

    def __init__(self, enabled: bool = True, now: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self._now = now
        self._recent: deque[tuple[float, Hashable, Hashable]] = deque()
        self.open_requests = 0
        self.force_next = 0

    def check(self, identity: Hashable, family: Hashable, weight: int = 1) -> PacingDecision:
        """Record a request (``identity``: all its parameters; ``family``: contract, exchange, tick type)."""
        now = self._now()
        recent = self._recent
        while recent and now - recent[0][0] > TEN_MINUTES_S:
            recent.popleft()
        if self.force_next > 0:
            self.force_next -= 1
            return PacingDecision(False, f"{VIOLATION_TEXT} (forced)")
        if not self.enabled:
            return PacingDecision(True)
        if any(i == identity and now - t < IDENTICAL_WINDOW_S for t, i, _ in recent):
            return PacingDecision(False, f"{VIOLATION_TEXT}: identical request within {IDENTICAL_WINDOW_S:g} s")
        burst = sum(1 for t, _, f in recent if f == family and now - t < BURST_WINDOW_S)
        if burst + weight >= BURST_LIMIT:
            return PacingDecision(False, f"{VIOLATION_TEXT}: {BURST_LIMIT} or more requests for the same contract "
                                  f"and tick type within {BURST_WINDOW_S:g} s")
        if len(recent) + weight > TEN_MINUTE_LIMIT:
            return PacingDecision(False, f"{VIOLATION_TEXT}: more than {TEN_MINUTE_LIMIT} requests within ten "
                                  "minutes")
        if self.open_requests >= OPEN_LIMIT:
            return PacingDecision(False, f"{VIOLATION_TEXT}: {OPEN_LIMIT} requests are already open")
        for _ in range(weight):
            recent.append((now, identity, family))
        return PacingDecision(True)
