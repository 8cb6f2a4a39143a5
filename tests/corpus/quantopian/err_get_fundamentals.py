# expect: is not supported: Morningstar fundamentals are not in the data
def initialize(context):
    context.stock = sid(24)

def before_trading_start(context, data):
    context.fundamentals = get_fundamentals(query(fundamentals.valuation.market_cap))
