"""Sending orders to IB: place (one order or a bracket), modify, cancel, and the journal written before each send.

Orders carry ``orderRef = 'ibalgo:<run_id>:<order id>'``. For each order, in this order: its IB order id is
taken, it is registered with the tracker, the :class:`OrderJournal` receives the request as sent with that id and
``orderRef`` (so a crash after this point finds it in the journal), and only then is it sent. An order id is never
sent twice, and an order while disconnected raises :class:`~runtime.errors.NotConnectedError` (nothing is sent,
nothing journalled, nothing queued).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from runtime.brokers.base import OrderRequest
from runtime.brokers.ib.compat import cancel_order
from runtime.brokers.ib.connection import IBConnection
from runtime.brokers.ib.contracts import ContractResolver
from runtime.brokers.ib.errors import OrderError
from runtime.brokers.ib.ibobjects import make_contract, make_order
from runtime.brokers.ib.orders import KnownOrder, OrderTracker, TrackedOrder
from runtime.core.assets import Asset, SecType
from runtime.core.ib.contracts import contract_spec_for
from runtime.core.ib.orders import OrderSpec, order_ref, order_spec_for


class OrderJournal(Protocol):
    """Where an order is written before it is sent (the run's SQLite journal, through the live session)."""

    def order_sending(self, request: OrderRequest, ib_order_id: int, order_ref: str) -> None:
        """``request`` (as it goes to IB) is about to be sent with ``ib_order_id`` and ``order_ref``."""


class OrderEntry:
    """The adapter's outbound order side (see the module docstring)."""

    def __init__(self, run_id: str, conn: IBConnection, orders: OrderTracker, contracts: ContractResolver,
                 now_ns: Callable[[], int], journal: OrderJournal | None = None) -> None:
        self.run_id = run_id
        self.conn = conn
        self.orders = orders
        self.contracts = contracts
        self.journal = journal
        self._now = now_ns
        self._lock = threading.Lock()

    def restore(self, known: Iterable[KnownOrder], highest_ib_id: int = 0) -> None:
        """Orders of this run from its journal (before connecting); IB ids up to ``highest_ib_id`` are never reused."""
        self.orders.restore(known, lambda oid: order_ref(self.run_id, oid))
        if highest_ib_id:
            self.conn.reserve_order_ids_through(highest_ib_id)

    def place(self, requests: list[OrderRequest], transmits: list[bool]) -> None:
        """Journal and send ``requests`` (the transmit flag of each: a bracket transmits only its last order)."""
        what = f"order {requests[0].id} ({requests[0].amount:+d} {requests[0].asset.symbol})"
        client = self.conn.require(what)
        contracts = [self._contract_for(r.asset) for r in requests]
        with self._lock:
            for r in requests:
                if self.orders.get(r.id) is not None:
                    raise OrderError(f"order {r.id} was already sent; an order is never sent twice")
            sent: list[tuple[int, Any, Any]] = []
            for r, contract, transmit in zip(requests, contracts, transmits):
                parent_ib = self._parent_ib_id(r)
                spec = self._spec_for(r, transmit, parent_ib)
                ib_id = self.conn.take_order_id()
                tracked = self.orders.register(r.id, r.asset, r.amount, ib_id, spec.order_ref, self._now())
                tracked.spec, tracked.contract = spec, contract
                if self.journal is not None:
                    self.journal.order_sending(r, ib_id, spec.order_ref)
                sent.append((ib_id, contract, make_order(spec, ib_id)))
            for ib_id, contract, order in sent:
                client.placeOrder(ib_id, contract, order)

    def bracket(self, parent: OrderRequest, children: Sequence[OrderRequest]) -> None:
        """A parent and its children: every order but the last with transmit=False (TWS activates nothing before the
        whole bracket has arrived)."""
        kids = [dataclasses.replace(c, parent_id=parent.id) for c in children]
        self.place([parent, *kids], [False] * len(kids) + [True])

    def modify(self, order_id: str, *, amount: int | None = None, limit: float | None = None,
               stop: float | None = None, tif: str | None = None) -> None:
        """Change a working order (IB: placeOrder again with the same order id)."""
        o = self.tracked(order_id)
        client = self.conn.require(f"modification of order {order_id}")
        spec: OrderSpec = o.spec  # type: ignore[assignment]
        if spec is None or o.closed:
            raise OrderError(f"order {order_id} is not working: it cannot be modified")
        changes: dict[str, Any] = {"transmit": True}
        if amount is not None:
            changes.update(action="BUY" if amount > 0 else "SELL", quantity=float(abs(amount)))
            o.amount = amount
        if limit is not None:
            changes["limit_price"] = limit
        if stop is not None:
            changes["aux_price"] = stop
        if tif is not None:
            changes["tif"] = str(tif).upper()
        new = dataclasses.replace(spec, **changes)
        o.spec = new
        client.placeOrder(o.ib_order_id, o.contract, make_order(new, o.ib_order_id))

    def cancel(self, order_id: str) -> None:
        """Ask TWS to cancel; the outcome arrives as Cancelled (or CancelRejected). NotConnectedError if down."""
        o = self.orders.get(order_id)
        if o is None or o.closed:
            return
        client = self.conn.require(f"cancel of order {order_id}")
        cancel_order(client, o.ib_order_id)

    def tracked(self, order_id: str) -> TrackedOrder:
        o = self.orders.get(order_id)
        if o is None:
            raise OrderError(f"unknown order {order_id}")
        return o

    def _contract_for(self, asset: Asset) -> Any:
        if not asset.con_id and asset.sec_type is not SecType.STOCK:
            asset = self.contracts.resolve_asset(asset)
        return make_contract(contract_spec_for(asset))

    def _spec_for(self, request: OrderRequest, transmit: bool, parent_ib_id: int) -> OrderSpec:
        try:
            return order_spec_for(
                amount=request.amount, kind=request.kind, limit=request.limit, stop=request.stop, tif=request.tif,
                ref=order_ref(self.run_id, request.id), trailing_amount=request.trail_amount,
                trailing_percent=request.trail_percent, limit_offset=request.limit_offset,
                outside_rth=request.outside_rth,
                oca_group=request.oca_group, account=request.account or self.conn.account, transmit=transmit,
                parent_ib_id=parent_ib_id)
        except ValueError as exc:
            raise OrderError(f"order {request.id} for {request.asset.symbol} cannot be sent to IB: {exc}") from None

    def _parent_ib_id(self, request: OrderRequest) -> int:
        if not request.parent_id:
            return 0
        parent = self.orders.get(request.parent_id)
        if parent is None:
            raise OrderError(f"order {request.id}: its parent order {request.parent_id} was never sent")
        return parent.ib_order_id
