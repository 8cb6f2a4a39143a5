"""Splits and dividends derived from Adj Close: the real sample's actions, noise robustness, property checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.data import derive_actions, load_sample, snap_split_ratio
from runtime.data.adjustments import FORWARD_SPLIT_RATIOS
from runtime.data.calendars import get_calendar
from runtime.data.sample import _parsed

CAL = get_calendar("XNYS")


def test_snap_split_ratio() -> None:
    assert snap_split_ratio(2.0004) == 2.0
    assert snap_split_ratio(1.4991) == 1.5
    assert snap_split_ratio(7.003) == 7.0
    assert snap_split_ratio(0.10005) == 0.1
    assert snap_split_ratio(1.111) is None  # a 10% special dividend is not a 10:9 split
    assert snap_split_ratio(2.3) is None
    assert snap_split_ratio(0.0) is None


def test_sample_splits_are_detected() -> None:
    store = load_sample()
    found = {(s.sid, s.date, s.ratio) for s in store.splits}
    assert (24, pd.Timestamp("2005-02-28"), 2.0) in found  # AAPL 2:1
    assert (24, pd.Timestamp("2000-06-21"), 2.0) in found  # AAPL 2:1
    assert (5061, pd.Timestamp("2003-02-18"), 2.0) in found  # MSFT 2:1
    assert len(found) == 3


@pytest.mark.parametrize(("symbol", "split_day"), [("AAPL", "2005-02-28"), ("MSFT", "2003-02-18")])
def test_adjusted_history_across_a_split_shows_no_false_crash(symbol: str, split_day: str) -> None:
    store = load_sample()
    col = store.column(store.assets[[a.symbol for a in store.assets].index(symbol)])
    k = store.session_offset(split_day)
    raw = store.close[k - 20 : k + 20, col]
    assert raw[20] / raw[19] < 0.6  # the raw prices do halve
    # a naive strategy 10 sessions after the split reads 30 days of adjusted closes
    now = k + 10
    seen = store.adjusted("close", slice(now - 29, now + 1), np.array([col]), now)[:, 0]
    assert np.min(seen[1:] / seen[:-1]) > 0.85
    # before the split, history is not adjusted for it (no look-ahead)
    before = store.adjusted("close", slice(k - 10, k), np.array([col]), k - 1)[:, 0]
    np.testing.assert_array_equal(before, store.close[k - 10 : k, col])


def _dividends(symbol: str) -> dict[pd.Timestamp, float]:
    return {d.ex_date: d.amount for d in _parsed()[symbol].dividends}


def test_real_dividends_come_out_close_to_the_true_amounts() -> None:
    msft = _dividends("MSFT")
    assert msft[pd.Timestamp("2004-11-15")] == pytest.approx(3.00, rel=0.02)  # the special dividend
    assert msft[pd.Timestamp("2003-02-19")] == pytest.approx(0.08, rel=0.03)  # first regular dividend
    assert msft[pd.Timestamp("2005-02-15")] == pytest.approx(0.08, rel=0.03)
    assert msft[pd.Timestamp("2012-11-13")] == pytest.approx(0.23, rel=0.05)
    ibm = _dividends("IBM")
    assert len(ibm) == 52  # quarterly, 13 years
    assert ibm[pd.Timestamp("2001-05-08")] == pytest.approx(0.14, rel=0.04)
    assert ibm[pd.Timestamp("2012-08-08")] == pytest.approx(0.85, rel=0.04)
    gaps = np.diff(np.array(sorted(ibm), dtype="datetime64[D]").astype(np.int64))
    assert gaps.min() > 80 and gaps.max() < 100
    aapl = _dividends("AAPL")
    assert sorted(aapl) == [pd.Timestamp(d) for d in ("2012-08-09", "2012-11-07", "2013-02-07")]
    assert all(v == pytest.approx(2.65, rel=0.04) for v in aapl.values())
    assert _dividends("GOOG") == {} and _dividends("FB") == {}


@pytest.mark.parametrize("noise", ["round2", "jitter"])
def test_rounding_noise_does_not_become_phantom_dividends(noise: str) -> None:
    frame = pd.read_csv(
        "runtime/data/sample/us-stocks-daily-2000-2013.csv.gz", usecols=["Ticker", "Date", "Close", "Adj Close"]
    )
    rng = np.random.default_rng(7)
    for symbol, rows in frame.groupby("Ticker"):
        adj = rows["Adj Close"].to_numpy()
        adj = np.round(adj, 2) if noise == "round2" else adj * (1 + rng.normal(0, 2e-7, len(adj)))
        splits, dividends = derive_actions(1, pd.to_datetime(rows["Date"]), rows["Close"].to_numpy(), adj)
        clean = _parsed()[str(symbol)]
        assert [s.date for s in splits] == [s.date for s in clean.splits]
        assert [d.ex_date for d in dividends] == [d.ex_date for d in clean.dividends], symbol
        for got, want in zip(dividends, clean.dividends):
            assert got.amount == pytest.approx(want.amount, rel=0.1, abs=0.01)


def test_flat_factor_with_tiny_noise_has_no_actions() -> None:
    n = 2000
    rng = np.random.default_rng(1)
    close = np.round(50 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), 2)
    adj = np.round(close * 0.731, 6) * (1 + rng.normal(0, 1e-9, n))
    assert derive_actions(1, CAL.sessions[:n], close, adj) == ((), ())


def test_missing_values_are_skipped() -> None:
    close = np.array([100.0, np.nan, 100.0, 50.0, 51.0])
    adj = np.array([50.0, 50.0, np.nan, 50.0, 51.0])
    splits, dividends = derive_actions(1, CAL.sessions[:5], close, adj)
    assert [(s.date, s.ratio) for s in splits] == [(pd.Timestamp(CAL.sessions[3]), 2.0)] and dividends == ()


@settings(max_examples=40, deadline=None)
@given(
    ratio=st.sampled_from(FORWARD_SPLIT_RATIOS + tuple(1 / r for r in FORWARD_SPLIT_RATIOS[:8])),
    split_at=st.integers(20, 150),
    dividend_at=st.integers(160, 280),
    yield_=st.floats(0.001, 0.05),
    seed=st.integers(0, 10_000),
)
def test_synthetic_actions_are_recovered(
    ratio: float, split_at: int, dividend_at: int, yield_: float, seed: int
) -> None:
    """Build Adj Close from known actions the way a data vendor does, and find them again."""
    n = 300
    rng = np.random.default_rng(seed)
    close = 40 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    close[split_at:] /= ratio
    close = np.round(close, 2)
    amount = round(close[dividend_at - 1] * yield_, 4)
    k = np.ones(n)
    k[:split_at] *= 1 / ratio
    k[:dividend_at] *= 1 - amount / close[dividend_at - 1]
    adj = close * k * 0.9  # 0.9: actions after the data also sit in the factor
    splits, dividends = derive_actions(9, CAL.sessions[:n], close, adj)
    assert [(s.date, s.ratio) for s in splits] == [(pd.Timestamp(CAL.sessions[split_at]), ratio)]
    assert len(dividends) == 1 and dividends[0].ex_date == pd.Timestamp(CAL.sessions[dividend_at])
    assert dividends[0].amount == pytest.approx(amount, abs=1e-4)
