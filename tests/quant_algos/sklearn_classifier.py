"""A scikit-learn classifier on lagged daily returns decides long or flat (Quantopian's ML examples did this)."""
import numpy as np
from sklearn.ensemble import RandomForestClassifier


def initialize(context):
    context.stock = symbol("AAPL")
    context.model = RandomForestClassifier(n_estimators=20, random_state=0)
    context.lags = 5
    context.predictions = []
    schedule_function(train, date_rules.week_start(), time_rules.market_open())
    schedule_function(trade, date_rules.every_day(), time_rules.market_open(minutes=1))
    context.trained = False


def _features(returns, lags):
    X = np.column_stack([returns[i:len(returns) - lags + i] for i in range(lags)])
    y = (returns[lags:] > 0).astype(int)
    return X, y


def train(context, data):
    prices = data.history(context.stock, "price", 120, "1d").values
    returns = np.diff(prices) / prices[:-1]
    X, y = _features(returns, context.lags)
    context.model.fit(X, y)
    context.trained = True


def trade(context, data):
    if not context.trained:
        return
    prices = data.history(context.stock, "price", context.lags + 1, "1d").values
    returns = np.diff(prices) / prices[:-1]
    up = int(context.model.predict(returns.reshape(1, -1))[0])
    context.predictions.append(up)
    order_target_percent(context.stock, 0.9 if up else 0.0)
