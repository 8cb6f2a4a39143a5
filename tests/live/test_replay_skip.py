"""Replays at a speed jump over the closed market; the clock jump itself; progress bars only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from support.algo import USER_ALGOS

from runtime.data.calendars import get_calendar
from runtime.engine.clocks import ReplayClock, closed_market_jump
from runtime.live.paper import run_algorithm

ROOT = Path(__file__).resolve().parents[2]
NS_PER_S = 1_000_000_000


def _ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="America/New_York").tz_convert("UTC").value)


def test_closed_market_jump_goes_to_the_next_fire_or_open_whichever_first() -> None:
    cal = get_calendar("XNYS")
    jump = closed_market_jump(cal.opens, cal.closes)
    # Friday after the close -> Monday's before_trading_start (a fire time before the open)
    assert jump(_ns("2012-11-16 16:00:01"), _ns("2012-11-19 08:45")) == _ns("2012-11-19 08:45")
    # before the open, the next fire is the first minute bar: jump to the open, then run at speed
    assert jump(_ns("2012-11-19 08:45"), _ns("2012-11-19 09:31")) == _ns("2012-11-19 09:30")
    # during the session: no jump
    assert jump(_ns("2012-11-19 09:30"), _ns("2012-11-19 09:31")) is None
    assert jump(_ns("2012-11-19 12:00"), _ns("2012-11-19 16:00")) is None
    # Thanksgiving (closed) and the early close the day after
    assert jump(_ns("2012-11-21 16:00:01"), _ns("2012-11-23 13:00")) == _ns("2012-11-23 09:30")
    assert jump(_ns("2012-11-23 13:00:01"), _ns("2012-11-26 08:45")) == _ns("2012-11-26 08:45")


def test_a_speed_clock_jumps_forward_and_wakes_its_waiters() -> None:
    clock = ReplayClock(_ns("2012-11-16 16:00"), speed=60.0)
    woke = threading.Event()
    target = _ns("2012-11-19 08:45")

    def wait() -> None:
        if clock.wait_until(target, timeout_s=10):
            woke.set()

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.1)
    assert not woke.is_set()
    now = clock.jump_to(target)
    t.join(5)
    assert woke.is_set() and now >= target
    assert clock.jump_to(target - 3600 * NS_PER_S) >= target  # never backwards
    before = clock.now_ns()
    time.sleep(0.2)
    assert 6 * NS_PER_S <= clock.now_ns() - before <= 30 * NS_PER_S  # and runs on at its speed


def test_the_live_loop_at_a_speed_skips_the_closed_market_with_the_backtest_results() -> None:
    from runtime.assembly.backtest import run_backtest
    from runtime.data.runs import load_daily_and_minute

    daily, minute, s, e = load_daily_and_minute(None, "daily", pd.Timestamp("2011-01-06"), pd.Timestamp("2011-01-11"))
    args = dict(daily=daily, minute=minute, start=s, end=e, capital=100_000.0)
    ref = run_backtest(USER_ALGOS / "buy_and_hold.py", **args)
    started = time.monotonic()
    # 4 sessions of 6.5 h at 50000x: about 1.9 s; with the 5 nights and the weekend in between it would be 9 s
    live = run_backtest(USER_ALGOS / "buy_and_hold.py", replay_speed=50_000.0, replay_grace_ns=10**18,
                        replay_skip_closed=True, **args)
    took = time.monotonic() - started
    assert took < 6.0, took
    jumped_h = live.engine.live_stats["jumped_ns"] / 3.6e12
    assert 100 < jumped_h < 105, jumped_h  # 127.3 h from Thursday 08:44 to Tuesday 16:00, 26 h of them open
    pd.testing.assert_series_equal(live.perf["portfolio_value"], ref.perf["portfolio_value"])
    assert [len(t) for t in live.perf["transactions"]] == [len(t) for t in ref.perf["transactions"]]


@pytest.mark.slow
def test_a_gateway_replay_at_a_speed_jumps_over_nights_and_the_weekend(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_algorithm(str(USER_ALGOS / "buy_and_hold.py"), output=tmp_path / "a", speed=20_000.0,
                           replay=(pd.Timestamp("2011-01-06"), pd.Timestamp("2011-01-11")))
    took = time.monotonic() - started
    # the open sessions take 4 x 6.5 h / 20000 = 4.7 s; the 101 h of closed market would add 18 s
    assert took < 15.0, took
    assert result.stopped_because == "the run reached its end"
    assert 3 <= len(result.perf) <= 4  # the first session may pass while the run connects (1 s is 5.5 h here)
    assert result.perf.index[-1].date() == pd.Timestamp("2011-01-11").date()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}


def _backtest_args(out: str) -> list[str]:
    return [sys.executable, "-m", "runtime", "backtest", str(USER_ALGOS / "buy_and_hold.py"), "-s", "2005-01-03",
            "-e", "2012-12-31", "-o", out]


@pytest.mark.slow
def test_progress_bar_on_a_terminal_only_and_not_with_quiet(tmp_path: Path) -> None:
    def on_pty(*extra: str) -> str:
        master, slave = pty.openpty()
        proc = subprocess.Popen([*_backtest_args("o"), *extra], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                                stderr=slave, text=True)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.communicate(timeout=120)
        os.close(master)
        assert proc.returncode == 0
        return b"".join(chunks).decode(errors="replace")

    shown = on_pty()
    assert "backtest:" in shown and "session" in shown and "/2013" in shown.replace(" ", "")
    assert "\r" in shown  # redrawn in place
    assert "session" not in on_pty("--quiet")
    proc = subprocess.run(_backtest_args("p"), cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "session/s" not in proc.stderr and "%|" not in proc.stderr
    assert json.loads((tmp_path / "p" / "summary.json").read_text())["sessions"] == 2013
