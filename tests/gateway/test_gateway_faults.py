"""Fault injection and robustness: every fault seen by a real ibapi client; hostile input never hurts others."""

from __future__ import annotations

import socket
import struct
import time

import pytest
from support.gateway import (
    WAIT,
    Recorder,
    clients,
    order,
    raw_connect,
    read_frame,
    send_frame,
    start_gateway,
    stock,
)


@pytest.fixture()
def gw():
    gateway, _clock = start_gateway()
    yield gateway
    gateway.stop()


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the gateway did not accept connections again"
            time.sleep(0.05)


def _closed(c: Recorder) -> None:
    c.wait("connectionClosed")


def test_drop_connections_then_reconnect(gw):
    with clients(gw.port, 1, 2) as (a, b):
        assert gw.drop_connections() == 2
        _closed(a)
        _closed(b)
    with clients(gw.port, 1) as (a,):
        a.reqCurrentTime()
        a.wait("currentTime")


def test_refuse_connections_for_a_while(gw):
    gw.refuse_connections(0.6)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", gw.port), timeout=2).close()
    _wait_listening(gw.port)
    with clients(gw.port, 1) as (a,):
        assert a.serverVersion() == 157


def test_connectivity_lost_and_restored(gw):
    with clients(gw.port, 1) as (a,):
        a.reqMktData(1, stock(), "", False, False, [])
        a.wait("tickPrice")
        gw.connectivity_lost()
        a.wait("error", lambda r, code, t: code == 1100)
        gw.connectivity_restored(data_lost=False)
        a.wait("error", lambda r, code, t: code == 1102)
        gw.connectivity_lost()
        gw.connectivity_restored(data_lost=True)
        a.wait("error", lambda r, code, t: code == 1101)
        gw.call(lambda: None)
        assert gw.call(lambda: len(gw.gateway.clients[1].ticks)) == 0  # 1101: the client must resubscribe


def test_reject_next_order(gw):
    with clients(gw.port, 1) as (a,):
        gw.reject_next_order("margin check failed (test)")
        a.placeOrder(1, stock(), order("BUY", 1))
        (_, code, text), = a.wait("error", lambda r, code, t: r == 1)
        assert code == 201 and "margin check failed" in text
        a.placeOrder(2, stock(), order("BUY", 1))
        a.wait("orderStatus", lambda oid, st, *x: oid == 2 and st == "Filled")


def test_forced_and_real_pacing_violations():
    gateway, _ = start_gateway(pacing=True)
    try:
        with clients(gateway.port, 1) as (a,):
            gateway.force_pacing_violation()
            a.reqHistoricalData(1, stock(), "", "1 D", "1 min", "TRADES", 1, 1, False, [])
            assert a.wait("error", lambda r, code, t: r == 1)[0][1] == 162
            a.reqHistoricalData(2, stock(), "", "1 D", "1 min", "TRADES", 1, 1, False, [])
            a.wait("historicalDataEnd", lambda r, *x: r == 2)
            a.reqHistoricalData(3, stock(), "", "1 D", "1 min", "TRADES", 1, 1, False, [])  # identical within 15 s
            (_, code, text), = a.wait("error", lambda r, code, t: r == 3)
            assert code == 162 and "pacing violation" in text
    finally:
        gateway.stop()


def test_delay_messages(gw):
    with clients(gw.port, 1) as (a,):
        gw.delay_messages(0.3)
        t0 = time.monotonic()
        a.reqCurrentTime()
        a.wait("currentTime")
        assert time.monotonic() - t0 >= 0.3
        gw.delay_messages(0)


def test_restart_keeps_account_state(tmp_path):
    gateway, _clock = start_gateway(state_file=str(tmp_path / "state.json"))
    try:
        with clients(gateway.port, 1) as (a,):
            a.placeOrder(1, stock(), order("BUY", 3))
            a.wait("orderStatus", lambda oid, st, *x: oid == 1 and st == "Filled")
            gateway.restart(0.3)
            _closed(a)
        _wait_listening(gateway.port)
        c = Recorder().start(gateway.port, 1)
        try:
            assert c.wait("nextValidId")[0][0] == 2
            c.reqPositions()
            c.wait("positionEnd")
            assert [p for _, _, p, _ in c.named("position")] == [3]
        finally:
            c.stop()
    finally:
        gateway.stop()


# ------------------------------------------------------------------------------------------------------ robustness
def test_malformed_frames_unknown_ids_and_oversized_prefix_do_not_disturb_others(gw):
    with clients(gw.port, 1) as (good,):
        bad = raw_connect(gw.port, 50)
        try:
            while read_frame(bad)[3:4] != ["2158"]:  # the last farm notice after startApi
                pass
            send_frame(bad, 999, 1)  # unknown message id
            send_frame(bad, "abc")  # not a number
            send_frame(bad, 3, "x", "y")  # placeOrder with garbage
            send_frame(bad, 9, 8)  # reqContractDetails cut short
            bad.sendall(struct.pack(">I", 0))  # empty frame
            replies = [read_frame(bad) for _ in range(4)]
            assert [r[0] for r in replies] == ["4"] * 4 and all(r[3] == "321" for r in replies)
            bad.sendall(struct.pack(">I", 0x7FFFFFFF) + b"junk")  # oversized length prefix: this connection ends
            bad.settimeout(WAIT)
            assert bad.recv(100) == b""
        finally:
            bad.close()
        junk = socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT)
        junk.sendall(b"GET / HTTP/1.1\r\n\r\n")  # not even the API handshake
        assert junk.recv(100) == b""
        junk.close()
        good.reqCurrentTime()
        good.wait("currentTime")
        assert gw.call(lambda: len(gw.gateway.connections)) == 1


@pytest.mark.slow
def test_slow_reader_is_bounded(gw):
    s = raw_connect(gw.port, 60)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for i in range(200):
            send_frame(s, 1, 11, i, 0, "AAPL", "STK", "", 0, "", "", "SMART", "", "USD", "", "", 0, "", 0, 0, "")
        send_frame(s, 20, 1, 0, "AAPL", "STK", "", 0, "", "", "SMART", "", "USD", "", "", 0, "", "1 min", "1 Y",
                   1, "TRADES", 1, 0, "")
        time.sleep(0.2)
        session = gw.call(lambda: gw.gateway.clients.get(60))
        size = gw.call(lambda: session.transport.get_write_buffer_size() if session and session.transport else 0)
        assert size <= gw.gateway.config.max_send_buffer
    finally:
        s.close()
