"""Scanner-driven buyer (IBridgePy style): every day, ask the scanner for the day's top percentage gainer among the
data's stocks priced above $5 and hold it with 90% of the portfolio, selling what is no longer on top.

The scanner ranks the data's stocks at the current bar (runtime/core/scanner.py: TOP_PERC_GAIN is the change of
the last price against the previous close).

Run it:  ibalgo backtest user_algos/scanner_buyer.py --start 2012-01-03 --end 2012-06-29
"""


def initialize(context):
    context.held = None


def handle_data(context, data):
    top = get_scanner_results(scanCode="TOP_PERC_GAIN", numberOfRows=1, abovePrice=5)
    if len(top) == 0:
        return
    pick = top["security"].iloc[0]
    if pick != context.held:
        if context.held is not None:
            order_target_percent(context.held, 0)
        order_target_percent(pick, 0.9)
        context.held = pick
    record(top_gain_pct=top["value"].iloc[0])
