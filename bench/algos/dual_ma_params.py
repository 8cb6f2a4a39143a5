"""Benchmark algorithm (the sweep row): W1's dual moving-average crossover with its windows as parameters (fast,
slow; default 20/50, W1 itself). W1: dual moving-average crossover, equal weight (90% invested at most), over the
symbols in the environment variable BENCH_SYMBOLS (comma-separated).

From the SLOW-th bar on, a symbol is held while its FAST-bar mean close is above its SLOW-bar mean close;
order_target_percent is called when that state changes."""

import os

import numpy as np

FAST, SLOW = get_parameter("fast", 20), get_parameter("slow", 50)


def initialize(context):
    context.assets = symbols(*os.environ["BENCH_SYMBOLS"].split(","))
    context.weight = 0.9 / len(context.assets)
    context.invested = np.zeros(len(context.assets), dtype=bool)
    context.bars = 0
    context.signals = 0


def handle_data(context, data):
    context.bars += 1
    if context.bars < SLOW:
        return
    prices = data.history(context.assets, "price", SLOW, "1d").to_numpy()
    go_long = prices[-FAST:].mean(axis=0) > prices.mean(axis=0)
    for i in np.flatnonzero(go_long != context.invested):
        order_target_percent(context.assets[i], context.weight if go_long[i] else 0.0)
        context.invested[i] = go_long[i]
        context.signals += 1

