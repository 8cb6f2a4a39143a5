"""The simulated gateway's default commissions: IB's fixed pricing by kind of contract.

- stocks: USD 0.005 a share, at least USD 1.00, at most 1% of the trade value per order
  (:class:`runtime.core.costs.IBFixedCommission`);
- FX on IDEALPRO: 0.2 basis points of the trade value, at least USD 2.00 per order
  (:class:`runtime.core.costs.IdealproCommission`, the rule the backtest uses too);
- futures: USD 0.85 a contract (exchange and regulatory fees not included);
- US options: USD 0.65 a contract for a premium of $0.10 or more, 0.50 from $0.05 to $0.10, 0.25 below $0.05,
  at least USD 1.00 per order (:class:`IBOptionCommission`; exchange and regulatory fees not included).
  Exercise, assignment and expiry are commission-free.

An algorithm's set_commission replaces the whole model, as in a backtest.
"""

from __future__ import annotations

from runtime.core.assets import Asset, SecType
from runtime.core.costs import CommissionModel, IBFixedCommission, IdealproCommission

FUTURES_PER_CONTRACT = 0.85


class IBOptionCommission(CommissionModel):
    """IB's fixed pricing for US options (the rates of the module docstring), cumulative per order like its minimum."""

    def __init__(self, minimum: float = 1.0) -> None:
        self.minimum = minimum

    @staticmethod
    def per_contract(premium: float) -> float:
        if premium >= 0.10:
            return 0.65
        if premium >= 0.05:
            return 0.50
        return 0.25

    def calculate(self, order, price, shares):
        fee = self.per_contract(abs(price)) * abs(shares)
        return max(fee, self.minimum - order.commission, 0.0)


class IBCommissions(CommissionModel):
    """IB's fixed commissions for stocks, IDEALPRO FX and futures (cumulative per order, like IB's minimums)."""

    def __init__(self) -> None:
        self.stocks = IBFixedCommission()
        self.fx = IdealproCommission()
        self.options = IBOptionCommission()

    def calculate(self, order, price, shares):
        asset: Asset | None = order.asset
        kind = asset.sec_type if asset is not None else SecType.STOCK
        if kind is SecType.CASH:
            return self.fx.calculate(order, price, shares)
        if kind is SecType.FUTURE:
            return FUTURES_PER_CONTRACT * abs(shares)
        if kind is SecType.OPTION:
            return self.options.calculate(order, price, shares)
        return self.stocks.calculate(order, price, shares)
