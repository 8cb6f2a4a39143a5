# IBridgePy's REGULAR run mode (runMode = 'REGULAR', repBarFreq seconds): handle_data around the clock, the
# strategy checks the clock itself.


def initialize(context):
    context.security = symbol('AAPL')
    context.calls = []


def handle_data(context, data):
    now = get_datetime()
    context.calls.append((now.strftime('%H:%M'), data.can_trade(context.security)))
    if now.hour == 10 and now.minute == 0 and isTradingDay():
        order(context.security, 5)
