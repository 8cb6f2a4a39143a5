"""Buy and hold: put the whole portfolio into one stock on the first day and keep it.

Run it:  ibalgo backtest user_algos/buy_and_hold.py --start 2010-01-04 --end 2012-12-31
"""


def initialize(context):
    context.asset = symbol("AAPL")
    context.bought = False


def handle_data(context, data):
    if not context.bought and data.can_trade(context.asset):
        order_target_percent(context.asset, 1.0)
        context.bought = True
    record(price=data.current(context.asset, "price"), leverage=context.account.leverage)
