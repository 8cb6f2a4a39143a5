"""The broker interface the engine talks to, and the events brokers report.

Two implementations: :class:`runtime.brokers.sim.SimBroker` (in-process simulated market, for backtests) and
:class:`runtime.live.broker.EngineBroker` (the order link to the IB adapter: TWS, IB Gateway or the simulated
gateway). The engine never learns which one it has: it calls only what :class:`Broker` declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from runtime.core.assets import Asset
from runtime.core.costs import CommissionModel, SlippageModel
from runtime.core.matching import Cancelled, Fill
from runtime.core.orders import OrderKind, TimeInForce


@dataclass(frozen=True)
class OrderRequest:
    """An order the engine asks a broker to place. ``id`` is the runtime's own order id (also its IB orderRef).

    ``kind``, ``limit``, ``stop`` and ``tif`` are the order as it is sent (prices rounded to the tick, the engine's
    order policy applied); ``trail_amount``/``trail_percent`` give a trailing order's trail (one of them),
    ``limit_offset`` a trailing stop-limit's limit distance from its stop."""

    id: str
    asset: Asset
    amount: int
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
    trail_amount: float | None = None
    trail_percent: float | None = None
    limit_offset: float | None = None


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
    """Everything the engine (and the backtest's bar feed) asks of a broker; every broker implements all of it.

    Orders go out with :meth:`place_order` / :meth:`place_bracket`; what happens to them comes back as
    :data:`BrokerEvent` values, from :meth:`poll_events` and, for a broker that matches against the run's own bars,
    from :meth:`process_bar` and :meth:`end_of_session`.
    """

    def place_order(self, request: OrderRequest) -> None:
        """Send an order. Raises NotConnectedError if it cannot be sent now (nothing is queued silently)."""
        ...

    def place_bracket(self, parent: OrderRequest, children: Sequence[OrderRequest]) -> None:
        """Send ``parent`` and ``children`` (each naming the parent in ``parent_id``; two exits share an
        ``oca_group``) atomically: the children work only once the parent has filled completely, and nothing is
        sent if any of them cannot be. Raises NotConnectedError if they cannot be sent now."""
        ...

    def modify_order(self, order_id: str, *, amount: int | None = None, limit: float | None = None,
                     stop: float | None = None, tif: TimeInForce | None = None, now_ns: int = 0) -> None:
        """Change a working order in place (IB: the same order id sent again). BadOrderError (simulated market)
        when it does not fit the order; NotConnectedError while disconnected."""
        ...

    def cancel_order(self, order_id: str, now_ns: int) -> None:
        """Ask for a cancellation; the outcome arrives as an event."""
        ...

    def poll_events(self, now_ns: int) -> list[BrokerEvent]:
        """Events that happened up to ``now_ns`` (fills, cancellations, rejections), in order."""
        ...

    @property
    def has_open_orders(self) -> bool:
        """Whether the broker works any order of this run now."""
        ...

    def process_bar(self, row: int) -> list[BrokerEvent]:
        """Bar ``row`` of the run's store just ended: a simulated market matches its working orders against it and
        returns the events; a real market matches on its own, so its link returns the events pending (usually
        none)."""
        ...

    def end_of_session(self, now_ns: int) -> list[BrokerEvent]:
        """The session ended: a simulated market expires its DAY orders and returns the cancellations; a real
        broker expires them itself and reports them as events later."""
        ...

    def apply_split(self, sid: int, ratio: float) -> None:
        """A split of ``ratio`` takes effect: a simulated market adjusts its working orders as zipline does; a real
        broker adjusts its own."""
        ...

    def set_models(self, slippage: SlippageModel | None = None, commission: CommissionModel | None = None) -> None:
        """``set_slippage`` / ``set_commission``: a simulated market fills with these models; a real broker decides
        its own prices and fees (its link says so in the log)."""
        ...
