"""Plain copies of what ibapi's callbacks deliver, made on the reader thread (no ibapi objects escape it).

Everything downstream of :mod:`runtime.brokers.ib.client` works on these frozen values, so the order, account and
market-data logic is the same for the 9.81 and the 10.x clients and can be tested without a socket.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.core.ib.contracts import ContractFacts


@dataclass(frozen=True)
class OpenOrderInfo:
    """openOrder / completedOrder: an order as TWS knows it."""

    ib_order_id: int
    perm_id: int
    client_id: int
    order_ref: str
    contract: ContractFacts
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    aux_price: float | None
    tif: str
    account: str
    parent_id: int
    status: str
    filled: float | None = None  # completed orders only
    completed: bool = False


@dataclass(frozen=True)
class OrderStatusInfo:
    """orderStatus: may repeat, may skip states; ``filled``/``remaining`` are cumulative."""

    ib_order_id: int
    status: str
    filled: float
    remaining: float
    avg_fill_price: float
    perm_id: int
    parent_id: int
    last_fill_price: float
    client_id: int
    why_held: str


@dataclass(frozen=True)
class ExecutionInfo:
    """execDetails: one execution (``req_id`` -1 when unsolicited)."""

    req_id: int
    exec_id: str
    ib_order_id: int
    perm_id: int
    client_id: int
    order_ref: str
    contract: ContractFacts
    time_text: str
    account: str
    side: str  # BOT / SLD
    shares: float
    price: float
    cum_qty: float
    avg_price: float


@dataclass(frozen=True)
class CommissionInfo:
    """commissionReport / commissionAndFeesReport, keyed by execId."""

    exec_id: str
    commission: float
    currency: str
    realized_pnl: float | None


@dataclass(frozen=True)
class PositionInfo:
    """position (reqPositions) or updatePortfolio (reqAccountUpdates) for one contract."""

    account: str
    contract: ContractFacts
    position: float
    avg_cost: float
    market_price: float | None = None
    market_value: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None


@dataclass(frozen=True)
class BarInfo:
    """historicalData: one bar, labelled by IB with its START."""

    date: str
    open: float
    high: float
    low: float
    close: float
    volume: float
