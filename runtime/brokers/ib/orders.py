"""Order bookkeeping: the runtime's order ids <-> IB's, and IB's order messages turned into runtime events.

:class:`OrderTracker` is pure state (no ibapi, no socket, no threads of its own; one lock). Its rules:
- an order is registered with its IB order id BEFORE it is sent, and an order id is never registered twice;
- status comes from openOrder/orderStatus, which may repeat or skip states: only a CHANGE between OPEN and HELD
  becomes an :class:`OrderStatusChanged`; Cancelled/ApiCancelled becomes one ``Cancelled``, Inactive one
  ``OrderRejected``; Filled is left to the executions;
- fills come from execDetails, deduplicated by execId, sized by the cumulative quantity (so a missed or repeated
  execution can neither lose nor double shares), and joined with their commission report by execId. A fill waits
  for its commission up to ``commission_wait_s`` (later events of the same order wait behind it), then goes out
  with 0.0 and a :class:`CommissionReported` follows when the report arrives;
- orders are recognised by ``orderRef`` ('ibalgo:<run_id>:<order id>'), so after a restart the run adopts its
  orders again;
- an order sent by this process remembers when (``sent_ns``): after a reconnect, the executions asked for reach
  back to the oldest order still open, however late the loss of the connection was noticed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from runtime.brokers.base import OrderRejected
from runtime.brokers.ib.events import (
    BrokerOrder,
    CancelRejected,
    CommissionReported,
    IBNotice,
    MissingOrder,
    OrderAdopted,
    OrderStatusChanged,
)
from runtime.brokers.ib.records import CommissionInfo, ExecutionInfo, OpenOrderInfo, OrderStatusInfo
from runtime.core.assets import Asset
from runtime.core.ib.contracts import ContractFacts
from runtime.core.ib.errors import ErrorKind, error_info
from runtime.core.ib.orders import order_status_from_ib, parse_order_ref
from runtime.core.matching import Cancelled, Fill
from runtime.core.orders import OrderStatus

#: Errors naming an order that mean the cancel request failed, not the order.
CANCEL_REFUSALS = frozenset({161, 10147, 10148})
#: Order-range codes that are warnings about a live order, not its end.
ORDER_WARNINGS = frozenset({399, 2109, 2137})


@dataclass(frozen=True)
class KnownOrder:
    """An order the runtime already knows from its journal (given to the tracker after a restart)."""

    order_id: str
    asset: Asset
    amount: int
    filled: int = 0
    ib_order_id: int = 0
    closed: bool = False
    #: journalled as ``sending``: the process may have died before it reached the socket (settled by orderRef at the
    #: reconciliation: at the broker, adopted; not there, closed as never sent)
    unconfirmed: bool = False


@dataclass
class TrackedOrder:
    """The tracker's state of one order (mutable, guarded by the tracker's lock)."""

    order_id: str
    asset: Asset
    amount: int
    ib_order_id: int
    ref: str
    filled: int = 0
    avg_price: float = 0.0
    status: OrderStatus = OrderStatus.HELD
    ib_status: str = "PendingSubmit"
    closed: bool = False
    perm_id: int = 0
    last_error: str = ""
    last_code: int | None = None
    held: list[object] = field(default_factory=list)
    pending_fills: int = 0
    spec: object = None  # the last OrderSpec sent (for modifications)
    contract: object = None
    sent_ns: int | None = None  # None: not sent by this process (restored from the journal or adopted)
    unconfirmed: bool = False  # restored as ``sending``: not yet seen at the broker


@dataclass
class _PendingFill:
    order: TrackedOrder
    exec_id: str
    amount: int
    price: float
    time_ns: int
    cum: int
    avg: float
    done: bool
    deadline: float


class OrderTracker:
    """See the module docstring. ``emit`` receives events in order; ``asset_for`` builds assets for adopted orders."""

    def __init__(
        self,
        run_id: str,
        emit: Callable[[object], None],
        asset_for: Callable[[ContractFacts], Asset],
        commission_wait_s: float = 1.0,
    ) -> None:
        self.run_id = run_id
        self._emit = emit
        self._asset_for = asset_for
        self.commission_wait_s = commission_wait_s
        self._lock = threading.RLock()
        self._by_id: dict[str, TrackedOrder] = {}
        self._by_ib: dict[int, TrackedOrder] = {}
        self._seen_execs: set[str] = set()
        self._commissions: dict[str, float] = {}
        self._pending: dict[str, _PendingFill] = {}
        self._unpaid: dict[str, TrackedOrder] = {}  # exec ids reported without commission
        self.booked = 0  # fills booked so far (reconciliation counts the ones it recovered)

    # -------------------------------------------------------------------------------------------- registry
    def register(self, order_id: str, asset: Asset, amount: int, ib_order_id: int, ref: str,
                 sent_ns: int | None = None) -> TrackedOrder:
        """Record an order about to be sent (at ``sent_ns``). ValueError if the runtime id was registered before."""
        with self._lock:
            if order_id in self._by_id:
                raise ValueError(f"order {order_id} was already sent (IB order id "
                                 f"{self._by_id[order_id].ib_order_id}); it is never sent twice")
            o = TrackedOrder(order_id, asset, amount, ib_order_id, ref, sent_ns=sent_ns)
            self._by_id[order_id] = o
            self._by_ib[ib_order_id] = o
            return o

    def restore(self, known: Iterable[KnownOrder], ref_for: Callable[[str], str]) -> None:
        """Track orders from the runtime's journal (after a restart), before reconciliation adopts them."""
        with self._lock:
            for k in known:
                if k.order_id in self._by_id:
                    continue
                o = TrackedOrder(k.order_id, k.asset, k.amount, k.ib_order_id, ref_for(k.order_id), filled=k.filled,
                                 closed=k.closed, unconfirmed=k.unconfirmed and not k.closed)
                self._by_id[k.order_id] = o
                if k.ib_order_id:
                    self._by_ib[k.ib_order_id] = o

    def get(self, order_id: str) -> TrackedOrder | None:
        with self._lock:
            return self._by_id.get(order_id)

    def by_ib(self, ib_order_id: int) -> TrackedOrder | None:
        with self._lock:
            return self._by_ib.get(ib_order_id)

    def open_orders(self) -> list[TrackedOrder]:
        with self._lock:
            return [o for o in self._by_id.values() if not o.closed]

    def executions_needed_since(self) -> tuple[bool, int | None]:
        """Since when executions may be missing for the orders still open: ``(False, None)`` if none is open,
        ``(True, None)`` if one was not sent by this process (its executions may be of any time), else
        ``(True, oldest sent_ns)``."""
        with self._lock:
            sent = [o.sent_ns for o in self._by_id.values() if not o.closed]
        if not sent:
            return False, None
        if any(t is None for t in sent):
            return True, None
        return True, min(t for t in sent if t is not None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)

    def _find(self, ib_order_id: int, ref: str) -> TrackedOrder | None:
        parsed = parse_order_ref(ref)
        if parsed is not None and parsed[0] == self.run_id:
            o = self._by_id.get(parsed[1])
            if o is not None:
                o.unconfirmed = False  # the broker has it
                if ib_order_id and o.ib_order_id != ib_order_id:
                    self._by_ib.pop(o.ib_order_id, None)
                    o.ib_order_id = ib_order_id
                    self._by_ib[ib_order_id] = o
                return o
            return None
        if parsed is not None:
            return None  # another run's order
        return self._by_ib.get(ib_order_id) if not ref else None

    # ------------------------------------------------------------------------------------------------ emit
    def _out(self, o: TrackedOrder | None, event: object) -> None:
        if o is not None and o.pending_fills:
            o.held.append(event)
        else:
            self._emit(event)

    # ---------------------------------------------------------------------------------------------- status
    def on_open_order(self, info: OpenOrderInfo, now_ns: int) -> TrackedOrder | None:
        """openOrder (or completedOrder): adopt one of this run's orders not tracked yet; follow its status."""
        with self._lock:
            o = self._find(info.ib_order_id, info.order_ref)
            if o is None:
                parsed = parse_order_ref(info.order_ref)
                if parsed is None or parsed[0] != self.run_id or info.completed:
                    return None
                sign = 1 if info.action.upper() == "BUY" else -1
                o = TrackedOrder(parsed[1], self._asset_for(info.contract), sign * round(info.quantity),
                                 info.ib_order_id, info.order_ref)
                self._by_id[o.order_id] = o
                self._by_ib[o.ib_order_id] = o
                st = order_status_from_ib(info.status) or OrderStatus.HELD
                self._out(o, OrderAdopted(o.order_id, o.asset, now_ns, o.ib_order_id, o.amount, o.filled, st,
                                          info.status))
            if info.perm_id:
                o.perm_id = info.perm_id
            self._status(o, info.status, now_ns, "")
            return o

    def on_status(self, info: OrderStatusInfo, now_ns: int) -> None:
        with self._lock:
            o = self._by_ib.get(info.ib_order_id)
            if o is None:
                return
            if info.perm_id:
                o.perm_id = info.perm_id
            self._status(o, info.status, now_ns, info.why_held)

    def _status(self, o: TrackedOrder, ib_status: str, now_ns: int, why: str) -> None:
        st = order_status_from_ib(ib_status)
        if st is None or o.closed:
            return
        if st is OrderStatus.FILLED:
            o.ib_status = ib_status
            return
        if st is OrderStatus.CANCELLED:
            o.closed, o.status, o.ib_status = True, st, ib_status
            self._out(o, Cancelled(o.order_id, o.asset, now_ns, o.last_error or f"cancelled ({ib_status})"))
            return
        if st is OrderStatus.REJECTED:
            o.closed, o.status, o.ib_status = True, st, ib_status
            reason = o.last_error or "rejected by IB (status Inactive)"
            self._out(o, OrderRejected(o.order_id, o.asset, now_ns, reason, o.last_code))
            return
        if st is not o.status or ib_status != o.ib_status:
            changed = st is not o.status
            o.status, o.ib_status = st, ib_status
            if changed:
                self._out(o, OrderStatusChanged(o.order_id, o.asset, now_ns, st, ib_status, why))

    def on_error(self, ib_order_id: int, code: int, text: str, now_ns: int) -> bool:
        """An error naming an order id; False if the id is not one of this run's orders."""
        with self._lock:
            o = self._by_ib.get(ib_order_id)
            if o is None:
                return False
            if code in CANCEL_REFUSALS:
                self._out(o, CancelRejected(o.order_id, now_ns, code, text))
                return True
            info = error_info(code)
            if code in ORDER_WARNINGS or info.kind in (ErrorKind.INFO, ErrorKind.WARNING):
                self._out(o, IBNotice(now_ns, code, text, ib_order_id, o.order_id))
                return True
            o.last_error, o.last_code = f"IB error {code}: {text}", code
            if o.closed:
                return True
            if code == 202:
                o.closed, o.status = True, OrderStatus.CANCELLED
                self._out(o, Cancelled(o.order_id, o.asset, now_ns, text or "cancelled"))
            else:
                o.closed, o.status = True, OrderStatus.REJECTED
                self._out(o, OrderRejected(o.order_id, o.asset, now_ns, o.last_error, code))
            return True

    # ----------------------------------------------------------------------------------------- executions
    def on_execution(self, info: ExecutionInfo, time_ns: int, now_mono: float) -> bool:
        """execDetails: a Fill (or nothing for a repeat / someone else's order). True if a fill is waiting."""
        with self._lock:
            if info.exec_id in self._seen_execs:
                return False
            self._seen_execs.add(info.exec_id)
            o = self._find(info.ib_order_id, info.order_ref)
            if o is None:
                parsed = parse_order_ref(info.order_ref)
                if parsed is None or parsed[0] != self.run_id:
                    return False
                sign = 1 if info.side.upper() in ("BOT", "BUY") else -1
                o = TrackedOrder(parsed[1], self._asset_for(info.contract), 0, info.ib_order_id, info.order_ref)
                o.amount = sign * round(info.cum_qty)  # unknown size: at least what was filled
                self._by_id[o.order_id] = o
                self._by_ib[o.ib_order_id] = o
            sign = 1 if info.side.upper() in ("BOT", "BUY") else -1
            cum = sign * round(info.cum_qty)
            if abs(cum) <= abs(o.filled):
                return False  # already booked (e.g. known from the journal)
            amount = cum - o.filled
            shares = sign * round(info.shares)
            if amount == shares or not o.filled:
                price = info.price if amount == shares else info.avg_price
            else:
                price = (info.avg_price * cum - o.avg_price * o.filled) / amount
            o.filled, o.avg_price = cum, info.avg_price
            self.booked += 1
            done = abs(cum) >= abs(o.amount)
            if done:
                o.closed, o.status, o.ib_status = True, OrderStatus.FILLED, "Filled"
            pending = _PendingFill(o, info.exec_id, amount, price, time_ns, cum, info.avg_price, done,
                                   now_mono + self.commission_wait_s)
            commission = self._commissions.pop(info.exec_id, None)
            if commission is not None:
                self._release(pending, commission)
                return False
            o.pending_fills += 1
            self._pending[info.exec_id] = pending
            return True

    def on_commission(self, info: CommissionInfo, now_ns: int) -> None:
        with self._lock:
            pending = self._pending.pop(info.exec_id, None)
            if pending is not None:
                pending.order.pending_fills -= 1
                self._release(pending, info.commission)
                return
            o = self._unpaid.pop(info.exec_id, None)
            if o is not None:
                self._out(o, CommissionReported(o.order_id, o.asset, now_ns, info.exec_id, info.commission))
                return
            if info.exec_id not in self._seen_execs:
                self._commissions[info.exec_id] = info.commission

    def flush_due(self, now_mono: float) -> None:
        """Report fills whose commission is overdue (with 0.0; a CommissionReported follows if it comes)."""
        with self._lock:
            for exec_id, p in list(self._pending.items()):
                if p.deadline <= now_mono:
                    del self._pending[exec_id]
                    p.order.pending_fills -= 1
                    self._unpaid[exec_id] = p.order
                    self._release(p, 0.0)

    def _release(self, p: _PendingFill, commission: float) -> None:
        o = p.order
        fill = Fill(o.order_id, o.asset, p.amount, p.price, commission, p.time_ns, p.cum, p.avg, p.done, p.exec_id)
        if o.pending_fills:
            o.held.append(fill)
            return
        self._emit(fill)
        held, o.held = o.held, []
        for event in held:
            self._emit(event)

    @property
    def has_pending_fills(self) -> bool:
        with self._lock:
            return bool(self._pending)

    # ------------------------------------------------------------------------------------- reconciliation
    def unbooked_at_ib(self, open_ib_ids: set[int], completed: dict[str, OpenOrderInfo]) -> list[str]:
        """Open orders here that TWS no longer works and whose completedOrder shows more filled than was booked
        (Filled, or a filled quantity above the tracker's): their executions are still to come."""
        out = []
        with self._lock:
            for o in self._by_id.values():
                if o.closed or o.ib_order_id in open_ib_ids:
                    continue
                info = completed.get(o.order_id)
                if info is None:
                    continue
                filled_at_ib = round(info.filled or 0)
                if order_status_from_ib(info.status) is OrderStatus.FILLED or filled_at_ib > abs(o.filled):
                    out.append(o.order_id)
        return out

    def close_missing(self, open_ib_ids: set[int], completed: dict[str, OpenOrderInfo]) -> list[MissingOrder]:
        """After reconciliation: orders neither open at TWS nor finished by a fill stop being tracked as working.

        ``completed`` maps runtime order ids to completedOrder records (their final IB status). Returns what the
        broker shows of each (its final status, whether an order restored as ``sending`` never reached it, the last
        error): what the algorithm is told is decided by the caller. Orders with a fill waiting for its commission,
        and orders the broker shows Filled (their executions tell the rest), are left alone.
        """
        out: list[MissingOrder] = []
        with self._lock:
            for o in list(self._by_id.values()):
                if o.closed or o.ib_order_id in open_ib_ids or o.pending_fills:
                    continue
                info = completed.get(o.order_id)
                status = info.status if info is not None else ""
                st = order_status_from_ib(status) if status else None
                if st is OrderStatus.FILLED:
                    continue  # its executions tell the rest
                o.closed = True
                o.status = OrderStatus.REJECTED if st is OrderStatus.REJECTED else OrderStatus.CANCELLED
                out.append(MissingOrder(o.order_id, o.asset, status, o.unconfirmed and info is None, o.last_error,
                                        o.last_code))
        return out

    def working(self, open_ib_ids: set[int]) -> list[BrokerOrder]:
        """This run's orders among the broker's open order ids, as tracked here."""
        with self._lock:
            return [BrokerOrder(o.order_id, o.ib_order_id, o.asset, o.amount, o.filled, o.ib_status)
                    for o in self._by_id.values() if o.ib_order_id in open_ib_ids]
