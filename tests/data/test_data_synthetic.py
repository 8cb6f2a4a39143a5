"""Synthetic minutes (exactly consistent with the daily bars) and synthetic daily prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.core.assets import Asset, SecType
from runtime.data import (
    AssetSeries,
    BarArrays,
    DateRangeError,
    assemble,
    expand_to_minutes,
    load_sample,
    synthetic_bars,
)
from runtime.data.calendars import get_calendar

CAL = get_calendar("XNYS")


def _assert_consistent(minute: BarArrays, daily: BarArrays) -> None:
    offset = minute.first_session - daily.first_session
    for k in range(minute.n_sessions):
        rows, d = minute.session_rows(k), k + offset
        traded = ~np.isnan(daily.close[d])
        o, h, lo, c, v = (getattr(minute, f)[rows] for f in ("open", "high", "low", "close", "volume"))
        np.testing.assert_array_equal(o[0, traded], daily.open[d, traded])
        np.testing.assert_array_equal(c[-1, traded], daily.close[d, traded])
        np.testing.assert_array_equal(h[:, traded].max(axis=0), daily.high[d, traded])
        np.testing.assert_array_equal(lo[:, traded].min(axis=0), daily.low[d, traded])
        np.testing.assert_array_equal(v.sum(axis=0), daily.volume[d])
        assert (v[:, traded] >= 0).all()
        assert (h[:, traded] >= np.maximum(o, c)[:, traded]).all()
        assert (lo[:, traded] <= np.minimum(o, c)[:, traded]).all()
        np.testing.assert_array_equal(o[1:, traded], c[:-1, traded])
        assert np.isnan(c[:, ~traded]).all()


def test_minute_counts_2024() -> None:
    daily = synthetic_bars(["AAA"], "2024-01-01", "2024-12-31")
    minute = expand_to_minutes(daily)
    assert minute.n_rows == 97_740
    assert minute.n_sessions == 252
    k = minute.session_offset("2024-11-29")
    rows = minute.session_rows(k)
    assert rows.stop - rows.start == 210
    last = pd.Timestamp(int(minute.times[rows.stop - 1]), tz="UTC").tz_convert("America/New_York")
    assert last == pd.Timestamp("2024-11-29 13:00", tz="America/New_York")


def test_sample_expansion_is_consistent_across_a_split_and_listing_gaps() -> None:
    daily = load_sample()
    minute = expand_to_minutes(daily, "2005-02-15", "2005-03-15", seed=3)
    _assert_consistent(minute, daily)
    assert [s.date for s in minute.splits] == [pd.Timestamp("2005-02-28")]
    aapl = minute.column(24)
    k = minute.session_offset("2005-02-28")
    rows = minute.session_rows(k)
    # seen during the split session, the previous session's minutes are halved
    before = minute.adjusted("close", slice(rows.start - 1, rows.start), np.array([aapl]), rows.start)[0, 0]
    assert before == pytest.approx(minute.close[rows.start - 1, aapl] / 2)
    assert (~np.isnan(minute.close[:, minute.column(26578)])).all()  # GOOG is listed since 2004
    fb = minute.column(42950)
    assert np.isnan(minute.volume[:, fb]).all() and np.isnan(minute.close[:, fb]).all()  # FB is not listed yet


def test_deterministic_and_independent_of_range_and_other_symbols() -> None:
    daily = load_sample()
    a = expand_to_minutes(daily, "2006-03-01", "2006-03-10", seed=5)
    b = expand_to_minutes(daily, "2006-03-01", "2006-03-10", seed=5)
    np.testing.assert_array_equal(a.close, b.close)
    wide = expand_to_minutes(daily, "2006-02-20", "2006-03-20", seed=5)
    r0 = wide.row_of(int(a.times[0]))
    np.testing.assert_array_equal(wide.close[r0 : r0 + a.n_rows], a.close)
    np.testing.assert_array_equal(wide.volume[r0 : r0 + a.n_rows], a.volume)
    other_seed = expand_to_minutes(daily, "2006-03-01", "2006-03-10", seed=6)
    assert not np.array_equal(other_seed.close, a.close)
    alone = expand_to_minutes(load_sample(symbols=("IBM",)), "2006-03-01", "2006-03-10", seed=5)
    np.testing.assert_array_equal(alone.close[:, 0], a.close[:, a.column(3766)])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n_days=st.integers(1, 6),
    ranges=st.lists(st.floats(0.0, 0.08), min_size=6, max_size=6),
    gaps=st.lists(st.booleans(), min_size=6, max_size=6),
    tick=st.sampled_from([0.01, 0.25, 0.00005]),
    price=st.floats(0.5, 5000.0),
)
def test_expansion_matches_any_daily_bars(
    seed: int, n_days: int, ranges: list[float], gaps: list[bool], tick: float, price: float
) -> None:
    """Arbitrary tick-aligned daily bars (including flat days and days without trades) expand consistently."""
    rng = np.random.default_rng(seed)
    k0 = CAL.session_index_on_or_after("2024-11-25")
    times = CAL.closes[k0 : k0 + n_days]
    base = np.round(price / tick) * tick
    width = np.round(base * np.array(ranges[:n_days]) / tick) * tick
    low = np.round(np.maximum(base - width * rng.uniform(0, 1, n_days), tick) / tick) * tick
    high = low + width
    open_ = np.round((low + (high - low) * rng.uniform(0, 1, n_days)) / tick) * tick
    close = np.round((low + (high - low) * rng.uniform(0, 1, n_days)) / tick) * tick
    # rounding can put open/close one ulp outside [low, high]; real bars never are
    open_, close = np.clip(open_, low, high), np.clip(close, low, high)
    volume = np.round(rng.uniform(0, 1e6, n_days))
    missing = np.array(gaps[:n_days]) & (np.arange(n_days) > 0) & (np.arange(n_days) < n_days - 1)
    for arr in (open_, high, low, close):
        arr[missing] = np.nan
    volume[missing] = 0.0
    asset = Asset(7, "ZZZ", tick_size=tick)
    daily = assemble(CAL, "daily", [AssetSeries(asset, times, open_, high, low, close, volume)])
    minute = expand_to_minutes(daily, seed=seed)
    _assert_consistent(minute, daily)


def test_expanding_a_year_of_ten_symbols_gives_every_minute() -> None:
    daily = synthetic_bars([f"S{i}" for i in range(10)], "2024-01-01", "2024-12-31")
    minute = expand_to_minutes(daily)
    assert minute.close.shape == (97_740, 10)


def test_synthetic_daily_prices_look_real() -> None:
    store = synthetic_bars(["AAPL", "XYZ", "EUR.USD", "ES"], "2015-01-01", "2024-12-31", seed=11)
    assert store.frequency == "daily" and store.start == pd.Timestamp("2015-01-02")
    assert store.n_rows == CAL.session_index_on_or_before("2024-12-31") - store.first_session + 1
    assert not np.isnan(store.close).any()
    assert (store.high >= np.maximum(store.open, store.close)).all()
    assert (store.low <= np.minimum(store.open, store.close)).all()
    assert (store.low > 0).all() and (store.volume > 0).all()
    returns = np.diff(np.log(store.close), axis=0)
    annual_vol = returns.std(axis=0) * np.sqrt(252)
    assert ((annual_vol > 0.03) & (annual_vol < 0.6)).all()
    eur, es = store.assets[2], store.assets[3]
    assert eur.sec_type is SecType.CASH and eur.local_symbol == "EUR.USD" and eur.exchange == "IDEALPRO"
    assert es.sec_type is SecType.FUTURE and es.multiplier == 50.0 and es.tick_size == 0.25
    assert store.close[:, 2].min() > 0.6 and store.close[:, 2].max() < 2.0  # EUR.USD stays plausible
    es_close = store.close[:, 3]
    np.testing.assert_allclose(es_close / 0.25, np.round(es_close / 0.25), atol=1e-9)  # on ES's tick
    assert store.splits == () and store.dividends == ()


def test_synthetic_is_deterministic_and_range_independent() -> None:
    a = synthetic_bars(["ES", "EUR.USD"], "2020-01-01", "2020-12-31", seed=2)
    b = synthetic_bars(["EUR.USD"], "2020-06-01", "2020-06-30", seed=2)
    r0 = a.row_of(int(b.times[0]))
    np.testing.assert_array_equal(a.close[r0 : r0 + b.n_rows, 1], b.close[:, 0])
    c = synthetic_bars(["ES", "EUR.USD"], "2020-01-01", "2020-12-31", seed=3)
    assert not np.array_equal(a.close, c.close)


def test_synthetic_minutes_on_the_futures_calendar() -> None:
    cal = get_calendar("us_futures")
    store = synthetic_bars(["ES"], "2024-03-04", "2024-03-08", frequency="1m", calendar=cal)
    assert store.frequency == "minute" and store.calendar is cal
    assert store.n_rows == int(cal.minute_counts(store.first_session, store.last_session).sum())
    assert store.n_rows > 5 * 390


def test_requests_outside_the_data_raise() -> None:
    daily = load_sample()
    with pytest.raises(DateRangeError, match=r"2000-03-01\.\.2013-03-01"):
        expand_to_minutes(daily, "2013-01-01", "2014-01-31")
