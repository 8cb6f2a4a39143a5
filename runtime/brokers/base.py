"""The broker interface the engine talks to, and the events brokers report.

Two implementations: :class:`runtime.brokers.sim.SimBroker` (in-process simulated market, for backtests) and the IB
adapter (``ibapi`` against TWS, IB Gateway or the simulated gateway). The engine never learns which one it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from runtime.core.assets import Asset
from runtime.core.matching import Cancelled, Fill
from runtime.core.orders import ExecutionStyle, OrderKind, TimeInForce


@dataclass(frozen=True)
class OrderRequest:
    """An order the engine asks a broker to place. ``id`` is the runtime's own order id (also its IB orderRef)."""

    id: str
    asset: Asset
    amount: int
    style: ExecutionStyle
    kind: OrderKind
    limit: float | None
    stop: float | None
    tif: TimeInForce
    created_ns: int
    parent_id: str | None = None
    oca_group: str | None = None
    outside_rth: bool = False
    #: the IB account the order is for ("": the connection's account)
    account: str = ""


@dataclass(frozen=True)
class OrderRejected:
    """The broker refused an order (IB's code and text when there is one)."""

    order_id: str
    asset: Asset
    time_ns: int
    reason: str
    code: int | None = None


BrokerEvent = Fill | Cancelled | OrderRejected


class Broker(Protocol):
    """What the engine needs from a broker (one that can also place brackets is a :class:`BracketBroker`)."""

    def place_order(self, request: OrderRequest) -> None:
        """Send an order. Raises NotConnectedError if it cannot be sent now (nothing is queued silently)."""

    def cancel_order(self, order_id: str, now_ns: int) -> None:
        """Ask for a cancellation; the outcome arrives as an event."""

    def poll_events(self, now_ns: int) -> list[BrokerEvent]:
        """Events that happened up to ``now_ns`` (fills, cancellations, rejections), in order."""


@runtime_checkable
class BracketBroker(Protocol):
    """A broker that places a bracket (a parent and its exit orders) as one unit: the optional part of
    :class:`Broker`."""

    def place_bracket(self, parent: OrderRequest, children: Sequence[OrderRequest]) -> None:
        """Send ``parent`` and ``children`` (each naming the parent in ``parent_id``; two exits share an
        ``oca_group``) atomically: the children work only once the parent has filled completely, and nothing is
        sent if any of them cannot be. Raises NotConnectedError if they cannot be sent now."""
