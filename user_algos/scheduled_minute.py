"""Scheduling in a minute-bar backtest: several schedule_function rules plus before_trading_start.

What it shows (times are US/Eastern, exchange time):
- ``before_trading_start`` runs at 08:45 every session (no orders allowed there: it prepares the day);
- ``time_rules.market_open(minutes=30)``: 10:00 every day (buy MSFT if flat);
- ``time_rules.market_close(minutes=15)`` with ``half_days=True``: 15:45, or 12:45 on an early-close day such as
  the day after Thanksgiving (sell MSFT);
- ``date_rules.week_start()``: the first trading session of each week (even when Monday is a holiday);
- ``date_rules.month_end()``: the last trading session of each month;
- ``handle_data`` runs every minute; here it only counts bars.

Run it:
    ibalgo backtest user_algos/scheduled_minute.py --frequency minute --start 2012-11-01 --end 2012-11-30
"""


def initialize(context):
    context.stock = symbol("MSFT")
    context.fired = {"open": 0, "close": 0, "week_start": 0, "month_end": 0}
    context.bars_today = 0
    schedule_function(buy_open, date_rules.every_day(), time_rules.market_open(minutes=30))
    schedule_function(sell_close, date_rules.every_day(), time_rules.market_close(minutes=15), half_days=True)
    schedule_function(weekly_note, date_rules.week_start(), time_rules.market_open())
    schedule_function(month_end_note, date_rules.month_end(), time_rules.market_close(minutes=30))


def before_trading_start(context, data):
    context.bars_today = 0
    context.yesterday_close = data.history(context.stock, "close", 2, "1d").iloc[-2]


def handle_data(context, data):
    context.bars_today += 1


def buy_open(context, data):
    context.fired["open"] += 1
    if data.can_trade(context.stock) and not context.portfolio.positions[context.stock].amount:
        order_target_percent(context.stock, 0.5)


def sell_close(context, data):
    context.fired["close"] += 1
    order_target(context.stock, 0)
    record(
        bars_today=context.bars_today,
        close_time=int(get_datetime("US/Eastern").strftime("%H%M")),  # a number: 1545 for 15:45
        yesterday_close=context.yesterday_close,
    )


def weekly_note(context, data):
    context.fired["week_start"] += 1
    log.info(f"week starts: portfolio value {context.portfolio.portfolio_value:,.2f}")


def month_end_note(context, data):
    context.fired["month_end"] += 1
    record(month_end_value=context.portfolio.portfolio_value)


def analyze(context, perf):
    log.info(f"scheduled functions fired: {context.fired}")
