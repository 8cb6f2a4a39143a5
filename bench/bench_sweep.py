"""The sweep row: a 64-combination sweep of W1-20 (bench/algos/dual_ma_params.py, fast x slow) on a LocalCluster of
1 and of 2 worker processes, against single backtests of the same algorithm in this process.

Usage: python bench/bench_sweep.py [--workers 1,2] [--out bench/results]

Prints a markdown table: the sweep's wall time (cluster start, runs, whole), runs per second, the scaling ratio
(1 worker's run time over N workers'), the median run inside a worker, and a single in-process backtest of the same
data (data already loaded, no files written), so the per-run overhead of the sweep is the run phase's time per run
on one worker less the in-process backtest. The (20, 50) row must place the orders W1-20 places.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import datasets  # noqa: E402

ALGO = HERE / "algos" / "dual_ma_params.py"
GRID = {"fast": "5:40:5", "slow": "50:120:10"}  # 8 x 8 = 64 combinations


def single_runs(data_dir: Path, meta: dict, repeat: int = 3) -> dict[str, float]:
    """W1-20 at fast=20 slow=50 in this process: the data load once, then ``repeat`` backtests (no files)."""
    import pandas as pd

    from runtime.assembly.backtest import run_backtest
    from runtime.data.runs import load_daily_and_minute

    t0 = time.perf_counter()
    daily, minute, s, e = load_daily_and_minute(str(data_dir), "daily", pd.Timestamp(meta["start"]),
                                                pd.Timestamp(meta["end"]))
    load = time.perf_counter() - t0
    times, orders = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        result = run_backtest(ALGO, daily=daily, minute=minute, start=s, end=e, capital=float(meta["capital"]),
                              params={"fast": 20, "slow": 50})
        times.append(time.perf_counter() - t)
        orders = result.summary.orders
    return {"load_s": load, "run_s": statistics.median(times), "orders": orders}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    from runtime.sweep import run_sweep

    data = datasets.ensure_all(HERE / ".cache", ROOT / "runtime" / "data" / "sample" /
                               "us-stocks-daily-2000-2013.csv.gz", {"daily20"})["daily20"]
    meta = json.loads((data / "meta.json").read_text())
    os.environ["BENCH_SYMBOLS"] = ",".join(meta["symbols"])  # the workers are started after this: they inherit it
    single = single_runs(data, meta)
    rows = []
    for n in [int(x) for x in args.workers.split(",")]:
        t = time.perf_counter()
        result = run_sweep(ALGO, GRID, start=meta["start"], end=meta["end"], capital=float(meta["capital"]),
                           data_dir=str(data), n_workers=n)
        wall = time.perf_counter() - t
        r = result.rows
        w1 = r[(r["fast"] == 20) & (r["slow"] == 50)].iloc[0]
        if int(w1["orders"]) != single["orders"] or result.failed or result.raised:
            sys.stderr.write(f"sweep on {n} workers disagrees: orders {w1['orders']} vs {single['orders']}, "
                             f"failed {result.failed}, raised {result.raised}\n")
            return 1
        rows.append({"workers": n, "runs": len(r), "wall_s": wall, "cluster_s": result.timings["cluster"],
                     "scatter_s": result.timings["scatter"], "runs_s": result.timings["runs"],
                     "warm_up_s": result.timings.get("warm_up", 0.0), "median_run_s": float(r["run_seconds"].median()),
                     "mean_run_s": float(r["run_seconds"].mean()), "sum_run_s": float(r["run_seconds"].sum()),
                     "orders_w1": int(w1["orders"]), "load_avg": os.getloadavg()[0]})
    base = rows[0]["runs_s"]
    for row in rows:
        row["scaling"] = base / row["runs_s"]
        row["per_run_s"] = row["runs_s"] / row["runs"]
    one = next((row for row in rows if row["workers"] == 1), rows[0])
    overhead = one["per_run_s"] - single["run_s"]
    # on one worker the runs follow each other: the run phase less the runs' own time is the sweep's time per task
    dispatch = (one["runs_s"] - one["sum_run_s"]) / one["runs"]
    print(f"single in-process backtest (W1-20, fast=20 slow=50, {single['orders']} orders): "
          f"{single['run_s']:.3f} s (data load {single['load_s']:.2f} s, once)")
    print("| workers | runs | cluster start + warm-up, s | runs, s | whole sweep, s | runs/s | per run, s | "
          "mean run in a worker, s | scaling vs 1 worker | load average |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['workers']} | {row['runs']} | {row['cluster_s'] + row['warm_up_s']:.2f} | {row['runs_s']:.2f} | "
              f"{row['wall_s']:.2f} | {row['runs'] / row['runs_s']:.2f} | {row['per_run_s']:.3f} | "
              f"{row['mean_run_s']:.3f} | {row['scaling']:.2f}x | {row['load_avg']:.1f} |")
    print(f"per-run overhead on 1 worker (run phase per run - in-process backtest): {overhead * 1000:.0f} ms "
          f"({overhead / single['run_s'] * 100:.0f}% of a run); of it, between runs (dispatch, results): "
          f"{dispatch * 1000:.0f} ms")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    figures = {"single": single, "sweeps": rows, "overhead_s": overhead, "dispatch_s": dispatch,
               "cpus": os.cpu_count()}
    (out / f"sweep-{stamp}.json").write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
