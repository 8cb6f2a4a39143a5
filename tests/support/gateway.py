"""The one gateway harness of the tests: the simulated gateway on a replay clock (``start_gateway`` for protocol
tests, ``SimGateway`` for the IB adapter's tests), a recording ibapi client, raw frames, and a tiny SCRIPTED socket
server for handshake cases the gateway does not produce (it is NOT the gateway: it only answers what a test scripts).

The replay clock stands still (speed None) unless a test moves it, so everything is deterministic; waits are on
events with timeouts, never fixed sleeps.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.wrapper import EWrapper

from runtime.engine.clocks import ReplayClock
from runtime.gateway import GatewayConfig, GatewayThread
from support.waiting import wait_until as wait_until  # re-exported for the tests

#: A regular session: Friday 2012-06-01, 10:35 New York time (the bundled sample covers it).
T0 = pd.Timestamp("2012-06-01 10:35:00", tz="America/New_York").value
NS_MIN = 60_000_000_000
WAIT = 15.0


def start_gateway(clock: ReplayClock | None = None, **config: Any) -> tuple[GatewayThread, ReplayClock]:
    clock = clock or ReplayClock(T0, speed=None)
    config.setdefault("port", 0)
    config.setdefault("max_messages_per_second", None)
    config.setdefault("pacing", False)
    gw = GatewayThread(GatewayConfig(**config), clock=clock).start()
    return gw, clock


def advance(gw: GatewayThread, clock: ReplayClock, minutes: float) -> None:
    """Move the replay clock and let the gateway follow it at once."""
    clock.advance_to(clock.now_ns() + int(minutes * NS_MIN))
    gw.pump()


def stock(symbol: str = "AAPL") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", "SMART", "USD"
    return c


def fx() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "EUR", "CASH", "IDEALPRO", "USD"
    return c


def order(action: str, qty: float, kind: str = "MKT", lmt: float | None = None, aux: float | None = None,
          **extra: Any) -> Order:
    o = Order()
    o.action, o.totalQuantity, o.orderType = action, qty, kind
    if lmt is not None:
        o.lmtPrice = lmt
    if aux is not None:
        o.auxPrice = aux
    for k, v in extra.items():
        setattr(o, k, v)
    return o


class Recorder(EWrapper, EClient):
    """A real ibapi client on its reader thread that records every callback as (name, args)."""

    RECORDED = (
        "nextValidId", "managedAccounts", "error", "currentTime", "contractDetails", "contractDetailsEnd",
        "tickPrice", "tickSize", "tickString", "tickGeneric", "tickSnapshotEnd", "tickReqParams", "marketDataType",
        "historicalData", "historicalDataEnd", "historicalDataUpdate", "headTimestamp", "realtimeBar", "openOrder",
        "orderStatus", "openOrderEnd", "execDetails", "execDetailsEnd", "commissionReport", "completedOrder",
        "completedOrdersEnd", "position", "positionEnd", "updateAccountValue", "updatePortfolio",
        "updateAccountTime", "accountDownloadEnd", "accountSummary", "accountSummaryEnd", "accountUpdateMulti",
        "accountUpdateMultiEnd", "positionMulti", "positionMultiEnd", "pnl", "pnlSingle", "connectionClosed",
        "marketRule",
    )

    def __init__(self) -> None:
        EClient.__init__(self, self)
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None

    def _record(self, name: str, args: tuple[Any, ...]) -> None:
        with self.cond:
            self.events.append((name, args))
            self.cond.notify_all()

    def start(self, port: int, client_id: int = 1, wait_ready: bool = True) -> Recorder:
        self.connect("127.0.0.1", port, client_id)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        if wait_ready:
            self.wait("nextValidId")
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.disconnect()
        if self.thread is not None:
            self.thread.join(5)

    def named(self, name: str, pred: Callable[..., bool] | None = None) -> list[tuple[Any, ...]]:
        with self.cond:
            return [a for n, a in self.events if n == name and (pred is None or pred(*a))]

    def wait(self, name: str, pred: Callable[..., bool] | None = None, count: int = 1,
             timeout: float = WAIT) -> list[tuple[Any, ...]]:
        """Wait until ``count`` callbacks ``name`` matching ``pred`` arrived; returns them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                hits = [a for n, a in self.events if n == name and (pred is None or pred(*a))]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = [(n, [str(x)[:80] for x in a]) for n, a in self.events[-15:]]
                    raise AssertionError(f"timed out waiting for {count} x {name}; last events: {tail}")
                self.cond.wait(left)

    def errors(self, code: int | None = None) -> list[tuple[Any, ...]]:
        return self.named("error", None if code is None else (lambda *a: a[1] == code))

    def clear(self) -> None:
        with self.cond:
            self.events.clear()


def _make(name: str) -> Callable[..., None]:
    def cb(self: Recorder, *args: Any) -> None:
        self._record(name, args)

    cb.__name__ = name
    return cb


for _name in Recorder.RECORDED:
    setattr(Recorder, _name, _make(_name))


@contextlib.contextmanager
def clients(port: int, *ids: int) -> Iterator[list[Recorder]]:
    made = [Recorder().start(port, i) for i in ids]
    try:
        yield made
    finally:
        for c in made:
            c.stop()


def raw_connect(port: int, client_id: int = 99, timeout: float = WAIT) -> socket.socket:
    """A bare socket that completed the handshake and startApi (for malformed-input tests)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    hello = b"v100..157"
    s.sendall(b"API\0" + struct.pack(">I", len(hello)) + hello)
    read_frame(s)
    start = f"71\x002\x00{client_id}\x00\x00".encode()
    s.sendall(struct.pack(">I", len(start)) + start)
    return s


def read_frame(s: socket.socket) -> list[str]:
    head = _recv_exact(s, 4)
    (size,) = struct.unpack(">I", head)
    return _recv_exact(s, size).decode().split("\0")[:-1]


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def send_frame(s: socket.socket, *fields: object) -> None:
    body = "".join(f"{f}\0" for f in fields).encode()
    s.sendall(struct.pack(">I", len(body)) + body)


#: A Wednesday inside the bundled sample (which ends 2013-03-01).
START = pd.Timestamp("2012-11-14 10:00", tz="US/Eastern").value
ACCOUNT = "DU1234567"


class SimGateway:
    """The simulated gateway (``runtime.gateway.GatewayThread``) on a free loopback port.

    Its clock is a replay clock that the gateway advances by ``step_s`` every pump (50 ms), so market orders fill
    within a pump or two while the test waits on events, never on fixed sleeps.
    """

    def __init__(self, step_s: float = 60.0, start_ns: int = START, **config: Any) -> None:
        self.clock = ReplayClock(start_ns, speed=None)
        config.setdefault("auto_advance_ns", int(step_s * 1e9))
        config.setdefault("accounts", (ACCOUNT,))
        self.thread = GatewayThread(GatewayConfig(port=0, **config), clock=self.clock).start()

    @property
    def port(self) -> int:
        return self.thread.port

    @property
    def gateway(self) -> Any:
        return self.thread.gateway

    def stop(self) -> None:
        self.thread.stop()


class EventLog:
    """An event sink (``put``) with waits on a condition, as the engine's queue would be."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self._cond = threading.Condition()

    def put(self, event: object) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind: type) -> list[Any]:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate: Callable[[object], bool], timeout: float = 10.0) -> Any:
        """The first event matching ``predicate`` (waiting for it); AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events:
                    if predicate(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching event within {timeout} s; got {self.events!r}")
                self._cond.wait(left)



def frame(*fields: str) -> bytes:
    payload = b"".join(f.encode() + b"\0" for f in fields)
    return struct.pack(">I", len(payload)) + payload


class ScriptedServer:
    """A loopback TCP server that runs ``script(conn)`` for each connection (scripted test double, not a gateway)."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.script = script
        self.errors: queue.Queue[BaseException] = queue.Queue()
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.script(conn)
        except BaseException as exc:  # reported to the test
            self.errors.put(exc)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def read_hello(conn: socket.socket) -> bytes:
    """Read the client's 'API\\0' + length-prefixed version range."""
    data = b""
    while len(data) < 8:
        data += conn.recv(4096)
    n = struct.unpack(">I", data[4:8])[0]
    while len(data) < 8 + n:
        data += conn.recv(4096)
    return data


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
