"""A file written for zipline, loaded unchanged: ``from zipline.api import ...`` and zipline's cost models.

What it shows:
- ``from zipline.api import order_target, record, symbol`` and ``from zipline.finance import commission,
  slippage`` work without zipline installed;
- ``set_commission`` / ``set_slippage`` with the model given positionally and by keyword (``us_equities=``);
- the classic zipline tutorial strategy: hold 100 shares of AAPL while its 10-day average is above its 30-day
  average.

Run it:
    ibalgo backtest user_algos/zipline_style.py --start 2011-01-03 --end 2012-12-31
"""

from zipline.api import (
    order_target,
    record,
    set_commission,
    set_slippage,
    symbol,
)
from zipline.finance import commission, slippage


def initialize(context):
    context.asset = symbol("AAPL")
    # positionally (the model is for US equities) ...
    set_commission(commission.PerShare(cost=0.0075, min_trade_cost=1.0))
    set_slippage(slippage.VolumeShareSlippage(volume_limit=0.025, price_impact=0.1))
    # ... and by keyword: the last call wins
    set_commission(us_equities=commission.PerTrade(cost=1.0))
    set_slippage(us_equities=slippage.FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1))


def handle_data(context, data):
    short_mavg = data.history(context.asset, "price", bar_count=10, frequency="1d").mean()
    long_mavg = data.history(context.asset, "price", bar_count=30, frequency="1d").mean()

    if short_mavg > long_mavg:
        order_target(context.asset, 100)
    elif short_mavg < long_mavg:
        order_target(context.asset, 0)

    record(AAPL=data.current(context.asset, "price"), short_mavg=short_mavg, long_mavg=long_mavg)
