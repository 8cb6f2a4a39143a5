"""Minimum-variance weights solved with cvxpy, checked against scipy.optimize (both were in Quantopian's sandbox)."""
import cvxpy as cvx
import numpy as np
from scipy import optimize


def initialize(context):
    context.stocks = symbols("AAPL", "IBM", "MSFT", "GOOG")
    context.gaps = []
    schedule_function(rebalance, date_rules.month_start(), time_rules.market_open(hours=1))


def rebalance(context, data):
    prices = data.history(context.stocks, "price", 90, "1d")
    returns = prices.pct_change().dropna()
    cov = returns.cov().values
    n = len(context.stocks)
    w = cvx.Variable(n)
    cvx.Problem(cvx.Minimize(cvx.quad_form(w, cov)), [cvx.sum(w) == 1, w >= 0]).solve()
    by_cvxpy = np.asarray(w.value).ravel()
    annual = cov * 252
    result = optimize.minimize(lambda v: v @ annual @ v, np.full(n, 1.0 / n), jac=lambda v: 2 * annual @ v,
                               method="SLSQP", bounds=[(0, 1)] * n, options={"ftol": 1e-12},
                               constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}])
    context.gaps.append(float(np.abs(by_cvxpy - result.x).max()))
    for stock, weight in zip(context.stocks, by_cvxpy):
        order_target_percent(stock, max(float(weight), 0.0) * 0.95)
