"""The data portal: fast answers to ``data.current`` and ``data.history`` over calendar-aligned bar arrays.

It precomputes, once per store, the forward-filled split-adjusted close and the row of each asset's last trade, so
that a ``current`` is an array lookup and a ``history`` is a slice and one multiply (prices are adjusted as of the
current simulation time, like zipline). It returns numpy arrays; the user-facing shapes are built in
:mod:`runtime.algorithm.bardata`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dc_field

import numpy as np
import pandas as pd

from runtime.core.assets import Asset
from runtime.data.frames import index_slicer
from runtime.data.store import BarArrays
from runtime.errors import HistoryError

PRICE_FIELDS = ("open", "high", "low", "close")
ALL_FIELDS = ("price", "last_traded", "open", "high", "low", "close", "volume")


def _ffill_rows(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaNs down each column (vectorised)."""
    n = values.shape[0]
    valid = ~np.isnan(values)
    idx = np.where(valid, np.arange(n)[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = values[idx, np.arange(values.shape[1])[None, :]]
    out[~np.maximum.accumulate(valid, axis=0)] = np.nan
    return out


def _last_trade_rows(volume: np.ndarray, close: np.ndarray) -> np.ndarray:
    traded = (volume > 0) & ~np.isnan(close)
    n = volume.shape[0]
    idx = np.where(traded, np.arange(n)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return idx


@dataclass(frozen=True, eq=False, slots=True)
class Columns:
    """Store columns of a list of assets, with what indexing by them needs worked out once.

    ``cols`` holds -1 for an asset the store does not hold; ``safe`` holds 0 there instead; ``span`` is the equal
    basic slice when ``safe`` is a run of consecutive columns (a view instead of a gather), else None.
    """

    cols: np.ndarray
    safe: np.ndarray
    missing: np.ndarray
    any_missing: bool
    span: slice | None

    @classmethod
    def of(cls, cols: np.ndarray) -> Columns:
        cols = np.asarray(cols, dtype=np.int64)
        missing = cols < 0
        safe = np.where(missing, 0, cols)
        span = None
        if len(safe) and bool((safe == np.arange(safe[0], safe[0] + len(safe))).all()):
            span = slice(int(safe[0]), int(safe[0]) + len(safe))
        return cls(cols, safe, missing, bool(missing.any()), span)


@dataclass(eq=False)
class Frame:
    """One frequency's arrays plus the derived ones the portal needs."""

    bars: BarArrays
    adj_close_ffill: np.ndarray
    last_trade_row: np.ndarray
    index: pd.DatetimeIndex
    slice_index: object = None
    #: per row: whether every price factor of the row is exactly 1 (prices as of that row are the stored ones)
    unit_factor_rows: np.ndarray | None = None
    _exact: dict[tuple[str, int], np.ndarray] = dc_field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, bars: BarArrays) -> Frame:
        factor = bars.price_factor
        adj_close_ffill = _ffill_rows(bars.close * factor)
        last_trade = _last_trade_rows(bars.volume, bars.close)
        if bars.frequency == "daily":
            sessions = bars.calendar.sessions[bars.first_session : bars.last_session + 1]
            index = pd.DatetimeIndex(sessions)
        else:
            index = pd.DatetimeIndex(bars.times.view("datetime64[ns]")).tz_localize("UTC")
        return cls(bars, adj_close_ffill, last_trade, index, index_slicer(index), (factor == 1.0).all(axis=1))

    def row_at(self, ns: int) -> int:
        """The last row whose bar ended at or before ``ns`` (-1 if none)."""
        return int(np.searchsorted(self.bars.times, ns, side="right")) - 1

    def prices_at(self, row: int, cols: np.ndarray) -> np.ndarray:
        """The current prices (last known close, as of ``row``) of store columns ``cols`` (all held), a new array."""
        prices = self.adj_close_ffill[row].take(cols)
        unit = self.unit_factor_rows
        if unit is None or not unit[row]:  # else every factor is 1 and x / 1.0 is x
            prices = prices / self.bars.price_factor[row].take(cols)
        return prices

    def exact_at(self, field: str, decimals: int) -> np.ndarray:
        """Per store column: whether every window of price ``field`` this frame gives is already rounded to
        ``decimals`` (the column's price factors are all 1 and its stored values have at most ``decimals``
        decimals), so rounding it would change nothing. Worked out once per field."""
        key = (field, decimals)
        flags = self._exact.get(key)
        if flags is None:
            b = self.bars
            values = self.adj_close_ffill if field == "price" else getattr(b, field)
            with np.errstate(invalid="ignore"):
                same = (values == values.round(decimals)) | np.isnan(values)
            flags = same.all(axis=0) & (b.price_factor == 1.0).all(axis=0)
            self._exact[key] = flags
        return flags

    def field_rows(self, field: str, rows: slice, cols: np.ndarray | slice, asof_row: int) -> np.ndarray:
        """Values of ``field`` for ``rows`` (a slice with explicit start and stop) x ``cols``, price fields adjusted
        as of ``asof_row``.

        ``cols`` is an index array or, for consecutive columns, the equal slice: the values and their column-major
        layout are the same either way (a slice reads views instead of gathering copies).
        """
        b = self.bars
        out = np.empty((rows.stop - rows.start, cols.stop - cols.start), order="F") if isinstance(cols, slice) \
            else None
        if field == "price":
            window = self.adj_close_ffill[rows, cols]
            unit = self.unit_factor_rows
            if unit is not None and unit[asof_row]:  # x / 1.0 is x, exactly: the quotient is the window itself
                if out is not None:
                    return np.array(window, order="F")
                if window.flags.f_contiguous:
                    return window
            return np.divide(window, b.price_factor[asof_row, cols], out=out)
        if field in PRICE_FIELDS:
            out = np.multiply(getattr(b, field)[rows, cols], b.price_factor[rows, cols], out=out)
            return np.divide(out, b.price_factor[asof_row, cols], out=out)
        if field == "volume":
            out = np.multiply(b.volume[rows, cols], b.volume_factor[rows, cols], out=out)
            out = np.divide(out, b.volume_factor[asof_row, cols], out=out)
            return np.nan_to_num(out, copy=False, nan=0.0)
        raise HistoryError(f"unknown field {field!r}: use one of {', '.join(ALL_FIELDS)}")


class DataPortal:
    """Current values and history windows over a daily store and, in minute mode, a minute store."""

    def __init__(self, daily: BarArrays, minute: BarArrays | None = None) -> None:
        self.daily = Frame.build(daily)
        self.minute = Frame.build(minute) if minute is not None else None
        self.assets: tuple[Asset, ...] = daily.assets
        self._col = {a.sid: i for i, a in enumerate(daily.assets)}
        if minute is not None:
            mcols = {a.sid: i for i, a in enumerate(minute.assets)}
            if mcols != self._col:
                raise ValueError("the daily and minute stores must hold the same assets in the same order")

    @classmethod
    def from_frames(cls, daily: Frame, minute: Frame | None = None) -> DataPortal:
        """A portal over frames built before (live runs rebuild only the frame that changed at a bar)."""
        portal = cls.__new__(cls)
        portal.daily = daily
        portal.minute = minute
        portal.assets = daily.bars.assets
        portal._col = {a.sid: i for i, a in enumerate(daily.bars.assets)}
        if minute is not None and minute.bars.assets != daily.bars.assets:
            raise ValueError("the daily and minute stores must hold the same assets in the same order")
        return portal

    # ------------------------------------------------------------------------------------------------- lookups
    def column(self, asset: Asset) -> int:
        """The store column of ``asset`` (-1 if the store does not hold it)."""
        return self._col.get(asset.sid, -1)

    def columns(self, assets: list[Asset]) -> np.ndarray:
        return np.fromiter((self._col.get(a.sid, -1) for a in assets), dtype=np.int64, count=len(assets))

    # ------------------------------------------------------------------------------------------------- current
    def current_daily(self, row: int, cols: np.ndarray, field: str) -> np.ndarray:
        """``data.current`` values in daily mode at daily ``row`` (unadjusted: as of now)."""
        return self._current(self.daily, row, cols, field)

    def current_minute(self, row: int, cols: np.ndarray, field: str) -> np.ndarray:
        assert self.minute is not None
        return self._current(self.minute, row, cols, field)

    def _current(self, frame: Frame, row: int, cols: np.ndarray, field: str) -> np.ndarray:
        if row < 0:
            if field == "volume":
                return np.zeros(len(cols))
            return np.full(len(cols), np.nan)
        missing = cols < 0
        safe = np.where(missing, 0, cols)
        if field == "last_traded":
            rows = frame.last_trade_row[row, safe]
            out = np.where(rows >= 0, frame.bars.times[np.maximum(rows, 0)], np.iinfo(np.int64).min)
            return np.where(missing, np.iinfo(np.int64).min, out)
        if field == "price":
            out = frame.prices_at(row, safe)
        elif field == "volume":
            out = np.nan_to_num(frame.bars.volume[row, safe], nan=0.0)
        elif field in PRICE_FIELDS:
            out = getattr(frame.bars, field)[row, safe].copy()
        else:
            raise HistoryError(f"unknown field {field!r}: use one of {', '.join(ALL_FIELDS)}")
        if missing.any():
            out = out.astype(float)
            out[missing] = 0.0 if field == "volume" else np.nan
        return out

    @staticmethod
    def price_at(frame: Frame, row: int, col: int) -> float:
        """The ``current`` price of store column ``col`` at ``row`` (NaN before its first trade, for ``row < 0`` and
        for ``col < 0``, a column the store does not hold)."""
        if row < 0 or col < 0:
            return math.nan
        return float(frame.adj_close_ffill[row, col] / frame.bars.price_factor[row, col])

    def last_trade_row(self, frame: Frame, row: int, cols: np.ndarray) -> np.ndarray:
        if row < 0:
            return np.full(len(cols), -1)
        return frame.last_trade_row[row, np.where(cols < 0, 0, cols)]

    # ------------------------------------------------------------------------------------------------- history
    def history_window(
        self, frame: Frame, end_row: int, bar_count: int, columns: Columns, field: str
    ) -> tuple[np.ndarray, pd.DatetimeIndex]:
        """``bar_count`` rows ending at ``end_row`` (inclusive), NaN-padded before the store's first row."""
        start = end_row - bar_count + 1
        safe = columns.safe
        if start >= 0:
            span = columns.span
            values = frame.field_rows(field, slice(start, end_row + 1), safe if span is None else span, end_row)
            index = frame.slice_index(start, end_row + 1)
        else:
            pad = -start
            body = frame.field_rows(field, slice(0, end_row + 1), safe, max(end_row, 0)) if end_row >= 0 else None
            values = np.full((bar_count, len(safe)), 0.0 if field == "volume" else np.nan)
            if body is not None:
                values[pad:] = body
            index = self._padded_index(frame, start, end_row)
        if columns.any_missing:
            values = values.copy()
            values[:, columns.missing] = 0.0 if field == "volume" else np.nan
        return values, index

    def _padded_index(self, frame: Frame, start: int, end_row: int) -> pd.DatetimeIndex:
        bars = frame.bars
        if bars.frequency == "daily":
            first = bars.first_session + start
            if first < 0:
                raise HistoryError(
                    f"the history window reaches before the first session the calendar knows "
                    f"({bars.calendar.first_session.date()}); ask for fewer bars"
                )
            sessions = bars.calendar.sessions[first : bars.first_session + end_row + 1]
            return pd.DatetimeIndex(sessions)
        first_minute = bars.times[0] if len(bars.times) else 0
        before = bars.calendar.minutes_between(
            max(bars.first_session - 30, 0), max(bars.first_session - 1, 0)
        )
        before = before[before < first_minute][start:]
        times = np.concatenate([before, bars.times[: end_row + 1]])
        if len(times) < end_row + 1 - start:
            raise HistoryError("the minute history window reaches too far before the data; ask for fewer bars")
        return pd.DatetimeIndex(times.view("datetime64[ns]")).tz_localize("UTC")

    def partial_daily_bar(self, minute_row: int, cols: np.ndarray, field: str) -> np.ndarray:
        """Today's daily bar so far, from the session's minutes up to ``minute_row`` (Quantopian's partial bar)."""
        m = self.minute
        assert m is not None
        bars = m.bars
        session = int(np.searchsorted(bars.session_row_start, minute_row, side="right")) - 1
        first = int(bars.session_row_start[session])
        safe = np.where(cols < 0, 0, cols)
        rows = slice(first, minute_row + 1)
        if field == "price":
            return m.adj_close_ffill[minute_row, safe] / bars.price_factor[minute_row, safe]
        if field == "volume":
            return np.nansum(bars.volume[rows, safe], axis=0)
        block = getattr(bars, field)[rows, safe] if field in PRICE_FIELDS else None
        if block is None:
            raise HistoryError(f"unknown field {field!r}: use one of {', '.join(ALL_FIELDS)}")
        with np.errstate(all="ignore"):
            if field == "high":
                out = np.fmax.reduce(block, axis=0)  # ignores NaN; NaN only when the whole column is NaN
            elif field == "low":
                out = np.fmin.reduce(block, axis=0)
            else:
                valid = ~np.isnan(block)
                any_valid = valid.any(axis=0)
                if field == "open":
                    pick = np.argmax(valid, axis=0)
                else:
                    pick = block.shape[0] - 1 - np.argmax(valid[::-1], axis=0)
                out = np.where(any_valid, block[pick, np.arange(block.shape[1])], np.nan)
        return out
