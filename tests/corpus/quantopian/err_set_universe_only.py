# expect: set_universe is not supported: Quantopian removed set_universe
def initialize(context):
    set_universe(symbols('AAPL', 'IBM'))
