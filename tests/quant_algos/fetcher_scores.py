"""Fetcher in the Quantopian style: weekly scores per ticker from a CSV (fetch_csv with date_column, symbol_column,
date_format and a post_func that lags the data a day), traded on with order_target_percent."""
import pandas as pd


def lag_one_day(df):
    # the scores are computed after the close of their date: use them from the next day on
    df.index = df.index + pd.Timedelta(days=1)
    return df


def initialize(context):
    fetch_csv("weekly_scores.csv", date_column="Date", symbol_column="Ticker", date_format="%m/%d/%Y",
              post_func=lag_one_day)
    context.stocks = [symbol("AAPL"), symbol("IBM"), symbol("MSFT")]
    context.scores_seen = []
    schedule_function(rebalance, date_rules.every_day(), time_rules.market_open(minutes=15))


def rebalance(context, data):
    scores = data.current(context.stocks, "score")
    context.scores_seen.append((get_datetime().date(), scores.to_dict()))
    if scores.isnull().any():
        return
    longs = scores[scores > 0].index
    for stock in context.stocks:
        order_target_percent(stock, 0.9 / len(longs) if stock in longs else 0.0)
