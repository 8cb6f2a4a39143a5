"""The engine's per-session figures when the broker reports a fill between one session's end and the next start
(a live run that reconnects overnight and books the fill it missed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from support.algo import run_data, write_algo

from runtime.assembly.backtest import build_backtest_engine
from runtime.assembly.parts import load_into
from runtime.core.matching import Fill
from runtime.engine.results import ResultsRecorder

ALGO = """
def initialize(context):
    context.asset = symbol('AAPL')
"""


def test_a_fill_booked_overnight_is_in_the_next_sessions_transactions(tmp_path: Path) -> None:
    daily, _minute, start, _end = run_data("daily", "2012-01-03", "2012-01-06")
    cal = daily.calendar
    first = cal.session_index_on_or_after(start)
    engine, _broker = build_backtest_engine(daily, None, frequency="daily", capital=100_000.0, first=first,
                                            last=first + 2, strict=True)
    load_into(engine, write_algo(tmp_path, ALGO))
    recorder = ResultsRecorder(100_000.0)
    engine.add_session_end_hook(recorder.on_session_end)
    engine.run_initialize()
    asset = engine.context.asset

    def session(index: int) -> None:
        engine.on_before_trading_start(int(cal.opens[index]) - 3_600_000_000_000, index)
        engine.on_session_end(int(cal.closes[index]), [])

    session(first)
    overnight = int(cal.closes[first]) + 600_000_000_000
    engine.apply_broker_events([Fill("o1", asset, 10, 410.0, 1.0, overnight, 10, 410.0, True)])
    session(first + 1)
    perf = recorder.frame(cal)

    assert [len(day) for day in perf["transactions"]] == [0, 1]
    (txn,) = perf["transactions"].iloc[1]
    assert (txn["amount"], txn["price"], txn["commission"]) == (10, 410.0, 1.0)
    assert recorder.fill_count == 1
    assert perf["capital_used"].iloc[1] == -4100.0
    # the day's P&L carries the overnight fill: the values stay continuous
    assert perf["portfolio_value"].iloc[0] == 100_000.0
    assert perf["pnl"].iloc[1] == perf["portfolio_value"].iloc[1] - 100_000.0
    assert isinstance(perf.index[1], pd.Timestamp)
