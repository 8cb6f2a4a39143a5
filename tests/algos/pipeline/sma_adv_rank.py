"""Trend with a liquidity screen, monthly: two moving averages, an average-dollar-volume screen, rank and top.

Universe: the 30 assets with the highest 20-day average dollar volume (the screen). Score: 10-day over 30-day
simple moving average of the close. Longs: the 5 best scores among the universe, equal weight, rebalanced at each
month's first session; everything else is closed. Costs set to ibalgo's defaults (FixedBasisPointsSlippage 5 bp
with a 10% volume limit, PerShare 0.001). Covers SimpleMovingAverage, AverageDollarVolume, factor arithmetic,
Latest, rank(mask=), top(mask=), a screen, month_start scheduling.
"""

from zipline.api import (
    attach_pipeline,
    date_rules,
    order_target_percent,
    pipeline_output,
    schedule_function,
    set_benchmark,
    set_commission,
    set_slippage,
    symbol,
    time_rules,
)
from zipline.finance import commission, slippage
from zipline.pipeline import Pipeline
from zipline.pipeline.data import USEquityPricing
from zipline.pipeline.factors import AverageDollarVolume, SimpleMovingAverage


def make_pipeline():
    fast = SimpleMovingAverage(inputs=[USEquityPricing.close], window_length=10)
    slow = SimpleMovingAverage(inputs=[USEquityPricing.close], window_length=30)
    liquid = AverageDollarVolume(window_length=20).top(30)
    score = fast / slow
    return Pipeline(
        columns={
            "score": score,
            "rank": score.rank(mask=liquid),
            "longs": score.top(5, mask=liquid),
            "close": USEquityPricing.close.latest,
        },
        screen=liquid,
    )


def initialize(context):
    set_benchmark(symbol("AAPL"))
    set_slippage(slippage.FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1))
    set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
    attach_pipeline(make_pipeline(), "trend")
    schedule_function(rebalance, date_rules.month_start(), time_rules.market_open())


def before_trading_start(context, data):
    context.today = pipeline_output("trend")


def rebalance(context, data):
    frame = context.today
    longs = sorted(frame.index[frame["longs"]], key=lambda a: a.symbol)
    for asset in sorted(context.portfolio.positions, key=lambda a: a.symbol):
        if asset not in longs and data.can_trade(asset):
            order_target_percent(asset, 0)
    for asset in longs:
        if data.can_trade(asset):
            order_target_percent(asset, 0.95 / len(longs))
