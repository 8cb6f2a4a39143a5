"""A handle_data that never returns in a paper run (real ibapi client, simulated gateway): the watchdog logs the
algorithm's file:line at intervals, the broker connection stays up, a stop request (Ctrl-C) still ends the run
cleanly, and a strict run ends by itself."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from runtime.data.calendars import get_calendar
from runtime.engine.clocks import ReplayClock
from runtime.errors import AlgorithmLoadError
from runtime.live.paper import EmbeddedGateway, replay_start_ns, run_algorithm
from runtime.live.session import LiveSession

START, END = "2012-01-03", "2012-01-12"
STUCK = """\
def initialize(context):
    context.day = 0


def handle_data(context, data):
    context.day += 1
    if context.day == 2:
        x = 0
        while True:
            x += 1
"""
LOOP_LINES = ("algo.py:9 (in handle_data)", "algo.py:10 (in handle_data)")  # the while loop's lines


def _gateway() -> EmbeddedGateway:
    cal = get_calendar("XNYS")
    clock = ReplayClock(replay_start_ns(cal, cal.session_index_on_or_after(pd.Timestamp(START))), speed=None)
    return EmbeddedGateway(clock, capital=100_000.0)


def test_stuck_handle_data_is_reported_and_a_stop_request_ends_the_run(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    algo = tmp_path / "algo.py"
    algo.write_text(STUCK)
    gw = _gateway()
    seen: dict[str, object] = {}

    def on_session(session: LiveSession) -> None:
        def ctrl_c() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                reports = [r for r in caplog.records if "without returning" in r.getMessage()]
                if len(reports) >= 2:
                    seen["connected"] = session.ib is not None and session.ib.is_connected()
                    session.stop("interrupted")
                    return
                time.sleep(0.05)

        threading.Thread(target=ctrl_c, daemon=True).start()

    try:
        with caplog.at_level(logging.WARNING, logger="ibalgo.live"):
            result = run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp(START), pd.Timestamp(END)),
                                   output=tmp_path / "out", run_id="stuck", gateway=gw, on_session=on_session,
                                   watchdog_s=0.3)
    finally:
        gw.stop()
    reports = [r.getMessage() for r in caplog.records if "without returning" in r.getMessage()]
    assert len(reports) >= 2
    assert any(f"at {where}" in reports[0] for where in LOOP_LINES), reports[0]
    assert seen["connected"] is True
    assert result.stopped_because == "interrupted"
    assert result.engine.context.day == 2
    assert (tmp_path / "out" / "summary.json").exists()


def test_a_strict_run_ends_when_handle_data_is_stuck(tmp_path: Path) -> None:
    algo = tmp_path / "algo.py"
    algo.write_text(STUCK)
    gw = _gateway()
    t0 = time.monotonic()
    try:
        with pytest.raises(AlgorithmLoadError, match=r"did not return within 0.3 s \(at algo.py:(9|10) \(in "
                           "handle_data"):
            run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp(START), pd.Timestamp(END)),
                          output=tmp_path / "out", run_id="stuckstrict", gateway=gw, strict=True, watchdog_s=0.3)
    finally:
        gw.stop()
    assert time.monotonic() - t0 < 30
