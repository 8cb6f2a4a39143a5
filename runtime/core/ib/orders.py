"""IB orders as pure values: the ``orderRef`` that lets a run recognise its own orders, :class:`OrderSpec` (the
fields of an ibapi ``Order``) from an order request, and IB's order status strings -> :class:`OrderStatus`.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.core.orders import OrderKind, OrderStatus, TimeInForce

ORDER_REF_PREFIX = "ibalgo"


def order_ref(run_id: str, order_id: str) -> str:
    """The ``orderRef`` that marks an order as the runtime's: ``'ibalgo:<run_id>:<order id>'``."""
    if ":" in run_id:
        raise ValueError(f"a run id must not contain ':', got {run_id!r}")
    return f"{ORDER_REF_PREFIX}:{run_id}:{order_id}"


def parse_order_ref(ref: str) -> tuple[str, str] | None:
    """``(run_id, order_id)`` of one of the runtime's orderRefs, None for anybody else's."""
    parts = (ref or "").split(":", 2)
    if len(parts) != 3 or parts[0] != ORDER_REF_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


@dataclass(frozen=True)
class OrderSpec:
    """The fields of an ibapi ``Order`` the runtime sets (snake_case names of the ibapi attributes).

    ``aux_price`` is the stop price of STP/STP LMT and the trailing amount of TRAIL / TRAIL LIMIT;
    ``trail_stop_price`` is a trailing order's initial stop, ``limit_price_offset`` a trailing stop-limit's limit
    distance from its stop (ibapi's ``lmtPriceOffset``). ``transmit`` False keeps a bracket parent at TWS until its
    last child arrives.
    """

    action: str
    quantity: float
    order_type: str
    tif: str
    order_ref: str
    limit_price: float | None = None
    aux_price: float | None = None
    trailing_percent: float | None = None
    trail_stop_price: float | None = None
    limit_price_offset: float | None = None
    outside_rth: bool = False
    oca_group: str = ""
    oca_type: int = 0
    account: str = ""
    transmit: bool = True
    parent_ib_id: int = 0


#: IB's time in force of an order for the opening auction (with orderType LMT: limit-on-open)
IB_TIF_OPENING = "OPG"

#: OCA type 1: cancel the other orders of the group when one fills (with block: no overfill).
OCA_CANCEL_WITH_BLOCK = 1


def order_spec_for(
    *,
    amount: int,
    kind: OrderKind,
    limit: float | None,
    stop: float | None,
    tif: TimeInForce,
    ref: str,
    trailing_amount: float | None = None,
    trailing_percent: float | None = None,
    limit_offset: float | None = None,
    outside_rth: bool = False,
    oca_group: str | None = None,
    account: str = "",
    transmit: bool = True,
    parent_ib_id: int = 0,
) -> OrderSpec:
    """The IB order for one runtime order. Raises ValueError when the runtime order cannot be expressed.

    - MKT; LMT (limit); STP (stop -> auxPrice); STP LMT (both); TRAIL (trailing amount -> auxPrice, or
      trailingPercent; an initial stop -> trailStopPrice); TRAIL LIMIT (as TRAIL, plus the limit offset ->
      lmtPriceOffset); MOC; LOC (limit); limit-on-open (LMT with tif OPG);
    - MOC and LOC are day orders by nature (tif DAY);
    - an OCA group cancels the other members when one fills (ocaType 1).
    """
    if amount == 0:
        raise ValueError("an order needs a non-zero amount")
    action = "BUY" if amount > 0 else "SELL"
    qty = float(abs(amount))
    lmt = aux = pct = trail_stop = offset = None
    order_type = kind.value
    if kind in (OrderKind.LIMIT, OrderKind.STOP_LIMIT, OrderKind.LIMIT_ON_CLOSE, OrderKind.LIMIT_ON_OPEN):
        if limit is None:
            raise ValueError(f"a {kind.value} order needs a limit price")
        lmt = limit
    if kind in (OrderKind.STOP, OrderKind.STOP_LIMIT):
        if stop is None:
            raise ValueError(f"a {kind.value} order needs a stop price")
        aux = stop
    if kind in (OrderKind.TRAIL, OrderKind.TRAIL_LIMIT):
        if (trailing_amount is None) == (trailing_percent is None):
            raise ValueError(f"a {kind.value} order needs exactly one of a trailing amount or a trailing percent")
        aux, pct, trail_stop = trailing_amount, trailing_percent, stop
    if kind is OrderKind.TRAIL_LIMIT:
        if limit_offset is None:
            raise ValueError("a TRAIL LIMIT order needs a limit offset")
        offset = limit_offset
    tif_text = tif.value
    if kind in (OrderKind.MARKET_ON_CLOSE, OrderKind.LIMIT_ON_CLOSE):
        tif_text = TimeInForce.DAY.value
    if kind is OrderKind.LIMIT_ON_OPEN:
        order_type, tif_text = OrderKind.LIMIT.value, IB_TIF_OPENING
    return OrderSpec(
        action=action, quantity=qty, order_type=order_type, tif=tif_text, order_ref=ref, limit_price=lmt,
        aux_price=aux, trailing_percent=pct, trail_stop_price=trail_stop, limit_price_offset=offset,
        outside_rth=outside_rth,
        oca_group=oca_group or "", oca_type=OCA_CANCEL_WITH_BLOCK if oca_group else 0, account=account,
        transmit=transmit, parent_ib_id=parent_ib_id,
    )


#: IB's order status strings and the zipline status each one means (the other direction, a status's IB words, is
#: :data:`runtime.core.orders.IB_STATUS_WORDS`).
STATUS_FROM_IB: dict[str, OrderStatus] = {
    "ApiPending": OrderStatus.HELD,
    "PendingSubmit": OrderStatus.HELD,
    "PreSubmitted": OrderStatus.HELD,
    "PendingCancel": OrderStatus.HELD,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Submitted": OrderStatus.OPEN,
    "Filled": OrderStatus.FILLED,
    "Inactive": OrderStatus.REJECTED,
}


def order_status_from_ib(status: str) -> OrderStatus | None:
    """The zipline status of an IB status string; None for a string IB has not documented.

    >>> order_status_from_ib("PreSubmitted"), order_status_from_ib("Filled")
    (<OrderStatus.HELD: 4>, <OrderStatus.FILLED: 1>)
    """
    return STATUS_FROM_IB.get(status.strip())
