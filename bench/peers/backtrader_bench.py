"""Runs one workload in backtrader (run with the interpreter of the backtrader virtual environment).

Usage: python backtrader_bench.py WORKLOAD DATA_DIR
Prints one line ``BENCH_RESULT {json}`` with the import, set-up and loop seconds and the orders placed.
Set-up is reading the CSV files and building the feeds; the loop is cerebro.run() from the strategy's start() to
its stop() (indicators, broker and next()). Observers are off (stdstats=False), which only makes backtrader faster.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import backtrader as bt  # noqa: E402
import pandas as pd  # noqa: E402

T_IMPORTED = time.perf_counter()
FAST, SLOW, WINDOW = 20, 50, 15


class DualMovingAverage(bt.Strategy):
    """Hold a symbol while its 20-bar mean close is above its 50-bar mean close (from the 50th bar on)."""

    params = (("weight", 0.0),)

    def __init__(self) -> None:
        self.long = [bt.ind.SMA(d.close, period=FAST) > bt.ind.SMA(d.close, period=SLOW) for d in self.datas]
        self.invested = [False] * len(self.datas)
        self.orders = 0
        self.signals = 0

    def start(self) -> None:
        self.t_start = time.perf_counter()

    def next(self) -> None:
        for i, d in enumerate(self.datas):
            go_long = bool(self.long[i][0])
            if go_long != self.invested[i]:
                if self.order_target_percent(d, target=self.p.weight if go_long else 0.0) is not None:
                    self.orders += 1
                self.invested[i] = go_long
                self.signals += 1

    def stop(self) -> None:
        self.t_stop = time.perf_counter()


class MinuteSchedule(bt.Strategy):
    """At open + 15 min buy the symbols above their 15-bar mean; at close - 30 min close them (the session table
    gives each day's open and close, early closes included)."""

    params = (("weight", 0.0), ("morning", frozenset()), ("afternoon", frozenset()))

    def __init__(self) -> None:
        self.mean = [bt.ind.SMA(d.close, period=WINDOW) for d in self.datas]
        self.held: list[bt.feed.DataBase] = []
        self.orders = 0
        self.signals = 0
        self.bars = 0

    def start(self) -> None:
        self.t_start = time.perf_counter()

    def next(self) -> None:
        self.bars += 1
        now = self.data0.datetime[0]
        if now in self.p.morning:
            for i, d in enumerate(self.datas):
                if d.close[0] > self.mean[i][0]:
                    if self.order_target_percent(d, target=self.p.weight) is not None:
                        self.orders += 1
                    self.held.append(d)
                    self.signals += 1
        elif now in self.p.afternoon:
            for d in self.held:
                if self.order_target_percent(d, target=0.0) is not None:
                    self.orders += 1
                self.signals += 1
            self.held = []

    def stop(self) -> None:
        self.t_stop = time.perf_counter()


def _schedule(data_dir: Path) -> tuple[frozenset[float], frozenset[float]]:
    morning, afternoon = set(), set()
    for row in json.loads((data_dir / "sessions.json").read_text()):
        morning.add(bt.date2num(pd.Timestamp(f"{row['session']} {row['open']}") + pd.Timedelta(minutes=WINDOW)))
        afternoon.add(bt.date2num(pd.Timestamp(f"{row['session']} {row['close']}") - pd.Timedelta(minutes=30)))
    return frozenset(morning), frozenset(afternoon)


def main(argv: list[str]) -> int:
    workload, data_dir = argv[0], Path(argv[1])
    meta = json.loads((data_dir / "meta.json").read_text())
    minute = meta["frequency"] == "minute"
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(float(meta["capital"]))
    time_column = "datetime" if minute else "date"
    for name in meta["symbols"]:
        frame = pd.read_csv(data_dir / f"{name}.csv", parse_dates=[time_column], index_col=time_column)
        feed = bt.feeds.PandasData(dataname=frame, openinterest=None, name=name,
                                   timeframe=bt.TimeFrame.Minutes if minute else bt.TimeFrame.Days)
        cerebro.adddata(feed)
    weight = 0.9 / len(meta["symbols"])
    if workload == "w2":
        morning, afternoon = _schedule(data_dir)
        cerebro.addstrategy(MinuteSchedule, weight=weight, morning=morning, afternoon=afternoon)
    else:
        cerebro.addstrategy(DualMovingAverage, weight=weight)
    t_setup = time.perf_counter()
    strategy = cerebro.run()[0]
    t_end = time.perf_counter()
    loop = strategy.t_stop - strategy.t_start
    result = {
        "import": T_IMPORTED - T0, "setup": t_end - T_IMPORTED - loop, "loop": loop, "in_process": t_end - T0,
        "orders": strategy.orders, "signals": strategy.signals, "setup_before_run": t_setup - T_IMPORTED,
        "bar_events": meta["bars"],
    }
    print("BENCH_RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
