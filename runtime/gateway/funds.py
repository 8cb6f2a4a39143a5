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


@dataclass(frozen=True)
class WhatIf:
    """The OrderState fields of a what-if answer: initial margin, maintenance margin and equity with loan before
    the order, their change, and after it; the order's commission."""

    init_before: float
    maint_before: float
    equity_before: float
    init_change: float
    maint_change: float
    commission: float

    @property
    def init_after(self) -> float:
        return self.init_before + self.init_change

    @property
    def maint_after(self) -> float:
        return self.maint_before + self.maint_change

    @property
    def equity_change(self) -> float:
        return -self.commission  # the order itself moves cash into the position; its commission leaves

    def texts(self) -> tuple[str, ...]:
        """The nine margin fields as the openOrder message carries them."""
        values = (self.init_before, self.maint_before, self.equity_before, self.init_change, self.maint_change,
                  self.equity_change, self.init_after, self.maint_after, self.equity_before + self.equity_change)
        return tuple(f"{v:.2f}" for v in values)


def mark_account(account: AccountBook, market: Market, now_ns: int) -> None:
    """Mark the account's positions at the current quotes."""
    for h in account.holdings():
        q = market.quote(h.instrument, now_ns)
        if q is not None:
            account.mark(h.instrument, q.last, now_ns)


def order_price(market: Market, inst: Instrument, t: OrderTicket, now_ns: int) -> float:
    """The price an order's margin is computed at: the last trade, else the order's own price."""
    quote = market.quote(inst, now_ns)
    if quote is not None:
        return quote.last
    return t.lmt_price or t.aux_price or 0.0


def check_funds(account: AccountBook, market: Market, inst: Instrument, t: OrderTicket, now_ns: int) -> None:
    """Raise :class:`Rejection` (201) when the account's available funds do not cover the order's margin."""
    price = order_price(market, inst, t, now_ns)
    need = account.order_margin(inst, t.signed_quantity, price)
    if need <= 0:
        return
    mark_account(account, market, now_ns)
    reason = margin.refusal(account.values()["AvailableFunds"], need)
    if reason is not None:
        raise Rejection(Code.ORDER_REJECTED, reason, inactive=True)


def what_if(account: AccountBook, market: Market, commission: CommissionModel, inst: Instrument, t: OrderTicket,
            now_ns: int) -> WhatIf:
    """The margins the account would have with the order filled, and the order's commission."""
    price = order_price(market, inst, t, now_ns)
    mark_account(account, market, now_ns)
    _, init, maint = account.margin()
    init_change, maint_change = account.margin_change(inst, t.signed_quantity, price)
    return WhatIf(init, maint, account.ledger.portfolio_value, init_change, maint_change,
                  commission.calculate(_Blank(inst.asset), price, int(t.quantity)))
