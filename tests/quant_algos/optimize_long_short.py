"""A long-short Quantopian algorithm on the Optimize API: short-term reversal alpha, MaximizeAlpha with the
usual constraints, order_optimal_portfolio each week; it checks that the orders are the target minus the holdings."""
import quantopian.algorithm as algo
import quantopian.optimize as opt
from quantopian.optimize import InfeasibleConstraints

MAX_GROSS_EXPOSURE = 1.0
MAX_POSITION = 0.3


def initialize(context):
    context.stocks = symbols("AAPL", "IBM", "MSFT", "GOOG")
    context.mismatches = []
    context.rebalances = 0
    context.infeasible_caught = 0
    algo.schedule_function(rebalance, algo.date_rules.week_start(), algo.time_rules.market_open(minutes=30))


def rebalance(context, data):
    prices = data.history(context.stocks, "price", 10, "1d")
    alpha = -(prices.iloc[-1] / prices.iloc[0] - 1.0)  # losers up, winners down
    constraints = [
        opt.MaxGrossExposure(MAX_GROSS_EXPOSURE),
        opt.PositionConcentration.with_equal_bounds(-MAX_POSITION, MAX_POSITION),
        opt.DollarNeutral(),
    ]
    objective = opt.MaximizeAlpha(alpha)
    target = opt.calculate_optimal_portfolio(objective, constraints)
    before = {s: context.portfolio.positions[s].amount for s in context.stocks}
    value = context.portfolio.portfolio_value
    order_ids = algo.order_optimal_portfolio(objective=objective, constraints=constraints)
    for stock in context.stocks:
        wanted = target[stock] * value / data.current(stock, "price") - before[stock]
        shares = round(wanted) if abs(wanted - round(wanted)) < 1e-4 else int(wanted)
        placed = get_order(order_ids[stock]).amount if stock in order_ids.index else 0
        if placed != shares:
            context.mismatches.append((get_datetime(), stock.symbol, placed, shares))
    context.rebalances += 1
    try:  # a gross exposure too small for the minimum weights: Quantopian's error, caught by the algorithm
        opt.calculate_optimal_portfolio(objective, [opt.MaxGrossExposure(0.5),
                                                    opt.PositionConcentration.with_equal_bounds(0.2, 0.3)])
    except InfeasibleConstraints:
        context.infeasible_caught += 1
    record(gross=sum(abs(w) for w in target), net=float(target.sum()))
