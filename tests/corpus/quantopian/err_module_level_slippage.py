# expect: not at module level
set_slippage(slippage.FixedSlippage(spread=0.0))

def initialize(context):
    context.stock = sid(24)
