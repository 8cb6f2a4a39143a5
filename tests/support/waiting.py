"""Waiting in cross-thread tests: on a predicate with a timeout, never on fixed sleeps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll ``predicate`` (for state that has no event of its own) until it is true (True) or ``timeout`` seconds
    pass (False)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.01)
    return True
