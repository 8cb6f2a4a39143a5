"""The simulated gateway's default commissions: IB's fixed pricing by kind of contract.

- stocks: USD 0.005 a share, at least USD 1.00, at most 1% of the trade value per order
  (:class:`runtime.core.costs.IBFixedCommission`);
- FX on IDEALPRO: 0.2 basis points of the trade value, at least USD 2.00 per order (the value is counted in USD:
  units x price for XXX.USD pairs, the units for USD.XXX pairs; a cross pair counts units x price);
- futures: USD 0.85 a contract (exchange and regulatory fees not included).

An algorithm's set_commission replaces the whole model, as in a backtest.
"""

from __future__ import annotations

from runtime.core.assets import Asset, SecType
from runtime.core.costs import CommissionModel, IBFixedCommission

IDEALPRO_RATE = 0.2e-4
IDEALPRO_MINIMUM = 2.0
FUTURES_PER_CONTRACT = 0.85


def fx_value_usd(asset: Asset, price: float, units: float) -> float:
    """The USD value of ``units`` of a pair's base currency at ``price``."""
    if asset.symbol == "USD":
        return abs(units)
    return abs(units) * abs(price)


class IBCommissions(CommissionModel):
    """IB's fixed commissions for stocks, IDEALPRO FX and futures (cumulative per order, like IB's minimums)."""

    def __init__(self) -> None:
        self.stocks = IBFixedCommission()

    def calculate(self, order, price, shares):
        asset: Asset | None = order.asset
        kind = asset.sec_type if asset is not None else SecType.STOCK
        total_units = abs(order.filled) + abs(shares)
        if kind is SecType.CASH and asset is not None:
            total = max(IDEALPRO_MINIMUM, IDEALPRO_RATE * fx_value_usd(asset, price, total_units))
            return max(total - order.commission, 0.0)
        if kind is SecType.FUTURE:
            return FUTURES_PER_CONTRACT * abs(shares)
        return self.stocks.calculate(order, price, shares)
