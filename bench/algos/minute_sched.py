"""Benchmark algorithm: minute bars with market-time scheduling, over the symbols in BENCH_SYMBOLS.

At the open + 15 minutes, buy (order_target_percent) every symbol whose price is above the mean of its last 15
minute prices; 30 minutes before the close (12:30 on an early close), close what was bought. handle_data runs
every minute and only counts bars. The same logic runs in every framework of the benchmark."""

import os

import numpy as np

WINDOW = 15


def initialize(context):
    context.assets = symbols(*os.environ["BENCH_SYMBOLS"].split(","))
    context.weight = 0.9 / len(context.assets)
    context.held = []
    context.bars = 0
    context.signals = 0
    schedule_function(morning, date_rules.every_day(), time_rules.market_open(minutes=15))
    schedule_function(afternoon, date_rules.every_day(), time_rules.market_close(minutes=30))


def handle_data(context, data):
    context.bars += 1


def morning(context, data):
    prices = data.history(context.assets, "price", WINDOW, "1m").to_numpy()
    above = prices[-1] > prices.mean(axis=0)
    for i in np.flatnonzero(above):
        order_target_percent(context.assets[i], context.weight)
        context.held.append(context.assets[i])
        context.signals += 1


def afternoon(context, data):
    for asset in context.held:
        order_target_percent(asset, 0.0)
        context.signals += 1
    context.held = []


def analyze(context, perf):
    print(f"BENCH_SIGNALS={context.signals}")
