"""Benchmark W6: a Pipeline over the synthetic universe, rebalanced monthly (the same file runs in every framework).

Screen: the 100 assets with the highest 30-day average dollar volume. Score: 20-day over 100-day simple moving
average of the close; ranked among the screen. At each month's first session: hold the 20 best scores, equal
weight (95% invested), with order_target_percent; close everything else. Costs: ibalgo's defaults, set explicitly.
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

TOP = 20


def make_pipeline():
    liquid = AverageDollarVolume(window_length=30).top(100)
    fast = SimpleMovingAverage(inputs=[USEquityPricing.close], window_length=20)
    slow = SimpleMovingAverage(inputs=[USEquityPricing.close], window_length=100)
    score = fast / slow
    rank = score.rank(mask=liquid)
    return Pipeline(columns={"rank": rank, "longs": score.top(TOP, mask=liquid)}, screen=liquid)


def initialize(context):
    set_benchmark(symbol("SYN000"))
    set_slippage(slippage.FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1))
    set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
    attach_pipeline(make_pipeline(), "w6")
    schedule_function(rebalance, date_rules.month_start(), time_rules.market_open())
    context.signals = 0


def before_trading_start(context, data):
    context.today = pipeline_output("w6")


def rebalance(context, data):
    frame = context.today
    longs = sorted(frame.index[frame["longs"]], key=lambda a: a.symbol)
    for asset in sorted(context.portfolio.positions, key=lambda a: a.symbol):
        if asset not in longs and data.can_trade(asset):
            order_target_percent(asset, 0)
            context.signals += 1
    for asset in longs:
        if data.can_trade(asset):
            order_target_percent(asset, 0.95 / TOP)
            context.signals += 1


def analyze(context, perf):
    print(f"BENCH_SIGNALS={context.signals}")
