"""Minute backtests in bounded memory: peak resident memory and loop speed over 1, 5 and 20 symbols x 1 and 10 years.

Usage:
    python bench/bench_minute.py [--cases 1x1,5x1,20x1,1x10,5x10,20x10] [--json FILE]

Each case is one whole ``ibalgo backtest`` process (run under ``nice``) of bench/algos/minute_sched.py (handle_data
every minute, buys at the open + 15 minutes on a 15-minute history window, sells 30 minutes before the close) on
the seeded synthetic daily bars of the W1-20 data set (2003..2012) with ``--frequency minute``: the minutes are
generated from the daily bars a window of sessions at a time. Peak memory is the process's maximum resident set
(GNU time's %M of the process); bars/s is symbols x minutes over the loop's seconds (summary.json). Cases
are measured once each (the 20 x 10-year case takes a few minutes on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import datasets  # noqa: E402

YEARS = {1: ("2012-01-03", "2012-12-31"), 10: ("2003-01-02", "2012-12-31")}
DEFAULT_CASES = "1x1,5x1,20x1,1x10,5x10,20x10"
TIME = Path("/usr/bin/time")


def run_case(source: Path, symbols: list[str], years: int, work: Path) -> dict[str, object]:
    """One whole backtest process over the first ``symbols`` of the data set; its figures."""
    data = work / f"data-{len(symbols)}"
    data.mkdir(exist_ok=True)
    for s in symbols:
        link = data / f"{s}.csv"
        if not link.exists():
            link.symlink_to(source / f"{s}.csv")
    out = work / f"out-{len(symbols)}x{years}"
    start, end = YEARS[years]
    cmd = ["nice", "-n", "10", sys.executable, "-m", "runtime", "backtest", str(HERE / "algos" / "minute_sched.py"),
           "--data", str(data), "--frequency", "minute", "--start", start, "--end", end, "--output", str(out),
           "--quiet", "--log-level", "WARNING", "--no-benchmark"]
    env = {**os.environ, "BENCH_SYMBOLS": ",".join(symbols), "PYTHONPATH": str(ROOT)}
    peak_file = work / "peak.txt"
    if TIME.exists():  # GNU time: this process's own peak (kB)
        cmd = [str(TIME), "-f", "%M", "-o", str(peak_file), *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=3600)
    wall = time.perf_counter() - started
    peak_kb: float | None = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if TIME.exists():
        peak_kb = float(peak_file.read_text().split()[-1])
    elif peak_kb <= before:  # without GNU time: the largest child so far, this case's only when it grew
        peak_kb = None
    if proc.returncode != 0:
        return {"error": "\n".join(proc.stderr.strip().splitlines()[-5:])}
    summary = json.loads((out / "summary.json").read_text())
    minutes, loop = int(summary["bar_events"]), float(summary["loop_seconds"])
    return {
        "symbols": len(symbols), "years": years, "minutes": minutes, "bars": minutes * len(symbols),
        "loop_s": loop, "bars_per_s": minutes * len(symbols) / loop if loop > 0 else None, "wall_s": wall,
        "peak_rss_mb": peak_kb / 1024.0 if peak_kb else None, "orders": int(summary["orders"]),
        "ending_value": summary.get("ending_value"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=DEFAULT_CASES, help=f"SYMBOLSxYEARS list (default {DEFAULT_CASES})")
    parser.add_argument("--json", help="where the figures go as JSON")
    opts = parser.parse_args(argv)
    source = datasets.ensure_all(HERE / ".cache" / "data", ROOT / "runtime" / "data" / "sample" /
                                 "us-stocks-daily-2000-2013.csv.gz", {"daily20"})["daily20"]
    names = datasets.read_meta(source)["symbols"]
    cases = [tuple(int(x) for x in c.split("x")) for c in opts.cases.split(",")]
    cases.sort(key=lambda c: (c[0] * c[1], c[0]))  # smallest first (without GNU time, peaks only grow)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ibalgo-minute-") as tmp:
        for n, years in cases:
            row = run_case(source, names[:n], years, Path(tmp))
            rows.append({"case": f"{n} x {years} y", **row})
            sys.stderr.write(f"[minute] {rows[-1]}\n")
    print("| symbols x years | minutes | bars | loop s | bars/s | peak RSS MB | whole process s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['case']} | error: {r['error']} |")
            continue
        peak = f"{r['peak_rss_mb']:,.0f}" if r["peak_rss_mb"] else "n/a"
        print(f"| {r['case']} | {r['minutes']:,} | {r['bars']:,} | {r['loop_s']:.2f} | {r['bars_per_s']:,.0f} | "
              f"{peak} | {r['wall_s']:.1f} |")
    if opts.json:  # flat figures for the suite's table, then every case in full
        flat: dict[str, object] = {}
        for r in rows:
            if "error" not in r:
                key = f"{r['symbols']}x{r['years']}y"
                flat[f"{key} peak MB"] = round(r["peak_rss_mb"] or 0.0)
                flat[f"{key} bars/s"] = round(r["bars_per_s"] or 0.0)
        Path(opts.json).write_text(json.dumps({**flat, "cases": rows}, indent=1) + "\n")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
