"""Read one user bar file (CSV or Parquet) into checked numpy columns, with errors that point at the bad cell.

Column names are matched case-insensitively, ignoring surrounding spaces and treating spaces and hyphens as
underscores ("Adj Close" is ``adj_close``, "Ex-Dividend" is ``ex_dividend``).

| column | required | meaning |
|---|---|---|
| ``date`` or ``datetime`` | yes | the bar's date (daily) or time (minute); see :mod:`runtime.data.loaders` |
| ``open``, ``high``, ``low``, ``close`` | yes | unadjusted prices; empty for a bar without trades |
| ``volume`` | yes | shares or contracts traded (empty means 0) |
| ``adj_close`` | no | the source's split- and dividend-adjusted close: splits and dividends are derived from it |
| ``split_ratio`` | no | new shares per old share on the ex-date (2 for 2:1), 1 or empty otherwise |
| ``dividend`` (or ``ex_dividend``) | no | cash per share going ex on that date, 0 or empty otherwise |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from runtime.data.errors import (
    BadTimestampError,
    BadValueError,
    DataFileError,
    InconsistentBarError,
    MissingColumnError,
    NegativeVolumeError,
)

REQUIRED = ("open", "high", "low", "close", "volume")
OPTIONAL = ("adj_close", "split_ratio", "dividend")
_ALIASES = {
    "adjclose": "adj_close",
    "adjusted_close": "adj_close",
    "ex_dividend": "dividend",
    "dividends": "dividend",
    "split": "split_ratio",
}
SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


@dataclass(frozen=True, eq=False)
class BarTable:
    """The columns of one file in file order; ``stamps`` are parsed timestamps (naive local, or UTC if aware)."""

    path: Path
    time_column: str
    stamps: pd.DatetimeIndex
    values: dict[str, np.ndarray]

    def where(self, i: int) -> int:
        """The CSV line (header = line 1) or 1-based Parquet row of data row ``i``."""
        return i + 2 if is_csv(self.path) else i + 1


def is_csv(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz"))


def symbol_of(path: Path) -> str:
    """The symbol a file holds: its name without the bar-file suffix (``AAPL.csv`` -> ``AAPL``)."""
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _canonical(name: object) -> str:
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    return _ALIASES.get(key, key)


def read_bar_table(path: Path) -> BarTable:
    """Read and check one file: required columns, numbers, timestamps, high >= low, volume >= 0."""
    try:
        raw = pd.read_csv(path) if is_csv(path) else pd.read_parquet(path)
    except (OSError, ValueError, ImportError) as exc:
        raise DataFileError(path, f"cannot be read: {exc}") from exc
    columns: dict[str, str] = {}
    for original in raw.columns:
        columns.setdefault(_canonical(original), str(original))
    time_key = "datetime" if "datetime" in columns else "date"
    for key in (time_key, *REQUIRED):
        if key not in columns:
            wanted = "'date' or 'datetime'" if key == time_key else None
            raise MissingColumnError(path, key, [str(c) for c in raw.columns], wanted)
    table = BarTable(path, columns[time_key], _timestamps(path, raw[columns[time_key]]), {})
    for key in (*REQUIRED, *OPTIONAL):
        if key in columns:
            table.values[key] = _numbers(table, raw[columns[key]], columns[key])
    _check(table, columns)
    return table


def _numbers(table: BarTable, column: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    converted = pd.to_numeric(column, errors="coerce")
    text = column.astype("string").str.strip()
    bad = np.flatnonzero(converted.isna().to_numpy() & text.notna().to_numpy() & (text != "").fillna(False).to_numpy())
    if len(bad):
        i = int(bad[0])
        raise BadValueError(table.path, f"{column.iloc[i]!r} is not a number", line=table.where(i), column=name)
    return converted.to_numpy(dtype=np.float64, na_value=np.nan)


def _timestamps(path: Path, column: pd.Series) -> pd.DatetimeIndex:
    """Parse a date/datetime column; tz-aware values become UTC, naive ones stay naive (exchange local time)."""
    where = (lambda i: i + 2) if is_csv(path) else (lambda i: i + 1)
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(column).tz_convert("UTC").as_unit("ns")
    if pd.api.types.is_datetime64_dtype(column.dtype):
        parsed = pd.DatetimeIndex(column)
    else:
        text = column.astype("string").str.strip()
        parsed = None
        for fmt in ("ISO8601", None):
            try:
                attempt = pd.DatetimeIndex(pd.to_datetime(text, format=fmt, errors="coerce"))
            except ValueError:  # mixed UTC offsets
                attempt = pd.DatetimeIndex(pd.to_datetime(text, format=fmt, errors="coerce", utc=True))
            if parsed is None or attempt.isna().sum() < parsed.isna().sum():
                parsed = attempt
            if not parsed.isna().any():
                break
        assert parsed is not None
    bad = np.flatnonzero(parsed.isna())
    if len(bad):
        i = int(bad[0])
        raise BadTimestampError(
            path, f"{column.iloc[i]!r} is not a date or datetime", line=where(i), column=str(column.name)
        )
    if parsed.tz is not None:
        parsed = parsed.tz_convert("UTC")
    return parsed.as_unit("ns")


def _check(table: BarTable, columns: dict[str, str]) -> None:
    v = table.values
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(v["high"] < v["low"])
        if len(bad):
            i = int(bad[0])
            raise InconsistentBarError(
                table.path, f"high {v['high'][i]} is below low {v['low'][i]}", line=table.where(i),
                column=columns["high"],
            )  # fmt: skip
        bad = np.flatnonzero(v["volume"] < 0)
        if len(bad):
            i = int(bad[0])
            raise NegativeVolumeError(
                table.path, f"negative volume {v['volume'][i]}", line=table.where(i), column=columns["volume"]
            )
        for key, test, what in (
            ("split_ratio", lambda x: x <= 0, "a split ratio must be positive (2 for 2:1, 1 for no split)"),
            ("dividend", lambda x: x < 0, "a dividend must not be negative"),
        ):
            if key in v and len(bad := np.flatnonzero(test(v[key]))):
                i = int(bad[0])
                raise BadValueError(table.path, f"{v[key][i]}: {what}", line=table.where(i), column=columns[key])
    v["volume"] = np.nan_to_num(v["volume"], nan=0.0)
