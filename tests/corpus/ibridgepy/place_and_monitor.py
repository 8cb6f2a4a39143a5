# An IBridgePy-style strategy (no imports: the helpers are globals): place an order and wait for it, then a limit
# order with a positional style, modified until it fills, a protective stop, and end().


def initialize(context):
    context.security = symbol('AAPL')
    context.other = symbol('IBM')
    context.bar = 0
    context.checks = {}


def handle_data(context, data):
    context.bar += 1
    c = context.checks
    if context.bar == 3:
        orderId = order(context.security, 100)
        c['monitor'] = order_status_monitor(orderId, 'Filled')
        c['market'] = orderId
    elif context.bar == 5:
        price = show_real_time_price(context.security, 'price')
        c['limit'] = order(context.security, 50, LimitOrder(round(price * 0.9, 2)), orderRef='dip-buy')
        c['limit_status'] = get_order_status(c['limit'])
        c['ref'] = get_order(c['limit']).orderRef
        c['tif'] = get_order(c['limit']).tif.value
        bid, ask = data.current(context.security, 'bid'), data.current(context.security, 'ask')
        c['quote'] = (bid <= ask, data.current(context.security, 'bid_size') >= 0,
                      show_real_time_price(context.security, 'bid_price') <= show_real_time_price(context.security,
                                                                                                  'ask_price'))
    elif context.bar == 7:
        price = show_real_time_price(context.security, 'price')
        modify_order(c['limit'], newQuantity=30, newLimitPrice=round(price * 1.05, 2))
    elif context.bar == 9:
        o = get_order(c['limit'])
        c['modified'] = (o.amount, o.status == 'Filled', o.filled, o.remaining, o.avgFillPrice > 0)
        stop_price = round(show_real_time_price(context.security, 'price') * 0.5, 2)
        c['stop'] = order_target(context.security, 0, StopOrder(stop_price))
        c['nothing'] = order_target(context.other, 0)
        try:
            cancel_order('ib999')
        except Exception as exc:
            c['cancel_unknown'] = type(exc).__name__
    elif context.bar == 11:
        cancel_order(c['stop'])
        position = get_position(context.security)
        c['position'] = (position.amount, position.price > 0)
        end()
    elif context.bar > 11:
        c['after_end'] = True
