"""The fault campaign: kill -9 and restart the runtime and the gateway at random moments, turn on each fault flag of
the gateway, fuzz its socket; count what went wrong after every restart. Loopback only, bounded in time.

Phases (each against ``ibalgo gateway --realtime --state FILE``, a minute-frequency algorithm that keeps orders
working: a market order and a far limit each minute, the limits cancelled now and then; it keeps every order id it
got in ``context.placed``):

1. runtime: N times, ``ibalgo run --broker ib`` with the same ``--run-id``/``--output`` is killed with SIGKILL at a
   random moment and started again;
2. gateway: N times, the gateway is killed with SIGKILL at a random moment and started again with the same
   ``--state`` while the runtime runs on (it reconnects);
3. flags: a gateway with each fault flag (``--refuse-for``, ``--delay-messages``, ``--reject-first-order``,
   ``--pacing-violations``, ``--drop-every``) and a runtime against it, side by side;
4. fuzz: random bytes, bad length prefixes, truncated frames, wrong field counts and unknown message ids on raw
   sockets, in batches; after each batch a fresh ibapi client must be served (``reqCurrentTime`` answered). The
   gateway's resident memory is sampled.

After every restart (once the runtime logged its reconciliation), the gateway (read with a plain ibapi client) and
the journal are compared: duplicate orders (an orderRef twice at the gateway, or an IB id twice in the journal),
lost orders (at the gateway but not in the journal, or journalled as sent but unknown to the gateway), phantom open
orders (open in the journal, not working at the gateway), missing fills (fewer shares journalled than executed),
position mismatches (the gateway's position against the journal's fills), context values lost (journalled orders
of an earlier instant missing from the saved ``context.placed``), and the recovery time (start, or gateway restart,
to the runtime's reconciliation).

The realtime gateway trades on the wall clock in US market hours: run it while the market is open.

    python bench/faults.py [--runtime-kills 20] [--gateway-kills 20] [--fuzz 100000] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

ALGO = """\
def initialize(context):
    context.asset = symbol('AAPL')
    context.n = 0
    context.placed = []


def handle_data(context, data):
    context.n += 1
    price = data.current(context.asset, 'price')
    if context.n % 3 == 0:
        for o in get_open_orders(context.asset):
            cancel_order(o)
    context.placed.append(order(context.asset, 1 if context.n % 2 else -1))
    context.placed.append(order(context.asset, 1, limit_price=round(price * 0.9, 2)))
"""
RUN_ID = "faults"
FLAGS = [("--refuse-for", "3"), ("--delay-messages", "0.3"), ("--reject-first-order",), ("--pacing-violations", "2"),
         ("--drop-every", "15")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Gateway:
    """``ibalgo gateway --realtime --state FILE`` in a subprocess."""

    def __init__(self, folder: Path, port: int, *flags: str) -> None:
        self.folder, self.port, self.flags = folder, port, flags
        self.state = folder / "gateway" / "state.json"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with open(self.folder / f"gateway-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runtime", "gateway", "--port", str(self.port), "--realtime", "--no-pacing",
                 "--state", str(self.state), "--max-rate", "100000", *self.flags],
                cwd=self.folder, env=_env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            if "--refuse-for" in self.flags and time.monotonic() > deadline - 25:
                return  # refusing on purpose
            time.sleep(0.05)
        raise RuntimeError(f"the gateway did not listen on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss_kb(self) -> int:
        if self.proc is None:
            return 0
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class Runtime:
    """``ibalgo run --broker ib`` in a subprocess, one log file per start."""

    def __init__(self, folder: Path, port: int, client_id: int = 1) -> None:
        self.folder, self.port, self.client_id = folder, port, client_id
        self.output = folder / "run"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log: Path | None = None
        (folder / "algo.py").write_text(ALGO)

    def start(self) -> float:
        self.starts += 1
        self.log = self.folder / f"run-{self.starts}.log"
        t0 = time.monotonic()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runtime", "run", "algo.py", "--broker", "ib", "--port", str(self.port),
                 "--client-id", str(self.client_id), "--frequency", "minute", "--run-id", RUN_ID, "--output",
                 str(self.output), "--log-level", "INFO"],
                cwd=self.folder, env=_env(), stdout=log, stderr=subprocess.STDOUT)
        return t0

    def reconciliations(self) -> int:
        if self.log is None or not self.log.exists():
            return 0
        return self.log.read_text(errors="replace").count("reconciled with the broker")

    def first_reconciled_at(self) -> float | None:
        """Wall-clock time (epoch seconds) of the first reconciliation in the log (its lines carry the time)."""
        if self.log is None or not self.log.exists():
            return None
        import pandas as pd

        for line in self.log.read_text(errors="replace").splitlines():
            if "reconciled with the broker" in line:
                stamp = " ".join(line.split()[:3])
                return float(pd.Timestamp(stamp.rsplit(" ", 1)[0], tz="US/Eastern").timestamp())
        return None

    def wait_reconciled(self, count: int, timeout: float = 60.0) -> float | None:
        """Monotonic time at which the log showed its ``count``-th reconciliation (None: not in time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.reconciliations() >= count:
                return time.monotonic()
            if self.proc is not None and self.proc.poll() is not None:
                return None
            time.sleep(0.05)
        return None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


# ------------------------------------------------------------------------------------------------ the plain reader
@dataclass
class GatewayView:
    """What the gateway says: open and completed orders (orderRef -> (IB id, status, filled)), executions
    (orderRef -> shares, signed), positions (symbol -> amount)."""

    open: dict[str, list[int]] = field(default_factory=dict)
    completed: dict[str, list[int]] = field(default_factory=dict)
    executed: Counter[str] = field(default_factory=Counter)
    positions: dict[str, float] = field(default_factory=dict)


def read_gateway(port: int, client_id: int = 77, timeout: float = 15.0) -> GatewayView:
    """Everything the gateway has, read with a plain ibapi client (not the runtime's code)."""
    from ibapi.client import EClient
    from ibapi.execution import ExecutionFilter
    from ibapi.wrapper import EWrapper

    view = GatewayView()
    done = {name: threading.Event() for name in ("id", "open", "completed", "exec", "pos")}

    class Reader(EWrapper, EClient):
        def __init__(self) -> None:
            EWrapper.__init__(self)
            EClient.__init__(self, self)

        def nextValidId(self, orderId: int) -> None:
            done["id"].set()

        def error(self, *args: Any) -> None:
            pass

        def openOrder(self, orderId: int, contract: Any, order: Any, state: Any) -> None:
            view.open.setdefault(order.orderRef, []).append(orderId)

        def openOrderEnd(self) -> None:
            done["open"].set()

        def completedOrder(self, contract: Any, order: Any, state: Any) -> None:
            view.completed.setdefault(order.orderRef, []).append(order.permId)

        def completedOrdersEnd(self) -> None:
            done["completed"].set()

        def execDetails(self, reqId: int, contract: Any, execution: Any) -> None:
            sign = 1 if execution.side.upper() in ("BOT", "BUY") else -1
            view.executed[execution.orderRef] += sign * round(float(execution.shares))

        def execDetailsEnd(self, reqId: int) -> None:
            done["exec"].set()

        def position(self, account: str, contract: Any, position: Any, avgCost: float) -> None:
            view.positions[contract.symbol] = float(position)

        def positionEnd(self) -> None:
            done["pos"].set()

    app = Reader()
    app.connect("127.0.0.1", port, client_id)
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    try:
        if not done["id"].wait(timeout):
            raise RuntimeError("the plain client got no nextValidId")
        app.reqAllOpenOrders()
        app.reqCompletedOrders(False)
        app.reqExecutions(1, ExecutionFilter())
        app.reqPositions()
        for name, ev in done.items():
            if not ev.wait(timeout):
                raise RuntimeError(f"the plain client got no {name} end")
    finally:
        app.disconnect()
        thread.join(2)
    return view


# --------------------------------------------------------------------------------------------------- the checks
@dataclass
class Counts:
    checks: int = 0
    duplicates: int = 0
    lost: int = 0
    phantoms: int = 0
    missing_fills: int = 0
    mismatches: int = 0
    context_lost: int = 0
    failed_restarts: int = 0
    recovery_s: list[float] = field(default_factory=list)

    def add(self, other: dict[str, int]) -> None:
        self.checks += 1
        for k, v in other.items():
            setattr(self, k, getattr(self, k) + v)


def check(journal_path: Path, port: int) -> dict[str, int]:
    """Compare the journal with the gateway (see the module docstring); counts of each kind of problem."""
    view = read_gateway(port)
    db = sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True, timeout=10)
    try:
        orders = list(db.execute("SELECT order_id, order_ref, broker_id, symbol, amount, status, filled, created_ns"
                                 " FROM orders WHERE run_id = ?", (RUN_ID,)))
        fills = Counter()
        for order_id, amount in db.execute("SELECT order_id, amount FROM fills"):
            fills[order_id] += int(amount)
        row = db.execute("SELECT state FROM run_context WHERE run_id = ?", (RUN_ID,)).fetchone()
    finally:
        db.close()
    state = json.loads(row[0]) if row else {}
    ours = f"ibalgo:{RUN_ID}:"
    at_gateway = {ref for ref in (*view.open, *view.completed, *view.executed) if ref.startswith(ours)}
    journal_refs = {o[1] for o in orders}
    out = {"duplicates": 0, "lost": 0, "phantoms": 0, "missing_fills": 0, "mismatches": 0, "context_lost": 0}
    ids = Counter(o[2] for o in orders if o[2])
    out["duplicates"] += sum(n - 1 for n in ids.values() if n > 1)
    out["duplicates"] += sum(len(v) - 1 for ref, v in view.open.items() if ref.startswith(ours) and len(v) > 1)
    out["lost"] += len(at_gateway - journal_refs)
    for order_id, ref, _ib, _sym, _amount, status, _filled, _created in orders:
        if status in ("submitted", "filled") and ref not in at_gateway:
            out["lost"] += 1
        if status not in ("filled", "cancelled", "rejected") and ref not in view.open:
            out["phantoms"] += 1
        executed = view.executed.get(ref, 0)
        if abs(fills.get(order_id, 0)) < abs(executed):
            out["missing_fills"] += 1
    journal_position = sum(fills.values())
    if int(view.positions.get("AAPL", 0)) != journal_position:
        out["mismatches"] += 1
    placed = set(state.get("placed") or [])
    last = max((o[7] for o in orders), default=0)
    out["context_lost"] = sum(1 for o in orders if o[0] not in placed and o[7] < last)
    return out


def _quiet_moment() -> None:
    """Wait until no minute bar is due within the next seconds (the algorithm trades just after each minute)."""
    while True:
        second = time.time() % 60
        if 4.0 <= second <= 54.0:
            return
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------------------- phases
def runtime_kills(folder: Path, n: int, rng: random.Random, up: tuple[float, float]) -> Counts:
    counts = Counts()
    port = free_port()
    gw = Gateway(folder, port)
    gw.start()
    rt = Runtime(folder, port)
    try:
        for i in range(n + 1):
            t0 = rt.start()
            seen = rt.wait_reconciled(1)
            if seen is None:
                counts.failed_restarts += 1
                rt.kill()
                continue
            counts.recovery_s.append(seen - t0)
            time.sleep(1.0)  # the start's settling of the journal is committed
            if i:  # after a restart
                _quiet_moment()
                counts.add(check(rt.output / "journal.sqlite", port))
            if i < n:
                time.sleep(rng.uniform(*up))
                rt.kill()
        rt.stop()
    finally:
        rt.kill()
        gw.stop()
    return counts


def gateway_kills(folder: Path, n: int, rng: random.Random, up: tuple[float, float]) -> Counts:
    counts = Counts()
    port = free_port()
    gw = Gateway(folder, port)
    gw.start()
    rt = Runtime(folder, port)
    try:
        rt.start()
        if rt.wait_reconciled(1) is None:
            raise RuntimeError(f"the runtime did not start: see {rt.log}")
        for _ in range(n):
            time.sleep(rng.uniform(*up))
            before = rt.reconciliations()
            gw.kill()
            t0 = time.monotonic()
            time.sleep(rng.uniform(0.0, 1.0))
            gw.start()
            seen = rt.wait_reconciled(before + 1, 90)
            if seen is None:
                counts.failed_restarts += 1
                continue
            counts.recovery_s.append(seen - t0)
            time.sleep(1.0)
            _quiet_moment()
            counts.add(check(rt.output / "journal.sqlite", port))
        rt.stop()
    finally:
        rt.kill()
        gw.stop()
    return counts


def flag_runs(folder: Path, seconds: float) -> dict[str, Counts]:
    """Each fault flag, side by side (a gateway and a runtime per flag)."""
    pairs = []
    for flag in FLAGS:
        sub = folder / flag[0].strip("-")
        sub.mkdir()
        port = free_port()
        gw = Gateway(sub, port, *flag)
        gw.start()
        rt = Runtime(sub, port)
        rt.start()
        pairs.append((flag, gw, rt, time.time()))
    out: dict[str, Counts] = {}
    try:
        time.sleep(seconds)
        for flag, gw, rt, t0 in pairs:
            counts = Counts()
            first = rt.first_reconciled_at()
            if first is None:
                counts.failed_restarts += 1
            else:
                counts.recovery_s.append(first - t0)
            rt.stop()
            try:
                counts.add(check(rt.output / "journal.sqlite", gw.port))
            except Exception as exc:  # a phase that cannot be read counts as failed
                print(f"{flag[0]}: check failed: {exc}", file=sys.stderr)
                counts.failed_restarts += 1
            out[" ".join(flag)] = counts
    finally:
        for _flag, gw, rt, _t0 in pairs:
            rt.kill()
            gw.stop()
    return out


def _frame(fields: list[bytes]) -> bytes:
    body = b"\0".join(fields) + b"\0"
    return struct.pack(">I", len(body)) + body


def _fuzz_input(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(1, 64))
    if kind == 1:  # a length prefix that lies
        body = rng.randbytes(rng.randrange(0, 32))
        return struct.pack(">I", rng.choice([0, 1, len(body) + rng.randrange(1, 1000), 0x7FFFFFFF])) + body
    if kind == 2:  # a truncated frame
        frame = _frame([str(rng.choice([1, 3, 4, 9, 20, 49, 61])).encode(), b"1", b"2"])
        return frame[:rng.randrange(1, len(frame))]
    if kind == 3:  # a known id with the wrong number of fields
        msg_id = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 20, 49, 61, 71, 99])
        return _frame([str(msg_id).encode()] + [rng.choice([b"", b"x", b"-5", b"1e300", b"inf", b"nan", b"AAPL",
                                                            b"STK", b"9" * 30]) for _ in range(rng.randrange(0, 40))])
    return _frame([str(rng.randrange(100, 100000)).encode(), b"1"])  # an unknown message id


def _handshake(sock: socket.socket) -> None:
    sock.sendall(b"API\0" + struct.pack(">I", len(b"v100..157")) + b"v100..157")


def client_served(port: int, timeout: float = 10.0) -> bool:
    """A fresh ibapi client connects and gets an answer to reqCurrentTime."""
    from ibapi.client import EClient
    from ibapi.wrapper import EWrapper

    got = threading.Event()
    ready = threading.Event()

    class Probe(EWrapper, EClient):
        def __init__(self) -> None:
            EWrapper.__init__(self)
            EClient.__init__(self, self)

        def nextValidId(self, orderId: int) -> None:
            ready.set()

        def currentTime(self, time_: int) -> None:
            got.set()

        def error(self, *args: Any) -> None:
            pass

    app = Probe()
    app.connect("127.0.0.1", port, 500 + random.randrange(1000))
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    try:
        if not ready.wait(timeout):
            return False
        app.reqCurrentTime()
        return got.wait(timeout)
    finally:
        app.disconnect()
        thread.join(2)


@dataclass
class FuzzResult:
    inputs: int = 0
    batches: int = 0
    unserved: int = 0
    crashed: bool = False
    rss_kb: list[int] = field(default_factory=list)


def fuzz(folder: Path, n: int, rng: random.Random, batch: int = 2000) -> FuzzResult:
    result = FuzzResult()
    port = free_port()
    gw = Gateway(folder, port)
    gw.start()
    try:
        while result.inputs < n:
            with socket.create_connection(("127.0.0.1", port), 5) as sock:
                sock.settimeout(5)
                if rng.random() < 0.9:
                    _handshake(sock)
                data = b"".join(_fuzz_input(rng) for _ in range(min(batch, n - result.inputs)))
                with contextlib.suppress(OSError):
                    sock.sendall(data)
                    sock.shutdown(socket.SHUT_WR)
                    with contextlib.suppress(OSError):
                        while sock.recv(65536):
                            pass
            result.inputs += min(batch, n - result.inputs)
            result.batches += 1
            if gw.proc is not None and gw.proc.poll() is not None:
                result.crashed = True
                break
            if not client_served(port):
                result.unserved += 1
            result.rss_kb.append(gw.rss_kb())
    finally:
        gw.stop()
    return result


# ------------------------------------------------------------------------------------------------------ table
def table(rows: list[tuple[str, Counts, int]], fz: FuzzResult | None) -> str:
    head = ("phase", "restarts", "checks", "dup", "lost", "phantom", "missing fills", "pos mismatch", "ctx lost",
            "recovery p50/max s")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, c, planned in rows:
        rec = sorted(c.recovery_s)
        rtxt = f"{rec[len(rec) // 2]:.1f} / {rec[-1]:.1f}" if rec else "-"
        lines.append(f"| {name} | {planned - c.failed_restarts} of {planned} | {c.checks} | {c.duplicates} | "
                     f"{c.lost} | {c.phantoms} | {c.missing_fills} | {c.mismatches} | {c.context_lost} | {rtxt} |")
    if fz is not None:
        rss = fz.rss_kb
        lines.append("")
        lines.append(f"socket fuzz: {fz.inputs:,} inputs in {fz.batches} batches, gateway crashed: "
                     f"{'yes' if fz.crashed else 'no'}, fresh ibapi client not served after {fz.unserved} batches, "
                     f"gateway RSS {rss[0] // 1024 if rss else 0} -> {max(rss) // 1024 if rss else 0} MB (max)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime-kills", type=int, default=20)
    parser.add_argument("--gateway-kills", type=int, default=20)
    parser.add_argument("--fuzz", type=int, default=100_000, help="socket fuzz inputs (default 100,000)")
    parser.add_argument("--flag-seconds", type=float, default=75.0, help="how long each fault flag runs")
    parser.add_argument("--up", default="3:40", metavar="MIN:MAX", help="seconds a process runs before its kill")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: runtime,gateway,flags,fuzz")
    parser.add_argument("--keep", action="store_true", help="keep the campaign's folder (logs, journals)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    lo, hi = (float(x) for x in args.up.split(":"))
    skip = set(filter(None, args.skip.split(",")))
    base = Path(tempfile.mkdtemp(prefix="ibalgo-faults-"))
    rows: list[tuple[str, Counts, int]] = []
    fz = None
    t0 = time.monotonic()
    try:
        if "runtime" not in skip and args.runtime_kills:
            (base / "runtime").mkdir()
            rows.append((f"runtime kill -9 x{args.runtime_kills}",
                         runtime_kills(base / "runtime", args.runtime_kills, rng, (lo, hi)), args.runtime_kills))
            print(table(rows, None), flush=True)
        if "gateway" not in skip and args.gateway_kills:
            (base / "gateway").mkdir()
            rows.append((f"gateway kill -9 x{args.gateway_kills} (--state)",
                         gateway_kills(base / "gateway", args.gateway_kills, rng, (lo, hi)), args.gateway_kills))
            print(table(rows, None), flush=True)
        if "flags" not in skip:
            (base / "flags").mkdir()
            for name, c in flag_runs(base / "flags", args.flag_seconds).items():
                rows.append((f"flag {name}", c, 1))
        if "fuzz" not in skip and args.fuzz:
            (base / "fuzz").mkdir()
            fz = fuzz(base / "fuzz", args.fuzz, rng)
    finally:
        print(table(rows, fz))
        print(f"campaign took {time.monotonic() - t0:.0f} s; logs and journals in {base}" if args.keep else
              f"campaign took {time.monotonic() - t0:.0f} s")
        if not args.keep:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
    bad = sum(c.duplicates + c.lost + c.phantoms + c.missing_fills + c.mismatches + c.failed_restarts
              for _, c, _ in rows)
    return 1 if bad or (fz is not None and (fz.crashed or fz.unserved)) else 0


if __name__ == "__main__":
    sys.exit(main())
