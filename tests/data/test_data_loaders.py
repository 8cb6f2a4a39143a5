"""Loading user folders of CSV / Parquet bar files, and the typed errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.core.assets import SecType
from runtime.data import (
    BadTimestampError,
    BadValueError,
    DataError,
    DuplicateTimestampError,
    InconsistentBarError,
    MissingColumnError,
    MixedFrequencyError,
    NegativeVolumeError,
    NoDataError,
    OffCalendarError,
    load_folder,
)
from runtime.data.calendars import get_calendar

CAL = get_calendar("XNYS")
NY = "America/New_York"


def _daily_frame(start: str = "2024-01-02", n: int = 30, seed: int = 0) -> pd.DataFrame:
    days = CAL.sessions[CAL.session_index_on_or_after(start) :][:n]
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))), 2)
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex(days).strftime("%Y-%m-%d"),
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": np.arange(n) * 100 + 1000,
        }
    )


def _minute_frame(day: str = "2024-01-02", label: str = "end") -> pd.DataFrame:
    k = CAL.session_index_on_or_after(day)
    stamps = pd.DatetimeIndex(CAL.session_minutes(k), tz="UTC").tz_convert(NY).tz_localize(None)
    if label == "start":
        stamps = stamps - pd.Timedelta(minutes=1)
    n = len(stamps)
    price = 50 + np.arange(n) * 0.01
    return pd.DataFrame(
        {"datetime": stamps.strftime("%Y-%m-%d %H:%M:%S"), "open": price, "high": price + 0.02,
         "low": price - 0.02, "close": price, "volume": np.full(n, 10)}
    )  # fmt: skip


def _write(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------------------------------------- success
def test_daily_csv_and_parquet_folder(tmp_path: Path) -> None:
    _write(tmp_path, "AAA.csv", _daily_frame())
    parquet = _daily_frame("2024-01-05", 10, seed=1)
    parquet["date"] = pd.to_datetime(parquet["date"])  # a real datetime column
    _write(tmp_path, "BBB.parquet", parquet)
    store = load_folder(tmp_path)
    assert store.frequency == "daily" and [a.symbol for a in store.assets] == ["AAA", "BBB"]
    assert store.start == pd.Timestamp("2024-01-02") and store.n_rows == 30
    assert store.assets[1].start_date == pd.Timestamp("2024-01-05")
    b = store.column(store.assets[1])
    first_b = store.session_offset("2024-01-05")
    np.testing.assert_array_equal(store.close[first_b : first_b + 10, b], parquet["close"].to_numpy())
    assert np.isnan(store.close[:first_b, b]).all()


def test_column_names_are_case_insensitive_and_rows_may_be_unsorted(tmp_path: Path) -> None:
    frame = _daily_frame(n=5).rename(columns=str.title).rename(columns={"Date": " DATE "})
    _write(tmp_path, "aaa.csv", frame.iloc[::-1])
    store = load_folder(tmp_path)
    assert store.assets[0].symbol == "AAA"
    np.testing.assert_array_equal(store.close[:, 0], frame["Close"].to_numpy())


def test_adj_close_yields_splits_and_dividends(tmp_path: Path) -> None:
    frame = _daily_frame(n=40)
    close = frame["close"].to_numpy().copy()
    close[20:] = np.round(close[20:] / 2, 2)  # a 2:1 split on row 20
    k = np.ones(40)
    k[:20] /= 2
    k[:30] *= 1 - 0.25 / close[29]  # a $0.25 dividend going ex on row 30
    frame["close"], frame["open"], frame["high"], frame["low"] = close, close, close + 0.5, close - 0.5
    frame["Adj Close"] = close * k
    _write(tmp_path, "AAA.csv", frame)
    store = load_folder(tmp_path)
    assert [(s.date, s.ratio) for s in store.splits] == [(pd.Timestamp(frame["date"][20]), 2.0)]
    assert [(d.ex_date, d.amount) for d in store.dividends] == [(pd.Timestamp(frame["date"][30]), 0.25)]
    seen = store.adjusted("close", slice(0, 40), np.array([0]), 39)[:, 0]
    np.testing.assert_allclose(seen, frame["Adj Close"] / k[-1] * 1.0, rtol=1e-9)


def test_explicit_split_and_dividend_columns(tmp_path: Path) -> None:
    frame = _daily_frame(n=10)
    frame["split_ratio"] = 1.0
    frame.loc[4, "split_ratio"] = 3.0
    frame["Ex-Dividend"] = 0.0
    frame.loc[7, "Ex-Dividend"] = 0.5
    _write(tmp_path, "AAA.csv", frame)
    store = load_folder(tmp_path)
    assert [(s.date, s.ratio) for s in store.splits] == [(pd.Timestamp(frame["date"][4]), 3.0)]
    assert [(d.ex_date, d.amount) for d in store.dividends] == [(pd.Timestamp(frame["date"][7]), 0.5)]


def test_minute_end_labels_start_labels_and_utc_stamps_agree(tmp_path: Path) -> None:
    _write(tmp_path / "end", "AAA.csv", _minute_frame())
    _write(tmp_path / "start", "AAA.csv", _minute_frame(label="start"))
    utc = _minute_frame()
    utc["datetime"] = (
        pd.to_datetime(utc["datetime"]).dt.tz_localize(NY).dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    _write(tmp_path / "utc", "AAA.csv", utc)
    end = load_folder(tmp_path / "end")
    start = load_folder(tmp_path / "start", minute_label="start")
    aware = load_folder(tmp_path / "utc")
    assert end.frequency == "minute" and end.n_rows == 390
    first = pd.Timestamp(int(end.times[0]), tz="UTC").tz_convert(NY)
    assert (first.hour, first.minute) == (9, 31)
    for other in (start, aware):
        np.testing.assert_array_equal(other.times, end.times)
        np.testing.assert_array_equal(other.close, end.close)


def test_minute_file_with_gaps_and_an_early_close(tmp_path: Path) -> None:
    frame = _minute_frame("2024-11-29").iloc[::7]  # every 7th minute of the 13:00 close day
    _write(tmp_path, "AAA.csv", frame)
    store = load_folder(tmp_path)
    assert store.n_rows == 210
    assert (~np.isnan(store.close[:, 0])).sum() == len(frame)
    assert (store.volume[:, 0] == 0).sum() == 210 - len(frame)


def test_fx_file_name_is_an_fx_pair(tmp_path: Path) -> None:
    _write(tmp_path, "EUR.USD.csv", _daily_frame(n=3))
    asset = load_folder(tmp_path).assets[0]
    assert asset.sec_type is SecType.CASH and asset.symbol == "EUR" and asset.currency == "USD"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 1000),
    fmt=st.sampled_from(["csv", "parquet"]),
)
def test_round_trip(tmp_path: Path, n: int, seed: int, fmt: str) -> None:
    folder = tmp_path / f"{fmt}-{n}-{seed}"
    frame = _daily_frame("2023-06-01", n, seed)
    _write(folder, f"XYZ.{fmt}", frame)
    store = load_folder(folder)
    assert store.n_rows == n
    for field in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(store.field(field)[:, 0], frame[field].to_numpy(dtype=float))


# --------------------------------------------------------------------------------------------------------- errors
def test_missing_column(tmp_path: Path) -> None:
    _write(tmp_path, "AAA.csv", _daily_frame().drop(columns=["volume"]))
    with pytest.raises(MissingColumnError, match=r"AAA\.csv: missing column 'volume' \(found: date, open") as info:
        load_folder(tmp_path)
    assert info.value.column == "volume" and info.value.path.name == "AAA.csv"


def test_missing_date_column(tmp_path: Path) -> None:
    _write(tmp_path, "AAA.csv", _daily_frame().rename(columns={"date": "day"}))
    with pytest.raises(MissingColumnError, match="'date' or 'datetime'"):
        load_folder(tmp_path)


def test_unparseable_date_names_the_line(tmp_path: Path) -> None:
    frame = _daily_frame()
    frame.loc[6, "date"] = "2024-13-45"
    _write(tmp_path, "AAA.csv", frame)
    with pytest.raises(BadTimestampError, match=r"AAA\.csv, line 8, column 'date': '2024-13-45'") as info:
        load_folder(tmp_path)
    assert info.value.line == 8


def test_bad_number(tmp_path: Path) -> None:
    frame = _daily_frame().astype({"close": object})
    frame.loc[2, "close"] = "12,5x"
    _write(tmp_path, "AAA.csv", frame)
    with pytest.raises(BadValueError, match=r"line 4, column 'close'"):
        load_folder(tmp_path)


def test_duplicate_timestamps(tmp_path: Path) -> None:
    frame = _daily_frame(n=10)
    frame.loc[9, "date"] = frame.loc[3, "date"]
    _write(tmp_path, "AAA.csv", frame)
    with pytest.raises(DuplicateTimestampError, match=r"line 11.*repeats line 5") as info:
        load_folder(tmp_path)
    assert info.value.line == 11


def test_high_below_low(tmp_path: Path) -> None:
    frame = _daily_frame()
    frame.loc[5, "high"] = frame.loc[5, "low"] - 1
    _write(tmp_path, "AAA.csv", frame)
    with pytest.raises(InconsistentBarError, match=r"line 7, column 'high'"):
        load_folder(tmp_path)


def test_negative_volume_in_parquet_names_the_row(tmp_path: Path) -> None:
    frame = _daily_frame()
    frame.loc[0, "volume"] = -5
    _write(tmp_path, "AAA.parquet", frame)
    with pytest.raises(NegativeVolumeError, match=r"AAA\.parquet, row 1, column 'volume'"):
        load_folder(tmp_path)


def test_holiday_is_off_calendar(tmp_path: Path) -> None:
    frame = _daily_frame("2024-07-01", 5)
    frame.loc[2, "date"] = "2024-07-04"
    _write(tmp_path, "AAA.csv", frame)
    with pytest.raises(OffCalendarError, match=r"line 4.*2024-07-04 is not a XNYS trading session"):
        load_folder(tmp_path)


def test_start_labelled_minutes_read_as_end_labels_are_off_calendar(tmp_path: Path) -> None:
    _write(tmp_path, "AAA.csv", _minute_frame(label="start"))
    with pytest.raises(OffCalendarError, match=r"line 2.*09:30.*minute_label='start'"):
        load_folder(tmp_path)


def test_minute_outside_the_early_close(tmp_path: Path) -> None:
    frame = _minute_frame("2024-11-29")
    extra = frame.iloc[[-1]].assign(datetime="2024-11-29 13:05:00")
    _write(tmp_path, "AAA.csv", pd.concat([frame, extra]))
    with pytest.raises(OffCalendarError, match="line 212"):
        load_folder(tmp_path)


def test_mixed_frequencies(tmp_path: Path) -> None:
    _write(tmp_path, "AAA.csv", _daily_frame())
    _write(tmp_path, "BBB.csv", _minute_frame())
    with pytest.raises(MixedFrequencyError, match="daily: AAA; minute: BBB"):
        load_folder(tmp_path)


def test_folder_problems(tmp_path: Path) -> None:
    with pytest.raises(NoDataError, match="does not exist"):
        load_folder(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(NoDataError, match="no bar files"):
        load_folder(tmp_path)
    _write(tmp_path, "AAA.csv", _daily_frame())
    _write(tmp_path, "AAA.parquet", _daily_frame())
    with pytest.raises(DataError, match="two files for AAA"):
        load_folder(tmp_path)
    (tmp_path / "AAA.parquet").unlink()
    with pytest.raises(NoDataError, match="no file for ZZZ"):
        load_folder(tmp_path, symbols=["ZZZ"])
