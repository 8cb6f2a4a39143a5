"""The shared test helpers themselves (tests/support/)."""

from __future__ import annotations

import socket
import threading

from support.gateway import EventLog, SimGateway


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
