# An IBridgePy-style strategy using IB's trailing stop-limit and limit-on-open orders (no imports: the styles are
# globals). Runs daily or minute: the bar count decides when each order goes.


def initialize(context):
    context.aapl = symbol('AAPL')
    context.ibm = symbol('IBM')
    context.bar = 0
    context.ids = {}


def handle_data(context, data):
    context.bar += 1
    ids = context.ids
    if context.bar == 2:
        ids['entry'] = order(context.aapl, 10)
    elif context.bar == 4:
        # protect the entry: a sell stop 1 cent under the price, trailing it; once hit, a limit $100 under the stop
        ids['trail_sell'] = order(context.aapl, -10, TrailStopLimitOrder(None, 100.0, trailing_amount=0.01))
        # a buy stop trailing 0.05% above IBM; once hit, a limit 50 cents above the stop
        ids['trail_buy'] = order(context.ibm, 5, TrailStopLimitOrder(None, 0.5, trailing_percent=0.05))
    elif context.bar == 6:
        price = show_real_time_price(context.aapl, 'price')
        ids['open_buy'] = order(context.aapl, 7, LimitOnOpenOrder(round(price * 1.1, 2)))
        ids['open_low'] = order(context.ibm, 4, LimitOnOpenOrder(round(show_real_time_price(context.ibm,
                                                                                              'price') * 0.5, 2)))
        context.placed_open = {k: get_order(ids[k]).status for k in ('open_buy', 'open_low')}
