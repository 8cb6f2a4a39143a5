"""One margin rule for every mode: what a position requires, and IB's what-if answer for an order.

The backtester's order check, the algorithms' what-if helper and the simulated gateway's ``whatIf`` orders all use
these functions, so an order the account cannot margin is refused the same way everywhere.

The rule (a Reg T margin account, simplified and stated here in full):

==========================  ===================================================  ==============================
position                    initial requirement                                  maintenance requirement
==========================  ===================================================  ==============================
long stock                  50% of market value                                  25% of market value
short stock                 50% of market value                                  30% of market value
long option                 100% of market value (premium paid in full)          100% of market value
short option (naked)        value + max(20% x underlying - out-of-the-money      same as initial
                            amount, 10% x underlying (calls) or 10% x strike
                            (puts)), per share x multiplier x contracts
FX (IDEALPRO)               3% of notional                                       2.5% of notional
futures                     10% of notional (price x multiplier x contracts)     8% of notional
==========================  ===================================================  ==============================

Values are in the account's currency; the caller converts (``value`` on :class:`Holding`). Equity with loan value
(IB's ``EquityWithLoanValue``) is cash plus the market value of stock, FX and futures positions, leaving out
options (they have no loan value). An order is accepted when, after it, equity with loan is at least the initial
requirement (IB's ``AvailableFunds`` >= 0); net liquidation stays positive is implied.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

LONG_STOCK_INITIAL = 0.50
LONG_STOCK_MAINTENANCE = 0.25
SHORT_STOCK_INITIAL = 0.50
SHORT_STOCK_MAINTENANCE = 0.30
FX_INITIAL = 0.03
FX_MAINTENANCE = 0.025
FUTURES_INITIAL = 0.10
FUTURES_MAINTENANCE = 0.08
NAKED_UNDERLYING_PCT = 0.20
NAKED_MINIMUM_PCT = 0.10


class Kind(str, Enum):
    """How a holding is margined (IB secType codes)."""

    STOCK = "STK"
    OPTION = "OPT"
    FX = "CASH"
    FUTURE = "FUT"


@dataclass(frozen=True)
class Holding:
    """A position for the margin rule.

    ``quantity`` is signed (shares, contracts or base-currency units); ``price`` per unit; ``multiplier`` 100 for US
    options, the contract's for futures, 1 otherwise. ``fx_rate`` converts the holding's currency into the account's
    (``value`` = quantity x price x multiplier x fx_rate; for a USD.JPY position with a USD account pass
    ``fx_rate = 1 / price`` so the value is the USD amount). Options also carry ``strike``, ``right`` ('C'/'P') and
    ``und_price``.
    """

    kind: Kind
    quantity: float
    price: float
    multiplier: float = 1.0
    fx_rate: float = 1.0
    strike: float = 0.0
    right: str = ""
    und_price: float = 0.0
    key: str = ""

    @property
    def value(self) -> float:
        """Signed market value in the account's currency."""
        return self.quantity * self.price * self.multiplier * self.fx_rate

    def with_quantity(self, quantity: float) -> Holding:
        return replace(self, quantity=quantity)


@dataclass(frozen=True)
class Requirement:
    """Initial and maintenance margin of a holding or an account."""

    initial: float
    maintenance: float

    def __add__(self, other: Requirement) -> Requirement:
        return Requirement(self.initial + other.initial, self.maintenance + other.maintenance)


ZERO = Requirement(0.0, 0.0)


def _naked_option(h: Holding) -> float:
    """Per-share requirement of a short option: its value plus the greater of 20% of the underlying less the
    out-of-the-money amount and 10% of the underlying (call) or the strike (put)."""
    und = h.und_price
    if h.right.upper().startswith("C"):
        otm = max(h.strike - und, 0.0)
        floor = NAKED_MINIMUM_PCT * und
    else:
        otm = max(und - h.strike, 0.0)
        floor = NAKED_MINIMUM_PCT * h.strike
    return h.price + max(NAKED_UNDERLYING_PCT * und - otm, floor)


def requirement(h: Holding) -> Requirement:
    """The margin a holding requires under the module's rule."""
    if h.quantity == 0:
        return ZERO
    value = abs(h.value)
    if h.kind is Kind.STOCK:
        if h.quantity > 0:
            return Requirement(LONG_STOCK_INITIAL * value, LONG_STOCK_MAINTENANCE * value)
        return Requirement(SHORT_STOCK_INITIAL * value, SHORT_STOCK_MAINTENANCE * value)
    if h.kind is Kind.OPTION:
        if h.quantity > 0:
            return Requirement(value, value)
        need = _naked_option(h) * abs(h.quantity) * h.multiplier * h.fx_rate
        return Requirement(need, need)
    if h.kind is Kind.FX:
        return Requirement(FX_INITIAL * value, FX_MAINTENANCE * value)
    return Requirement(FUTURES_INITIAL * value, FUTURES_MAINTENANCE * value)


def loan_value(h: Holding) -> float:
    """What a holding adds to equity with loan value: its market value, except options (0). Futures add nothing
    either: their value is settled into cash daily, so the position itself carries no equity."""
    if h.kind in (Kind.OPTION, Kind.FUTURE):
        return 0.0
    return h.value


def account_requirement(holdings: Iterable[Holding]) -> Requirement:
    """The sum of the holdings' requirements."""
    total = ZERO
    for h in holdings:
        total = total + requirement(h)
    return total


@dataclass(frozen=True)
class AccountState:
    """Equity with loan value and margin of an account."""

    equity_with_loan: float
    initial: float
    maintenance: float

    @property
    def available_funds(self) -> float:
        """IB's ``AvailableFunds``: equity with loan value less the initial requirement."""
        return self.equity_with_loan - self.initial

    @property
    def excess_liquidity(self) -> float:
        """IB's ``ExcessLiquidity``: equity with loan value less the maintenance requirement."""
        return self.equity_with_loan - self.maintenance


def account_state(cash: float, holdings: Iterable[Holding]) -> AccountState:
    """Equity with loan value and requirements of an account holding ``cash`` and ``holdings``."""
    items = list(holdings)
    req = account_requirement(items)
    return AccountState(cash + sum(loan_value(h) for h in items), req.initial, req.maintenance)


@dataclass(frozen=True)
class WhatIf:
    """IB's what-if answer (the margin fields of ``OrderState``) for one order, in the account's currency."""

    init_margin_before: float
    maint_margin_before: float
    equity_with_loan_before: float
    init_margin_after: float
    maint_margin_after: float
    equity_with_loan_after: float
    commission: float
    accepted: bool
    reason: str = ""
    currency: str = "USD"

    @property
    def init_margin_change(self) -> float:
        return self.init_margin_after - self.init_margin_before

    @property
    def maint_margin_change(self) -> float:
        return self.maint_margin_after - self.maint_margin_before

    @property
    def equity_with_loan_change(self) -> float:
        return self.equity_with_loan_after - self.equity_with_loan_before

    def ib_fields(self) -> dict[str, str | float]:
        """The answer under IB's ``OrderState`` attribute names (margins as the decimal strings IB sends)."""
        return {
            "initMarginBefore": f"{self.init_margin_before:.2f}",
            "maintMarginBefore": f"{self.maint_margin_before:.2f}",
            "equityWithLoanBefore": f"{self.equity_with_loan_before:.2f}",
            "initMarginChange": f"{self.init_margin_change:.2f}",
            "maintMarginChange": f"{self.maint_margin_change:.2f}",
            "equityWithLoanChange": f"{self.equity_with_loan_change:.2f}",
            "initMarginAfter": f"{self.init_margin_after:.2f}",
            "maintMarginAfter": f"{self.maint_margin_after:.2f}",
            "equityWithLoanAfter": f"{self.equity_with_loan_after:.2f}",
            "commission": self.commission,
            "minCommission": self.commission,
            "maxCommission": self.commission,
            "commissionCurrency": self.currency,
            "warningText": self.reason,
        }


def what_if(cash: float, holdings: Iterable[Holding], order: Holding, *, commission: float = 0.0,
            currency: str = "USD") -> WhatIf:  # fmt: skip
    """The account before and after filling ``order`` (a :class:`Holding` whose signed ``quantity`` is the order's
    and whose ``price`` is the expected fill price), and whether the margin rule accepts it.

    The fill moves cash by ``-quantity x price x multiplier x fx_rate - commission`` (futures: only the commission
    moves cash) and adds the quantity to the holding with the same ``key`` (or a new one).
    """
    items = list(holdings)
    before = account_state(cash, items)
    after_items: list[Holding] = []
    merged = False
    for h in items:
        if h.key == order.key and h.kind is order.kind:
            after_items.append(h.with_quantity(h.quantity + order.quantity))
            merged = True
        else:
            after_items.append(h)
    if not merged:
        after_items.append(order)
    cash_after = cash - commission - (0.0 if order.kind is Kind.FUTURE else order.value)
    after = account_state(cash_after, after_items)
    accepted = after.available_funds >= -1e-6 or (
        after.initial <= before.initial + 1e-9 and after.equity_with_loan >= before.equity_with_loan - commission - 1e-6
    )
    reason = ""
    if not accepted:
        reason = (
            f"insufficient margin: after this order the initial margin would be {after.initial:,.2f} {currency} "
            f"against equity with loan value of {after.equity_with_loan:,.2f} {currency} "
            f"(available funds {after.available_funds:,.2f})"
        )
    return WhatIf(before.initial, before.maintenance, before.equity_with_loan, after.initial, after.maintenance,
                  after.equity_with_loan, commission, accepted, reason, currency)  # fmt: skip
