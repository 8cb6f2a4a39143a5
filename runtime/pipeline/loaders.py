"""Loaders: the windows of data columns a pipeline reads.

:class:`PricingLoader` reads ``EquityPricing`` from a daily :class:`~runtime.data.store.BarArrays`. The window of
length L for session D (date row r) holds the bars of the L sessions before D (rows r-L..r-1: data through the
previous session's close, never D's own bar), adjusted as of D: a split or dividend that takes effect on or before D
is applied to the earlier bars, one that happens later is not (``raw[t] * price_factor[t] / price_factor[r]``).
Rows before the store's first session or after its last are NaN.

:class:`TableLoader` reads any other DataSet's columns from a point-in-time table (CSV or Parquet): one row per
(symbol, date the value became known); a value is visible on the sessions on or after its ``date_known``, never
earlier, and stays until a newer row for the symbol is known.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runtime.data.store import BarArrays
from runtime.pipeline.data import BoundColumn
from runtime.pipeline.errors import FundamentalsNotConfigured, PipelineError
from runtime.pipeline.term import FLOAT, INT, OBJECT

#: the setting (settings.py) and command-line option that point at a point-in-time table
TABLE_SETTING = "FUNDAMENTALS_FILE"
TABLE_OPTION = "--fundamentals"
#: accepted names of the "date known" column, in order of preference
DATE_COLUMNS = ("date_known", "known_date", "asof_date", "timestamp", "date")
SYMBOL_COLUMNS = ("symbol", "ticker", "sid")


def _sliding(values: np.ndarray, length: int) -> np.ndarray:
    """(m, n) -> (m - length + 1, length, n) windows (a view)."""
    return np.lib.stride_tricks.sliding_window_view(values, length, axis=0).transpose(0, 2, 1)


class PricingLoader:
    """Adjusted OHLCV windows from a daily bar store, columns in the engine's asset order."""

    def __init__(self, bars: BarArrays, cols: np.ndarray) -> None:
        self.bars = bars
        self.cols = cols
        self.identity = bool(len(cols) == 0 or (cols == np.arange(len(cols))).all())
        self.n_rows = bars.n_rows

    def _take(self, arr: np.ndarray, r0: int, r1: int) -> np.ndarray:
        """Rows r0..r1-1 of ``arr`` in engine column order, NaN outside the store."""
        n_assets = len(self.cols)
        lo, hi = max(r0, 0), min(r1, self.n_rows)
        if lo >= hi:
            return np.full((r1 - r0, n_assets), np.nan)
        block = arr[lo:hi] if self.identity else arr[lo:hi][:, self.cols]
        if lo == r0 and hi == r1:
            return block
        out = np.full((r1 - r0, n_assets), np.nan)
        out[lo - r0:hi - r0] = block
        return out

    def windows(self, column: BoundColumn, b0: int, b1: int, length: int) -> np.ndarray:
        """Windows (b1 - b0, length, n_assets) for date rows b0..b1-1 (see the module docstring)."""
        name = column.name
        if name not in ("open", "high", "low", "close", "volume"):
            raise PipelineError(f"EquityPricing has no column {name!r}")
        factor = self.bars.volume_factor if name == "volume" else self.bars.price_factor
        raw = self._take(self.bars.field(name), b0 - length, b1 - 1)
        fac = self._take(factor, b0 - length, b1 - 1)
        as_of_rows = np.clip(np.arange(b0, b1), 0, max(self.n_rows - 1, 0))
        as_of = factor[as_of_rows] if self.identity else factor[as_of_rows][:, self.cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            adjusted = raw * fac
            if length == 1:
                return (adjusted / as_of)[:, None, :]
            return np.divide(_sliding(adjusted, length), as_of[:, None, :], order="C")


class TableLoader:
    """Point-in-time columns from a table: ``symbol``, ``date_known`` (or asof_date/timestamp/date), any columns."""

    def __init__(self, frame: pd.DataFrame, source: str, symbols: list[str], sessions: np.ndarray) -> None:
        self.source = source
        date_col = next((c for c in DATE_COLUMNS if c in frame.columns), None)
        sym_col = next((c for c in SYMBOL_COLUMNS if c in frame.columns), None)
        if date_col is None or sym_col is None:
            raise FundamentalsNotConfigured(
                f"{source}: a point-in-time table needs a 'symbol' column and a 'date_known' column (the session "
                f"from which each value may be used), plus one column per field; it has {list(frame.columns)}"
            )
        self.date_column, self.symbol_column = date_col, sym_col
        col_of = {s: i for i, s in enumerate(symbols)}
        syms = frame[sym_col].astype(str).str.upper()
        keep = syms.isin(col_of).to_numpy()
        self.unmatched = sorted(set(syms[~keep]))
        frame = frame.loc[keep]
        cols = syms[keep].map(col_of).to_numpy(dtype=np.int64)
        known = pd.to_datetime(frame[date_col]).dt.tz_localize(None).dt.normalize().to_numpy("datetime64[ns]")
        order = np.lexsort((known.astype(np.int64), cols))
        self._cols = cols[order]
        self._known = known.astype(np.int64)[order]
        self._frame = frame.iloc[order].reset_index(drop=True)
        self._sessions = sessions.astype("datetime64[ns]").astype(np.int64)
        self.n_assets = len(symbols)
        self.fields = [c for c in frame.columns if c not in (date_col, sym_col)]
        self._arrays: dict[str, tuple[np.ndarray, Any]] = {}
        self._span = np.int64(max(int(self._known.max()) if len(self._known) else 0, int(self._sessions[-1])) + 1)

    @classmethod
    def from_file(cls, path: str | Path, symbols: list[str], sessions: np.ndarray) -> TableLoader:
        p = Path(path)
        if not p.is_file():
            raise FundamentalsNotConfigured(f"{TABLE_SETTING} = {str(p)!r}: no such file")
        try:
            if p.suffix.lower() in (".parquet", ".pq"):
                frame = pd.read_parquet(p)
            else:
                frame = pd.read_csv(p)
        except Exception as exc:
            raise FundamentalsNotConfigured(f"{p}: cannot read the point-in-time table: {exc}") from exc
        return cls(frame, str(p), symbols, sessions)

    def dtype_of(self, name: str) -> np.dtype:
        """The pipeline dtype of a table column: text -> str, '*_code'/'sector' integers -> int, else float."""
        series = self._frame[name]
        if series.dtype == object or str(series.dtype) in ("string", "str", "category"):
            return OBJECT
        if name.endswith("_code") or name in ("sector", "industry"):
            return INT
        if series.dtype == bool:
            return np.dtype(bool)
        return FLOAT

    def _values(self, name: str, dtype: np.dtype) -> tuple[np.ndarray, Any]:
        key = f"{name}:{dtype.str}"
        if key not in self._arrays:
            if name not in self._frame.columns:
                raise PipelineError(
                    f"the point-in-time table {self.source} has no column {name!r}; its columns are {self.fields}"
                )
            series = self._frame[name]
            if dtype == FLOAT:
                vals, missing = pd.to_numeric(series, errors="coerce").to_numpy(FLOAT), np.nan
            elif dtype == INT:
                vals = pd.to_numeric(series, errors="coerce").fillna(-1).to_numpy(np.int64)
                missing = -1
            elif dtype == np.dtype(bool):
                vals, missing = series.fillna(False).astype(bool).to_numpy(), False
            else:
                vals = np.array([None if (v is None or v != v) else str(v) for v in series], dtype=object)
                missing = None
            self._arrays[key] = (vals, missing)
        return self._arrays[key]

    def as_of(self, column: BoundColumn, r0: int, r1: int) -> np.ndarray:
        """Values known on each session of date rows r0..r1-1: (r1 - r0, n_assets)."""
        vals, missing = self._values(column.name, column.dtype)
        rows = np.arange(r0, r1)
        inside = (rows >= 0) & (rows < len(self._sessions))
        dates = np.where(inside, self._sessions[np.clip(rows, 0, len(self._sessions) - 1)], np.iinfo(np.int64).min)
        keys = self._cols * self._span + self._known
        queries = (np.arange(self.n_assets, dtype=np.int64)[None, :] * self._span + dates[:, None]).ravel()
        idx = np.searchsorted(keys, queries, side="right") - 1
        found = idx >= 0
        idx_safe = np.where(found, idx, 0)
        same_asset = found & (self._cols[idx_safe] == np.tile(np.arange(self.n_assets), len(rows)))
        same_asset &= np.repeat(inside, self.n_assets)
        out = np.empty(len(queries), dtype=vals.dtype if vals.dtype != OBJECT else object)
        out[:] = missing
        out[same_asset] = vals[idx_safe[same_asset]]
        return out.reshape(len(rows), self.n_assets)

    def windows(self, column: BoundColumn, b0: int, b1: int, length: int) -> np.ndarray:
        """Windows (b1 - b0, length, n_assets): the values known on each of the ``length`` sessions ending at
        the session computed."""
        return _sliding(self.as_of(column, b0 - length + 1, b1), length)


def missing_table_message(what: str) -> str:
    """What to do when a file uses fundamentals (or a file-backed DataSet) without a table."""
    return (
        f"{what} needs a point-in-time table: set {TABLE_SETTING} = 'path/to/table.csv' in settings.py or pass "
        f"{TABLE_OPTION} FILE (CSV or Parquet with the columns 'symbol', 'date_known' (the first session on which "
        "a value may be used) and one column per field, e.g. market_cap, morningstar_sector_code)"
    )
