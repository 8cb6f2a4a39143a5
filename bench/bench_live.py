"""Speed of the live path (gateway, ibapi, engine), over loopback against the embedded simulated gateway.

1. Order to fill: from the algorithm's ``order()`` call to the fill visible in ``context.portfolio`` (p50 / p99),
   market orders of 1 share while the replayed market is open, alternately bought and sold.
2. Replay: 3 months of daily bars for 5 symbols (dual_moving_average.py, 2012-01-03..2012-03-30) through the full
   path (``ibalgo run`` on the simulated gateway), as fast as possible.

    python bench/bench_live.py [--orders 1000] [--runs 5] [--out figures.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import repeat  # bench/repeat.py (this script's folder is on sys.path)

from runtime.brokers.ib.connection import ConnectionConfig
from runtime.data.calendars import get_calendar
from runtime.engine.clocks import ReplayClock
from runtime.engine.engine import Phase
from runtime.live.paper import EmbeddedGateway, broker_factory
from runtime.live.session import LiveOptions, LiveSession

ROOT = Path(__file__).resolve().parent.parent
ALGO = "def initialize(context):\n    context.asset = symbol('AAPL')\n"


def order_to_fill(n: int) -> np.ndarray:
    """Latencies (ns) of ``n`` order() -> fill-in-portfolio round trips."""
    cal = get_calendar("XNYS")
    clock = ReplayClock(pd.Timestamp("2012-11-14 10:00", tz="US/Eastern").value, speed=None)
    gw = EmbeddedGateway(clock, capital=1_000_000.0)
    tmp = Path(tempfile.mkdtemp())
    (tmp / "algo.py").write_text(ALGO)
    config = ConnectionConfig(port=gw.port, account=gw.account, message_rate=1e9, commission_wait_s=1.0)
    options = LiveOptions(str(tmp / "algo.py"), "bench", tmp / "journal.sqlite", frequency="minute")
    session = LiveSession(options, broker_factory(config, "bench", clock, virtual_pacing=True), clock, cal,
                          sync=gw.pump, set_models=gw.set_models)
    try:
        session.start()
        engine = session.engine
        order, ctx = engine.api.exported("order"), engine.context
        asset = ctx.asset
        engine.phase = Phase.HANDLE_DATA
        wake: queue.Queue[object] = queue.Queue()
        session.inbox.connect(wake.put)  # as the live loop does: the engine thread sleeps until the broker posts
        out = np.empty(n, dtype=np.int64)
        for i in range(n):
            before = ctx.portfolio.positions[asset].amount
            step = 1 if i % 2 == 0 else -1
            t0 = time.perf_counter_ns()
            order(asset, step)
            while ctx.portfolio.positions[asset].amount == before:
                wake.get()
                session.handle_pending()
            out[i] = time.perf_counter_ns() - t0
        return out
    finally:
        session.close()
        gw.stop()


def replay() -> float:
    from runtime.live.paper import run_algorithm

    t0 = time.perf_counter()
    out = Path(tempfile.mkdtemp())
    result = run_algorithm(str(ROOT / "user_algos" / "dual_moving_average.py"), frequency="daily",
                           replay=(pd.Timestamp("2012-01-03"), pd.Timestamp("2012-03-30")), output=out,
                           run_id="benchreplay")
    assert result.stopped_because == "the run reached its end" and result.engine.error_count == 0
    return time.perf_counter() - t0


def one_run(orders: int) -> dict[str, float]:
    """One process's figures: order-to-fill percentiles (ms) after a warm-up, and the 3-month replay (s)."""
    lat = order_to_fill(orders) / 1e6
    warm = lat[min(20, len(lat) // 10):]
    return {"orders": float(len(warm)), "p50_ms": float(np.percentile(warm, 50)),
            "p99_ms": float(np.percentile(warm, 99)), "max_ms": float(warm.max()), "replay_s": replay()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000, help="orders per run (default 1000)")
    parser.add_argument("--runs", type=int, default=1, help="separate process runs (medians; default 1)")
    parser.add_argument("--out", help="write the figures as JSON to this file")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.single:
        Path(args.out).write_text(json.dumps(one_run(args.orders)))
        return
    runs = repeat.in_processes(__file__, ["--orders", str(args.orders)], args.runs)
    med = repeat.medians(runs)
    figures = {"order_to_fill_p50_ms": med["p50_ms"], "order_to_fill_p99_ms": med["p99_ms"],
               "replay_3_months_5_symbols_s": med["replay_s"], "runs": runs}
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=1) + "\n")
    print(f"order() -> fill in context.portfolio over loopback, {len(runs)} x {runs[0]['orders']:.0f} orders "
          f"(median of runs): p50 {med['p50_ms']:.3f} ms, p99 {med['p99_ms']:.3f} ms, max {med['max_ms']:.3f} ms "
          "[targets < 2 ms / < 10 ms]")
    print(f"replay of 3 months of daily bars, 5 symbols, full path: {med['replay_s']:.2f} s [target < 15 s]")


if __name__ == "__main__":
    main()
