"""The live code path (clock ticks, misfire policy, one engine thread) gives a backtest's results on a replay clock,
and skips what is too late when the engine falls behind."""

from __future__ import annotations

import pandas as pd
import pytest
from support.algo import USER_ALGOS, run_data, write_algo

from runtime.assembly.backtest import run_backtest

SCALARS = ["portfolio_value", "returns", "pnl", "ending_cash", "capital_used", "leverage"]


def _run(path, frequency: str, start: str, end: str, **kwargs):
    daily, minute, s, e = run_data(frequency, start, end)
    return run_backtest(path, daily=daily, minute=minute, start=s, end=e, capital=100_000.0, frequency=frequency,
                        strict=True, **kwargs)


def _fills(perf: pd.DataFrame) -> list[tuple]:
    return [(t["dt"], t["symbol"], t["amount"], round(t["price"], 6)) for day in perf.transactions for t in day]


def test_replay_as_fast_as_possible_matches_the_backtest_minute() -> None:
    algo = USER_ALGOS / "scheduled_minute.py"
    backtest = _run(algo, "minute", "2012-11-19", "2012-11-30")
    replay = _run(algo, "minute", "2012-11-19", "2012-11-30", replay_speed=None)
    assert backtest.bars == replay.bars == 3330  # 8 full sessions + the 2012-11-23 early close (210 minutes)
    pd.testing.assert_frame_equal(backtest.perf[SCALARS], replay.perf[SCALARS])
    assert _fills(backtest.perf) == _fills(replay.perf)
    assert len(_fills(replay.perf)) > 0
    assert replay.engine.live_stats == {"skipped": 0, "overruns": 0}


@pytest.mark.slow
def test_paced_replay_matches_the_backtest_daily() -> None:
    algo = USER_ALGOS / "dual_moving_average.py"
    backtest = _run(algo, "daily", "2012-06-01", "2012-06-08")
    # 6 sessions of 08:45..16:00 at 300,000x real speed: about half a second; a generous grace keeps a loaded
    # machine from skipping anything
    replay = _run(algo, "daily", "2012-06-01", "2012-06-08", replay_speed=300_000.0,
                  replay_grace_ns=3600 * 10**9)
    pd.testing.assert_frame_equal(backtest.perf[SCALARS], replay.perf[SCALARS])
    assert _fills(backtest.perf) == _fills(replay.perf)


@pytest.mark.slow
def test_a_slow_handle_data_skips_superseded_bars_and_never_runs_twice(tmp_path) -> None:
    path = write_algo(tmp_path, """
        import time

        def initialize(context):
            context.seen = []

        def handle_data(context, data):
            now = get_datetime()
            assert not context.seen or now > context.seen[-1], "a bar ran twice or out of order"
            context.seen.append(now)
            if len(context.seen) == 5:
                time.sleep(0.3)  # 0.3 s real = 30 minutes of market time at 6000x

        def analyze(context, perf):
            context.analyzed = len(context.seen)
    """)
    # the early close of 2012-11-23: 210 minutes, 2.1 s of real time
    result = _run(path, "minute", "2012-11-23", "2012-11-23", replay_speed=6000.0)
    seen = result.engine.context.seen
    assert result.engine.live_stats["skipped"] >= 20  # the bars that went by during the stall
    assert len(seen) == result.bars < 210
    assert result.engine.error_count == 0
