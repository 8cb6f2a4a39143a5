"""A file written for Quantopian: ``import quantopian.algorithm as algo`` and scheduled rebalancing.

What it shows:
- ``algo.schedule_function`` with ``algo.date_rules`` / ``algo.time_rules``: a weekly rebalance on the first
  trading day of each week, one hour after the open, and a daily recording function before the close;
- ``algo.record`` and ``algo.order_target_percent``;
- a simple momentum rule: hold the bundled stocks whose price rose over the last 60 sessions, equally weighted.

In daily runs the time rule does not matter (the function runs at the daily bar); with ``--frequency minute`` it
fires at 10:31 ET.

Run it:
    ibalgo backtest user_algos/quantopian_style.py --start 2008-01-02 --end 2012-12-31
"""

import quantopian.algorithm as algo

LOOKBACK = 60


def initialize(context):
    context.stocks = algo.symbols("AAPL", "IBM", "MSFT", "GOOG", "FB")
    algo.schedule_function(
        rebalance,
        date_rule=algo.date_rules.week_start(),
        time_rule=algo.time_rules.market_open(hours=1),
    )
    algo.schedule_function(
        record_vars,
        date_rule=algo.date_rules.every_day(),
        time_rule=algo.time_rules.market_close(),
    )


def rebalance(context, data):
    prices = data.history(context.stocks, "price", LOOKBACK, "1d")
    momentum = prices.iloc[-1] / prices.iloc[0] - 1.0
    tradeable = data.can_trade(context.stocks)
    winners = [s for s in context.stocks if tradeable[s] and momentum[s] > 0]
    for stock in context.stocks:
        if not tradeable[stock]:
            continue
        weight = 1.0 / len(winners) if stock in winners else 0.0
        algo.order_target_percent(stock, weight)
    context.winners = len(winners)


def record_vars(context, data):
    algo.record(
        winners=getattr(context, "winners", 0),
        leverage=context.account.leverage,
        positions=len(context.portfolio.positions),
    )
