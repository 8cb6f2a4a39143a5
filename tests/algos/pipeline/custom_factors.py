"""CustomFactors: params, multiple outputs, a window_safe factor as another factor's input, masks.

``Reversion`` (params ``lookback``, outputs ``gap`` and ``flow``): the close's gap to its ``lookback``-day mean
and the share of the window's volume traded in the last ``lookback`` days. ``Choppiness``: the 10-day standard
deviation of daily returns (``Returns(window_length=2)`` is window-safe). Universe: the top 60% by 20-day average
dollar volume (a mask for every factor). Longs: the 3 most oversold (lowest gap) among the calmer half by
choppiness; rebalanced at each week's first session, 30% each. Costs set to ibalgo's defaults. Covers
CustomFactor params, outputs, mask=, window_safe inputs, percentile_between, rank, bottom(mask=).
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
from zipline.pipeline import CustomFactor, Pipeline
from zipline.pipeline.data import USEquityPricing
from zipline.pipeline.factors import AverageDollarVolume, Returns


class Reversion(CustomFactor):
    inputs = [USEquityPricing.close, USEquityPricing.volume]  # noqa: RUF012 - Pipeline's class attribute
    window_length = 15
    params = {"lookback": 5}  # noqa: RUF012 - Pipeline's class attribute
    outputs = ["gap", "flow"]  # noqa: RUF012 - Pipeline's class attribute

    def compute(self, today, assets, out, close, volume, lookback):
        out.gap[:] = close[-1] / np.mean(close[-lookback:], axis=0) - 1.0
        out.flow[:] = np.sum(volume[-lookback:], axis=0) / np.sum(volume, axis=0)


class Choppiness(CustomFactor):
    inputs = [Returns(window_length=2)]  # noqa: RUF012 - Pipeline's class attribute
    window_length = 10

    def compute(self, today, assets, out, returns):
        out[:] = np.std(returns, axis=0)


def make_pipeline():
    universe = AverageDollarVolume(window_length=20).percentile_between(40, 100)
    rev = Reversion(lookback=4, mask=universe)
    chop = Choppiness(mask=universe)
    calm = chop.percentile_between(0, 50, mask=universe)
    return Pipeline(
        columns={
            "gap": rev.gap,
            "flow": rev.flow,
            "chop": chop,
            "gap_rank": rev.gap.rank(mask=universe),
            "longs": rev.gap.bottom(3, mask=universe & calm),
        },
        screen=universe,
    )


def initialize(context):
    set_benchmark(symbol("AAPL"))
    set_slippage(slippage.FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1))
    set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))
    attach_pipeline(make_pipeline(), "custom")
    schedule_function(rebalance, date_rules.week_start(), time_rules.market_open())


def before_trading_start(context, data):
    context.today = pipeline_output("custom")


def rebalance(context, data):
    frame = context.today
    longs = sorted(frame.index[frame["longs"]], key=lambda a: a.symbol)
    for asset in sorted(context.portfolio.positions, key=lambda a: a.symbol):
        if asset not in longs and data.can_trade(asset):
            order_target_percent(asset, 0)
    for asset in longs:
        order_target_percent(asset, 0.3)
