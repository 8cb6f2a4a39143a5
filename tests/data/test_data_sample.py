"""The bundled sample: assets, ranges, calendar alignment and load time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from runtime.core.assets import KNOWN_SIDS
from runtime.data import SAMPLE_SYMBOLS, load_sample
from runtime.data.calendars import get_calendar


def test_assets_have_quantopian_sids_exchanges_names_and_listing_dates() -> None:
    store = load_sample()
    assert [a.symbol for a in store.assets] == list(SAMPLE_SYMBOLS)
    by_symbol = {a.symbol: a for a in store.assets}
    for symbol, sid in KNOWN_SIDS.items():
        assert by_symbol[symbol].sid == sid
    assert {s: a.primary_exchange for s, a in by_symbol.items()} == {
        "AAPL": "NASDAQ", "IBM": "NYSE", "MSFT": "NASDAQ", "GOOG": "NASDAQ", "FB": "NASDAQ",
    }  # fmt: skip
    assert by_symbol["AAPL"].asset_name == "APPLE INC"
    assert by_symbol["GOOG"].start_date == pd.Timestamp("2004-08-19")
    assert by_symbol["FB"].start_date == pd.Timestamp("2012-05-18")
    assert all(a.end_date == pd.Timestamp("2013-03-01") for a in store.assets)


def test_rows_are_xnys_sessions_with_real_bars() -> None:
    store = load_sample()
    cal = get_calendar("XNYS")
    assert store.calendar is cal and store.frequency == "daily"
    assert store.start == pd.Timestamp("2000-03-01") and store.end == pd.Timestamp("2013-03-01")
    assert store.n_rows == 3270
    np.testing.assert_array_equal(store.times, cal.closes[store.first_session : store.last_session + 1])
    counts = (~np.isnan(store.close)).sum(axis=0).tolist()
    assert counts == [3270, 3270, 3270, 2148, 196]
    aapl = store.column(24)
    assert store.close[0, aapl] == 130.31 and store.volume[0, aapl] == 9616100  # unadjusted, as in the file
    goog = store.column(26578)
    assert np.isnan(store.volume[0, goog])  # before GOOG's listing


def test_a_second_load_gives_the_same_bars() -> None:
    first = load_sample()
    store = load_sample()
    assert store.n_assets == 5
    np.testing.assert_array_equal(store.close, first.close)


def test_subset_of_symbols() -> None:
    store = load_sample(symbols=("msft", "IBM"))
    assert [a.symbol for a in store.assets] == ["MSFT", "IBM"]
    assert all(s.sid == 5061 for s in store.splits)
