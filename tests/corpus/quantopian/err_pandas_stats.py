# expect: pd.rolling_mean(s, n) was removed from pandas: use s.rolling(n).mean
import pandas as pd

def initialize(context):
    context.stock = sid(24)

def handle_data(context, data):
    prices = data.history(context.stock, 'price', 30, '1d')
    context.ma = pd.rolling_mean(prices, 10)
