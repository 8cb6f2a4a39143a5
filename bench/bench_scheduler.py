"""Scheduler benchmarks: simulated event-loop throughput and live dispatch lateness.

Usage: python bench/bench_scheduler.py [--runs 5] [--out bench/results/bench_scheduler.json]

1. Timeline: build a year (2024) of minute bars with several scheduled functions, then iterate it the way the
   backtest loop does (one Python dispatch per event). Reported as events per second (median of runs).
2. Reference: a plain Python heap loop merging the same fire times from the triggers (``next_ns``).
3. Live dispatch: a LiveDispatcher on the wall clock posts ticks 10 ms apart to a queue; a consumer thread
   measures the lateness of each tick when it receives it (p50/p99 over all ticks, median of runs).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime.core.rules import EventRule, date_rules, time_rules
from runtime.data.calendars import get_calendar
from runtime.engine.clocks import LiveDispatcher, Tick, WallClock
from runtime.engine.timeline import EventKind, build_timeline
from runtime.engine.triggers import ArrayTrigger

RULES = [
    EventRule(date_rules.every_day(), time_rules.market_open()),
    EventRule(date_rules.every_day(), time_rules.market_close(minutes=15)),
    EventRule(date_rules.week_start(), time_rules.market_open(minutes=30)),
    EventRule(date_rules.week_end(), time_rules.market_close(minutes=30)),
    EventRule(date_rules.month_start(2), time_rules.market_open(hours=1)),
    EventRule(date_rules.month_end(), time_rules.market_close()),
]


def _iterate(timeline) -> int:
    """The backtest loop's shape: one Python dispatch per event."""
    counts = [0, 0, 0, 0, 0]
    per_rule = [0] * len(RULES)

    def on_bar(t: int, s: int) -> None:
        counts[2] += 1

    def on_scheduled(t: int, r: int) -> None:
        per_rule[r] += 1

    def on_bts(t: int, s: int) -> None:
        counts[1] += 1

    def on_end(t: int, s: int) -> None:
        counts[4] += 1

    bar, sched, bts = int(EventKind.BAR), int(EventKind.SCHEDULED), int(EventKind.BEFORE_TRADING_START)
    n = 0
    for t, k, r, s in zip(
        timeline.times.tolist(), timeline.kinds.tolist(), timeline.rules.tolist(), timeline.sessions.tolist()
    ):
        n += 1
        if k == bar:
            on_bar(t, s)
        elif k == sched:
            on_scheduled(t, r)
        elif k == bts:
            on_bts(t, s)
        else:
            on_end(t, s)
    return n


def bench_timeline(runs: int) -> dict[str, float]:
    cal = get_calendar("XNYS")
    first, last = cal.session_index_on_or_after("2024-01-01"), cal.session_index_on_or_before("2024-12-31")
    build_times, loop_times, total = [], [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        timeline = build_timeline(cal, first, last, "minute", RULES)
        t1 = time.perf_counter()
        total = _iterate(timeline)
        t2 = time.perf_counter()
        build_times.append(t1 - t0)
        loop_times.append(t2 - t1)
    build, loop = statistics.median(build_times), statistics.median(loop_times)
    bars = int((timeline.kinds == EventKind.BAR).sum())
    return {
        "events": total,
        "bars": bars,
        "build_s": build,
        "iterate_s": loop,
        "events_per_s_iterate": total / loop,
        "events_per_s_build_and_iterate": total / (build + loop),
    }


def bench_heap(runs: int) -> dict[str, float]:
    """A plain heap loop over one trigger per event source (bars, before_trading_start, ends, each rule)."""
    cal = get_calendar("XNYS")
    first, last = cal.session_index_on_or_after("2024-01-01"), cal.session_index_on_or_before("2024-12-31")
    timeline = build_timeline(cal, first, last, "minute", RULES)
    tz = cal.tz
    sources = [
        ArrayTrigger(timeline.times[(timeline.kinds == kind) & (timeline.rules == rule)], tz)
        for kind, rule in [(EventKind.BEFORE_TRADING_START, -1), (EventKind.BAR, -1)]
        + [(EventKind.SCHEDULED, r) for r in range(len(RULES))]
        + [(EventKind.SESSION_END, -1)]
    ]
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        heap = [(trig.next_ns(-1), order, trig) for order, trig in enumerate(sources)]
        heap = [h for h in heap if h[0] is not None]
        heapq.heapify(heap)
        n = 0
        while heap:
            t, order, trig = heap[0]
            n += 1
            nxt = trig.next_ns(t)
            if nxt is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (nxt, order, trig))
        rates.append(n / (time.perf_counter() - t0))
    return {"events": n, "events_per_s": statistics.median(rates)}


def bench_live(runs: int, ticks_per_run: int, spacing_ms: float) -> dict[str, float]:
    p50s, p99s, maxes, post_p99s = [], [], [], []
    for _ in range(runs):
        start = time.time_ns() + 300_000_000
        times = start + np.arange(ticks_per_run, dtype=np.int64) * int(spacing_ms * 1e6)
        received: list[tuple[int, int]] = []
        q: queue.Queue[Tick] = queue.Queue()

        def consumer(q: queue.Queue[Tick] = q, received: list[tuple[int, int]] = received) -> None:
            while len(received) < ticks_per_run:
                tick = q.get()
                received.append((time.time_ns() - tick.ns, tick.late_ns))

        thread = threading.Thread(target=consumer)
        thread.start()
        with LiveDispatcher(ArrayTrigger(times, "America/New_York"), q.put, WallClock()):
            thread.join(timeout=ticks_per_run * spacing_ms / 1000 + 10)
        late = np.array([r[0] for r in received], dtype=np.float64) / 1e6
        posted = np.array([r[1] for r in received], dtype=np.float64) / 1e6
        p50s.append(float(np.percentile(late, 50)))
        p99s.append(float(np.percentile(late, 99)))
        maxes.append(float(late.max()))
        post_p99s.append(float(np.percentile(posted, 99)))
    return {
        "ticks_per_run": ticks_per_run,
        "spacing_ms": spacing_ms,
        "lateness_p50_ms": statistics.median(p50s),
        "lateness_p99_ms": statistics.median(p99s),
        "lateness_max_ms": statistics.median(maxes),
        "post_lateness_p99_ms": statistics.median(post_p99s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--spacing-ms", type=float, default=10.0)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "bench_scheduler.json"))
    args = parser.parse_args()

    get_calendar("XNYS")  # build the calendar once, outside the timings
    timeline = bench_timeline(args.runs)
    heap = bench_heap(args.runs)
    live = bench_live(args.runs, args.ticks, args.spacing_ms)

    rows = [
        ("timeline events (2024, minute, 6 rules)", f"{timeline['events']:,}", ""),
        ("  build timeline", f"{timeline['build_s'] * 1000:.1f} ms", ""),
        ("  iterate (backtest loop shape)", f"{timeline['events_per_s_iterate']:,.0f} ev/s", ">= 200,000"),
        ("  build + iterate", f"{timeline['events_per_s_build_and_iterate']:,.0f} ev/s", ">= 200,000"),
        ("heap loop over triggers (reference)", f"{heap['events_per_s']:,.0f} ev/s", "~450,000"),
        ("live dispatch lateness p50", f"{live['lateness_p50_ms']:.3f} ms", ""),
        ("live dispatch lateness p99", f"{live['lateness_p99_ms']:.3f} ms", "<= 5 ms"),
        ("live dispatch lateness max", f"{live['lateness_max_ms']:.3f} ms", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>18}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>18}  {target}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "timeline": timeline,
        "heap_reference": heap,
        "live_dispatch": live,
        "runs": args.runs,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }
    out.write_text(json.dumps(report, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
