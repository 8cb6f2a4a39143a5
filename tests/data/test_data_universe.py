"""The seeded synthetic universe: deterministic bars, listings, corporate actions, fundamentals, and the switch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.algo import write_algo
from support.gateway import clients, stock

from runtime.assembly.backtest import run_backtest
from runtime.config import Settings, with_overrides
from runtime.data import load_bars
from runtime.data.errors import DataError
from runtime.data.runs import load_daily_and_minute
from runtime.data.sample import SAMPLE_SYMBOLS, load_sample
from runtime.data.universe import (
    SECTOR_CODES,
    build_synthetic_universe,
    check_universe,
    is_synthetic_symbol,
    synthetic_symbols,
    with_universe,
    write_fundamentals,
)
from runtime.engine.clocks import ReplayClock
from runtime.errors import ConfigError
from runtime.gateway import GatewayConfig, GatewayThread
from runtime.gateway.universe import build_universe

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def uni():
    return build_synthetic_universe()


def test_tickers_are_clearly_fake_and_unique(uni):
    symbols = [a.symbol for a in uni.store.assets]
    assert symbols == list(synthetic_symbols(300)) and symbols[0] == "SYN000" and symbols[-1] == "SYN299"
    assert all(is_synthetic_symbol(s) for s in symbols) and not is_synthetic_symbol("SYNA")
    assert not set(symbols) & set(SAMPLE_SYMBOLS)
    assert len({a.sid for a in uni.store.assets}) == 300
    assert uni.store.assets[7].asset_name == "SYNTHETIC STOCK 007"


def test_same_seed_same_bars_other_seed_other_bars(uni):
    again = build_synthetic_universe.__wrapped__()  # not the cached object
    for field in ("open", "high", "low", "close", "volume", "price_factor"):
        np.testing.assert_array_equal(getattr(uni.store, field), getattr(again.store, field))
    assert uni.store.splits == again.store.splits and uni.store.dividends == again.store.dividends
    pd.testing.assert_frame_equal(uni.fundamentals, again.fundamentals)
    other = build_synthetic_universe.__wrapped__(n=20, seed=12)
    assert not np.allclose(np.nan_to_num(other.store.close), np.nan_to_num(uni.store.close[:, :20]))
    # a ticker's bars do not depend on the size of the universe
    small = build_synthetic_universe.__wrapped__(n=20)
    np.testing.assert_array_equal(small.store.close, uni.store.close[:, :20])


def test_bars_are_sane_ohlc(uni):
    s = uni.store
    listed = ~np.isnan(s.close)
    assert np.all(s.low[listed] <= np.minimum(s.open[listed], s.close[listed]))
    assert np.all(s.high[listed] >= np.maximum(s.open[listed], s.close[listed]))
    assert np.all(s.low[listed] > 0) and np.all(s.volume[listed] >= 100)
    assert 5 < np.nanmedian(s.close[0]) < 300


def test_listing_dates_give_nans_outside_the_listing(uni):
    s = uni.store
    late = [i for i, a in enumerate(s.assets) if a.start_date > s.start]
    gone = [i for i, a in enumerate(s.assets) if a.end_date < s.end]
    assert 40 <= len(late) <= 120 and 2 <= len(gone) <= 25
    for i in late + gone:
        a = s.assets[i]
        k0, k1 = s.session_offset(a.start_date), s.session_offset(a.end_date)
        assert np.isnan(s.close[:k0, i]).all() and np.isnan(s.volume[:k0, i]).all()
        assert np.isnan(s.close[k1 + 1:, i]).all()
        assert np.isfinite(s.close[k0 : k1 + 1, i]).all()


def test_splits_and_dividends_match_the_bars_and_the_store_factors(uni):
    s = uni.store
    assert 5 <= len(s.splits) <= 30 and {sp.ratio for sp in s.splits} >= {0.5, 2.0}
    assert len(s.dividends) > 500
    adjusted_close = s.close * s.price_factor  # adjusted as of the store's end
    for sp in s.splits:
        col, r = s.column(sp.sid), s.session_offset(sp.date)
        raw_jump = s.close[r, col] / s.close[r - 1, col]
        adj_jump = adjusted_close[r, col] / adjusted_close[r - 1, col]
        assert abs(np.log(raw_jump * sp.ratio)) < 0.25  # the raw price drops by the ratio at the open
        assert abs(np.log(adj_jump)) < 0.25  # the adjusted series has no jump
        assert s.price_factor[r - 1, col] / s.price_factor[r, col] == pytest.approx(1.0 / sp.ratio, rel=0.1)
        assert s.volume_factor[r - 1, col] / s.volume_factor[r, col] == pytest.approx(sp.ratio)
    for d in s.dividends[:200]:
        col, r = s.column(d.sid), s.session_offset(d.ex_date)
        prev = s.close[r - 1, col]
        assert 0.002 * prev <= d.amount <= 0.011 * prev
        factor = s.price_factor[r - 1, col] / s.price_factor[r, col]
        others = [x for x in s.splits if x.sid == d.sid and x.date == d.ex_date]
        if not others:
            assert factor == pytest.approx(1.0 - d.amount / prev, abs=1e-12)


def test_fundamentals_are_point_in_time_with_sector_and_market_cap(uni, tmp_path):
    f, s = uni.fundamentals, uni.store
    assert list(f.columns)[:2] == ["date", "symbol"] and {"sector", "market_cap", "shares_outstanding"} <= set(f)
    assert set(f["sector"]) <= set(SECTOR_CODES) and len(set(f["sector"])) >= 8
    by_symbol = {a.symbol: i for i, a in enumerate(s.assets)}
    sample = f.iloc[:: max(1, len(f) // 300)]
    for row in sample.itertuples():
        col = by_symbol[row.symbol]
        r = s.session_offset(row.date)
        assert s.assets[col].start_date < row.date <= s.assets[col].end_date  # known only while listed, after a close
        assert row.market_cap == pytest.approx(row.shares_outstanding * s.close[r - 1, col], abs=1.0)
    # a split doubles the share count from its date on
    sp = next(x for x in s.splits if x.ratio == 2.0)
    sym = s.assets[s.column(sp.sid)].symbol
    rows = f[f["symbol"] == sym]
    before, after = rows[rows["date"] <= sp.date]["shares_outstanding"], rows[rows["date"] > sp.date]
    assert after["shares_outstanding"].iloc[0] == pytest.approx(2 * before.iloc[-1])
    path = write_fundamentals(tmp_path / "fundamentals.csv")
    back = pd.read_csv(path, parse_dates=["date"])
    assert len(back) == len(f) and back["date"].iloc[0] == f["date"].iloc[0]


def test_switch_adds_the_universe_to_the_sample_and_leaves_the_sample_alone():
    plain = load_bars(None, "daily", "2012-01-03", "2012-03-30")
    both = load_bars(None, "daily", "2012-01-03", "2012-03-30", universe="synthetic")
    assert [a.symbol for a in plain.assets] == list(SAMPLE_SYMBOLS)
    assert [a.symbol for a in both.assets[:5]] == list(SAMPLE_SYMBOLS) and both.n_assets == 305
    np.testing.assert_array_equal(both.close[:, :5], plain.close)
    np.testing.assert_array_equal(both.price_factor[:, :5], plain.price_factor)
    assert check_universe(None) is None and check_universe("Synthetic") == "synthetic"
    with pytest.raises(DataError, match="unknown universe"):
        load_bars(None, "daily", None, None, universe="sp500")
    with pytest.raises(ConfigError, match="universe must be 'synthetic'"):
        with_overrides(Settings(), {"universe": "sp500"})


@pytest.mark.slow
def test_ordinary_runs_never_build_the_universe():
    code = ("import sys; from runtime.data import load_bars; load_bars(None, 'daily', '2012-01-03', '2012-02-01');"
            "import runtime.assembly.backtest, runtime.live.paper, runtime.gateway.universe;"
            "print('runtime.data.universe' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_backtest_trades_synthetic_tickers(tmp_path):
    algo = write_algo(tmp_path, """
from zipline.api import order_target_percent, symbol

def initialize(context):
    context.a = symbol('SYN003')

def handle_data(context, data):
    order_target_percent(context.a, 0.5)
""")
    daily, minute, s, e = load_daily_and_minute(None, "daily", pd.Timestamp("2012-01-03"), pd.Timestamp("2012-01-31"),
                                                universe="synthetic")
    result = run_backtest(algo, daily=daily, minute=minute, start=s, end=e, capital=100_000.0, frequency="daily",
                          strict=True)
    fills = [t for day in result.perf["transactions"] for t in day]
    assert fills and {str(t["sid"].symbol) for t in fills} == {"SYN003"}
    assert result.perf["portfolio_value"].iloc[-1] != 100_000.0


@pytest.mark.socket
def test_gateway_serves_a_synthetic_contract_and_its_history_to_ibapi(uni):
    clock = ReplayClock(pd.Timestamp("2012-06-01 10:35", tz="America/New_York").value, speed=None)
    daily = with_universe(load_sample(), "synthetic")
    gw = GatewayThread(GatewayConfig(port=0, max_messages_per_second=None, pacing=False), clock=clock,
                       universe=build_universe(clock.now_ns(), [daily])).start()
    try:
        with clients(gw.port, 31) as (c,):
            c.reqContractDetails(1, stock("SYN042"))
            c.wait("contractDetailsEnd", lambda r: r == 1)
            (_req, cd), = c.named("contractDetails", lambda r, d: r == 1)
            assert cd.contract.symbol == "SYN042" and cd.longName == "SYNTHETIC STOCK 042"
            assert cd.contract.conId == daily.assets[daily.column(cd.contract.conId)].sid
            c.reqHistoricalData(2, stock("SYN042"), "", "1 M", "1 day", "TRADES", 1, 1, False, [])
            c.wait("historicalDataEnd", lambda r, *a: r == 2)
            bars = [b for r, b in c.named("historicalData", lambda r, b: r == 2)]
            col = daily.column(cd.contract.conId)
            k1 = daily.session_offset(pd.Timestamp("2012-05-31"))
            done = bars[:-1]  # the last bar is today's, still forming (as IB sends it)
            got = np.array([b.close for b in done])
            want = daily.adjusted("close", slice(k1 - len(done) + 1, k1 + 1), np.array([col]), k1 + 1)[:, 0]
            assert 18 <= len(bars) <= 24 and bars[-1].date == "20120601" and done[-1].date == "20120531"
            np.testing.assert_allclose(got, want, atol=0.006)
            c.reqMktData(3, stock("SYN042"), "", True, False, [])
            assert c.wait("tickPrice", lambda r, *a: r == 3)
    finally:
        gw.stop()


SYN_ALGO = """
from zipline.api import order_target_percent, symbol

def initialize(context):
    context.a = symbol('SYN003')
    context.b = symbol('AAPL')

def handle_data(context, data):
    order_target_percent(context.a, 0.4)
    order_target_percent(context.b, 0.4)
"""


def test_backtest_command_switch(tmp_path):
    from runtime.cli import main

    algo = write_algo(tmp_path, SYN_ALGO)
    out = tmp_path / "out"
    assert main(["backtest", str(algo), "--universe", "synthetic", "--start", "2012-02-01", "--end", "2012-02-29",
                 "--output", str(out), "--log-level", "WARNING"]) == 0
    trades = pd.read_csv(out / "trades.csv")
    assert {"SYN003", "AAPL"} <= set(trades.astype(str).stack())


@pytest.mark.socket
def test_paper_run_trades_synthetic_tickers_on_the_simulated_gateway(tmp_path):
    from runtime.live.paper import run_algorithm

    algo = write_algo(tmp_path, SYN_ALGO)
    result = run_algorithm(str(algo), replay=(pd.Timestamp("2012-02-01"), pd.Timestamp("2012-02-15")),
                           output=tmp_path / "out", universe="synthetic", strict=True)
    fills = [t for day in result.perf["transactions"] for t in day]
    assert {str(t["sid"].symbol) for t in fills} == {"SYN003", "AAPL"}
