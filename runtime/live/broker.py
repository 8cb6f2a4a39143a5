"""The broker side of paper and live runs.

- :class:`SyncedIBBroker`: the IB adapter plus :meth:`~SyncedIBBroker.barrier`, a ``reqCurrentTime`` round trip.
  ibapi handles messages in the order TWS sent them, so once the answer is in, every message sent before it (fills,
  commissions, quotes) has been handled too.
- :class:`EventInbox`: where the adapter's events wait for the engine thread (thread-safe).
- :class:`EngineBroker`: the :class:`~runtime.brokers.base.Broker` the engine talks to: it journals each order
  before it is sent (every order of a bracket before any of them), logs each order's lifecycle, and forwards cost
  models to an in-process simulated gateway. It sends each order exactly as the engine recorded it (the daily-bar
  market-on-close rule is the engine's order policy, :class:`~runtime.core.orders.DailyCloseAuction`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from runtime.brokers.base import BrokerEvent, OrderRequest
from runtime.brokers.ib.broker import IBBroker
from runtime.brokers.ib.orders import KnownOrder
from runtime.core.costs import CommissionModel, SlippageModel
from runtime.core.orders import TimeInForce
from runtime.journal import Journal, JournalOrder

log = logging.getLogger("ibalgo.orders")


class SyncedIBBroker(IBBroker):
    """:class:`IBBroker` with a round-trip barrier (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._barriers: deque[threading.Event] = deque()
        self._barrier_lock = threading.Lock()

    def _h_current_time(self, epoch_s: int) -> None:
        with self._barrier_lock:
            waiter = self._barriers.popleft() if self._barriers else None
        if waiter is not None:
            waiter.set()

    _handlers: ClassVar[dict[str, Callable[..., None]]] = {**IBBroker._handlers, "current_time": _h_current_time}

    def on_lost(self, reason: str, code: int | None) -> None:
        with self._barrier_lock:
            waiting, self._barriers = list(self._barriers), deque()
        for waiter in waiting:  # their answers will never come
            waiter.set()
        super().on_lost(reason, code)

    def barrier(self, timeout_s: float = 10.0) -> bool:
        """Wait until every message TWS sent so far has been handled; False if disconnected or timed out."""
        client = self.conn.client
        if client is None or not self.is_connected():
            return False
        waiter = threading.Event()
        with self._barrier_lock:
            self._barriers.append(waiter)
        try:
            client.reqCurrentTime()
        except Exception:
            with self._barrier_lock:
                if waiter in self._barriers:
                    self._barriers.remove(waiter)
            return False
        if waiter.wait(timeout_s):
            return True
        with self._barrier_lock:
            if waiter in self._barriers:
                self._barriers.remove(waiter)
        return False


class Wake:
    """Posted to the live loop when the inbox has something (the loop then drains the inbox)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "WAKE"


WAKE = Wake()


class EventInbox:
    """Broker events waiting for the engine thread. ``put`` from any thread; ``drain`` on the engine thread."""

    def __init__(self) -> None:
        self._events: deque[object] = deque()
        self._wake: Callable[[object], None] | None = None

    def connect(self, wake: Callable[[object], None]) -> None:
        """Call ``wake(WAKE)`` whenever an event arrives (e.g. the live loop's ``post``)."""
        self._wake = wake

    def put(self, event: object) -> None:
        self._events.append(event)
        wake = self._wake
        if wake is not None:
            wake(WAKE)

    def drain(self) -> list[object]:
        out: list[object] = []
        events = self._events
        while events:
            out.append(events.popleft())
        return out

    def __len__(self) -> int:
        return len(self._events)


class EngineBroker:
    """The Broker the engine uses in paper and live runs (over a :class:`SyncedIBBroker`)."""

    def __init__(
        self,
        journal: Journal,
        run_id: str,
        *,
        set_models: Callable[..., None] | None = None,
        describe_time: Callable[[int], str] = str,
    ) -> None:
        self.ib: SyncedIBBroker | None = None
        self.journal = journal
        self.run_id = run_id
        self._set_models = set_models
        self._describe_time = describe_time
        self._sending: dict[str, OrderRequest] = {}
        self.dirty = False  # orders placed or cancelled since the last barrier
        self.sent = 0
        self._known: list[KnownOrder] = []
        self._highest_ib_id = 0

    def restore_with(self, known: list[KnownOrder], highest_ib_id: int) -> None:
        """The journal's orders of this run and the highest IB order id it used, for :meth:`prepare`."""
        self._known, self._highest_ib_id = list(known), highest_ib_id

    def prepare(self, ib: SyncedIBBroker) -> None:
        """Before the adapter connects: hand it the journal's orders (see :meth:`IBBroker.restore_orders`)."""
        ib.restore_orders(self._known, self._highest_ib_id)

    def attach(self, ib: SyncedIBBroker) -> None:
        self.ib = ib

    def journal_hook(self, order_id: str, ib_order_id: int, order_ref: str) -> None:
        """IBBroker's ``order_journal``: the order is written to the journal before it is sent."""
        r = self._sending.get(order_id)
        if r is None:
            return
        self.journal.order_sending(JournalOrder(
            order_id, self.run_id, order_ref, str(ib_order_id), r.asset.symbol, r.asset.sid, r.amount, r.kind.value,
            r.limit, r.stop, r.tif.value, r.created_ns, "sending", 0, 0.0, None))

    # -------------------------------------------------------------------------------------------- Broker
    def place_order(self, request: OrderRequest) -> None:
        """Journal and send; NotConnectedError (nothing sent, nothing journaled) while disconnected."""
        assert self.ib is not None
        self._sending[request.id] = request
        try:
            self.ib.place_order(request)
        finally:
            self._sending.pop(request.id, None)
        self._sent([request])

    def place_bracket(self, parent: OrderRequest, children: Sequence[OrderRequest]) -> None:
        """Journal the parent and every child, then send them as one bracket (``IBBroker.place_bracket``: nothing
        is transmitted before the last child); NotConnectedError (nothing sent, nothing journaled) while
        disconnected."""
        assert self.ib is not None
        requests = [parent, *children]
        for request in requests:
            self._sending[request.id] = request
        try:
            self.ib.place_bracket(parent, children)
        finally:
            for request in requests:
                self._sending.pop(request.id, None)
        self._sent(requests)

    def _sent(self, requests: list[OrderRequest]) -> None:
        assert self.ib is not None
        self.dirty = True
        for request in requests:
            self.sent += 1
            self.journal.order_update(request.id, request.created_ns, status="submitted", defer=True)
            log.info("order %s sent: %s %d %s %s%s%s%s (IB id %s)", request.id[:8],
                     "BUY" if request.amount > 0 else "SELL", abs(request.amount), request.asset.symbol,
                     request.kind.value, f" limit {request.limit:g}" if request.limit is not None else "",
                     f" stop {request.stop:g}" if request.stop is not None else "",
                     f" (child of {request.parent_id[:8]})" if request.parent_id else "",
                     self.ib.ib_order_id(request.id))

    def modify_order(self, order_id: str, *, amount: int | None = None, limit: float | None = None,
                     stop: float | None = None, tif: TimeInForce | None = None, now_ns: int = 0) -> None:
        """Send the changed order to IB (the same IB order id again); IB answers with an order status, or an
        error that the run logs. NotConnectedError while disconnected."""
        assert self.ib is not None
        self.ib.modify_order(order_id, amount=amount, limit=limit, stop=stop,
                             tif=None if tif is None else tif.value)
        self.dirty = True
        changes = [f"quantity {amount:+d}" if amount is not None else "",
                   f"limit {limit:g}" if limit is not None else "",
                   f"stop {stop:g}" if stop is not None else "", f"tif {tif.value}" if tif is not None else ""]
        log.info("order %s: modification sent: %s", order_id[:8], " ".join(c for c in changes if c))

    def cancel_order(self, order_id: str, now_ns: int) -> None:
        assert self.ib is not None
        self.ib.cancel_order(order_id, now_ns)
        self.dirty = True
        log.info("order %s: cancel requested", order_id[:8])

    def poll_events(self, now_ns: int) -> list[BrokerEvent]:
        """Always []: the adapter's events reach the engine through the inbox."""
        return []

    @property
    def has_open_orders(self) -> bool:
        """Whether the adapter tracks an open order of this run."""
        return self.ib is not None and bool(self.ib.orders.open_orders())

    def process_bar(self, row: int) -> list[BrokerEvent]:
        """Always []: IB matches orders on its own market; its fills reach the engine through the inbox."""
        return []

    def end_of_session(self, now_ns: int) -> list[BrokerEvent]:
        """Always []: IB expires DAY orders itself and reports the cancellations through the inbox."""
        return []

    def apply_split(self, sid: int, ratio: float) -> None:
        """Nothing to do: IB adjusts its working orders for a split itself."""

    def set_models(self, slippage: SlippageModel | None = None, commission: CommissionModel | None = None) -> None:
        """set_slippage / set_commission: the in-process simulated gateway uses them; a real broker decides."""
        if self._set_models is not None:
            self._set_models(slippage=slippage, commission=commission)
        else:
            logging.getLogger("ibalgo.algo").warning(
                "set_slippage/set_commission have no effect on a real broker: IB decides fill prices and fees")
