# expect: positions.iteritems() is Python 2: use positions.items()
def initialize(context):
    context.stock = sid(24)
    context.bought = False

def handle_data(context, data):
    if not context.bought:
        order(context.stock, 10)
        context.bought = True
    for stock, pos in context.portfolio.positions.iteritems():
        log.info(pos.amount)
