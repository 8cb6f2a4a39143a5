"""Many built-in factors and filter algebra, weekly long-short on a combined z-score.

Universe: assets whose 60-day annualized volatility is between its 10th and 90th percentile and that have a
20-day return, minus IBM (``~StaticAssets``), or else any of AAPL/MSFT (``|``). Score: z-score of the 20-day
return plus the demeaned Bollinger %b, minus the close's distance from its 10-day VWAP and from its EWMA. Longs:
top 4, shorts: bottom 4, 12% each, rebalanced at each week's first session. Costs set to ibalgo's defaults.
Covers Returns, VWAP, BollingerBands (multiple outputs), AnnualizedVolatility, ExponentialWeightedMovingAverage,
percentile_between, notnan, StaticAssets, &, |, ~, zscore(mask=), demean(mask=), top/bottom.
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
    symbols,
    time_rules,
)
from zipline.finance import commission, slippage
from zipline.pipeline import Pipeline
from zipline.pipeline.data import USEquityPricing
from zipline.pipeline.factors import (
    VWAP,
    AnnualizedVolatility,
    BollingerBands,
    ExponentialWeightedMovingAverage,
    Returns,
)
from zipline.pipeline.filters import StaticAssets


def make_pipeline(context):
    close = USEquityPricing.close.latest
    ret20 = Returns(window_length=20)
    vol60 = AnnualizedVolatility(window_length=60)
    bands = BollingerBands(window_length=20, k=2)
    vwap = VWAP(window_length=10)
    ewma = ExponentialWeightedMovingAverage(inputs=[USEquityPricing.close], window_length=30, decay_rate=0.9)
    core = vol60.percentile_between(10, 90) & ret20.notnan() & ~StaticAssets(context.excluded)
    universe = core | StaticAssets(context.always)
    pct_b = (close - bands.lower) / (bands.upper - bands.lower)
    combo = ret20.zscore(mask=universe) + pct_b.demean(mask=universe) - (close / vwap - 1) - (close / ewma - 1)
    return Pipeline(
        columns={
            "ret20": ret20,
            "vol60": vol60,
            "pct_b": pct_b,
            "middle": bands.middle,
            "vwap": vwap,
            "ewma": ewma,
            "combo": combo,
            "longs": combo.top(4, mask=universe),
            "shorts": combo.bottom(4, mask=universe),
        },
        screen=universe,
    )


def initialize(context):
    set_benchmark(symbol("AAPL"))
    set_slippage(slippage.FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1))
    set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
    context.excluded = symbols("IBM")
    context.always = symbols("AAPL", "MSFT")
    attach_pipeline(make_pipeline(context), "zoo")
    schedule_function(rebalance, date_rules.week_start(), time_rules.market_open())


def before_trading_start(context, data):
    context.today = pipeline_output("zoo")


def rebalance(context, data):
    frame = context.today
    longs = sorted(frame.index[frame["longs"]], key=lambda a: a.symbol)
    shorts = sorted(frame.index[frame["shorts"]], key=lambda a: a.symbol)
    keep = set(longs) | set(shorts)
    for asset in sorted(context.portfolio.positions, key=lambda a: a.symbol):
        if asset not in keep and data.can_trade(asset):
            order_target_percent(asset, 0)
    for asset in longs:
        order_target_percent(asset, 0.12)
    for asset in shorts:
        order_target_percent(asset, -0.12)
