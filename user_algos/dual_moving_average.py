"""Dual moving-average crossover over the five bundled stocks (AAPL, IBM, MSFT, GOOG, FB).

What it shows:
- ``data.history`` of several assets at once (a DataFrame: one column per asset);
- ``order_target_percent`` to hold an equal weight of every stock whose 20-day average is above its 50-day
  average, and nothing of the others;
- ``data.can_trade`` to skip stocks that are not listed yet (GOOG lists 2004-08-19, FB 2012-05-18): a stock
  is only considered once it has 50 sessions of prices;
- ``record`` of values that become columns of the results (results.csv).

Run it (the README's main job):
    ibalgo backtest user_algos/dual_moving_average.py --start 2005-01-03 --end 2012-12-31
"""

SHORT_WINDOW = 20
LONG_WINDOW = 50


def initialize(context):
    context.stocks = symbols("AAPL", "IBM", "MSFT", "GOOG", "FB")
    context.weight = 1.0 / len(context.stocks)
    context.invested = set()


def handle_data(context, data):
    prices = data.history(context.stocks, "price", LONG_WINDOW, "1d")
    long_mavg = prices.mean()
    short_mavg = prices.iloc[-SHORT_WINDOW:].mean()
    # a full window of prices (GOOG and FB have none before they list) and the market open for the stock
    ready = prices.iloc[0].notna() & data.can_trade(context.stocks)

    for stock, bullish in (short_mavg > long_mavg).items():
        if not ready[stock]:
            continue
        if bullish and stock not in context.invested:
            order_target_percent(stock, context.weight)
            context.invested.add(stock)
        elif not bullish and stock in context.invested:
            order_target_percent(stock, 0)
            context.invested.discard(stock)

    record(
        holdings=len(context.invested),
        aapl_short_mavg=short_mavg.iloc[0],
        aapl_long_mavg=long_mavg.iloc[0],
        leverage=context.account.leverage,
    )


def analyze(context, perf):
    if perf.empty:  # the run stopped before its first session ended (Ctrl-C, a replay started after the data)
        log.info("no session completed")
        return
    last = perf.iloc[-1]
    log.info(
        f"final portfolio value {last['portfolio_value']:,.2f}; "
        f"{sum(len(t) for t in perf['transactions'])} fills; holding {int(last['holdings'])} stocks"
    )
