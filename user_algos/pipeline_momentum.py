"""Pipeline momentum: each month, hold the stocks whose 20-day average close is furthest above their 60-day one.

A Quantopian-style Pipeline algorithm: the pipeline computes, once per session before before_trading_start and from
data through the previous close, two moving averages, their ratio, its rank, and a liquidity screen (20-day average
dollar volume); a monthly rebalance buys the top 2 equally and sells what dropped out.

    ibalgo backtest user_algos/pipeline_momentum.py --start 2010-01-04 --end 2012-12-31
    ibalgo run user_algos/pipeline_momentum.py --replay 2012-01-03:2012-06-29
"""

from quantopian.algorithm import attach_pipeline, pipeline_output
from quantopian.pipeline import Pipeline
from quantopian.pipeline.data.builtin import USEquityPricing
from quantopian.pipeline.factors import AverageDollarVolume, SimpleMovingAverage

TOP_N = 2


def make_pipeline():
    fast = SimpleMovingAverage(inputs=[USEquityPricing.close], window_length=20)
    slow = SimpleMovingAverage(inputs=[USEquityPricing.close], window_length=60)
    liquid = AverageDollarVolume(window_length=20) > 1e6
    momentum = fast / slow
    return Pipeline(
        columns={"momentum": momentum, "rank": momentum.rank(ascending=False, mask=liquid),
                 "longs": momentum.top(TOP_N, mask=liquid)},
        screen=liquid & momentum.notnan(),
    )


def initialize(context):
    attach_pipeline(make_pipeline(), "momentum")
    schedule_function(rebalance, date_rules.month_start(), time_rules.market_open(minutes=30))


def before_trading_start(context, data):
    context.output = pipeline_output("momentum")


def rebalance(context, data):
    out = context.output
    longs = out.index[out["longs"]]
    for asset in context.portfolio.positions:
        if asset not in longs and data.can_trade(asset):
            order_target_percent(asset, 0)
    for asset in longs:
        if data.can_trade(asset):
            order_target_percent(asset, 1.0 / TOP_N)
    record(universe=len(out), longs=len(longs))
