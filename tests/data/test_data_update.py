"""``ibalgo data update``: the IB adapter (real ibapi client) against the embedded simulated gateway on loopback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.algo import write_algo

from runtime.assembly.backtest import run_backtest
from runtime.brokers.ib.pacing import BURST_WINDOW_S, TEN_MINUTE_LIMIT, TEN_MINUTES_S, HistoryKey
from runtime.cli import main
from runtime.data import load_bars
from runtime.data.download import parse_universe
from runtime.data.errors import DataError
from runtime.data.sample import load_sample
from runtime.live.data_update import VirtualPacer, run_update

SYMBOLS = "AAPL,IBM,SYN003,SYN055"


def _adjusted_close(symbol: str, first: str, last: str, as_of: str) -> np.ndarray:
    from runtime.data.universe import with_universe

    store = with_universe(load_sample(), "synthetic")
    col = next(i for i, a in enumerate(store.assets) if a.symbol == symbol)
    k0, k1, ka = store.session_offset(first), store.session_offset(last), store.session_offset(as_of)
    return store.adjusted("close", slice(k0, k1 + 1), np.array([col]), ka + 1)[:, 0]


def test_fresh_download_writes_parquet_files_the_backtest_reads(tmp_path):
    out = tmp_path / "store"
    result = run_update(SYMBOLS, out, start="2012-03-01", end="2012-06-29", progress=False)
    assert [s.status for s in result.symbols] == ["fresh"] * 4 and result.requests == 4
    assert sorted(p.name for p in out.iterdir()) == [f"{s}.parquet" for s in sorted(SYMBOLS.split(","))]
    frame = pd.read_parquet(out / "SYN003.parquet")
    assert list(frame.columns) == ["date", "open", "high", "low", "close", "volume"]
    assert str(frame["date"].iloc[0].date()) == "2012-03-01" and str(frame["date"].iloc[-1].date()) == "2012-06-29"
    np.testing.assert_allclose(frame["close"], _adjusted_close("SYN003", "2012-03-01", "2012-06-29", "2012-06-29"),
                               atol=0.006)
    bars = load_bars(out, "daily", None, None)
    assert {a.symbol for a in bars.assets} == set(SYMBOLS.split(",")) and bars.n_sessions == len(frame)
    algo = write_algo(tmp_path, """
from zipline.api import order_target_percent, symbol

def initialize(context):
    context.a = symbol('SYN055')

def handle_data(context, data):
    order_target_percent(context.a, 0.5)
""")
    run = run_backtest(algo, daily=bars, minute=None, start=bars.start, end=bars.end, capital=100_000.0,
                       frequency="daily", strict=True)
    fills = [t for day in run.perf["transactions"] for t in day]
    assert fills and fills[0]["sid"].symbol == "SYN055"


def test_incremental_update_asks_only_for_the_missing_days(tmp_path):
    out = tmp_path / "store"
    run_update("SYN003,SYN001", out, start="2012-03-01", end="2012-05-31", progress=False)
    before = pd.read_parquet(out / "SYN003.parquet")
    seen = []
    again = run_update("SYN003,SYN001", out, end="2012-06-29", progress=False, on_symbol=seen.append)
    assert [s.status for s in again.symbols] == ["incremental", "incremental"] and again.requests == 2
    after = pd.read_parquet(out / "SYN003.parquet")
    assert len(after) == len(before) + 21 and after["date"].is_unique and after["date"].is_monotonic_increasing
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    assert [s.symbol for s in seen] == ["SYN003", "SYN001"]
    current = run_update("SYN003,SYN001", out, end="2012-06-29", progress=False)
    assert [s.status for s in current.symbols] == ["current", "current"] and current.requests == 0


def test_a_dividend_between_updates_redownloads_the_adjusted_range(tmp_path):
    out = tmp_path / "store"
    run_update("IBM", out, start="2012-03-01", end="2012-05-01", progress=False)  # IBM goes ex-dividend 2012-05-08
    result = run_update("IBM", out, end="2012-05-31", progress=False)
    assert result.symbols[0].status == "refreshed"
    frame = pd.read_parquet(out / "IBM.parquet")
    np.testing.assert_allclose(frame["close"], _adjusted_close("IBM", "2012-03-01", "2012-05-31", "2012-05-31"),
                               atol=0.006)


def test_a_killed_update_resumes_with_the_symbols_not_done(tmp_path):
    out = tmp_path / "store"
    (out).mkdir()
    (out / "SYN001.parquet.part").write_bytes(b"half a file")  # what a kill during a write leaves

    def die_after_two(update):
        if update.symbol == "SYN002":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_update("SYN000,SYN002,SYN001,SYN004", out, start="2012-01-03", end="2012-03-30", progress=False,
                   on_symbol=die_after_two)
    assert sorted(p.name for p in out.glob("*.parquet")) == ["SYN000.parquet", "SYN002.parquet"]
    resumed = run_update("SYN000,SYN002,SYN001,SYN004", out, start="2012-01-03", end="2012-03-30", progress=False)
    assert [s.status for s in resumed.symbols] == ["current", "current", "fresh", "fresh"]
    assert resumed.requests == 2
    assert load_bars(out, "daily", None, None).n_assets == 4


def test_unknown_symbol_is_reported_and_the_rest_goes_on(tmp_path):
    result = run_update("NOSUCH1,SYN003", tmp_path, start="2012-05-01", end="2012-05-31", progress=False)
    assert [s.status for s in result.symbols] == ["failed", "fresh"]
    assert "NOSUCH1" in result.failed[0].message or "200" in result.failed[0].message


def test_virtual_pacer_keeps_ibs_rules():
    pacer = VirtualPacer()
    for i in range(TEN_MINUTE_LIMIT + 12):
        pacer.reserve(HistoryKey(("SYN", i), (i % 3, "SMART", "TRADES")))
    sent = np.array(pacer.sent_at)
    assert pacer.waited_s > 0
    for j in range(TEN_MINUTE_LIMIT, len(sent)):  # never more than 60 in any 10 minutes
        assert sent[j] - sent[j - TEN_MINUTE_LIMIT] >= TEN_MINUTES_S - 1e-9
    same = sent[0::3]  # one contract family: at most 6 per 2 s
    assert all(same[j] - same[j - 6] >= BURST_WINDOW_S - 1e-9 for j in range(6, len(same)))


def test_universe_specs_and_the_command(tmp_path, capsys):
    listing = tmp_path / "universe.txt"
    listing.write_text("aapl\n# a comment\nSYN001  # synthetic\n\nAAPL\n")
    assert parse_universe(str(listing)) == ["AAPL", "SYN001"]
    csv = tmp_path / "u.csv"
    csv.write_text("Symbol,weight\nIBM,1\nSYN002,2\n")
    assert parse_universe(str(csv)) == ["IBM", "SYN002"]
    with pytest.raises(DataError, match="does not exist"):
        parse_universe("nope/universe.txt")
    out = tmp_path / "store"
    assert main(["data", "update", "--universe", str(listing), "--out", str(out), "--start", "2012-11-01",
                 "--end", "2012-11-30"]) == 0
    assert "2 fresh" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["AAPL.parquet", "SYN001.parquet"]
