"""The simulated gateway's default commissions: IB's fixed pricing by kind of contract.

- stocks: USD 0.005 a share, at least USD 1.00, at most 1% of the trade value per order
  (:class:`runtime.core.costs.IBFixedCommission`);
- FX on IDEALPRO: 0.2 basis points of the trade value, at least USD 2.00 per order
  (:class:`runtime.core.costs.IdealproCommission`, the rule the backtest uses too);
- futures: USD 0.85 a contract (exchange and regulatory fees not included).

An algorithm's set_commission replaces the whole model, as in a backtest.
"""

from __future__ import annotations

from runtime.core.assets import Asset, SecType
from runtime.core.costs import CommissionModel, IBFixedCommission, IdealproCommission

FUTURES_PER_CONTRACT = 0.85


class IBCommissions(CommissionModel):
    """IB's fixed commissions for stocks, IDEALPRO FX and futures (cumulative per order, like IB's minimums)."""

    def __init__(self) -> None:
        self.stocks = IBFixedCommission()
        self.fx = IdealproCommission()

    def calculate(self, order, price, shares):
        asset: Asset | None = order.asset
        kind = asset.sec_type if asset is not None else SecType.STOCK
        if kind is SecType.CASH:
            return self.fx.calculate(order, price, shares)
        if kind is SecType.FUTURE:
            return FUTURES_PER_CONTRACT * abs(shares)
        return self.stocks.calculate(order, price, shares)
