"""BarArrays: lookups, slicing, read-only arrays, adjustment factors and build speed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.core.assets import Asset
from runtime.data import AssetSeries, BarArrays, Dividend, Split, assemble, synthetic_bars
from runtime.data.calendars import get_calendar
from runtime.data.errors import SidNotFoundError

CAL = get_calendar("XNYS")


def _series(asset: Asset, days: list[str], closes: list[float], **actions: tuple) -> AssetSeries:
    k = np.array([CAL.session_index_on_or_after(d) for d in days])
    c = np.array(closes, dtype=float)
    return AssetSeries(asset, CAL.closes[k], c, c + 1, c - 1, c, np.full(len(c), 100.0), **actions)


def test_daily_rows_are_session_closes_and_lookups_work() -> None:
    a = Asset(1, "AAA")
    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    store = assemble(CAL, "daily", [_series(a, days, [10, 11, 12, 13])])
    assert store.n_rows == 4 and store.n_sessions == 4 and store.start == pd.Timestamp("2024-01-02")
    assert list(store.session_row_start) == [0, 1, 2, 3, 4]
    close_0103 = pd.Timestamp("2024-01-03 16:00", tz="America/New_York").value
    assert store.row_of(close_0103) == 1
    assert store.row_of(close_0103 - 1) == -1
    assert store.row_at_or_before(close_0103 - 1) == 0
    assert store.row_at_or_before(0) == -1
    assert list(store.rows_at_or_before(np.array([close_0103, close_0103 + 1]))) == [1, 1]
    assert store.column(a) == 0 and store.column(1) == 0
    with pytest.raises(SidNotFoundError):
        store.column(2)
    assert store.assets[0].start_date == pd.Timestamp("2024-01-02")
    assert store.assets[0].end_date == pd.Timestamp("2024-01-05")


def test_arrays_are_read_only() -> None:
    store = assemble(CAL, "daily", [_series(Asset(1, "AAA"), ["2024-01-02"], [10])])
    with pytest.raises(ValueError):
        store.close[0, 0] = 1.0


def test_missing_bars_inside_listing_are_nan_with_zero_volume_and_nan_outside() -> None:
    a, b = Asset(1, "AAA"), Asset(2, "BBB")
    s_a = _series(a, ["2024-01-02", "2024-01-04"], [10, 12])  # no bar on 01-03
    s_b = _series(b, ["2024-01-04", "2024-01-05"], [5, 6])  # listed from 01-04
    store = assemble(CAL, "daily", [s_a, s_b])
    assert np.isnan(store.close[1, 0]) and store.volume[1, 0] == 0.0
    assert np.isnan(store.volume[3, 0])  # after AAA's last bar: outside the listing
    assert np.isnan(store.close[0, 1]) and np.isnan(store.volume[0, 1])
    assert list(store.last_traded_row[:, 0]) == [0, 0, 2, 2]


def test_factors_give_as_of_adjustment() -> None:
    a = Asset(1, "AAA")
    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
    splits = (Split(1, pd.Timestamp("2024-01-04"), 2.0),)
    dividends = (Dividend(1, pd.Timestamp("2024-01-08"), 1.0),)
    store = assemble(CAL, "daily", [_series(a, days, [100, 100, 50, 50, 49], splits=splits, dividends=dividends)])
    cols = np.array([0])
    # seen on 01-03 (before the split) nothing is adjusted
    assert store.adjusted("close", slice(0, 2), cols, 1)[:, 0].tolist() == [100, 100]
    # seen on 01-05 the pre-split closes are halved, the volumes doubled
    assert store.adjusted("close", slice(0, 4), cols, 3)[:, 0].tolist() == [50, 50, 50, 50]
    assert store.adjusted("volume", slice(0, 4), cols, 3)[:, 0].tolist() == [200, 200, 100, 100]
    # seen on 01-08 the dividend ratio 1 - 1/50 applies to everything before
    seen = store.adjusted("close", slice(0, 5), cols, 4)[:, 0]
    np.testing.assert_allclose(seen, [49, 49, 49, 49, 49])
    assert store.splits == splits and store.dividends == dividends


def test_minute_rows_and_session_row_start() -> None:
    store = synthetic_bars(["AAA"], "2024-11-27", "2024-12-02", frequency="minute")
    counts = np.diff(store.session_row_start)
    assert counts.tolist() == [390, 210, 390]  # 11-28 is Thanksgiving, 11-29 closes at 13:00
    k = store.session_offset("2024-11-29")
    rows = store.session_rows(k)
    first = pd.Timestamp(int(store.times[rows.start]), tz="UTC").tz_convert("America/New_York")
    last = pd.Timestamp(int(store.times[rows.stop - 1]), tz="UTC").tz_convert("America/New_York")
    assert (first.hour, first.minute, last.hour, last.minute) == (9, 31, 13, 0)
    assert store.session_of_row(rows.start) == k and store.session_of_row(rows.stop - 1) == k
    assert store.session_offset("2024-11-28") == -1


def test_slice_sessions_is_a_view_with_actions_in_range() -> None:
    a = Asset(1, "AAA")
    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    splits = (Split(1, pd.Timestamp("2024-01-04"), 2.0),)
    store = assemble(CAL, "daily", [_series(a, days, [100, 100, 50, 50], splits=splits)])
    part = store.slice_sessions(store.first_session, store.first_session + 1)
    assert part.n_rows == 2 and part.splits == () and part.end == pd.Timestamp("2024-01-03")
    assert np.shares_memory(part.close, store.close)
    late = store.slice_sessions(store.first_session + 2, store.last_session)
    assert late.splits == splits and list(late.session_row_start) == [0, 1, 2]


def test_ten_years_of_100_symbols_build() -> None:
    rng = np.random.default_rng(0)
    first, last = CAL.session_index_on_or_after("2010-01-01"), CAL.session_index_on_or_before("2019-12-31")
    times = CAL.closes[first : last + 1]
    series = []
    for i in range(100):
        c = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, len(times))))
        series.append(AssetSeries(Asset(i + 1, f"S{i}"), times, c, c * 1.01, c * 0.99, c, np.full(len(c), 1e6)))
    store = assemble(CAL, "daily", series)
    assert isinstance(store, BarArrays) and store.close.shape == (len(times), 100)


@settings(max_examples=30, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(1, 39), st.booleans(), st.floats(0.01, 0.2)),
        min_size=0,
        max_size=5,
        unique_by=lambda e: e[0],
    ),
    as_of=st.integers(0, 39),
)
def test_factors_match_a_naive_as_of_adjustment(events: list[tuple[int, bool, float]], as_of: int) -> None:
    """raw[t] * F[t] / F[T] equals applying, one by one, every action with t < ex row <= T."""
    n = 40
    a = Asset(1, "AAA")
    first = CAL.session_index_on_or_after("2023-01-03")
    days = [str(CAL.session_label(first + i).date()) for i in range(n)]
    closes = list(np.linspace(100, 80, n))
    splits = tuple(Split(1, pd.Timestamp(days[r]), 1 + round(x * 10)) for r, is_split, x in events if is_split)
    dividends = tuple(
        Dividend(1, pd.Timestamp(days[r]), round(closes[r - 1] * x, 4)) for r, is_split, x in events if not is_split
    )
    store = assemble(CAL, "daily", [_series(a, days, closes, splits=splits, dividends=dividends)])
    seen = store.adjusted("close", slice(0, n), np.array([0]), as_of)[:, 0]
    seen_volume = store.adjusted("volume", slice(0, n), np.array([0]), as_of)[:, 0]
    for t in range(as_of + 1):  # history only: rows at or before the as-of row
        price, volume = closes[t], 100.0
        for s in splits:
            if t < days.index(str(s.date.date())) <= as_of:
                price, volume = price / s.ratio, volume * s.ratio
        for d in dividends:
            ex = days.index(str(d.ex_date.date()))
            if t < ex <= as_of:
                price *= 1 - d.amount / closes[ex - 1]
        assert seen[t] == pytest.approx(price, rel=1e-12)
        assert seen_volume[t] == pytest.approx(volume, rel=1e-12)
