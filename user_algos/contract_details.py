"""Contract details (IBridgePy style): read IB's contract details of a stock, of a non-US listing and of an option
chain, log them once, then buy the stock whose option chain lists the most strikes and check the order's margin
with a what-if before sending it.

Run it:  ibalgo backtest user_algos/contract_details.py --start 2012-01-03 --end 2012-03-30
"""


def initialize(context):
    context.done = False


def handle_data(context, data):
    if context.done:
        return
    context.done = True
    aapl = get_contract_details("STK", "AAPL", "summary")
    log.info("AAPL: conId {}, min tick {}, {}".format(aapl["conId"].iloc[0], aapl["minTick"].iloc[0],
                                                   aapl["longName"].iloc[0]))
    bp = superSymbol(secType="STK", symbol="BP.", exchange="LSE", currency="GBP")
    log.info("BP. trades on {} in {} (calendar {})".format(bp.exchange, bp.currency, bp.extra["calendar"]))
    strikes = {}
    for name in ("AAPL", "IBM", "MSFT"):
        chain = get_contract_details("OPT", name, "summary")
        strikes[name] = chain["strike"].nunique()
        expiries = ", ".join(chain["expiry"].unique())
        log.info(f"{name} options: {len(chain)} contracts, expiries {expiries}")
    pick = symbol(max(strikes, key=strikes.get))
    shares = int(0.5 * context.portfolio.portfolio_value / data.current(pick, "price"))
    check = what_if_order(pick, shares)
    fields = check.ib_fields()
    before, after = fields["initMarginBefore"], fields["initMarginAfter"]
    log.info(f"what-if {shares} {pick.symbol}: initial margin {before} -> {after}")
    if check.accepted:
        order(pick, shares)
