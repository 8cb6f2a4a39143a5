# request_historical_data as IBridgePy strategies use it: daily and intraday bars, IB durations, a pytz time zone,
# epoch-second dates, weekly bars, and a retry loop around the request.
import pytz


def initialize(context):
    context.security = symbol('AAPL')
    context.checks = {}


def handle_data(context, data):
    now = get_datetime()
    if (now.day, now.hour, now.minute) != (4, 12, 0):
        return
    c = context.checks
    days = request_historical_data(context.security, '1 day', '10 D')
    c['days'] = (len(days), list(days.columns), str(days.index[-1].date()), round(days['close'].iloc[-2], 4))
    minutes = request_historical_data(context.security, '1 min', '2 D', timezoneOfReturn=pytz.timezone('US/Eastern'))
    c['minutes'] = (len(minutes), str(minutes.index[0]), str(minutes.index[-1]))
    hours = request_historical_data(context.security, '1 hour', '1 D', whatToShow='TRADES', useRTH=1)
    c['hours'] = [str(t.time()) for t in hours.index]
    epoch = request_historical_data(context.security, '5 mins', '1800 S', formatDate=2)
    c['epoch'] = (len(epoch), int(epoch.index[-1]))
    for _attempt in range(3):
        try:
            weeks = request_historical_data(context.security, '1 week', '1 M', timezoneOfReturn='UTC')
            break
        except Exception:
            weeks = None
    c['weeks'] = None if weeks is None else (len(weeks), str(weeks.index[-1].date()))
