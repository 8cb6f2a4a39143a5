"""The request registry: one future per outstanding request id, completed from the reader thread.

Request ids start at :data:`FIRST_REQUEST_ID` (one billion), far above any order id TWS hands out, so an error
message's id field tells at once whether it names a request or an order.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from runtime.brokers.ib.errors import IBError, IBRequestCancelled, IBTimeoutError

FIRST_REQUEST_ID = 1_000_000_000


@dataclass
class _Pending:
    what: str
    future: Future[Any]
    rows: list[Any] = field(default_factory=list)
    error_factory: Callable[[int, str, int], IBError] | None = None


class RequestRegistry:
    """reqId -> future. Thread-safe; callbacks add rows and finish, callers wait with a timeout."""

    def __init__(self, first_id: int = FIRST_REQUEST_ID) -> None:
        self._ids = itertools.count(first_id)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()

    def next_id(self) -> int:
        """A fresh request id (also for streaming subscriptions that have no future)."""
        with self._lock:
            return next(self._ids)

    def open(self, what: str, error_factory: Callable[[int, str, int], IBError] | None = None,
             req_id: int | None = None) -> tuple[int, Future[Any]]:
        """Register a request: returns its id and the future its answer completes."""
        fut: Future[Any] = Future()
        with self._lock:
            rid = next(self._ids) if req_id is None else req_id
            self._pending[rid] = _Pending(what, fut, error_factory=error_factory)
        return rid, fut

    def __contains__(self, req_id: int) -> bool:
        with self._lock:
            return req_id in self._pending

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def add_row(self, req_id: int, row: Any) -> bool:
        """Append a row to a multi-row answer (contract details, bars, executions...)."""
        with self._lock:
            p = self._pending.get(req_id)
            if p is None:
                return False
            p.rows.append(row)
            return True

    def finish(self, req_id: int, result: Any = None) -> bool:
        """Complete a request with ``result`` (default: the rows collected)."""
        with self._lock:
            p = self._pending.pop(req_id, None)
        if p is None or p.future.done():
            return False
        p.future.set_result(p.rows if result is None else result)
        return True

    def fail(self, req_id: int, code: int, text: str) -> bool:
        """Fail a request with IB's error; False if no such request is pending."""
        with self._lock:
            p = self._pending.pop(req_id, None)
        if p is None or p.future.done():
            return False
        factory = p.error_factory
        exc = factory(code, text, req_id) if factory else IBError.from_ib(code, text, req_id, p.what)
        p.future.set_exception(exc)
        return True

    def fail_all(self, reason: str) -> int:
        """Fail every pending request (the connection is gone); returns how many there were."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for rid, p in pending.items():
            if not p.future.done():
                p.future.set_exception(IBRequestCancelled(f"{p.what}: {reason}", None, reason, rid))
        return len(pending)

    def drop(self, req_id: int) -> None:
        """Forget a request (its caller gave up)."""
        with self._lock:
            self._pending.pop(req_id, None)

    def wait(self, req_id: int, future: Future[Any], timeout: float, what: str) -> Any:
        """The request's result; IBTimeoutError after ``timeout`` seconds (the request is then forgotten)."""
        try:
            return future.result(timeout)
        except FutureTimeout:
            self.drop(req_id)
            raise IBTimeoutError(f"{what}: no answer from TWS / IB Gateway within {timeout:g} s "
                                 "(is it busy, or the data farm down?)", None, "", req_id) from None
