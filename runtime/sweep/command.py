"""``ibalgo sweep``: its options and what it prints (the command line itself is :mod:`runtime.cli`)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SWEEP_EPILOG = """examples:
  ibalgo sweep user_algos/parameter_sweep.py --param fast=5,10,20 --param slow=30:90:15
  ibalgo sweep user_algos/parameter_sweep.py --param fast=5:25:5 --param slow=40,60 --workers 2 --keep-runs
  ibalgo sweep user_algos/parameter_sweep.py --param fast=5,10,20 --param slow=30,60 --walk-forward 250:60
  ibalgo sweep FILE.py --param fast=10,20 --scheduler tcp://10.0.0.5:8786     (a running Dask cluster)

exit codes: 0 every run finished and no algorithm raised; 1 the sweep could not start; 2 the command line is
wrong; 3 some runs raised or did not finish (their rows say why); 130 interrupted (nothing written)."""


def add_sweep_parser(sub: Any, d: Any, algo_default: str, benchmark_flags: Callable[[Any], None]) -> None:
    """The ``sweep`` sub-command's options (``d`` shows the settings' defaults in ``--help``)."""
    from runtime.sweep.runner import METRIC_CHOICES

    sw = sub.add_parser(
        "sweep", help="backtest an algorithm once per combination of its parameters, on Dask distributed",
        description="Backtest an algorithm file once for each combination of the --param values, on a Dask "
        "LocalCluster of this machine's cores (or --scheduler ADDRESS, a running Dask cluster), and write one row "
        "per run (sweep.csv, sweep.parquet) and sweep.html (heatmaps of two parameters). The algorithm reads its "
        "parameters with get_parameter('fast', 20) or context.params['fast']. The data and the run options are "
        "those of 'ibalgo backtest'.",
        epilog=SWEEP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sw.add_argument("algorithm", nargs="?", help=f"the algorithm file {algo_default}")
    sw.add_argument("-f", "--algofile", dest="algofile", metavar="FILE", help="the algorithm file")
    sw.add_argument("--param", dest="grid", action="append", required=True, metavar="NAME=VALUES",
                    help="a parameter and its values: NAME=V1,V2,... or NAME=START:STOP:STEP (STOP included when "
                    "the steps land on it); repeat for each parameter (every combination runs)")
    sw.add_argument("-s", "--start", help=f"first session, YYYY-MM-DD {d('start', d.settings.start or 'the data')}")
    sw.add_argument("-e", "--end", help=f"last session, YYYY-MM-DD {d('end', d.settings.end or 'the data')}")
    sw.add_argument("--capital", "--capital-base", dest="capital", type=float, help=f"starting cash {d('capital')}")
    sw.add_argument("--data", dest="data_dir", metavar="DIR", help="folder of CSV/Parquet bars "
                    f"{d('data_dir', d.settings.data_dir or 'the bundled sample')}")
    sw.add_argument("--frequency", "--data-frequency", dest="frequency", choices=["daily", "minute"],
                    help=f"bar frequency {d('frequency')}")
    sw.add_argument("--seed", type=int, help=f"seed of the synthetic minute bars {d('seed')}")
    sw.add_argument("--universe", choices=["synthetic"], help="add the seeded synthetic universe (default: UNIVERSE)")
    sw.add_argument("--fundamentals", dest="fundamentals_file", metavar="FILE",
                    help="point-in-time table (CSV/Parquet) for Fundamentals and DataSets")
    sw.add_argument("-o", "--output", dest="output_dir", metavar="DIR",
                    help="the folder the sweep's files go to (default: OUTPUT_DIR/sweep, "
                    f"{Path(str(d.settings.output_dir)) / 'sweep'})")
    sw.add_argument("--workers", dest="workers", type=int, metavar="N",
                    help="worker processes of the LocalCluster (default: one per CPU)")
    sw.add_argument("--threads-per-worker", dest="threads_per_worker", type=int, default=1, metavar="N",
                    help="threads in each worker process (default 1: backtests are CPU-bound Python)")
    sw.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://HOST:8786 "
                    "(default: Dask's scheduler-address setting, else a LocalCluster on this machine)")
    sw.add_argument("--keep-runs", dest="keep_runs", action="store_true",
                    help="also write each run's own results folder (results.csv, report.html, ...) under "
                    "OUTPUT/runs/")
    sw.add_argument("--walk-forward", dest="walk_forward", metavar="TRAIN:TEST",
                    help="walk-forward: optimise on TRAIN sessions by --metric, test the best parameters on the "
                    "next TEST sessions, move on by TEST; walk_forward.csv has the out-of-sample rows")
    sw.add_argument("--metric", choices=list(METRIC_CHOICES), default="sharpe",
                    help="the figure the runs are ranked (and walk-forward optimises) by (default: sharpe)")
    sw.add_argument("--heatmap", metavar="A,B", help="the two parameters of the report's heatmap (default: every "
                    "pair of the swept parameters)")
    sw.add_argument("--margin-check", dest="margin_check", choices=["regt", "none"],
                    help=f"regt: refuse orders the account cannot margin; none: fill any order {d('margin_check')}")
    sw.add_argument("--strict", action="store_true", default=None,
                    help="stop each run at the algorithm's first exception (its row has the error, no figures)")
    sw.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sw.add_argument("--log-level", dest="log_level", help=f"DEBUG, INFO, WARNING or ERROR {d('log_level')}")
    sw.add_argument("--settings", help=f"settings file to read instead of ./settings.py (default: {d.file})")
    benchmark_flags(sw)


def _pct(v: Any) -> str:
    return "n/a" if v is None or not math.isfinite(float(v)) else f"{float(v) * 100:,.2f}%"


def _num(v: Any) -> str:
    return "n/a" if v is None or not math.isfinite(float(v)) else f"{float(v):,.2f}"


def cmd_sweep(settings: Any, args: argparse.Namespace, origin: str = "", benchmark: Any = None,
              ibridgepy: Any = None) -> int:
    """``ibalgo sweep``: run the grid, print the summary; the exit code (0, or 3 when some runs raised or did not
    finish)."""
    from runtime.algorithm.loader import check_algorithm_file
    from runtime.progress import Progress
    from runtime.sweep.runner import run_sweep

    check_algorithm_file(settings.algorithm, origin)
    output = Path(args.output_dir) if args.output_dir else Path(settings.output_dir) / "sweep"
    heatmap = [p.strip() for p in args.heatmap.split(",")] if args.heatmap else None
    progress: Progress | None = None

    def on_row(row: Any, done: int, total: int) -> None:
        nonlocal progress
        if progress is None:
            progress = Progress(total, "sweep", "run", show=None if not args.quiet else False)
        progress.update(1, postfix=row.run)

    try:
        result = run_sweep(
            settings.algorithm, args.grid, start=settings.start_ts, end=settings.end_ts, capital=settings.capital,
            frequency=settings.frequency, data_dir=settings.data_dir, universe=settings.universe, seed=settings.seed,
            calendar=settings.exchange_calendar, benchmark=benchmark, fundamentals=settings.fundamentals_file,
            before_trading_start=settings.before_trading_start, ibridgepy=ibridgepy, strict=settings.strict,
            margin_check=settings.margin_check, base_params=settings.params, output=output,
            keep_runs=args.keep_runs, walk_forward=args.walk_forward,
            metric=args.metric, heatmap=heatmap, n_workers=args.workers,
            threads_per_worker=args.threads_per_worker, scheduler=args.scheduler, on_row=on_row,
        )
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted: the sweep stopped and its workers with it; no files written\n")
        return 130
    finally:
        if progress is not None:
            progress.close()
    out = sys.stdout
    rows = result.rows
    kind = "walk-forward" if result.walk_forward is not None else "sweep"
    where = f"the Dask scheduler at {args.scheduler}" if args.scheduler else f"{result.workers} workers"
    out.write(f"\n{kind} of {settings.algorithm}: {len(rows)} runs over {', '.join(result.grid.names)} on {where} "
              f"({settings.frequency} bars)\n")
    finished = int((rows["sessions"] > 0).sum()) if len(rows) else 0
    out.write(f"  finished {finished}, did not finish {result.failed}, the algorithm raised in {result.raised}\n")
    failing = rows[(rows["errors"] > 0) | (rows["error"] != "")] if len(rows) else rows
    for rec in failing.head(5).to_dict("records"):
        out.write(f"    {rec['run']}: {rec['error']}" + (f" ({rec['errors']} errors)" if rec["errors"] > 1 else "")
                  + "\n")
    if len(failing) > 5:
        out.write(f"    ... and {len(failing) - 5} more (the error column of sweep.csv)\n")
    best = result.best
    if best is not None:
        chosen = " ".join(f"{n}={best[n]}" for n in result.grid.names)
        out.write(f"  best by {result.metric}: {chosen}: total return {_pct(best['total_return'])}, Sharpe "
                  f"{_num(best['sharpe'])}, max drawdown {_pct(best['max_drawdown'])}, {best['trades']} trades\n")
    wf = result.walk_forward
    if wf is not None:
        out.write("  walk-forward windows (test = out of sample):\n")
        for rec in wf.to_dict("records"):
            chosen = " ".join(f"{n}={rec[n]}" for n in result.grid.names)
            out.write(f"    test {rec['test_start']}..{rec['test_end']}: {chosen or '-'}: total return "
                      f"{_pct(rec['total_return'])}, Sharpe {_num(rec['sharpe'])}"
                      + (f" ({rec['error']})" if rec["error"] else "") + "\n")
    t = result.timings
    median = float(rows["run_seconds"].median()) if len(rows) else 0.0
    start_up = t.get("cluster", 0) + t.get("warm_up", 0)
    out.write(f"  runs {t.get('runs', 0):.2f} s (median run {median:.2f} s, cluster start {start_up:.2f} s);"
              f" whole sweep {t.get('total', 0):.2f} s\n")
    names = ", ".join(p.name for p in result.files if p.suffix != ".html")
    out.write(f"  rows written to {output}/ ({names})\n")
    if args.keep_runs:
        out.write(f"  each run's results: {output / 'runs'}/\n")
    out.write(f"  report: {output / 'sweep.html'}\n")
    return 3 if (result.failed or result.raised) else 0
