"""Python 2 file; the test runs it after `ibalgo port`.  # port
"""
def initialize(context):
    context.stocks = [sid(24), sid(5061)]
    context.n = 0L

def handle_data(context, data):
    for i in xrange(len(context.stocks)):
        s = context.stocks[i]
        if data[s].price <> data[s].mavg(20):
            context.n += 1
    for stock, pos in context.portfolio.positions.iteritems():
        print stock, pos.amount
    if context.n % 50 == 1:
        order_target_percent(context.stocks[0], 0.5)
