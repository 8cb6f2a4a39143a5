"""Speed of the simulated IB Gateway with the real ibapi client over loopback.

1. Messages per second sustained: the client subscribes to many market-data streams on a fast replay clock and
   counts the messages its own decoder processes per second (target: at least 20,000).
2. Order-to-fill round trip: time from ``placeOrder`` (a 1-share market order) to the ``execDetails`` callback,
   p50 and p99 over many orders (targets: under 1 ms and under 5 ms).

Run: ``python bench/bench_gateway.py [--seconds 5] [--orders 2000] [--streams 120] [--runs 5] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import repeat  # bench/repeat.py (this script's folder is on sys.path)
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from runtime.engine.clocks import ReplayClock
from runtime.gateway import GatewayConfig, GatewayThread

START = pd.Timestamp("2012-06-01 09:31:00", tz="America/New_York").value


def contract(symbol: str) -> Contract:
    c = Contract()
    if symbol == "EUR":
        c.symbol, c.secType, c.exchange, c.currency = "EUR", "CASH", "IDEALPRO", "USD"
    else:
        c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


class Client(EWrapper, EClient):
    def __init__(self) -> None:
        EClient.__init__(self, self)
        self.ready = threading.Event()
        self.messages = 0
        self.fill_events: dict[int, threading.Event] = {}
        self.fill_times: dict[int, int] = {}

    def nextValidId(self, orderId: int) -> None:
        self.next_id = orderId
        self.ready.set()

    def execDetails(self, reqId: int, contract: Any, execution: Any) -> None:
        self.fill_times[execution.orderId] = time.perf_counter_ns()
        ev = self.fill_events.get(execution.orderId)
        if ev is not None:
            ev.set()

    def error(self, reqId: int, errorCode: int, errorString: str, *rest: Any) -> None:
        if errorCode not in (2104, 2106, 2158):
            print("error", reqId, errorCode, errorString)

    def start(self, port: int, client_id: int) -> Client:
        self.connect("127.0.0.1", port, client_id)
        original = self.decoder.interpret

        def counting(fields: Any) -> None:
            self.messages += 1
            original(fields)

        self.decoder.interpret = counting  # type: ignore[method-assign]
        threading.Thread(target=self.run, daemon=True).start()
        if not self.ready.wait(10):
            raise RuntimeError("no nextValidId")
        return self


def bench_messages(seconds: float, streams: int) -> dict[str, float]:
    clock = ReplayClock(START, speed=120.0)
    config = GatewayConfig(port=0, pump_interval_s=0.01, max_messages_per_second=None, pacing=False)
    with GatewayThread(config, clock=clock) as gw:
        c = Client().start(gw.port, 1)
        symbols = ["AAPL", "IBM", "MSFT", "GOOG", "FB", "EUR"]
        for i in range(streams):
            c.reqMktData(1000 + i, contract(symbols[i % len(symbols)]), "", False, False, [])
        time.sleep(1.0)  # warm up
        session = gw.call(lambda: gw.gateway.clients[1])
        m0, t0 = c.messages, time.perf_counter()
        s0 = gw.call(lambda: session.sent_messages)
        time.sleep(seconds)
        m1, t1 = c.messages, time.perf_counter()
        s1 = gw.call(lambda: session.sent_messages)
        dropped = gw.call(lambda: session.dropped_messages)
        c.disconnect()
    return {"client_msgs_per_s": (m1 - m0) / (t1 - t0), "gateway_msgs_per_s": (s1 - s0) / (t1 - t0),
            "dropped": float(dropped)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gateway_process(*args: str) -> Iterator[int]:
    """``ibalgo gateway`` in its own process (as users run it); yields its port once it accepts connections."""
    port = _free_port()
    cmd = [sys.executable, "-c", "import sys; from runtime.gateway import run_gateway; sys.exit(run_gateway())",
           "--port", str(port), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the gateway process did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def gateway_thread() -> Iterator[int]:
    """The gateway on a thread of this process (client and gateway then share one GIL)."""
    clock = ReplayClock(START + 3_600_000_000_000, speed=None)
    config = GatewayConfig(port=0, max_messages_per_second=None, pacing=False, starting_cash=1e9)
    with GatewayThread(config, clock=clock) as gw:
        yield gw.port


def bench_round_trip(orders: int, separate_process: bool = True) -> dict[str, float]:
    server = gateway_process("--replay", "2012-06-01T10:30", "--max-rate", "0", "--cash", "1e9") \
        if separate_process else gateway_thread()
    with server as port:
        c = Client().start(port, 1)
        aapl = contract("AAPL")
        latencies = []
        oid = c.next_id
        for i in range(orders + 50):
            o = Order()
            o.action, o.totalQuantity, o.orderType = ("BUY" if i % 2 == 0 else "SELL"), 1, "MKT"
            ev = threading.Event()
            c.fill_events[oid] = ev
            t0 = time.perf_counter_ns()
            c.placeOrder(oid, aapl, o)
            if not ev.wait(5):
                raise RuntimeError(f"order {oid} did not fill")
            if i >= 50:  # warm-up orders are not counted
                latencies.append((c.fill_times[oid] - t0) / 1e6)
            oid += 1
        c.disconnect()
    latencies.sort()
    return {
        "orders": float(len(latencies)),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
    }


def one_run(seconds: float, orders: int, streams: int) -> dict[str, float]:
    """One process's figures: messages per second, and the order round trip with the gateway in its own process
    and on a thread of the client."""
    m = bench_messages(seconds, streams)
    own = bench_round_trip(orders, True)
    thread = bench_round_trip(orders, False)
    return {"client_msgs_per_s": m["client_msgs_per_s"], "dropped": m["dropped"],
            "round_trip_p50_ms": own["p50_ms"], "round_trip_p99_ms": own["p99_ms"],
            "round_trip_thread_p50_ms": thread["p50_ms"], "round_trip_thread_p99_ms": thread["p99_ms"],
            "orders": own["orders"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--orders", type=int, default=2000)
    p.add_argument("--streams", type=int, default=120)
    p.add_argument("--runs", type=int, default=1, help="separate process runs (medians; default 1)")
    p.add_argument("--out", help="write the figures as JSON to this file")
    p.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.single:
        Path(args.out).write_text(json.dumps(one_run(args.seconds, args.orders, args.streams)))
        return
    runs = repeat.in_processes(__file__, ["--seconds", str(args.seconds), "--orders", str(args.orders),
                                          "--streams", str(args.streams)], args.runs)
    med = repeat.medians(runs)
    if args.out:
        Path(args.out).write_text(json.dumps({**med, "runs": runs}, indent=1) + "\n")
    print(f"messages/s decoded by the ibapi client: {med['client_msgs_per_s']:,.0f} (dropped {med['dropped']:.0f}) "
          "[target >= 20,000]")
    print(f"order-to-fill round trip, {len(runs)} x {med['orders']:.0f} orders (median of runs), gateway in its own "
          f"process: p50 {med['round_trip_p50_ms']:.3f} ms, p99 {med['round_trip_p99_ms']:.3f} ms; on a thread of the "
          f"client: p50 {med['round_trip_thread_p50_ms']:.3f} ms, p99 {med['round_trip_thread_p99_ms']:.3f} ms "
          "[targets < 1 ms / < 5 ms]")


if __name__ == "__main__":
    main()
