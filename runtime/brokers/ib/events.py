"""Events the IB adapter reports to the engine, besides the runtime's own Fill / Cancelled / OrderRejected.

All are frozen values; ``time_ns`` is int64 ns UTC (the adapter's wall clock unless IB stamped the event).
They reach the engine through its ``event_sink`` (or :meth:`IBBroker.poll_events`), in the order they happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.core.assets import Asset
from runtime.core.orders import OrderStatus


class ConnectionState:
    """Names of the adapter's connection states (strings, for logs and events)."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    IB_LOST = "ib-connectivity-lost"  # socket up, TWS lost IB (1100)
    RECONNECTING = "reconnecting"
    CLOSED = "closed"  # disconnect() was called: no more reconnects


@dataclass(frozen=True)
class ConnectionLost:
    """The socket to TWS closed, or TWS lost IB (code 1100). Orders raise NotConnectedError until restored."""

    time_ns: int
    reason: str
    code: int | None = None


@dataclass(frozen=True)
class ConnectionRestored:
    """Connected again (a new socket, or 1101/1102). ``data_lost``: market data was resubscribed."""

    time_ns: int
    reason: str
    data_lost: bool
    attempts: int = 0


@dataclass(frozen=True)
class OrderStatusChanged:
    """An order's status moved between OPEN and HELD (IB's Submitted / PreSubmitted...), no fill involved."""

    order_id: str
    asset: Asset
    time_ns: int
    status: OrderStatus
    ib_status: str
    why_held: str = ""


@dataclass(frozen=True)
class CommissionReported:
    """A commission that arrived after its fill was already reported (with commission 0.0)."""

    order_id: str
    asset: Asset
    time_ns: int
    exec_id: str
    commission: float


@dataclass(frozen=True)
class CancelRejected:
    """A cancel request was refused (10147 not found, 10148 already filled or cancelled)."""

    order_id: str
    time_ns: int
    code: int
    text: str


@dataclass(frozen=True)
class OrderAdopted:
    """Reconciliation found one of this run's orders at TWS (after a restart or reconnect) and tracks it again."""

    order_id: str
    asset: Asset
    time_ns: int
    ib_order_id: int
    amount: int
    filled: int
    status: OrderStatus
    ib_status: str


@dataclass(frozen=True)
class PositionRecord:
    """One position as IB reports it."""

    asset: Asset
    account: str
    amount: float
    avg_cost: float


@dataclass(frozen=True)
class BrokerOrder:
    """One of this run's orders as the broker works it (an open order of a reconciliation)."""

    order_id: str
    ib_order_id: int
    asset: Asset
    amount: int
    filled: int
    ib_status: str


@dataclass(frozen=True)
class MissingOrder:
    """An order open here that the broker no longer works and that no execution finished.

    ``broker_status`` is its completedOrder status ('' when the broker has no record of it); ``never_sent``: it was
    journalled as ``sending`` and the broker does not know its orderRef, so it never reached the broker;
    ``last_error``/``last_code``: the last error IB sent for it. The adapter no longer tracks it as working; the
    live session decides what the algorithm is told (:mod:`runtime.live.reconcile`).
    """

    order_id: str
    asset: Asset
    broker_status: str
    never_sent: bool
    last_error: str = ""
    last_code: int | None = None


@dataclass(frozen=True)
class ReconcileReport:
    """What a reconciliation after a (re)connect found, as the broker sees it.

    ``open_orders``: this run's orders the broker works; ``missing``: orders open here that it no longer works;
    ``recovered_fills``: executions missed while away, reported as Fills before this report (booked once by exec id);
    ``unbooked``: orders the broker shows filled beyond what was booked but sent no execution for; ``positions``:
    every position the broker reported (all accounts of the login).
    """

    time_ns: int
    open_orders: tuple[BrokerOrder, ...]
    missing: tuple[MissingOrder, ...]
    recovered_fills: int
    unbooked: tuple[str, ...]
    positions: tuple[PositionRecord, ...]


@dataclass(frozen=True)
class IBNotice:
    """An IB message worth logging (warnings, order messages, farm status). ``order_id`` when it names an order."""

    time_ns: int
    code: int
    text: str
    req_id: int = -1
    order_id: str | None = None


@dataclass(frozen=True)
class MarketDataDelayed:
    """No real-time subscription for ``asset``: the adapter switched it to delayed data (about 15 minutes late)."""

    asset: Asset
    time_ns: int
    code: int
    text: str


IBEvent = (
    ConnectionLost | ConnectionRestored | OrderStatusChanged | CommissionReported | CancelRejected | OrderAdopted
    | ReconcileReport | IBNotice | MarketDataDelayed
)
