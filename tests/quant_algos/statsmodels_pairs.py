"""A pairs trade whose hedge ratio is an OLS fit with statsmodels (a common Quantopian lecture pattern)."""
import statsmodels.api as sm


def initialize(context):
    context.y = symbol("MSFT")
    context.x = symbol("IBM")
    context.hedges = []
    context.in_trade = 0
    schedule_function(check_pair, date_rules.every_day(), time_rules.market_close(minutes=30))


def check_pair(context, data):
    prices = data.history([context.y, context.x], "price", 60, "1d")
    y = prices[context.y].values
    x = sm.add_constant(prices[context.x].values)
    model = sm.OLS(y, x).fit()
    hedge = model.params[1]
    context.hedges.append(hedge)
    spread = prices[context.y] - hedge * prices[context.x]
    z = (spread.iloc[-1] - spread.mean()) / spread.std()
    record(z=z, hedge=hedge)
    if z > 1.0 and context.in_trade != -1:
        order_target_percent(context.y, -0.3)
        order_target_percent(context.x, 0.3 * min(max(hedge, 0.1), 3.0) / 3.0)
        context.in_trade = -1
    elif z < -1.0 and context.in_trade != 1:
        order_target_percent(context.y, 0.3)
        order_target_percent(context.x, -0.3 * min(max(hedge, 0.1), 3.0) / 3.0)
        context.in_trade = 1
    elif abs(z) < 0.2 and context.in_trade:
        order_target(context.y, 0)
        order_target(context.x, 0)
        context.in_trade = 0
