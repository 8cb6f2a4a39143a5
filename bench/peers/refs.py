"""Reference floors over the same data and the same signal logic, without any framework.

Usage:
    python refs.py loop WORKLOAD DATA_DIR     (plain Python lists and loops)
    python refs.py numpy WORKLOAD DATA_DIR    (one vectorised numpy pass)
    python refs.py tcp ROUND_TRIPS            (loopback TCP round trips of 64 bytes, echoed by a thread)
Prints one line ``BENCH_RESULT {json}``. The references count signals (the orders a framework would place) and
keep no portfolio: they are the practical floor of the loop, not a backtester.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()

import csv  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

FAST, SLOW, WINDOW = 20, 50, 15


def _closes(data_dir: Path, meta: dict) -> list[list[float]]:
    out = []
    for name in meta["symbols"]:
        with open(data_dir / f"{name}.csv", newline="") as fh:
            out.append([float(row["close"]) for row in csv.DictReader(fh)])
    return out


def _schedule(data_dir: Path) -> tuple[list[int], list[int]]:
    """Bar indexes of open + 15 min and close - 30 min in each session (bars are labelled by their end)."""
    morning, afternoon, first = [], [], 0
    for row in json.loads((data_dir / "sessions.json").read_text()):
        morning.append(first + WINDOW - 1)
        afternoon.append(first + row["minutes"] - 30 - 1)
        first += row["minutes"]
    return morning, afternoon


def loop_dual_ma(closes: list[list[float]]) -> int:
    signals = 0
    invested = [False] * len(closes)
    n = len(closes[0])
    for t in range(SLOW - 1, n):
        for j, series in enumerate(closes):
            window = series[t - SLOW + 1 : t + 1]
            go_long = sum(window[-FAST:]) / FAST > sum(window) / SLOW
            if go_long != invested[j]:
                invested[j] = go_long
                signals += 1
    return signals


def loop_minute(closes: list[list[float]], morning: list[int], afternoon: list[int]) -> int:
    signals = 0
    held: list[int] = []
    due = {t: "m" for t in morning} | {t: "a" for t in afternoon}
    for t in range(len(closes[0])):
        what = due.get(t)
        if what == "m":
            for j, series in enumerate(closes):
                window = series[t - WINDOW + 1 : t + 1]
                if window[-1] > sum(window) / WINDOW:
                    held.append(j)
                    signals += 1
        elif what == "a":
            signals += len(held)
            held = []
    return signals


def numpy_dual_ma(closes: list[list[float]]) -> int:
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    prices = np.array(closes).T
    windows = sliding_window_view(prices, SLOW, axis=0)  # (bars - SLOW + 1, symbols, SLOW)
    go_long = windows[:, :, -FAST:].mean(axis=2) > windows.mean(axis=2)
    flips = np.count_nonzero(go_long[0]) + np.count_nonzero(go_long[1:] != go_long[:-1])
    return int(flips)


def numpy_minute(closes: list[list[float]], morning: list[int], afternoon: list[int]) -> int:
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    prices = np.array(closes).T
    rows = np.array(morning)
    windows = sliding_window_view(prices, WINDOW, axis=0)[rows - WINDOW + 1]  # (sessions, symbols, WINDOW)
    bought = np.count_nonzero(windows[:, :, -1] > windows.mean(axis=2))
    return int(2 * bought)


def tcp(round_trips: int) -> dict:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def echo() -> None:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    client = socket.create_connection(server.getsockname())
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    payload = b"x" * 64
    samples = []
    for _ in range(round_trips):
        started = time.perf_counter()
        client.sendall(payload)
        got = 0
        while got < len(payload):
            got += len(client.recv(4096))
        samples.append(time.perf_counter() - started)
    client.close()
    thread.join(5)
    server.close()
    samples.sort()
    return {"round_trips": round_trips, "p50_us": statistics.median(samples) * 1e6,
            "p99_us": samples[int(0.99 * (len(samples) - 1))] * 1e6, "per_second": round_trips / sum(samples)}


def main(argv: list[str]) -> int:
    kind = argv[0]
    if kind == "tcp":
        print("BENCH_RESULT " + json.dumps(tcp(int(argv[1]))))
        return 0
    workload, data_dir = argv[1], Path(argv[2])
    t_import = time.perf_counter()
    if kind == "numpy":
        import numpy  # noqa: F401
    t_setup = time.perf_counter()
    meta = json.loads((data_dir / "meta.json").read_text())
    closes = _closes(data_dir, meta)
    schedule = _schedule(data_dir) if workload == "w2" else None
    t_loop = time.perf_counter()
    if kind == "loop":
        signals = loop_minute(closes, *schedule) if schedule else loop_dual_ma(closes)
    else:
        signals = numpy_minute(closes, *schedule) if schedule else numpy_dual_ma(closes)
    t_end = time.perf_counter()
    result = {"import": t_setup - t_import, "setup": t_loop - t_setup, "loop": t_end - t_loop,
              "in_process": t_end - T0, "orders": signals, "signals": signals, "bar_events": meta["bars"]}
    print("BENCH_RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
