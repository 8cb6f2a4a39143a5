"""ibapi ``Contract`` / ``Order`` / ``ExecutionFilter`` objects from the runtime's pure specs."""

from __future__ import annotations

from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order

from runtime.brokers.ib.compat import quantity
from runtime.core.ib_mapping import ContractSpec, OrderSpec, ib_end_time


def make_contract(spec: ContractSpec) -> Contract:
    """An ibapi Contract; a known conId is sent along with the description."""
    c = Contract()
    c.conId = spec.con_id or 0
    c.symbol = spec.symbol
    c.secType = spec.sec_type
    c.currency = spec.currency
    c.exchange = spec.exchange
    c.primaryExchange = spec.primary_exchange
    c.lastTradeDateOrContractMonth = spec.expiry
    if spec.strike:
        c.strike = spec.strike
    c.right = spec.right
    c.multiplier = spec.multiplier
    c.localSymbol = spec.local_symbol
    c.tradingClass = spec.trading_class
    c.includeExpired = spec.include_expired
    return c


def make_order(spec: OrderSpec, ib_order_id: int) -> Order:
    """An ibapi Order. eTradeOnly/firmQuoteOnly are cleared: TWS 983+ rejects them (10268/10269) and the 9.81
    client sets them by default."""
    o = Order()
    o.orderId = ib_order_id
    o.action = spec.action
    o.totalQuantity = quantity(spec.quantity)
    o.orderType = spec.order_type
    o.tif = spec.tif
    o.orderRef = spec.order_ref
    if spec.limit_price is not None:
        o.lmtPrice = spec.limit_price
    if spec.aux_price is not None:
        o.auxPrice = spec.aux_price
    if spec.trailing_percent is not None:
        o.trailingPercent = spec.trailing_percent
    if spec.trail_stop_price is not None:
        o.trailStopPrice = spec.trail_stop_price
    if spec.limit_price_offset is not None:
        o.lmtPriceOffset = spec.limit_price_offset
    o.outsideRth = spec.outside_rth
    if spec.oca_group:
        o.ocaGroup = spec.oca_group
        o.ocaType = spec.oca_type
    if spec.account:
        o.account = spec.account
    o.transmit = spec.transmit
    o.parentId = spec.parent_ib_id
    o.eTradeOnly = False
    o.firmQuoteOnly = False
    return o


def make_execution_filter(client_id: int = 0, account: str = "", since_ns: int | None = None) -> ExecutionFilter:
    """Executions of ``account`` (all if empty) since ``since_ns`` (UTC 'yyyymmdd-hh:mm:ss')."""
    f = ExecutionFilter()
    f.clientId = client_id
    f.acctCode = account
    f.time = ib_end_time(since_ns) if since_ns is not None else ""
    return f
