"""Runs one workload in zipline-reloaded (run with the interpreter of the zipline virtual environment).

Usage:
    python zipline_bench.py ingest DATA_DIR BUNDLE      (once per data set: a custom bundle from the CSV files)
    python zipline_bench.py WORKLOAD DATA_DIR BUNDLE    (one timed run with run_algorithm over that bundle)
ZIPLINE_ROOT must point at the folder that holds the ingested bundles.
Prints one line ``BENCH_RESULT {json}``: import (zipline and zipline.api), set-up (run_algorithm until initialize
has run: bundle, calendar, asset finder), loop (the end of initialize to analyze) and the orders placed.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from zipline import run_algorithm  # noqa: E402
from zipline.api import (  # noqa: E402
    date_rules,
    order_target_percent,
    schedule_function,
    symbol,
    time_rules,
)
from zipline.data import bundles  # noqa: E402

T_IMPORTED = time.perf_counter()
FAST, SLOW, WINDOW = 20, 50, 15
MARK: dict[str, float] = {}


def _meta(data_dir: Path) -> dict:
    return json.loads((data_dir / "meta.json").read_text())


def _frames(data_dir: Path, meta: dict) -> dict[int, pd.DataFrame]:
    column = "datetime" if meta["frequency"] == "minute" else "date"
    return {sid: pd.read_csv(data_dir / f"{name}.csv", parse_dates=[column], index_col=column)
            for sid, name in enumerate(meta["symbols"])}


def _ingest_function(data_dir: Path):
    meta = _meta(data_dir)

    def ingest(environ, asset_db_writer, minute_bar_writer, daily_bar_writer, adjustment_writer, calendar,
               start_session, end_session, cache, show_progress, output_dir) -> None:
        frames = _frames(data_dir, meta)
        start, end = pd.Timestamp(meta["start"]), pd.Timestamp(meta["end"])
        asset_db_writer.write(
            equities=pd.DataFrame({
                "symbol": meta["symbols"], "asset_name": meta["symbols"], "start_date": start, "end_date": end,
                "auto_close_date": end + pd.Timedelta(days=1), "exchange": "NYSE",
            }),
            exchanges=pd.DataFrame({"exchange": ["NYSE"], "canonical_name": ["NYSE"], "country_code": ["US"]}),
        )
        if meta["frequency"] == "minute":
            utc = {sid: f.tz_localize("America/New_York").tz_convert("UTC") for sid, f in frames.items()}
            minute_bar_writer.write(utc.items(), show_progress=False)
            daily = {}
            for sid, f in frames.items():
                day = f.index.normalize()
                daily[sid] = f.groupby(day).agg({"open": "first", "high": "max", "low": "min", "close": "last",
                                                 "volume": "sum"})
            daily_bar_writer.write(daily.items(), show_progress=False)
        else:
            daily_bar_writer.write(frames.items(), show_progress=False)
        adjustment_writer.write()

    return ingest, meta


def _register(data_dir: Path, bundle: str) -> dict:
    ingest, meta = _ingest_function(data_dir)
    bundles.register(bundle, ingest, calendar_name="XNYS", start_session=pd.Timestamp(meta["start"]),
                     end_session=pd.Timestamp(meta["end"]))
    return meta


def dual_ma_algorithm(meta: dict):
    names = meta["symbols"]

    def initialize(context) -> None:
        context.assets = [symbol(name) for name in names]
        context.weight = 0.9 / len(names)
        context.invested = np.zeros(len(names), dtype=bool)
        context.bars = 0
        context.orders = 0
        context.signals = 0
        MARK["loop"] = time.perf_counter()

    def handle_data(context, data) -> None:
        context.bars += 1
        if context.bars < SLOW:
            return
        prices = data.history(context.assets, "price", SLOW, "1d").to_numpy()
        go_long = prices[-FAST:].mean(axis=0) > prices.mean(axis=0)
        for i in np.flatnonzero(go_long != context.invested):
            if order_target_percent(context.assets[i], context.weight if go_long[i] else 0.0) is not None:
                context.orders += 1
            context.invested[i] = go_long[i]
            context.signals += 1

    return initialize, handle_data


def minute_algorithm(meta: dict):
    names = meta["symbols"]

    def initialize(context) -> None:
        context.assets = [symbol(name) for name in names]
        context.weight = 0.9 / len(names)
        context.held = []
        context.bars = 0
        context.orders = 0
        context.signals = 0
        schedule_function(morning, date_rules.every_day(), time_rules.market_open(minutes=15))
        schedule_function(afternoon, date_rules.every_day(), time_rules.market_close(minutes=30))
        MARK["loop"] = time.perf_counter()

    def handle_data(context, data) -> None:
        context.bars += 1

    def morning(context, data) -> None:
        prices = data.history(context.assets, "price", WINDOW, "1m").to_numpy()
        above = prices[-1] > prices.mean(axis=0)
        for i in np.flatnonzero(above):
            if order_target_percent(context.assets[i], context.weight) is not None:
                context.orders += 1
            context.held.append(context.assets[i])
            context.signals += 1

    def afternoon(context, data) -> None:
        for asset in context.held:
            if order_target_percent(asset, 0.0) is not None:
                context.orders += 1
            context.signals += 1
        context.held = []

    return initialize, handle_data


def main(argv: list[str]) -> int:
    action, data_dir, bundle = argv[0], Path(argv[1]), argv[2]
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    meta = _register(data_dir, bundle)
    if action == "ingest":
        bundles.ingest(bundle, show_progress=False)
        print("BENCH_RESULT " + json.dumps({"ingested": bundle}))
        return 0
    initialize, handle_data = (minute_algorithm if action == "w2" else dual_ma_algorithm)(meta)
    state: dict[str, object] = {}

    def analyze(context, perf) -> None:
        MARK["analyze"] = time.perf_counter()
        state.update(orders=context.orders, signals=context.signals, bars=context.bars)

    start, end = pd.Timestamp(meta["start"]), pd.Timestamp(meta["end"])
    sessions = pd.date_range(start, end, tz="UTC")
    run_algorithm(
        start=start, end=end, initialize=initialize, handle_data=handle_data, analyze=analyze,
        capital_base=float(meta["capital"]), data_frequency=meta["frequency"], bundle=bundle,
        benchmark_returns=pd.Series(0.0, index=sessions), default_extension=False,
    )
    t_end = time.perf_counter()
    loop = MARK["analyze"] - MARK["loop"]
    result = {
        "import": T_IMPORTED - T0, "setup": t_end - T_IMPORTED - loop, "loop": loop, "in_process": t_end - T0,
        "orders": state["orders"], "signals": state["signals"], "bar_events": meta["bars"],
        "handle_data_calls": state["bars"],
    }
    print("BENCH_RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
