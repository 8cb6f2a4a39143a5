"""Runs one workload in ibalgo, in this process, through the same entry point as the ``ibalgo`` command.

Usage: python bench/peers/ours.py WORKLOAD DATA_DIR OUT_DIR
Prints one line ``BENCH_RESULT {json}`` with the import, set-up and loop seconds and the orders placed.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ALGOS = Path(__file__).resolve().parent.parent / "algos"
ALGO_OF = {"w1": "dual_ma.py", "w2": "minute_sched.py", "w3": "dual_ma.py", "w6": "pipeline_w6.py"}


def main(argv: list[str]) -> int:
    workload, data_dir, out_dir = argv[0], Path(argv[1]), Path(argv[2])
    meta = json.loads((data_dir / "meta.json").read_text())
    os.environ["BENCH_SYMBOLS"] = ",".join(meta["symbols"])
    t_import = time.perf_counter()
    import runtime.assembly.backtest
    import runtime.cli

    t_run = time.perf_counter()
    start, end = meta.get("sim_start", meta["start"]), meta.get("sim_end", meta["end"])
    args = ["backtest", str(ALGOS / ALGO_OF[workload]), "--data", str(data_dir), "--start", start,
            "--end", end, "--capital", str(meta["capital"]), "--frequency", meta["frequency"],
            "--output", str(out_dir), "--log-level", "WARNING"]
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        rc = runtime.cli.main(args)
    t_end = time.perf_counter()
    text = captured.getvalue()
    if rc != 0:
        sys.stderr.write(text)
        return rc
    summary = json.loads((out_dir / "summary.json").read_text())
    signals = next(int(line.split("=")[1]) for line in text.splitlines() if line.startswith("BENCH_SIGNALS="))
    loop = float(summary["loop_seconds"])
    result = {
        "import": t_run - t_import + (t_import - T0), "setup": t_end - t_run - loop, "loop": loop,
        "in_process": t_end - T0, "orders": int(summary["orders"]), "signals": signals,
        "bar_events": int(summary["bar_events"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    print("BENCH_RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
