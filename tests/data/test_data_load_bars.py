"""load_bars: sample or folder, daily or minute, range checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runtime.data import DateRangeError, FrequencyError, aggregate_daily, load_bars, synthetic_bars
from runtime.data.calendars import get_calendar

CAL = get_calendar("XNYS")
NY = "America/New_York"


def test_sample_daily_range() -> None:
    bars = load_bars(None, "daily", pd.Timestamp("2005-01-01"), pd.Timestamp("2005-12-31"))
    assert bars.frequency == "daily" and bars.start == pd.Timestamp("2005-01-03")
    assert bars.end == pd.Timestamp("2005-12-30") and bars.n_rows == 252
    assert [s.date for s in bars.splits] == [pd.Timestamp("2005-02-28")]
    whole = load_bars(None, "1d", None, None)
    assert whole.start == pd.Timestamp("2000-03-01") and whole.end == pd.Timestamp("2013-03-01")


def test_sample_minutes_are_generated_for_the_range() -> None:
    bars = load_bars(None, "minute", "2012-11-20", "2012-11-30", seed=4)
    assert bars.frequency == "minute" and bars.n_sessions == 8
    assert bars.n_rows == 7 * 390 + 210  # 11-22 Thanksgiving, 11-23 half day
    daily = load_bars(None, "daily", "2012-11-20", "2012-11-30")
    np.testing.assert_array_equal(aggregate_daily(bars).close, daily.close)
    np.testing.assert_array_equal(aggregate_daily(bars).volume, daily.volume)
    again = load_bars(None, "minute", "2012-11-20", "2012-11-30", seed=4)
    np.testing.assert_array_equal(again.close, bars.close)


def test_tz_aware_bounds_are_taken_as_dates() -> None:
    bars = load_bars(None, "daily", pd.Timestamp("2006-06-01", tz="UTC"), pd.Timestamp("2006-06-30", tz=NY))
    assert bars.start == pd.Timestamp("2006-06-01") and bars.end == pd.Timestamp("2006-06-30")


@pytest.mark.parametrize(
    ("start", "end"), [("1999-01-01", "2001-01-01"), ("2012-01-01", "2014-01-01"), ("2005-06-01", "2005-05-01")]
)
def test_ranges_outside_the_data_raise_with_the_available_range(start: str, end: str) -> None:
    with pytest.raises(DateRangeError, match=r"covers 2000-03-01\.\.2013-03-01") as info:
        load_bars(None, "daily", start, end)
    assert info.value.available == (pd.Timestamp("2000-03-01"), pd.Timestamp("2013-03-01"))


def test_unknown_frequency() -> None:
    with pytest.raises(FrequencyError, match="'5m'"):
        load_bars(None, "5m", None, None)


def _write_daily(folder: Path) -> None:
    daily = synthetic_bars(["AAA", "BBB"], "2024-01-02", "2024-03-28", seed=1)
    folder.mkdir(exist_ok=True)
    for j, asset in enumerate(daily.assets):
        pd.DataFrame(
            {"date": pd.DatetimeIndex(daily.sessions).strftime("%Y-%m-%d"),
             **{f: daily.field(f)[:, j] for f in ("open", "high", "low", "close", "volume")}}
        ).to_csv(folder / f"{asset.symbol}.csv", index=False)  # fmt: skip


def test_folder_daily_to_minute_and_symbols(tmp_path: Path) -> None:
    _write_daily(tmp_path)
    bars = load_bars(str(tmp_path), "minute", "2024-03-01", "2024-03-05", symbols=["bbb"])
    assert [a.symbol for a in bars.assets] == ["BBB"] and bars.n_rows == 3 * 390
    with pytest.raises(DateRangeError, match=r"covers 2024-01-02\.\.2024-03-28"):
        load_bars(str(tmp_path), "daily", "2024-03-01", "2024-04-30")


def test_folder_minute_to_daily(tmp_path: Path) -> None:
    minute = synthetic_bars(["AAA"], "2024-05-01", "2024-05-03", frequency="minute", seed=2)
    stamps = pd.DatetimeIndex(minute.times, tz="UTC").tz_convert(NY).tz_localize(None)
    pd.DataFrame(
        {"datetime": stamps, **{f: minute.field(f)[:, 0] for f in ("open", "high", "low", "close", "volume")}}
    ).to_parquet(tmp_path / "AAA.parquet")
    daily = load_bars(tmp_path, "daily", None, None)
    assert daily.frequency == "daily" and daily.n_rows == 3
    direct = synthetic_bars(["AAA"], "2024-05-01", "2024-05-03", seed=2)
    for f in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(daily.field(f), direct.field(f))
    same = load_bars(tmp_path, "minute", "2024-05-02", "2024-05-02")
    np.testing.assert_array_equal(same.close[:, 0], minute.close[390:780, 0])


def test_folder_loads_are_cached_until_a_file_changes(tmp_path: Path) -> None:
    _write_daily(tmp_path)
    first = load_bars(tmp_path, "daily", None, None)
    second = load_bars(tmp_path, "daily", None, None)
    assert np.shares_memory(first.close, second.close)
    frame = pd.read_csv(tmp_path / "AAA.csv")
    frame.loc[0, "close"] = frame.loc[0, "high"]
    frame.to_csv(tmp_path / "AAA.csv", index=False)
    third = load_bars(tmp_path, "daily", None, None)
    assert third.close[0, 0] == frame.loc[0, "high"]
