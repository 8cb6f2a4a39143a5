"""Orders as the gateway holds them: the ticket a client sent, IB's status words, and the live record.

The ticket keeps every field a client may expect to see again in ``openOrder`` (orderRef, account, tif, OCA group,
parent...). Matching state (fills, triggers) lives in :class:`runtime.core.matching.WorkingOrder`; the record here
adds IB's view: permId, owner client, status text and the order's relationships.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from runtime.gateway.contracts import ContractQuery, Instrument


class IbStatus(str, Enum):
    """IB's order status words, as ``orderStatus`` and ``openOrder`` carry them."""

    PENDING_SUBMIT = "PendingSubmit"
    PENDING_CANCEL = "PendingCancel"
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    API_CANCELLED = "ApiCancelled"
    CANCELLED = "Cancelled"
    FILLED = "Filled"
    INACTIVE = "Inactive"

    @property
    def is_done(self) -> bool:
        return self in (IbStatus.CANCELLED, IbStatus.API_CANCELLED, IbStatus.FILLED, IbStatus.INACTIVE)


@dataclass(frozen=True)
class OrderTicket:
    """An order exactly as a client's placeOrder described it (the fields the gateway uses or echoes back)."""

    order_id: int
    contract: ContractQuery
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = "DAY"
    oca_group: str = ""
    account: str = ""
    open_close: str = ""
    origin: int = 0
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    block_order: bool = False
    sweep_to_fill: bool = False
    display_size: int = 0
    trigger_method: int = 0
    outside_rth: bool = False
    hidden: bool = False
    discretionary_amt: float = 0.0
    good_after_time: str = ""
    good_till_date: str = ""
    fa_group: str = ""
    fa_method: str = ""
    fa_percentage: str = ""
    fa_profile: str = ""
    model_code: str = ""
    oca_type: int = 0
    rule80a: str = ""
    all_or_none: bool = False
    min_qty: int | None = None
    percent_offset: float | None = None
    trail_stop_price: float | None = None
    trailing_percent: float | None = None
    #: TRAIL LIMIT: the limit's distance from the stop (lmtPriceOffset)
    lmt_price_offset: float | None = None
    algo_strategy: str = ""
    what_if: bool = False
    has_conditions: bool = False
    cash_qty: float | None = None

    @property
    def is_buy(self) -> bool:
        return self.action.upper() == "BUY"

    @property
    def signed_quantity(self) -> float:
        return self.quantity if self.is_buy else -self.quantity


@dataclass(slots=True, eq=False)
class GatewayOrder:
    """The gateway's live record of one order (mutated only on the gateway's event loop)."""

    ticket: OrderTicket
    instrument: Instrument
    client_id: int
    perm_id: int
    account: str
    status: IbStatus = IbStatus.PENDING_SUBMIT
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    commission: float = 0.0
    why_held: str = ""
    working_id: str = ""
    transmitted: bool = False
    stop_price: float | None = None
    parent_perm_id: int = 0
    created_ns: int = 0
    completed_ns: int = 0
    completed_status: str = ""
    exec_ids: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, int]:
        """Orders are identified by (client id, order id), as in TWS."""
        return (self.client_id, self.ticket.order_id)

    @property
    def remaining(self) -> float:
        """Unfilled quantity (TWS reports it for cancelled orders too)."""
        return max(self.ticket.quantity - self.filled, 0.0)

    @property
    def is_done(self) -> bool:
        return self.status.is_done
