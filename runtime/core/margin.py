"""The margin rule, one for every mode: the backtest's pre-trade check and the simulated gateway's (error 201,
what-if answers, account values) compute the same figures from the same rates.

A Reg T style rule on notional value: stocks 50% initial / 25% maintenance, futures 6% / 5%, FX 3% / 2.5%. Options
(equity options, Reg T as IB applies it to a margin account):

- long options: the premium, 100% (options have no loan value), initial and maintenance alike;
- short (uncovered) options: 100% of the option's market value plus 20% of the underlying's value less the amount
  the option is out of the money, at least the option's value plus 10% of the underlying's value (calls) or of
  the strike (puts), per share x multiplier x contracts, initial and maintenance alike
  (:func:`short_option_requirement`). Covered calls and spreads are not recognised (each leg is margined alone).

A position whose option terms (right, strike, underlying price) are not known falls back to 100% of its value.
An account's *available funds* are its equity with loan value (net
liquidation for these instruments) less the initial margin of its positions; an order that grows a position needs
the initial margin of the growth and is refused when that is more than the available funds, with IB's words. An
order that only reduces a position needs nothing. Real IB accounts add house rules and portfolio margin; the README
says what this rule leaves out. Pure: no I/O, prices passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from runtime.errors import ConfigError


@dataclass(frozen=True, slots=True)
class MarginRates:
    """Initial and maintenance margin as fractions of a position's absolute notional value."""

    initial: float
    maintenance: float


#: rates by IB security type (``Asset.sec_type.value`` / a contract's ``secType``)
RATES: dict[str, MarginRates] = {
    "STK": MarginRates(0.5, 0.25),
    "OPT": MarginRates(1.0, 1.0),
    "FUT": MarginRates(0.06, 0.05),
    "CASH": MarginRates(0.03, 0.025),
}
_DEFAULT = RATES["STK"]


def rates_for(sec_type: str) -> MarginRates:
    """The rates of a security type (stock rates for one without its own)."""
    return RATES.get(sec_type, _DEFAULT)


@dataclass(frozen=True, slots=True)
class OptionTerms:
    """What the short option rule needs besides the option's price: right ('C'/'P'), strike, underlying price."""

    right: str
    strike: float
    underlying_price: float


#: the short option rule's rates: of the underlying's value, less the out-of-the-money amount; and the floor
SHORT_OPTION_RATE = 0.20
SHORT_OPTION_MINIMUM = 0.10


def short_option_requirement(price: float, terms: OptionTerms) -> float:
    """The margin of one SHORT option per share (multiply by multiplier x contracts): the option's price plus
    max(20% of the underlying - the out-of-the-money amount, 10% of the underlying (call) or of the strike (put))."""
    und, strike = terms.underlying_price, terms.strike
    if terms.right.upper().startswith("C"):
        otm, floor = max(strike - und, 0.0), SHORT_OPTION_MINIMUM * und
    else:
        otm, floor = max(und - strike, 0.0), SHORT_OPTION_MINIMUM * strike
    return max(price, 0.0) + max(SHORT_OPTION_RATE * und - otm, floor)


def position_requirement(sec_type: str, units: float, price: float,
                         option: OptionTerms | None = None) -> tuple[float, float]:
    """(initial, maintenance) margin of a position of signed ``units`` (amount x multiplier) at ``price``."""
    if sec_type == "OPT" and option is not None and units < 0:
        need = -units * short_option_requirement(price, option)
        return need, need
    rates = rates_for(sec_type)
    value = abs(units * price)
    return value * rates.initial, value * rates.maintenance


@dataclass(frozen=True, slots=True)
class Holding:
    """What the rule needs of one position: its security type and signed market value (amount x price x
    multiplier); for an option also its terms and signed units (amount x multiplier), for the short option rule."""

    sec_type: str
    market_value: float
    option: OptionTerms | None = None
    units: float = 0.0


@dataclass(frozen=True, slots=True)
class Requirements:
    """An account's gross position value and its initial and maintenance margin."""

    gross: float
    initial: float
    maintenance: float


def requirements(holdings: Iterable[Holding]) -> Requirements:
    """Gross value and margins of a set of positions."""
    gross = initial = maintenance = 0.0
    for h in holdings:
        value = abs(h.market_value)
        gross += value
        if h.option is not None and h.units:
            init, maint = position_requirement(h.sec_type, h.units, h.market_value / h.units, h.option)
        else:
            rates = rates_for(h.sec_type)
            init, maint = value * rates.initial, value * rates.maintenance
        initial += init
        maintenance += maint
    return Requirements(gross, initial, maintenance)


def margin_change(sec_type: str, position: float, quantity: float, price: float,
                  multiplier: float = 1.0, option: OptionTerms | None = None) -> tuple[float, float]:
    """(initial, maintenance) margin change if an order of signed ``quantity`` filled at ``price`` on a position of
    ``position``: negative when it reduces the position. An option with its terms follows the option rules."""
    if sec_type == "OPT" and option is not None:
        b_init, b_maint = position_requirement(sec_type, position * multiplier, price, option)
        a_init, a_maint = position_requirement(sec_type, (position + quantity) * multiplier, price, option)
        return a_init - b_init, a_maint - b_maint
    grow = abs(position + quantity) - abs(position)
    rates = rates_for(sec_type)
    value = grow * price * multiplier
    return value * rates.initial, value * rates.maintenance


def order_margin(sec_type: str, position: float, quantity: float, price: float, multiplier: float = 1.0,
                 option: OptionTerms | None = None) -> float:
    """The extra initial margin an order needs (0 when it only reduces the position)."""
    return max(margin_change(sec_type, position, quantity, price, multiplier, option)[0], 0.0)


def refusal(available: float, need: float, currency: str = "USD") -> str | None:
    """IB's reason for refusing an order that needs ``need`` of initial margin with ``available`` funds, or None
    when the funds cover it."""
    if need <= 0 or need <= available:
        return None
    return ("Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR "
            f"AVAILABLE FUNDS [{available:.2f} {currency}] MUST EXCEED THE INITIAL MARGIN [{need:.2f} {currency}]")


class MarginCheck(enum.Enum):
    """Whether a backtest checks orders against the margin rule (paper and live runs: the broker always does)."""

    #: refuse what the simulated gateway and IB refuse (error 201), by :func:`refusal`
    REG_T = "regt"
    #: zipline's behaviour: no cash or margin check at all (for parity with zipline's results)
    NONE = "none"

    @classmethod
    def parse(cls, value: object) -> MarginCheck:
        """``'regt'``/``'ib'``/True or ``'none'``/``'off'``/False (the MARGIN_CHECK setting, ``--margin-check``)."""
        if isinstance(value, MarginCheck):
            return value
        if value is True:
            return cls.REG_T
        if value is False or value is None:
            return cls.NONE
        text = str(value).strip().lower()
        if text in ("regt", "reg_t", "ib", "on", "true", "yes", "1"):
            return cls.REG_T
        if text in ("none", "off", "false", "no", "0", "zipline"):
            return cls.NONE
        raise ConfigError(f"margin check must be 'regt' (IB's rule, the default) or 'none' (zipline: no check), "
                         f"got {value!r}")


@dataclass(frozen=True, slots=True)
class WhatIf:
    """IB's what-if answer for one order (the margin fields of ``OrderState``), from this module's rule."""

    init_margin_before: float
    maint_margin_before: float
    equity_with_loan_before: float
    init_margin_after: float
    maint_margin_after: float
    equity_with_loan_after: float
    commission: float
    #: IB's refusal text when the rule refuses the order, else ""
    warning: str = ""
    currency: str = "USD"

    @property
    def accepted(self) -> bool:
        """Whether the order passes the margin rule."""
        return not self.warning

    @property
    def init_margin_change(self) -> float:
        return self.init_margin_after - self.init_margin_before

    @property
    def maint_margin_change(self) -> float:
        return self.maint_margin_after - self.maint_margin_before

    @property
    def equity_with_loan_change(self) -> float:
        return self.equity_with_loan_after - self.equity_with_loan_before

    def texts(self) -> tuple[str, ...]:
        """The nine margin fields in the order IB's openOrder message carries them (before, change, after of the
        initial margin, maintenance margin and equity with loan), as decimal strings."""
        f = self.ib_fields()
        return tuple(str(f[f"{what}{when}"]) for when in ("Before", "Change", "After")
                     for what in ("initMargin", "maintMargin", "equityWithLoan"))

    def ib_fields(self) -> dict[str, str | float]:
        """The answer under IB's ``OrderState`` names (margins as the decimal strings IB sends)."""
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
            "warningText": self.warning,
        }


def what_if(equity_with_loan: float, holdings: Iterable[Holding], sec_type: str, position: float, quantity: float,
            price: float, multiplier: float = 1.0, commission: float = 0.0, currency: str = "USD",
            option: OptionTerms | None = None) -> WhatIf:
    """The account's margin before and after an order of signed ``quantity`` at ``price`` on a position of
    ``position``, as IB's what-if order answers it, with :func:`refusal`'s text when the rule refuses it.

    ``equity_with_loan`` is the account's equity with loan value (net liquidation for the instruments this rule
    covers); the fill itself leaves it unchanged but for the commission."""
    before = requirements(holdings)
    init_change, maint_change = margin_change(sec_type, position, quantity, price, multiplier, option)
    available = equity_with_loan - before.initial
    warning = refusal(available, max(init_change, 0.0), currency) or ""
    return WhatIf(before.initial, before.maintenance, equity_with_loan, max(before.initial + init_change, 0.0),
                  max(before.maintenance + maint_change, 0.0), equity_with_loan - commission, commission, warning,
                  currency)  # fmt: skip
