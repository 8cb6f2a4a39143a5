"""Reading TWS's socket without losing bytes (runtime.brokers.ib.receive), with ibapi's real Connection."""

from __future__ import annotations

import logging
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from ibapi.connection import Connection

from runtime.brokers.ib.receive import install, receive
from runtime.live.paper import run_algorithm

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pair() -> Iterator[tuple[Connection, socket.socket]]:
    """An ibapi Connection (connected as EClient connects it: one-second socket timeout) and the server's end."""
    server = socket.create_server(("127.0.0.1", 0))
    conn = Connection("127.0.0.1", server.getsockname()[1])
    conn.connect()
    peer, _ = server.accept()
    server.close()
    try:
        yield conn, peer
    finally:
        conn.disconnect()
        peer.close()


def framed(total: int) -> bytes:
    """One length-prefixed message of exactly ``total`` bytes."""
    head = b"4\x002\x00-1\x002104\x00"  # an error message (a farm notice) whose text pads it to the length
    return struct.pack(">I", total - 4) + head + b"x" * (total - 4 - len(head) - 1) + b"\x00"


@pytest.mark.parametrize("size", [4096, 8192, 65536, 3 * 65536, 5000])
def test_all_bytes_arrive_at_once_whatever_their_length(pair: tuple[Connection, socket.socket], size: int) -> None:
    conn, peer = pair
    install(conn)
    data = framed(size)
    peer.sendall(data)
    time.sleep(0.05)
    t0 = time.monotonic()
    got = b""
    while len(got) < size and time.monotonic() - t0 < 3:
        got += conn.recvMsg()
    assert got == data
    assert time.monotonic() - t0 < 0.5  # no wait for the socket's one-second timeout
    assert conn.isConnected()


def test_nothing_to_read_waits_for_the_timeout_and_stays_connected(pair: tuple[Connection, socket.socket]) -> None:
    conn, _peer = pair
    t0 = time.monotonic()
    assert receive(conn) == b""
    assert 0.8 < time.monotonic() - t0 < 3
    assert conn.isConnected()


def test_a_closed_peer_disconnects_after_the_bytes_it_sent(pair: tuple[Connection, socket.socket]) -> None:
    conn, peer = pair
    install(conn)
    peer.sendall(framed(4096))
    peer.close()
    time.sleep(0.05)
    assert len(conn.recvMsg()) == 4096
    assert conn.recvMsg() == b""
    assert not conn.isConnected()


def test_the_adapter_reads_through_it_and_history_answers_never_time_out(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """These sessions' daily-history answer for IBM is exactly 32,768 bytes long and arrives alone: with ibapi's own
    read it was lost and the run waited 30 s for it."""
    caplog.set_level(logging.WARNING)
    t0 = time.monotonic()
    result = run_algorithm(str(ROOT / "user_algos" / "dual_moving_average.py"), output=tmp_path / "out",
                           replay=(pd.Timestamp("2012-12-17"), pd.Timestamp("2012-12-20")), run_id="receive")
    assert result.stopped_because == "the run reached its end"
    assert not [r.getMessage() for r in caplog.records if "no answer" in r.getMessage()]
    assert time.monotonic() - t0 < 20
