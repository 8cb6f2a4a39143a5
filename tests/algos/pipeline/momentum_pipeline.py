"""RSI momentum, long-short: zipline-reloaded's examples/momentum_pipeline.py strategy on the oracle's tickers.

Every session: long the 3 assets with the highest 15-day RSI and short the 3 with the lowest, a third of the
portfolio each, and close anything else. Costs as that example sets them: PerShare(cost=0.0075,
min_trade_cost=1.0) and VolumeShareSlippage(). Benchmark: AAPL. Covers RSI, top/bottom, a pipeline without a
screen, daily rebalancing through schedule_function.
"""

from zipline.api import (
    attach_pipeline,
    date_rules,
    order_target_percent,
    pipeline_output,
    record,
    schedule_function,
    set_benchmark,
    set_commission,
    set_slippage,
    symbol,
)
from zipline.finance import commission, slippage
from zipline.pipeline import Pipeline
from zipline.pipeline.factors import RSI


def make_pipeline():
    strength = RSI()
    return Pipeline(columns={"longs": strength.top(3), "shorts": strength.bottom(3)})


def initialize(context):
    set_benchmark(symbol("AAPL"))
    set_commission(commission.PerShare(cost=0.0075, min_trade_cost=1.0))
    set_slippage(slippage.VolumeShareSlippage())
    attach_pipeline(make_pipeline(), "momentum")
    schedule_function(rebalance, date_rules.every_day())


def before_trading_start(context, data):
    context.today = pipeline_output("momentum")


def rebalance(context, data):
    frame = context.today
    longs = sorted(frame.index[frame["longs"]], key=lambda a: a.symbol)
    shorts = sorted(frame.index[frame["shorts"]], key=lambda a: a.symbol)
    record(universe_size=len(frame))
    for asset in longs:
        order_target_percent(asset, 1.0 / 3.0)
    for asset in shorts:
        order_target_percent(asset, -1.0 / 3.0)
    keep = set(longs) | set(shorts)
    for asset in sorted(context.portfolio.positions, key=lambda a: a.symbol):
        if asset not in keep and data.can_trade(asset):
            order_target_percent(asset, 0)
