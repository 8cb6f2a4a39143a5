"""FX and futures trend (IBridgePy style): hold 20,000 EUR.USD and one E-mini S&P 500 future while each trades
above its 20-session average, and nothing while below.

Without FX or futures files in the data, a backtest trades them on seeded synthetic prices anchored on their
documented levels of the replayed dates (the log says so; runtime/data/instruments.py); FX orders pay IDEALPRO's
commission (0.2 bps of the value, USD 2 minimum).

Run it:  ibalgo backtest user_algos/fx_futures.py --start 2012-01-03 --end 2012-06-29
"""


def initialize(context):
    context.eur = superSymbol(secType="CASH", symbol="EUR", currency="USD", exchange="IDEALPRO")
    context.es = superSymbol(secType="FUT", symbol="ES", currency="USD", exchange="CME", expiry="20120615")
    context.sizes = {context.eur: 20000, context.es: 1}


def handle_data(context, data):
    for asset, size in context.sizes.items():
        closes = data.history(asset, "close", 20, "1d")
        if closes.isna().any():
            continue
        above = closes.iloc[-1] > closes.mean()
        order_target(asset, size if above else 0)
    record(eur=data.current(context.eur, "price"), es=data.current(context.es, "price"))
