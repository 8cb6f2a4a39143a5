"""``from runtime import run_algorithm``: plain functions backtested from Python, with ``runtime.api`` names."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from runtime import run_algorithm
from runtime.api import (
    FUNCTION_NAMES,
    NoRunningAlgorithmError,
    date_rules,
    order,
    order_target_percent,
    record,
    schedule_function,
    symbol,
    time_rules,
)
from runtime.assembly.backtest import run_backtest
from runtime.data.runs import load_daily_and_minute
from runtime.errors import AlgorithmRaisedError, ConfigError

FILE_VERSION = """
def initialize(context):
    context.asset = symbol("AAPL")
    schedule_function(rebalance, date_rules.week_start(), time_rules.market_open(minutes=30))


def rebalance(context, data):
    order_target_percent(context.asset, 0.5 if context.flip else 1.0)
    context.flip = not context.flip


def handle_data(context, data):
    record(price=data.current(context.asset, "price"))
"""


def initialize(context) -> None:
    context.asset = symbol("AAPL")
    context.flip = False
    schedule_function(rebalance, date_rules.week_start(), time_rules.market_open(minutes=30))


def rebalance(context, data) -> None:
    order_target_percent(context.asset, 0.5 if context.flip else 1.0)
    context.flip = not context.flip


def handle_data(context, data) -> None:
    record(price=data.current(context.asset, "price"))


def test_run_algorithm_returns_the_same_perf_as_the_file_backtest(tmp_path: Path) -> None:
    seen: list[int] = []
    perf = run_algorithm(start=pd.Timestamp("2012-01-03", tz="utc"), end=pd.Timestamp("2012-06-29", tz="utc"),
                         initialize=initialize, handle_data=handle_data, capital_base=50_000,
                         analyze=lambda context, perf: seen.append(len(perf)))
    algo = tmp_path / "same.py"
    algo.write_text(FILE_VERSION.replace('context.asset = symbol("AAPL")',
                                         'context.asset = symbol("AAPL")\n    context.flip = False'))
    daily, minute, s, e = load_daily_and_minute(None, "daily", pd.Timestamp("2012-01-03"), pd.Timestamp("2012-06-29"))
    ref = run_backtest(algo, daily=daily, minute=minute, start=s, end=e, capital=50_000).perf
    assert len(perf) == len(ref) == 125 and seen == [125]
    assert perf.index.equals(ref.index) and str(perf.index.tz) == "UTC"
    pd.testing.assert_series_equal(perf["portfolio_value"], ref["portfolio_value"])
    pd.testing.assert_series_equal(perf["price"], ref["price"])
    assert sum(len(t) for t in perf["transactions"]) == sum(len(t) for t in ref["transactions"]) > 20
    assert perf.attrs["errors_in_algorithm"] == 0


def test_the_api_names_outside_a_run_raise_a_clear_error() -> None:
    with pytest.raises(NoRunningAlgorithmError, match="no algorithm is running"):
        order(None, 1)
    assert {"order", "symbol", "record", "schedule_function", "order_target_percent"} <= FUNCTION_NAMES
    import runtime.api as api

    for name in FUNCTION_NAMES:
        assert callable(getattr(api, name))


SIDS = {"IBM": 3766, "MSFT": 5061}  # Quantopian's sids, kept by the bundled data


def test_two_threads_run_two_algorithms_each_bound_to_its_own() -> None:
    results: dict[str, pd.DataFrame] = {}
    errors: list[BaseException] = []

    def one(sym: str) -> None:
        def init(context) -> None:
            context.asset = symbol(sym)

        def handle(context, data) -> None:
            order_target_percent(context.asset, 1.0)
            record(held=context.portfolio.positions[context.asset].amount, sid=context.asset.sid)

        try:
            results[sym] = run_algorithm("2011-01-03", "2011-12-30", init, 100_000, handle)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(s,)) for s in ("IBM", "MSFT")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for sym in ("IBM", "MSFT"):
        perf = results[sym]
        assert set(perf["sid"]) == {SIDS[sym]}
        symbols = {t["symbol"] for day in perf["transactions"] for t in day}
        assert symbols == {sym}


def test_strict_raises_with_the_sessions_done_and_the_default_counts_errors() -> None:
    def handle(context, data) -> None:
        if data.current(symbol("AAPL"), "price") > 420:
            raise ValueError("too dear")

    perf = run_algorithm("2012-01-03", "2012-01-31", lambda context: None, handle_data=handle)
    assert perf.attrs["errors_in_algorithm"] > 0 and len(perf) == 20
    with pytest.raises(AlgorithmRaisedError, match="too dear") as info:
        run_algorithm("2012-01-03", "2012-01-31", lambda context: None, handle_data=handle, strict=True)
    assert isinstance(info.value.perf, pd.DataFrame) and 0 < len(info.value.perf) < 20


def test_bad_arguments_are_clear() -> None:
    with pytest.raises(ConfigError, match="bundle 'nope'"):
        run_algorithm("2012-01-03", "2012-01-31", initialize, bundle="nope")
    with pytest.raises(ConfigError, match="data_frequency"):
        run_algorithm("2012-01-03", "2012-01-31", initialize, data_frequency="hourly")
    with pytest.raises(Exception, match="handle_data must take 2"):
        run_algorithm("2012-01-03", "2012-01-31", initialize, handle_data=lambda context: None)
