"""Funds at order time: the check TWS makes before it accepts an order (error 201 when the available funds do not
cover the order's initial margin) and the margin figures of a what-if answer."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.core import margin
from runtime.core.assets import Asset
from runtime.core.costs import CommissionModel
from runtime.gateway.accounts import AccountBook
from runtime.gateway.contracts import Instrument
from runtime.gateway.ids import Code
from runtime.gateway.market import Market
from runtime.gateway.order_rules import Rejection
from runtime.gateway.tickets import OrderTicket


@dataclass(frozen=True)
class _Blank:
    """A fresh order for a what-if commission estimate."""

    asset: Asset | None
    amount: int = 0
    filled: int = 0
    commission: float = 0.0


def underlying_price(market: Market, inst: Instrument, now_ns: int) -> float | None:
    """An option's underlying's last price (None: not an option, or no price)."""
    under = market.instrument(inst.under_con_id) if inst.is_option else None
    q = market.quote(under, now_ns) if under is not None else None
    return q.last if q is not None and q.last > 0 else None


def mark_account(account: AccountBook, market: Market, now_ns: int) -> None:
    """Mark the account's positions at the current quotes (options with their underlying's price too)."""
    for h in account.holdings():
        q = market.quote(h.instrument, now_ns)
        if q is not None:
            account.mark(h.instrument, q.last, now_ns)
        und = underlying_price(market, h.instrument, now_ns)
        if und is not None:
            account.mark_underlying(h.instrument, und)


def order_price(market: Market, inst: Instrument, t: OrderTicket, now_ns: int) -> float:
    """The price an order's margin is computed at: the last trade, else the order's own price."""
    quote = market.quote(inst, now_ns)
    if quote is not None:
        return quote.last
    return t.lmt_price or t.aux_price or 0.0


def check_funds(account: AccountBook, market: Market, inst: Instrument, t: OrderTicket, now_ns: int) -> None:
    """Raise :class:`Rejection` (201) when the account's available funds do not cover the order's margin."""
    price = order_price(market, inst, t, now_ns)
    need = account.order_margin(inst, t.signed_quantity, price, underlying_price(market, inst, now_ns))
    if need <= 0:
        return
    mark_account(account, market, now_ns)
    reason = margin.refusal(account.values()["AvailableFunds"], need)
    if reason is not None:
        raise Rejection(Code.ORDER_REJECTED, reason, inactive=True)


def what_if(account: AccountBook, market: Market, commission: CommissionModel, inst: Instrument, t: OrderTicket,
            now_ns: int) -> margin.WhatIf:
    """The margins the account would have with the order filled, and the order's commission (the runtime's one
    margin rule, as the backtest's what-if answers it)."""
    price = order_price(market, inst, t, now_ns)
    mark_account(account, market, now_ns)
    sid = inst.asset.sid if inst.asset is not None else inst.con_id
    position, _ = account.position_of(sid)
    cost = commission.calculate(_Blank(inst.asset), price, int(t.quantity))
    return margin.what_if(account.ledger.portfolio_value, account.margin_holdings(), inst.sec_type, position,
                          t.signed_quantity, price, inst.multiplier, commission=cost, currency=inst.currency,
                          option=account.option_terms(inst, underlying_price(market, inst, now_ns)))
