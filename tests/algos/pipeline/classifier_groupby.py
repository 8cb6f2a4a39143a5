"""Classifiers and grouped normalisation: a CustomClassifier price bucket, quintiles, rank/demean/zscore by group.

The classifier puts each asset in a bucket by the base-2 logarithm of its latest close (a stand-in for a sector:
Pipeline classifiers from pricing alone). Universe: assets with a 10-day return whose bucket is one of 3..7 and that
are not in the bottom quintile of 30-day average dollar volume. Score: the 10-day return demeaned within its bucket.
Longs: top 3 by that score, shorts: bottom 3, 15% each, rebalanced at each week's first session. Costs set to
ibalgo's defaults.
Covers CustomClassifier (int64, missing_value), element_of, eq, quintiles, isnull, rank(groupby=), demean(groupby=),
zscore(groupby=, mask=), masks on top/bottom.
"""

import numpy as np
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
from zipline.pipeline import CustomClassifier, Pipeline
from zipline.pipeline.data import USEquityPricing
from zipline.pipeline.factors import AverageDollarVolume, Returns


class PriceBucket(CustomClassifier):
    """floor(log2(latest close)); -1 where there is no close."""

    inputs = [USEquityPricing.close]  # noqa: RUF012 - Pipeline's class attribute
    window_length = 1
    dtype = np.dtype("int64")
    missing_value = -1

    def compute(self, today, assets, out, close):
        last = close[-1]
        ok = np.isfinite(last) & (last > 0)
        out[:] = np.where(ok, np.floor(np.log2(np.where(ok, last, 1.0))), -1).astype(np.int64)


def make_pipeline():
    bucket = PriceBucket()
    ret10 = Returns(window_length=10)
    liquidity = AverageDollarVolume(window_length=30).quintiles()
    universe = ret10.notnan() & bucket.element_of([3, 4, 5, 6, 7]) & ~liquidity.eq(0) & ~bucket.isnull()
    score = ret10.demean(groupby=bucket, mask=universe)
    return Pipeline(
        columns={
            "bucket": bucket,
            "liquidity": liquidity,
            "ret10": ret10,
            "score": score,
            "group_rank": ret10.rank(groupby=bucket, mask=universe),
            "group_z": ret10.zscore(groupby=bucket, mask=universe),
            "longs": score.top(3, mask=universe),
            "shorts": score.bottom(3, mask=universe),
        },
        screen=universe,
    )


def initialize(context):
    set_benchmark(symbol("AAPL"))
    set_slippage(slippage.FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1))
    set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
    attach_pipeline(make_pipeline(), "groups")
    schedule_function(rebalance, date_rules.week_start(), time_rules.market_open())


def before_trading_start(context, data):
    context.today = pipeline_output("groups")


def rebalance(context, data):
    frame = context.today
    longs = sorted(frame.index[frame["longs"]], key=lambda a: a.symbol)
    shorts = sorted(frame.index[frame["shorts"]], key=lambda a: a.symbol)
    keep = set(longs) | set(shorts)
    for asset in sorted(context.portfolio.positions, key=lambda a: a.symbol):
        if asset not in keep and data.can_trade(asset):
            order_target_percent(asset, 0)
    for asset in longs:
        order_target_percent(asset, 0.15)
    for asset in shorts:
        order_target_percent(asset, -0.15)
