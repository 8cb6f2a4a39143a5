# expect: looks like a Python 2 file|ibalgo port
def initialize(context):
    context.stock = symbol('AAPL')

def handle_data(context, data):
    print "price", data.current(context.stock, 'price')
