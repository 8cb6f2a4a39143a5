# Daily rebalancing to share counts with limit orders (buyAdvantage), sizing helpers with positional styles, and a
# limit close-out.


def initialize(context):
    context.a = symbol('AAPL')
    context.b = symbol('MSFT')
    context.day = 0
    context.checks = {}


def handle_data(context, data):
    context.day += 1
    c = context.checks
    if context.day == 1:
        ids = rebalance_portfolio({context.a: 40, context.b: 300}, buyAdvantage=-0.05)
        c['first'] = sorted(a.symbol for a in ids)
    elif context.day == 3:
        c['held'] = sorted((a.symbol, p.amount > 0) for a, p in get_all_positions().items() if p.amount)
        low = round(show_real_time_price(context.a, 'bid_price') * 0.5, 2)
        c['value_order'] = get_order(order_value(context.a, 2000, LimitOrder(low))).kind.value
        stop = round(show_real_time_price(context.b, 'price') * 0.5, 2)
        c['target_order'] = get_order(order_target(context.b, 100, StopOrder(stop))).kind.value
    elif context.day == 4:
        cancel_all_orders()
        c['open_after_cancel'] = len(get_all_open_orders())
        c['closing'] = len(close_all_positions_LMT([], -0.05))
