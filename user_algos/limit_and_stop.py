"""Limit and stop orders on IBM, with order management (minute bars).

What it shows:
- ``order(asset, n, limit_price=...)`` and ``order(asset, n, style=LimitOrder(...))``: a limit buy 1% below the
  price seen at 10:00;
- a protective stop (``StopOrder``) 3% below the fill and a take-profit limit 2% above it, as soon as the position
  exists;
- ``get_open_orders`` (a dict {asset: [Order, ...]} or, for one asset, a list), ``get_order`` and
  ``cancel_order``: when one exit fills, the other is cancelled by hand;
- ``set_cancel_policy(EODCancel())``: entry orders still open at the close are cancelled (in zipline this policy
  acts in minute runs only, so run this example with minute bars).

Run it:
    ibalgo backtest user_algos/limit_and_stop.py --frequency minute --start 2012-10-01 --end 2012-11-30
"""


def initialize(context):
    context.stock = symbol("IBM")
    context.entry_id = None
    context.exit_ids = []
    set_cancel_policy(EODCancel())
    schedule_function(place_entry, date_rules.every_day(), time_rules.market_open(minutes=30))


def place_entry(context, data):
    """At 10:00, if flat and nothing is working, bid 1% below the current price."""
    stock = context.stock
    if context.portfolio.positions[stock].amount or get_open_orders(stock):
        return
    if not data.can_trade(stock):
        return
    price = data.current(stock, "price")
    shares = int(20_000 / price)
    context.entry_id = order(stock, shares, limit_price=price * 0.99)


def handle_data(context, data):
    stock = context.stock
    position = context.portfolio.positions[stock]
    working = get_open_orders(stock)

    if position.amount > 0 and not working:
        # a position without exits (a fresh fill, or EODCancel removed yesterday's): protect it with a stop 3%
        # below the cost basis and take profit 2% above it
        stop_id = order(stock, -position.amount, style=StopOrder(position.cost_basis * 0.97))
        take_id = order(stock, -position.amount, style=LimitOrder(position.cost_basis * 1.02))
        context.exit_ids = [stop_id, take_id]
        log.info(f"holding {position.amount} {stock.symbol} bought at {position.cost_basis:.2f}: exits placed")
    elif position.amount == 0 and context.exit_ids:
        # one exit filled: cancel the other one if it is still working
        for order_id in context.exit_ids:
            exit_order = get_order(order_id)
            if exit_order is not None and exit_order.open:
                cancel_order(order_id)
                log.info(f"exit {order_id[:8]} cancelled: the position is closed")
        context.exit_ids = []

    record(
        position=position.amount,
        open_orders=sum(len(orders) for orders in get_open_orders().values()),
        price=data.current(stock, "price"),
    )
