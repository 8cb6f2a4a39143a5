"""The watchdog of a paper or live run: algorithm code that does not return (an endless loop in ``handle_data``).

A thread looks at the engine every ``check_s``: when one user call has been running for ``after_s`` it logs, at
WARNING, the phase and the algorithm's file:line where the engine thread is (from that thread's stack), and again
every ``after_s`` while it stays stuck. The broker connection stays up meanwhile (the adapter has its own threads);
a stop request (Ctrl-C, SIGTERM) interrupts the stuck call (:meth:`Watchdog.interrupt`: an exception raised in the
engine thread, reported like the algorithm's own, so the run then stops cleanly); with ``strict`` the watchdog
ends the run itself the first time it finds the call stuck.

Only Python code can be interrupted: a call stuck inside a C extension (a long numpy operation, a blocking socket)
is reported but raises only when it returns to Python.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger("ibalgo.live")


class AlgorithmStuckError(Exception):
    """Raised in the engine thread to end algorithm code that does not return (strict runs, stop requests)."""


def algorithm_location(frame: FrameType | None, path: str) -> tuple[str, int, str] | None:
    """The innermost frame of ``frame``'s stack in the algorithm file ``path``: (file name, line, function)."""
    target = str(Path(path).resolve())
    found = None
    f = frame
    while f is not None:
        name = f.f_code.co_filename
        if name == path or (name and str(Path(name).resolve()) == target):
            found = (Path(name).name, f.f_lineno, f.f_code.co_name)
            break
        f = f.f_back
    return found


class Watchdog:
    """See the module docstring. ``engine`` is the run's Engine (its ``user_call`` attribute is read)."""

    def __init__(self, engine: Any, after_s: float, *, strict: bool = False, check_s: float | None = None) -> None:
        self.engine = engine
        self.after_s = after_s
        self.strict = strict
        self.check_s = check_s if check_s is not None else min(1.0, max(after_s / 4, 0.05))
        self.reports = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: tuple[int, float] | None = None  # (call id, when last reported)
        self._raised: set[int] = set()

    def start(self) -> None:
        if self.after_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="ibalgo-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.wait(self.check_s):
            self.check(time.monotonic())

    def check(self, now: float) -> bool:
        """Report (and with ``strict``, end) a user call running for ``after_s`` or more; True if one is stuck."""
        call = self.engine.user_call
        if call is None:
            return False
        call_id, started, phase, thread_id = call
        running = now - started
        if running < self.after_s:
            return False
        if self._reported is not None and self._reported[0] == call_id and now - self._reported[1] < self.after_s:
            return True
        self._reported = (call_id, now)
        self.reports += 1
        frame = sys._current_frames().get(thread_id)
        where = algorithm_location(frame, self.engine.functions.path)
        at = f"at {where[0]}:{where[1]} (in {where[2]})" if where else "outside the algorithm file (in a library)"
        log.warning("%s has been running for %.1f s without returning, %s; the broker connection stays up, open "
                    "orders keep working. Ctrl-C stops the run; --strict ends it", phase, running, at)
        if self.strict:
            self._raise(call_id, thread_id, f"{phase} did not return within {self.after_s:g} s ({at}); the run "
                                            "is strict (--strict), so it ends")
        return True

    def interrupt(self, reason: str) -> bool:
        """End the user call running now (a stop request while algorithm code runs); False if none runs."""
        call = self.engine.user_call
        if call is None:
            return False
        call_id, _started, phase, thread_id = call
        self._raise(call_id, thread_id, f"{phase} interrupted: {reason}")
        return True

    def _raise(self, call_id: int, thread_id: int, text: str) -> None:
        if call_id in self._raised:
            return
        self._raised.add(call_id)
        # CPython raises an exception class in another thread; this one carries the text
        error = type("AlgorithmStuckError", (AlgorithmStuckError,), {"__str__": lambda self: text,
                                                                     "__module__": __name__})
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(error))
