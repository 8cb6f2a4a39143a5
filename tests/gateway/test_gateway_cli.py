"""``ibalgo gateway``: options, and a gateway process that a real ibapi client can use."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
from support.gateway import WAIT, clients, order, stock

from runtime.gateway.cli import build, build_parser, run_gateway


def test_help_explains_how_to_connect(capsys):
    with pytest.raises(SystemExit) as exc:
        run_gateway(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "127.0.0.1" in out and "4002" in out and "--replay" in out and "--reject-first-order" in out


def test_options_build_the_described_gateway():
    gw = build(build_parser().parse_args(["--port", "0", "--replay", "2008-09-15:2008-10-31", "--speed", "max",
                                          "--accounts", "DU1,DU2", "--no-pacing", "--max-rate", "0"]))
    assert gw.config.accounts == ("DU1", "DU2") and gw.config.auto_advance_ns == 60_000_000_000
    assert not gw.pacer.enabled and gw.config.max_messages_per_second is None
    start = pd.Timestamp(gw.clock.now_ns(), tz="UTC").tz_convert("America/New_York")
    assert (start.date().isoformat(), start.hour, start.minute) == ("2008-09-15", 9, 29)
    realtime = build(build_parser().parse_args(["--port", "0", "--realtime", "--seed", "3"]))
    assert abs(realtime.clock.now_ns() - time.time_ns()) < 10**10
    with pytest.raises(ValueError, match="allow_remote"):
        build(build_parser().parse_args(["--host", "0.0.0.0"]))


def test_gateway_process_serves_an_ibapi_client():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "import sys; from runtime.gateway import run_gateway; sys.exit(run_gateway())"
    proc = subprocess.Popen([sys.executable, "-c", code, "--port", str(port), "--replay", "2012-06-01T11:00",
                             "--reject-first-order"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + WAIT * 2
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the gateway process did not start"
                time.sleep(0.1)
        with clients(port, 1) as (c,):
            c.placeOrder(1, stock(), order("BUY", 1))
            assert c.wait("error", lambda r, code, t: r == 1)[0][1] == 201
            c.placeOrder(2, stock(), order("BUY", 1))
            c.wait("orderStatus", lambda oid, st, *a: oid == 2 and st == "Filled")
    finally:
        proc.terminate()
        assert proc.wait(WAIT) == 0
