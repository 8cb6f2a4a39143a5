# expect: zipline.finance.slippage.VolatilityVolumeShare is not supported
from zipline.finance.slippage import VolatilityVolumeShare

def initialize(context):
    pass
