"""Option chain and greeks (IBridgePy style): read AAPL's option chain every Monday, price the near-the-money call
of the next monthly expiry with the runtime's model, and hold the shares a 3-contract call position would be
delta-equivalent to (delta x 100 x 3), recording delta and implied volatility.

The chain's expiries are on the NYSE calendar (weeklies plus monthly third Fridays, moved before holidays); prices
and greeks come from Black-Scholes with AAPL's 30-session close-to-close volatility (runtime/core/options.py).

Run it:  ibalgo backtest user_algos/option_greeks.py --start 2012-01-03 --end 2012-06-29
"""


def initialize(context):
    context.underlying = symbol("AAPL")
    context.contracts = 3


def handle_data(context, data):
    if get_datetime().weekday() != 0 and context.portfolio.positions:
        return
    chain = get_contract_details("OPT", "AAPL", "summary")
    spot = data.current(context.underlying, "price")
    calls = chain[chain["right"] == "C"]
    expiry = sorted(calls["expiry"].unique())[min(2, calls["expiry"].nunique() - 1)]
    at_expiry = calls[calls["expiry"] == expiry]
    strike = at_expiry.iloc[(at_expiry["strike"] - spot).abs().argmin()]["strike"]
    call = superSymbol(secType="OPT", symbol="AAPL", currency="USD", exchange="SMART", expiry=expiry,
                       strike=float(strike), right="C", multiplier="100")
    info = get_option_info(call, ["delta", "impliedVol", "optPrice"])
    shares = round(info["delta"] * 100 * context.contracts)
    order_target(context.underlying, shares)
    record(delta=info["delta"], implied_vol=info["impliedVol"], call_price=info["optPrice"], strike=strike)
