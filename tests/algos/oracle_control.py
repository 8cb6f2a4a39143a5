"""The oracle's control: no Pipeline, the same data, costs and corporate actions as the Pipeline files.

At each month's first session, holds the 4 assets of a fixed basket (synthetic tickers that split or pay dividends
in 2011-2012, and AAPL/IBM/MSFT) with the best 40-day return from adjusted ``data.history``, 24% each, and closes
the others. If ibalgo and zipline-reloaded agree on this file, a difference in a Pipeline file is the Pipeline's.
"""

from zipline.api import (
    date_rules,
    order_target_percent,
    schedule_function,
    set_benchmark,
    set_commission,
    set_slippage,
    symbol,
    symbols,
    time_rules,
)
from zipline.finance import commission, slippage


def initialize(context):
    set_benchmark(symbol("AAPL"))
    set_slippage(slippage.FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1))
    set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
    context.basket = symbols("SYN262", "SYN055", "SYN142", "SYN186", "SYN000", "SYN001", "SYN002", "SYN003",
                             "AAPL", "IBM", "MSFT")
    schedule_function(rebalance, date_rules.month_start(), time_rules.market_open())


def rebalance(context, data):
    prices = data.history(context.basket, "price", 41, "1d")
    growth = (prices.iloc[-1] / prices.iloc[0]).dropna().sort_values(ascending=False, kind="stable")
    best = sorted(growth.index[:4], key=lambda a: a.symbol)
    for asset in sorted(context.portfolio.positions, key=lambda a: a.symbol):
        if asset not in best:
            order_target_percent(asset, 0)
    for asset in best:
        order_target_percent(asset, 0.24)
