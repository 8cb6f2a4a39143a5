"""Mean reversion, Quantopian 2016 style: integer keys on history windows, as pandas 0.18 allowed."""
from zipline.api import order_target_percent, record, schedule_function, symbols, date_rules, time_rules


def initialize(context):
    context.stocks = symbols('AAPL', 'IBM', 'MSFT')
    schedule_function(rebalance, date_rules.every_day(), time_rules.market_open(minutes=30))


def rebalance(context, data):
    hist = data.history(context.stocks, 'price', 20, '1d')
    for stock in context.stocks:
        prices = hist[stock]
        last, before = prices[-1], prices[-2]
        change = prices / prices[-2]
        recent = prices[-5:]
        ret = prices.pct_change()[-1]
        assert change[-2] == 1.0 and len(recent) == 5 and last == prices.iloc[-1] and before == prices.iloc[-2]
        weight = 0.3 if ret < 0 and last < recent.mean() else 0.0
        order_target_percent(stock, weight)
    single = data.history(context.stocks[0], 'close', 3, '1d')
    current = data.current(context.stocks, 'price')
    record(first=single[0], aapl=current[0], rolling=hist.rolling(5).mean()[context.stocks[1]][-1])
