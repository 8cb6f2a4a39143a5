"""A Kalman-filtered price trend with pykalman (Quantopian's popular Kalman filter posts used it)."""
from pykalman import KalmanFilter


def initialize(context):
    context.stock = symbol("IBM")
    context.filter = KalmanFilter(transition_matrices=[1], observation_matrices=[1], initial_state_mean=0,
                                  initial_state_covariance=1, observation_covariance=1, transition_covariance=0.01)
    context.gaps = []
    schedule_function(trade, date_rules.every_day(), time_rules.market_open(minutes=5))


def trade(context, data):
    prices = data.history(context.stock, "price", 60, "1d")
    means, _ = context.filter.filter(prices.values)
    trend = float(means[-1, 0])
    context.gaps.append(float(prices.iloc[-1]) - trend)
    order_target_percent(context.stock, 0.5 if prices.iloc[-1] > trend else 0.0)
    record(trend=trend)
