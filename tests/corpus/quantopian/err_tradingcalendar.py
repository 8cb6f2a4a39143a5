# expect: zipline.utils.tradingcalendar.trading_days is not supported: zipline.utils.tradingcalendar was removed
from zipline.utils.tradingcalendar import trading_days

def initialize(context):
    context.days = trading_days
