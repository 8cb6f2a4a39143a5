"""Runs algorithm FILES in zipline-reloaded over a folder of per-symbol daily CSVs with splits and dividends.

Run with the interpreter of the zipline virtual environment (bench/envs.py), ZIPLINE_ROOT set to where bundles go:

    python zipline_pipeline.py ingest DATA_DIR BUNDLE
    python zipline_pipeline.py run DATA_DIR BUNDLE ALGO_FILE [START END]

DATA_DIR holds ``SYMBOL.csv`` files (date, open, high, low, close, volume, split_ratio, dividend: the columns
``ibalgo backtest --data DIR`` reads) and ``meta.json`` (symbols in sid order, listings, splits, dividends, start,
end, capital). The bundle gets the bars unadjusted, each listing's dates, and the splits (zipline's ratio is
1 / split_ratio) and cash dividends (paid on their ex-date, as ibalgo pays them) as adjustments, so zipline adjusts
pipeline windows and history and pays dividends exactly from the same corporate actions.

``run`` executes the algorithm file (its own imports from zipline.api / zipline.pipeline) with run_algorithm over
the bundle, no benchmark unless the file sets one, and prints ``BENCH_RESULT {json}`` with the timings and the
number of orders. Anything the file writes itself (the oracle's recorder) is its own business.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import json  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
from zipline import run_algorithm  # noqa: E402
from zipline.data import bundles  # noqa: E402

T_IMPORTED = time.perf_counter()


def _meta(data_dir: Path) -> dict:
    return json.loads((data_dir / "meta.json").read_text())


def _register(data_dir: Path, bundle: str) -> dict:
    meta = _meta(data_dir)
    symbols = meta["symbols"]
    sid_of = {s: i for i, s in enumerate(symbols)}

    def ingest(environ, asset_db_writer, minute_bar_writer, daily_bar_writer, adjustment_writer, calendar,
               start_session, end_session, cache, show_progress, output_dir) -> None:
        listings = meta["listings"]
        starts = pd.to_datetime([listings[s][0] for s in symbols])
        ends = pd.to_datetime([listings[s][1] for s in symbols])
        asset_db_writer.write(
            equities=pd.DataFrame({
                "symbol": symbols, "asset_name": symbols, "start_date": starts, "end_date": ends,
                "auto_close_date": ends + pd.Timedelta(days=1), "exchange": "NYSE",
            }, index=pd.Index(range(len(symbols)), name="sid")),
            exchanges=pd.DataFrame({"exchange": ["NYSE"], "canonical_name": ["NYSE"], "country_code": ["US"]}),
        )

        def frames():
            for sid, name in enumerate(symbols):
                f = pd.read_csv(data_dir / f"{name}.csv", parse_dates=["date"], index_col="date")
                yield sid, f[["open", "high", "low", "close", "volume"]]

        daily_bar_writer.write(frames(), show_progress=False)
        splits = pd.DataFrame({
            "sid": [sid_of[x["symbol"]] for x in meta["splits"]],
            "ratio": [1.0 / x["ratio"] for x in meta["splits"]],
            "effective_date": pd.to_datetime([x["date"] for x in meta["splits"]]),
        })
        ex = pd.to_datetime([x["ex_date"] for x in meta["dividends"]])
        dividends = pd.DataFrame({
            "sid": [sid_of[x["symbol"]] for x in meta["dividends"]],
            "amount": [x["amount"] for x in meta["dividends"]],
            "ex_date": ex, "record_date": ex, "declared_date": ex, "pay_date": ex,
        })
        adjustment_writer.write(splits=splits, dividends=dividends)

    bundles.register(bundle, ingest, calendar_name="XNYS", start_session=pd.Timestamp(meta["start"]),
                     end_session=pd.Timestamp(meta["end"]))
    return meta


def load_algorithm(path: Path) -> dict:
    """The algorithm file's namespace (executed as a module of its own)."""
    namespace = {"__name__": "algorithm", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def main(argv: list[str]) -> int:
    action, data_dir, bundle = argv[0], Path(argv[1]), argv[2]
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    meta = _register(data_dir, bundle)
    if action == "ingest":
        bundles.ingest(bundle, show_progress=False)
        print("BENCH_RESULT " + json.dumps({"ingested": bundle}))
        return 0
    algo = Path(argv[3])
    start = pd.Timestamp(argv[4] if len(argv) > 4 else meta["sim_start"])
    end = pd.Timestamp(argv[5] if len(argv) > 5 else meta["sim_end"])
    ns = load_algorithm(algo)
    marks: dict[str, float] = {}
    user_init = ns["initialize"]

    def initialize(context) -> None:
        user_init(context)
        marks["loop"] = time.perf_counter()

    state: dict[str, int] = {}
    user_analyze = ns.get("analyze")

    def analyze(context, perf) -> None:
        marks["analyze"] = time.perf_counter()
        state["orders"] = len({o["id"] for day in perf["orders"] for o in day})  # an order shows on several days
        state["fills"] = sum(len(day) for day in perf["transactions"])
        if user_analyze is not None:
            user_analyze(context, perf)

    run_algorithm(
        start=start, end=end, initialize=initialize, handle_data=ns.get("handle_data"),
        before_trading_start=ns.get("before_trading_start"), analyze=analyze,
        capital_base=float(meta["capital"]), data_frequency="daily", bundle=bundle,
    )
    t_end = time.perf_counter()
    loop = marks["analyze"] - marks["loop"]
    result = {
        "import": T_IMPORTED - T0, "setup": t_end - T_IMPORTED - loop, "loop": loop, "in_process": t_end - T0,
        "orders": state["orders"], "fills": state["fills"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    print("BENCH_RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
