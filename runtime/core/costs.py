"""Commission and slippage models with zipline's names, arguments and arithmetic.

Algorithm files call them as ``commission.PerShare(cost=0.001, min_trade_cost=0)`` or
``slippage.FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1)``; the runtime's matching code calls
:meth:`SlippageModel.fill` and :meth:`CommissionModel.calculate`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Protocol

from runtime.errors import LegacyApiError


class FillingOrder(Protocol):
    """What a cost model needs to know about an order being filled."""

    amount: int
    filled: int
    commission: float


@dataclass(frozen=True)
class SlipResult:
    """The outcome of asking a slippage model about one order in one bar."""

    price: float
    shares: int  # unsigned, > 0


#: returned by :meth:`SlippageModel.fill` when the bar's volume is used up for this asset.
LIQUIDITY_EXCEEDED = "liquidity exceeded"


#: keyword arguments Quantopian-era files pass that zipline removed -> why and what to do
_REMOVED_ARGUMENTS = {
    "delay": "Quantopian removed it in 2015 (orders fill on the next bar by themselves): drop the argument",
}


class _Model:
    """Base of the cost models: a keyword argument the model does not take is an error naming the ones it takes
    (and, for arguments zipline removed such as ``delay``, why), instead of Python's bare TypeError."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            params = inspect.signature(cls.__init__).parameters
            if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
                unknown = [k for k in kwargs if k not in params]
                if unknown:
                    takes = ", ".join(k for k in params if k != "self") or "no arguments"
                    reasons = "; ".join(f"{k}: {_REMOVED_ARGUMENTS[k]}" for k in unknown if k in _REMOVED_ARGUMENTS)
                    raise LegacyApiError(
                        f"{cls.__name__}({', '.join(f'{k}=...' for k in unknown)}): not an argument of "
                        f"{cls.__name__}, which takes {takes}" + (f" ({reasons})" if reasons else "")
                    )
        return super().__new__(cls)


# ---------------------------------------------------------------------------------------------------------- slippage
class SlippageModel(_Model):
    """Decides price and size of a fill for one order in one bar.

    ``fill`` gets the bar's close and volume and the shares already filled for the asset in this bar, and returns a
    :class:`SlipResult`, ``None`` (no fill for this order now) or :data:`LIQUIDITY_EXCEEDED` (no more fills for this
    asset in this bar).
    """

    volume_limit: float | None = None
    #: whether a limit order whose slipped price is beyond its limit waits for a later bar (True: zipline's
    #: VolumeShareSlippage) instead of filling at the limit (False)
    waits_for_limit: bool = False

    def fill(self, direction: int, open_amount: int, price: float, volume: float, volume_used: int):
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class NoSlippage(SlippageModel):
    """Fills the whole order at the bar's close, whatever the volume."""

    def __init__(self, equity_limit: float | None = None) -> None:  # zipline accepts an (ignored) positional
        self.equity_limit = equity_limit

    def fill(self, direction, open_amount, price, volume, volume_used):
        return SlipResult(price, abs(open_amount))


class FixedSlippage(SlippageModel):
    """Fills the whole order at close +/- half the ``spread`` (buys pay more, sells get less)."""

    def __init__(self, spread: float = 0.0) -> None:
        self.spread = float(spread)

    def fill(self, direction, open_amount, price, volume, volume_used):
        return SlipResult(price + self.spread / 2.0 * direction, abs(open_amount))


class FixedBasisPointsSlippage(SlippageModel):
    """zipline's default for equities: price moves ``basis_points`` against the trader; at most ``volume_limit`` of
    the bar's volume is filled (the rest stays open for later bars)."""

    def __init__(self, basis_points: float = 5.0, volume_limit: float = 0.1) -> None:
        if basis_points < 0:
            raise ValueError("basis_points must be >= 0")
        if not volume_limit > 0:
            raise ValueError("volume_limit must be > 0")
        self.basis_points = float(basis_points)
        self.volume_limit = float(volume_limit)

    def fill(self, direction, open_amount, price, volume, volume_used):
        max_volume = int(self.volume_limit * volume)
        shares = min(abs(open_amount), max_volume - volume_used)
        if shares <= 0:
            return LIQUIDITY_EXCEEDED
        return SlipResult(price + price * (self.basis_points / 10_000.0) * direction, shares)


class VolumeShareSlippage(SlippageModel):
    """Fills up to ``volume_limit`` of the bar's volume; the price impact grows with the square of the share of
    volume taken: ``price * price_impact * (share ** 2)`` against the trader. As in zipline, a limit order whose
    impacted price is beyond its limit does not fill in that bar (it waits for a later one)."""

    waits_for_limit = True

    def __init__(self, volume_limit: float = 0.025, price_impact: float = 0.1) -> None:
        self.volume_limit = float(volume_limit)
        self.price_impact = float(price_impact)

    def fill(self, direction, open_amount, price, volume, volume_used):
        remaining = self.volume_limit * volume - volume_used
        if remaining < 1:
            return LIQUIDITY_EXCEEDED
        shares = int(min(remaining, abs(open_amount)))
        if shares < 1:
            return None
        share = min((volume_used + shares) / volume, self.volume_limit)
        impact = share**2 * math.copysign(self.price_impact, direction) * price
        return SlipResult(price + impact, shares)


# -------------------------------------------------------------------------------------------------------- commission
class CommissionModel(_Model):
    """Computes the commission of one transaction of an order (``order.filled`` excludes this transaction)."""

    def calculate(self, order: FillingOrder, price: float, shares: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


def _per_unit(order: FillingOrder, shares: int, cost_per_unit: float, minimum: float, initial: float = 0.0) -> float:
    additional = abs(shares * cost_per_unit)
    if order.commission == 0:
        return max(minimum, additional + initial)
    total = abs(order.filled * cost_per_unit) + additional + initial
    if total < minimum:
        return 0.0
    return total - order.commission


class NoCommission(CommissionModel):
    """No commission."""

    def calculate(self, order, price, shares):
        return 0.0


class PerShare(CommissionModel):
    """``cost`` per share, at least ``min_trade_cost`` per order (zipline's default: 0.001, 0)."""

    def __init__(self, cost: float = 0.001, min_trade_cost: float = 0.0) -> None:
        self.cost_per_share = float(cost)
        self.min_trade_cost = float(min_trade_cost or 0.0)

    def calculate(self, order, price, shares):
        return _per_unit(order, shares, self.cost_per_share, self.min_trade_cost)


class PerContract(CommissionModel):
    """``cost`` per futures contract plus a one-time ``exchange_fee`` per order, at least ``min_trade_cost``."""

    def __init__(self, cost: float = 0.85, exchange_fee: float = 0.0, min_trade_cost: float = 0.0) -> None:
        self.cost_per_contract = float(cost)
        self.exchange_fee = float(exchange_fee)
        self.min_trade_cost = float(min_trade_cost or 0.0)

    def calculate(self, order, price, shares):
        initial = self.exchange_fee if order.commission == 0 else 0.0
        return _per_unit(order, shares, self.cost_per_contract, self.min_trade_cost, initial)


class PerTrade(CommissionModel):
    """A flat ``cost`` per order, charged on its first fill."""

    def __init__(self, cost: float = 0.0) -> None:
        self.cost = float(cost)

    def calculate(self, order, price, shares):
        return self.cost if order.commission == 0 else 0.0


class PerDollar(CommissionModel):
    """``cost`` times the traded value (0.0015 = 15 bps)."""

    def __init__(self, cost: float = 0.0015) -> None:
        self.cost_per_dollar = float(cost)

    def calculate(self, order, price, shares):
        return abs(shares) * price * self.cost_per_dollar


class IBFixedCommission(CommissionModel):
    """Interactive Brokers' fixed pricing for US stocks: $0.005 a share, at least $1.00 and at most 1% of the
    trade value per order. Used by the simulated gateway."""

    def __init__(self, per_share: float = 0.005, minimum: float = 1.0, max_pct: float = 0.01) -> None:
        self.per_share = per_share
        self.minimum = minimum
        self.max_pct = max_pct

    def calculate(self, order, price, shares):
        total_shares = abs(order.filled) + abs(shares)
        cap = self.max_pct * abs(price) * total_shares
        total = min(max(self.minimum, self.per_share * total_shares), cap if cap > 0 else math.inf)
        return max(total - order.commission, 0.0)


class IdealproCommission(CommissionModel):
    """Interactive Brokers' fixed pricing for FX on IDEALPRO: ``rate`` (0.2 basis points = 0.00002) times the trade
    value, at least ``minimum`` (USD 2.00) per order.

    The trade value is counted in USD: ``shares x price`` for a pair quoted in USD (EUR.USD: euros x USD per euro),
    ``shares`` itself for a pair whose base currency is USD (USD.JPY: the dollars traded). For a cross without USD
    (EUR.GBP) the value in the quote currency is used as if it were USD. Charged across the order's fills the way
    zipline charges minimums: the first fill pays at least ``minimum``, later fills top up the total."""

    def __init__(self, rate: float = 0.00002, minimum: float = 2.0) -> None:
        self.rate = float(rate)
        self.minimum = float(minimum)

    @staticmethod
    def usd_value(order: FillingOrder, price: float, shares: float) -> float:
        """The USD value of ``shares`` units of the order's pair at ``price``."""
        asset = getattr(order, "asset", None)
        if asset is not None and getattr(asset, "symbol", "") == "USD":
            return abs(shares)
        return abs(shares * price)

    def calculate(self, order, price, shares):
        total = self.rate * (self.usd_value(order, price, order.filled) + self.usd_value(order, price, shares))
        total = max(total, self.minimum)
        return max(total - order.commission, 0.0)


DEFAULT_SLIPPAGE = FixedBasisPointsSlippage
DEFAULT_COMMISSION = PerShare
