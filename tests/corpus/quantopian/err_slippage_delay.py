# expect: VolumeShareSlippage(delay=...): not an argument
import datetime

def initialize(context):
    set_slippage(slippage.VolumeShareSlippage(volume_limit=0.25, price_impact=0.1,
                                              delay=datetime.timedelta(minutes=1)))
