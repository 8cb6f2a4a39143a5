"""IBridgePy's REGULAR mode in backtests: handle_data every rep_bar_freq seconds around the clock."""

from __future__ import annotations

import itertools

import pytest
from support.algo import run_data, write_algo

from runtime.assembly.backtest import run_backtest
from runtime.errors import AlgorithmLoadError

ALGO = """
def initialize(context):
    context.ticks = []
    context.in_hours = 0
    context.asset = symbol("MSFT")

def handle_data(context, data):
    context.ticks.append(get_datetime())
    if data.can_trade(context.asset):
        context.in_hours += 1
        if not get_open_orders(context.asset) and context.portfolio.positions[context.asset].amount == 0:
            order(context.asset, 10)
"""


def _run(tmp_path, freq: float, frequency: str = "minute"):
    daily, minute, s, e = run_data(frequency, "2012-11-26", "2012-11-27")
    return run_backtest(write_algo(tmp_path, ALGO), daily=daily, minute=minute, start=s, end=e, capital=1e5,
                        frequency=frequency, strict=True, rep_bar_freq=freq)


def test_ticks_around_the_clock_and_trade_only_in_hours(tmp_path) -> None:
    result = _run(tmp_path, 30)
    ticks = result.engine.context.ticks
    # 2012-11-26 00:00 ET to 2012-11-27 16:00 ET, every 30 s, both ends included
    assert len(ticks) == 40 * 120 + 1
    assert all((b - a).total_seconds() == 30 for a, b in itertools.pairwise(ticks))
    # 2 sessions of 390 minutes, two ticks a minute, minus the tick exactly at the first open (the first bar of the
    # data ends at 09:31)
    assert result.engine.context.in_hours == 2 * 390 * 2 - 1
    fills = [t for day in result.perf.transactions for t in day]
    assert [(f["amount"], f["dt"].strftime("%H:%M")) for f in fills] == [(10, "14:32")]


@pytest.mark.slow
def test_sub_second_frequency(tmp_path) -> None:
    daily, minute, s, e = run_data("minute", "2012-11-23", "2012-11-23")
    result = run_backtest(write_algo(tmp_path, ALGO), daily=daily, minute=minute, start=s, end=e, capital=1e5,
                          frequency="minute", strict=True, rep_bar_freq=0.5)
    assert len(result.engine.context.ticks) == 13 * 3600 * 2 + 1  # 00:00 to the 13:00 early close


def test_regular_mode_needs_minute_bars(tmp_path) -> None:
    with pytest.raises(AlgorithmLoadError, match="--frequency minute"):
        _run(tmp_path, 30, frequency="daily")
