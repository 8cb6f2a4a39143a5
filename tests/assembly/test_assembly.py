"""Runs put together by runtime.assembly: the engine with the API handed to it, the shared finish step, the
log-time filter, and minute runs that see the sessions before their first one."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pandas as pd
from support.algo import run_algo, run_data, write_algo

from runtime.assembly.backtest import build_backtest_engine
from runtime.assembly.finish import ExchangeTimeFilter, finish_run
from runtime.assembly.parts import load_into
from runtime.data.calendars import get_calendar
from runtime.engine.engine import Engine
from runtime.engine.results import ResultsRecorder

ANALYZE = """
def initialize(context):
    context.asset = symbol('AAPL')
    context.seen = None

def handle_data(context, data):
    order_target(context.asset, 10)

def analyze(context, perf):
    context.seen = (len(perf), float(perf['portfolio_value'].iloc[-1]))
"""


def _engine_with(tmp_path: Path, source: str) -> tuple[Engine, ResultsRecorder]:
    daily, _minute, start, _end = run_data("daily", "2012-01-03", "2012-01-06")
    first = daily.calendar.session_index_on_or_after(start)
    engine, _broker = build_backtest_engine(daily, None, frequency="daily", capital=100_000.0, first=first,
                                            last=first + 3, strict=True)
    load_into(engine, write_algo(tmp_path, source))
    recorder = ResultsRecorder(100_000.0)
    engine.add_session_end_hook(recorder.on_session_end)
    return engine, recorder


def test_the_engine_gets_its_api_context_and_data_from_the_assembly(tmp_path: Path) -> None:
    engine, _ = _engine_with(tmp_path, ANALYZE)
    assert engine.api is not None and engine.context is not None and engine.data is not None
    assert engine.functions.path.endswith("algo.py")
    engine.run_initialize()
    assert engine.context.asset.symbol == "AAPL"
    assert engine.api.exported("order_target").__self__ is engine.api.ordering


def test_finish_runs_analyze_and_writes_the_files_once(tmp_path: Path) -> None:
    engine, recorder = _engine_with(tmp_path, ANALYZE)
    engine.run_initialize()
    cal = engine.calendar
    for k in range(engine.start_session, engine.end_session + 1):
        engine.on_before_trading_start(int(cal.opens[k]) - 3_600_000_000_000, k)
        engine.on_session_end(int(cal.closes[k]), [])
    extra: list[Path] = []

    def more(folder: Path) -> list[Path]:
        extra.append(folder / "extra.txt")
        extra[-1].write_text("x")
        return extra

    done = finish_run(engine, recorder, cal, output=tmp_path / "out", meta=lambda perf: {"sessions": len(perf)},
                      extra_files=more)
    assert engine.context.seen == (4, 100_000.0)
    names = [p.name for p in done.files]
    assert names[-1] == "report.html" and "extra.txt" in names and "summary.json" in names
    assert len(done.perf) == 4 and done.summary is not None
    pickled = finish_run(engine, recorder, cal, output=tmp_path / "unused", meta=dict,
                         perf_pickle=tmp_path / "p" / "perf.pickle")
    assert [p.name for p in pickled.files] == ["perf.pickle"] and not (tmp_path / "unused").exists()
    assert len(pickle.loads((tmp_path / "p" / "perf.pickle").read_bytes())) == 4


def test_log_lines_show_the_run_clock_in_exchange_time() -> None:
    cal = get_calendar("XNYS")
    now = {"ns": 0}
    stamp = ExchangeTimeFilter(lambda: now["ns"], cal)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    assert stamp.filter(record) and record.simtime is None  # the clock has not started
    now["ns"] = pd.Timestamp("2012-07-03 17:00", tz="UTC").value
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    stamp.filter(record)
    assert record.simtime == "2012-07-03 13:00:00 EDT"
    own = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    own.simtime = "2012-07-02 09:31:00 EDT"  # an order's or a fill's own instant stays
    stamp.filter(own)
    assert own.simtime == "2012-07-02 09:31:00 EDT"


def test_minute_history_at_the_first_bar_reaches_before_the_run(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.asset = symbol('AAPL')
            context.first = None

        def handle_data(context, data):
            if context.first is None:
                prices = data.history(context.asset, 'price', 600, '1m')
                bars = request_historical_data(context.asset, '1 min', '2 D')
                context.first = (int(prices.notna().sum()), len(bars), str(bars.index[0].date()))
        """, start="2012-10-01", end="2012-10-02", frequency="minute")
    # 600 minutes: today's first bar and 599 of the sessions before; '2 D': the session before and today's bar
    assert result.engine.context.first == (600, 391, "2012-09-28")
