"""Minute bars a window of sessions at a time: the same bars, and the same backtest, as all the minutes at once."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from runtime.assembly.backtest import run_backtest
from runtime.data.minute_stream import MinuteStream
from runtime.data.sample import load_sample
from runtime.data.synthetic import expand_to_minutes

# AAPL splits 2:1 on 2005-02-28; MSFT pays a dividend (ex 2005-02-15), so factors change inside the range
START, END = "2005-02-11", "2005-03-01"
FIELDS = ("times", "open", "high", "low", "close", "volume", "price_factor", "volume_factor")


@pytest.fixture(scope="module")
def daily():
    return load_sample()


def _range(daily):
    cal = daily.calendar
    return cal.session_index_on_or_after(START), cal.session_index_on_or_before(END)


def test_windows_are_the_whole_range_cut_up(daily):
    k0, k1 = _range(daily)
    whole = expand_to_minutes(daily, START, END, seed=7)
    assert whole.splits and whole.dividends
    stream = MinuteStream(daily, k0, k1, 7, chunk_sessions=3, lookback_sessions=2)
    covered = 0
    for n, window in enumerate(stream.windows()):
        bars = window.bars
        assert bars.first_session == (k0 if n == 0 else window.new_session - 2)
        for name in FIELDS:
            want = getattr(whole, name)[window.row0 : window.row0 + bars.n_rows]
            assert np.array_equal(getattr(bars, name), want, equal_nan=True), (name, n)
        covered = window.row0 + bars.n_rows
    assert n == (k1 - k0) // 3 and covered == whole.n_rows
    later = stream.bars_between(k0 + 4, k0 + 7)  # made again from the block start before it
    row0 = stream.row0_of(k0 + 4)
    for name in FIELDS:
        assert np.array_equal(getattr(later, name), getattr(whole, name)[row0 : row0 + later.n_rows], equal_nan=True)


def test_the_same_seed_gives_the_same_bars_whatever_the_chunks(daily):
    k0, k1 = _range(daily)

    def closes(stream):
        parts = []
        for w in stream.windows():
            keep = int(w.bars.session_row_start[w.new_session - w.bars.first_session])
            parts.append(w.bars.close[keep:])
        return np.concatenate(parts)

    one = closes(MinuteStream(daily, k0, k1, 3, chunk_sessions=1, lookback_sessions=1))
    assert np.array_equal(one, closes(MinuteStream(daily, k0, k1, 3, chunk_sessions=50)), equal_nan=True)
    assert not np.array_equal(one, closes(MinuteStream(daily, k0, k1, 4, chunk_sessions=50)), equal_nan=True)


ALGO = textwrap.dedent('''
    import numpy as np

    def initialize(context):
        context.assets = symbols("AAPL", "MSFT", "IBM")
        context.n = 0
        context.acc = 0.0
        context.traded = 0
        context.stale = 0
        schedule_function(rebalance, date_rules.every_day(), time_rules.market_open(minutes=7))

    def rebalance(context, data):
        i = context.n % 3
        order_target_percent(context.assets[i], 0.3)
        order_target_percent(context.assets[(i + 1) % 3], 0.0)

    def handle_data(context, data):
        context.n += 1
        if context.n % 37 == 0:
            # 900 minutes: more than two sessions, across the window edges and past what a window keeps
            prices = data.history(context.assets, "price", 900, "1m").to_numpy()
            closes = data.history(context.assets, "close", 450, "1m").to_numpy()
            volume = data.history(context.assets[0], "volume", 60, "1m").to_numpy()
            days = data.history(context.assets, "close", 3, "1d").to_numpy()
            context.acc += float(np.nansum(prices) + np.nansum(closes) + np.nansum(volume) + np.nansum(days))
        last = data.current(context.assets, "last_traded")
        context.traded += int(last.notna().sum())
        context.stale += int(data.is_stale(context.assets).sum())
        record(acc=context.acc, traded=context.traded, stale=context.stale,
               price=data.current(context.assets[0], "price"), value=context.portfolio.portfolio_value)
''')


@pytest.mark.slow
def test_a_chunked_backtest_equals_the_unchunked_one(daily, tmp_path):
    algo = tmp_path / "algo.py"
    algo.write_text(ALGO)
    k0, k1 = _range(daily)
    s, e = pd.Timestamp(START), pd.Timestamp(END)
    args = dict(daily=daily, start=s, end=e, capital=100_000.0, frequency="minute")
    whole = run_backtest(algo, minute=expand_to_minutes(daily, START, END, seed=7), **args)
    stream = MinuteStream(daily, k0, k1, 7, chunk_sessions=2, lookback_sessions=1)
    chunked = run_backtest(algo, minute=stream, **args)
    assert whole.bars == chunked.bars == whole.engine.clock.minute_row + 1
    assert stream.lookback_sessions > 1  # the 900-minute windows reached past what a window kept
    a, b = whole.perf, chunked.perf
    assert len(a) == k1 - k0 + 1 and a["acc"].iloc[-1] > 0 and a["transactions"].map(len).sum() > 10
    for column in ("portfolio_value", "ending_cash", "acc", "traded", "stale", "price", "value", "pnl"):
        assert a[column].tolist() == b[column].tolist(), column
    for column in ("transactions", "positions", "orders"):  # order ids are random
        assert _without_ids(a[column]) == _without_ids(b[column]), column


def _without_ids(column: pd.Series) -> list[list[dict]]:
    return [[{k: v for k, v in item.items() if k not in ("id", "order_id")} for item in row] for row in column]


@pytest.mark.slow
def test_a_run_loaded_as_a_stream_equals_one_loaded_whole(tmp_path):
    """The command line's loading (the sessions before the start for minute history, then windows) against the
    whole minute store that load_daily_and_minute gives without ``stream``."""
    from runtime.data.runs import load_daily_and_minute

    algo = tmp_path / "algo.py"
    algo.write_text(ALGO)
    s, e = pd.Timestamp(START), pd.Timestamp(END)
    runs = []
    for stream in (False, True):
        daily, minute, s0, e0 = load_daily_and_minute(None, "minute", s, e, seed=7, stream=stream)
        assert isinstance(minute, MinuteStream) == stream
        runs.append(run_backtest(algo, daily=daily, minute=minute, start=s0, end=e0, capital=100_000.0,
                                 frequency="minute").perf)
    a, b = runs
    for column in ("portfolio_value", "acc", "traded", "stale", "price"):
        assert a[column].tolist() == b[column].tolist(), column
    assert _without_ids(a["transactions"]) == _without_ids(b["transactions"])
