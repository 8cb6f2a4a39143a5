# IBridgePy's clock checks: get_datetime() is US/Eastern for IBridgePy files, schedule_function takes the calendar
# positionally, and exit() stops the run (results are written; the process goes on).


def initialize(context):
    context.security = symbol('MSFT')
    context.checks = {'times': [], 'ordered_at': []}
    schedule_function(at_open, date_rules.every_day(), time_rules.market_open(minutes=1), calendars.US_EQUITIES)
    schedule_function(near_close, date_rules.every_day(), time_rules.market_close(minutes=5), calendars.US_EQUITIES)


def at_open(context, data):
    context.checks['times'].append(('open', get_datetime().strftime('%H:%M')))


def near_close(context, data):
    context.checks['times'].append(('close', get_datetime().strftime('%H:%M'), get_datetime('US/Pacific').hour))


def handle_data(context, data):
    if not isTradingDay():
        return
    now = get_datetime()
    if now.hour == 10 and now.minute == 0:
        order(context.security, 10)
        context.checks['ordered_at'].append(now.strftime('%Y-%m-%d %H:%M %Z'))
    if now.day == 4 and now.hour == 11 and now.minute == 30:
        exit()
