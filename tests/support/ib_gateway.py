"""Helpers for the IB adapter tests: the simulated gateway in a background thread, and a tiny SCRIPTED socket
server for handshake cases the gateway does not produce (it is NOT the gateway: it only answers what a test
scripts). The few tests here check the helpers themselves."""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from runtime.engine.clocks import ReplayClock
from runtime.gateway import GatewayConfig, GatewayThread

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


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` (for state that has no event of its own) until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.01)
    return True


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


# --------------------------------------------------------------------------------------------- helper tests
def test_gateway_thread_starts_and_stops() -> None:
    gw = SimGateway()
    try:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=5):
            pass
    finally:
        gw.stop()


def test_event_log_waits() -> None:
    log = EventLog()
    threading.Timer(0.01, log.put, ("x",)).start()
    assert log.wait_for(lambda e: e == "x", 5) == "x"
