# expect: xrange is not supported: it is Python 2: use range
def initialize(context):
    context.stocks = symbols('AAPL', 'IBM')

def handle_data(context, data):
    for i in xrange(len(context.stocks)):
        pass
