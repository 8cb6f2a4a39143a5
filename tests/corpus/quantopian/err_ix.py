# expect: .ix was removed from pandas: use .loc
def initialize(context):
    context.stock = sid(24)

def handle_data(context, data):
    hist = data.history([context.stock], 'price', 5, '1d')
    context.last = hist.ix[-1]
