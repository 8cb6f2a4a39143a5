"""2014-style: data[sid].price / .mavg(n) / .returns(), one-argument before_trading_start, old history()."""


def initialize(context):
    context.aapl = sid(24)
    context.ibm = symbol('IBM')
    context.days = 0


def before_trading_start(context):
    context.days += 1


def handle_data(context, data):
    if context.aapl not in data:
        return
    price = data[context.aapl].price
    short, long_ = data[context.aapl].mavg(5), data[context.aapl].mavg(20)
    r = data[context.ibm].returns()
    vwap = data[context.ibm].vwap(5)
    h = history(10, '1d', 'price')
    assert h.shape == (10, 2) and abs(h[context.aapl][-1] - price) < 1e-3  # history is rounded to 3 decimals
    if short > long_ and r > -1 and vwap > 0:
        order_target_percent(context.aapl, 0.5)
    else:
        order_target(context.aapl, 0)
    for stock, pos in context.portfolio.positions.items():
        record(amount=pos.amount)
