"""A moving-average crossover whose windows are parameters, to tune with ``ibalgo sweep``.

What it shows:
- ``get_parameter(name, default)``: the run's value of a parameter, or the default when none was given, so the
  file runs the same as a plain backtest, a paper run or one run of a sweep;
- ``context.params``: the run's parameters as a read-only mapping (here only for the record);
- parameters come from ``PARAMS = {...}`` in settings.py, ``--param NAME=VALUE`` on a backtest, or each
  combination of a sweep's ``--param NAME=V1,V2,...`` / ``NAME=START:STOP:STEP``.

Run it:
    ibalgo backtest user_algos/parameter_sweep.py --start 2008-01-02 --end 2012-12-31
    ibalgo backtest user_algos/parameter_sweep.py --start 2008-01-02 --end 2012-12-31 --param fast=10 --param slow=40
    ibalgo sweep user_algos/parameter_sweep.py --start 2008-01-02 --end 2012-12-31 \
        --param fast=5:25:5 --param slow=30:90:15
"""

FAST = get_parameter("fast", 20)  # sessions in the short average
SLOW = get_parameter("slow", 50)  # sessions in the long average
INVESTED = get_parameter("invested", 0.95)  # share of the portfolio held when every stock is bullish


def initialize(context):
    if not 1 <= FAST < SLOW:
        raise ValueError(f"fast ({FAST}) must be at least 1 and below slow ({SLOW})")
    context.stocks = symbols("AAPL", "IBM", "MSFT", "GOOG", "FB")
    context.weight = INVESTED / len(context.stocks)
    context.invested = set()
    log.info(f"parameters: fast={FAST} slow={SLOW} invested={INVESTED} (given: {dict(context.params) or 'none'})")


def handle_data(context, data):
    prices = data.history(context.stocks, "price", SLOW, "1d")
    bullish = prices.iloc[-FAST:].mean() > prices.mean()
    ready = prices.iloc[0].notna() & data.can_trade(context.stocks)  # GOOG and FB list after 2000
    for stock in context.stocks:
        if not ready[stock] or bullish[stock] == (stock in context.invested):
            continue
        order_target_percent(stock, context.weight if bullish[stock] else 0.0)
        if bullish[stock]:
            context.invested.add(stock)
        else:
            context.invested.discard(stock)
    record(held=len(context.invested))
