"""IB's rules for an order ticket: the order types and times in force the gateway accepts, the checks TWS makes
before it takes an order (with IB's error codes), and the matcher's terms of an accepted ticket."""

from __future__ import annotations

import math

from runtime.core.matching import WorkingOrder
from runtime.core.orders import OrderKind, TimeInForce
from runtime.gateway.contracts import ContractBook, Instrument
from runtime.gateway.ids import Code
from runtime.gateway.tickets import GatewayOrder, OrderTicket

ORDER_KINDS = {
    "MKT": OrderKind.MARKET,
    "LMT": OrderKind.LIMIT,
    "STP": OrderKind.STOP,
    "STP LMT": OrderKind.STOP_LIMIT,
    "TRAIL": OrderKind.TRAIL,
    "TRAIL LIMIT": OrderKind.TRAIL_LIMIT,
    "MOC": OrderKind.MARKET_ON_CLOSE,
    "LOC": OrderKind.LIMIT_ON_CLOSE,
}
#: OPG (the opening auction) is a day order: with LMT it is a limit-on-open order
TIFS = {"DAY": TimeInForce.DAY, "GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "OPG": TimeInForce.DAY}
LIMIT_KINDS = (OrderKind.LIMIT, OrderKind.STOP_LIMIT, OrderKind.LIMIT_ON_CLOSE, OrderKind.LIMIT_ON_OPEN)
STOP_KINDS = (OrderKind.STOP, OrderKind.STOP_LIMIT)
TRAIL_KINDS = (OrderKind.TRAIL, OrderKind.TRAIL_LIMIT)
#: the largest price an order may carry (TWS refuses absurd prices such as 1e300 or infinity)
MAX_PRICE = 1e9


class Rejection(Exception):
    """An order that cannot be accepted: the IB error code and text to send."""

    def __init__(self, code: int, text: str, inactive: bool = False) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.inactive = inactive


def order_kind(t: OrderTicket) -> OrderKind:
    """The matcher's kind of a ticket (a validated one): LMT with tif OPG is limit-on-open."""
    if t.tif == "OPG":
        return OrderKind.LIMIT_ON_OPEN
    return ORDER_KINDS[t.order_type]


def on_tick(price: float, tick: float) -> bool:
    """Whether ``price`` is a multiple of the minimum tick."""
    if tick <= 0:
        return True
    k = round(price / tick)
    return abs(price - k * tick) <= 1e-9 * max(1.0, abs(price))


def validate_ticket(t: OrderTicket, book: ContractBook) -> Instrument:
    """The instrument of an acceptable ticket; raises :class:`Rejection` with IB's code otherwise."""
    if not t.contract.sec_type and not t.contract.con_id:
        raise Rejection(Code.VALIDATION, "Error validating request:-'secType' : cause - Invalid security type "
                        "(empty): set STK, CASH, FUT, OPT...")
    for name, price in (("limit price", t.lmt_price), ("stop price (auxPrice)", t.aux_price)):
        if price is not None and (not math.isfinite(price) or abs(price) > MAX_PRICE):
            raise Rejection(Code.ORDER_REJECTED, f"Order rejected - reason:the {name} {price:g} is not a valid "
                            "price", inactive=True)
    found = book.resolve(t.contract)
    if not isinstance(found, Instrument):
        if found:
            raise Rejection(Code.NO_SECURITY, f"The contract description specified for {t.contract.symbol} is "
                            "ambiguous.")
        raise Rejection(Code.NO_SECURITY, "No security definition has been found for the request")
    inst = found
    if t.has_conditions:
        raise Rejection(Code.ORDER_REJECTED, "Order rejected - reason:conditional orders are not supported "
                        "by the simulated gateway", inactive=True)
    if t.order_type not in ORDER_KINDS:
        raise Rejection(Code.ORDER_REJECTED, f"Order rejected - reason:order type {t.order_type!r} is not "
                        f"supported (supported: {', '.join(ORDER_KINDS)})", inactive=True)
    if t.tif not in TIFS:
        raise Rejection(Code.ORDER_REJECTED, f"Order rejected - reason:time in force {t.tif!r} is not "
                        "supported (supported: DAY, GTC, IOC, OPG)", inactive=True)
    if t.tif == "OPG" and t.order_type != "LMT":
        raise Rejection(Code.ORDER_REJECTED, "Order rejected - reason:time in force OPG is supported with LMT "
                        "orders only (limit-on-open)", inactive=True)
    if t.action not in ("BUY", "SELL", "SSHORT"):
        raise Rejection(Code.VALIDATION, f"Error validating request:-'action' : cause - invalid action "
                        f"{t.action!r}")
    if not t.quantity > 0 or not float(t.quantity).is_integer():
        raise Rejection(Code.ORDER_REJECTED, f"Order rejected - reason:invalid order size {t.quantity:g} "
                        "(whole positive quantities only)", inactive=True)
    kind = order_kind(t)
    tick = inst.min_tick
    if kind in LIMIT_KINDS:
        if t.lmt_price is None or not t.lmt_price > 0:
            raise Rejection(Code.ORDER_REJECTED, "Order rejected - reason:a limit price is required",
                            inactive=True)
        if not on_tick(t.lmt_price, tick):
            raise Rejection(Code.TICK_SIZE, "The price does not conform to the minimum price variation for "
                            f"this contract ({tick:g}).")
    if kind in STOP_KINDS:
        if t.aux_price is None or not t.aux_price > 0:
            raise Rejection(Code.ORDER_REJECTED, "Order rejected - reason:a stop price (auxPrice) is required",
                            inactive=True)
        if not on_tick(t.aux_price, tick):
            raise Rejection(Code.TICK_SIZE, "The price does not conform to the minimum price variation for "
                            f"this contract ({tick:g}).")
    if kind in TRAIL_KINDS and not ((t.aux_price or 0) > 0 or (t.trailing_percent or 0) > 0):
        raise Rejection(Code.ORDER_REJECTED, "Order rejected - reason:a trailing amount (auxPrice) or "
                        "trailingPercent is required", inactive=True)
    if kind is OrderKind.TRAIL_LIMIT and (t.lmt_price_offset is None or t.lmt_price_offset < 0):
        raise Rejection(Code.ORDER_REJECTED, "Order rejected - reason:a TRAIL LIMIT order needs a limit offset "
                        "(lmtPriceOffset)", inactive=True)
    return inst


def ticket_terms(t: OrderTicket) -> tuple[OrderKind, int, float | None, float | None]:
    """(kind, signed amount, limit, stop) of a validated ticket, as the matcher takes them."""
    kind = order_kind(t)
    amount = int(t.quantity) if t.is_buy else -int(t.quantity)
    limit = t.lmt_price if kind in LIMIT_KINDS else None
    stop = t.aux_price if kind in STOP_KINDS else None
    return kind, amount, limit, stop


def working_order(rec: GatewayOrder, now_ns: int, parent_working: str | None) -> WorkingOrder:
    """The matcher's order for a transmitted record (``parent_working``: its working parent's id, if any)."""
    t = rec.ticket
    kind, amount, limit, stop = ticket_terms(t)
    trail_amount = trail_pct = None
    if kind in TRAIL_KINDS:
        if t.trailing_percent:
            trail_pct = t.trailing_percent
        else:
            trail_amount = t.aux_price
        stop = t.trail_stop_price
    oca = f"{rec.account}/{t.oca_group}" if t.oca_group else None
    return WorkingOrder(
        id=f"{rec.client_id}:{t.order_id}", asset=rec.instrument.asset, amount=amount, kind=kind, limit=limit,
        stop=stop, tif=TIFS[t.tif], created_ns=now_ns, trail_amount=trail_amount, trail_percent=trail_pct,
        limit_offset=t.lmt_price_offset if kind is OrderKind.TRAIL_LIMIT else None, parent_id=parent_working,
        oca_group=oca, outside_rth=t.outside_rth,
    )
