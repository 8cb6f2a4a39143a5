"""RSI mean reversion with TA-Lib, as Quantopian files wrote it: talib.RSI and talib.SMA on data.history."""
import numpy as np
import talib


def initialize(context):
    context.stocks = [symbol("AAPL"), symbol("IBM"), symbol("MSFT")]
    context.rsi_seen = []
    schedule_function(rebalance, date_rules.every_day(), time_rules.market_open(minutes=30))


def rebalance(context, data):
    prices = data.history(context.stocks, "price", 40, "1d")
    for stock in context.stocks:
        closes = np.asarray(prices[stock].values, dtype=float)
        rsi = talib.RSI(closes, timeperiod=14)[-1]
        sma = talib.SMA(closes, timeperiod=20)[-1]
        context.rsi_seen.append(rsi)
        if not data.can_trade(stock):
            continue
        if rsi < 40 and closes[-1] < sma:
            order_target_percent(stock, 0.3)
        elif rsi > 60:
            order_target_percent(stock, 0)
    record(rsi_aapl=talib.RSI(np.asarray(prices[context.stocks[0]].values, dtype=float), timeperiod=14)[-1])
