"""Assemble per-asset bar columns into one calendar-aligned :class:`BarArrays`.

Each asset arrives as an :class:`AssetSeries`: its own bar END instants (already validated to lie on the calendar)
and its unadjusted OHLCV, plus its corporate actions. ``assemble`` places them on the dense grid of the calendar's
sessions (daily) or trading minutes (minute), marks the listing, and computes the adjustment factors. One
``searchsorted`` and a few fancy assignments per asset: a 10-year daily store of 100 symbols builds in milliseconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from runtime.core.assets import Asset
from runtime.core.calendar import TradingCalendar
from runtime.data.actions import Dividend, Split, cumulative_factors
from runtime.data.errors import DataError, NoDataError
from runtime.data.store import DAILY, FIELDS, MINUTE, BarArrays


@dataclass(frozen=True, eq=False)
class AssetSeries:
    """One asset's bars: ``times`` int64 ns UTC bar ends (ascending, unique), unadjusted float64 OHLCV."""

    asset: Asset
    times: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    splits: tuple[Split, ...] = ()
    dividends: tuple[Dividend, ...] = ()


def grid(calendar: TradingCalendar, frequency: str, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Row instants and ``session_row_start`` of sessions ``first..last`` for a frequency."""
    if frequency == DAILY:
        return calendar.closes[first : last + 1].copy(), np.arange(last - first + 2, dtype=np.int64)
    if frequency == MINUTE:
        counts = calendar.minute_counts(first, last)
        starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        return calendar.minutes_between(first, last), starts
    raise DataError(f"unknown frequency {frequency!r}")


def assemble(
    calendar: TradingCalendar,
    frequency: str,
    series: Sequence[AssetSeries],
    first_session: int | None = None,
    last_session: int | None = None,
) -> BarArrays:
    """Align ``series`` on the calendar grid of sessions ``first_session..last_session`` (default: the data's span).

    Bars outside the span are dropped. An asset's listing runs from the session of its first bar to the session of
    its last bar (over the whole series, not just the span); inside it, missing bars have NaN prices and volume 0.
    Assets without ``start_date``/``end_date`` get them from the data.
    """
    if not series:
        raise NoDataError("no assets to assemble")
    spans = [(int(s.times[0]), int(s.times[-1])) for s in series if len(s.times)]
    if not spans:
        raise NoDataError("none of the assets has any bar")
    if first_session is None:
        first_session = calendar.session_of_instant(min(a for a, _ in spans))
    if last_session is None:
        last_session = calendar.session_of_instant(max(b for _, b in spans))
    if first_session < 0 or last_session < first_session:
        raise DataError("the bars are not on the calendar's sessions")
    times, row_start = grid(calendar, frequency, first_session, last_session)
    n_rows, n_cols = len(times), len(series)
    arrays = {name: np.full((n_rows, n_cols), np.nan) for name in FIELDS}
    assets: list[Asset] = []
    for col, s in enumerate(series):
        assets.append(_with_listing_dates(s, calendar))
        if not len(s.times):
            continue
        listing = _listing_rows(calendar, frequency, s, times, row_start, first_session, last_session)
        if listing is None:
            continue
        arrays["volume"][listing, col] = 0.0
        lo = int(np.searchsorted(s.times, times[0], side="left"))
        hi = int(np.searchsorted(s.times, times[-1], side="right"))
        pos = np.searchsorted(times, s.times[lo:hi])
        if len(pos) and (pos[-1] >= n_rows or not np.array_equal(times[pos], s.times[lo:hi])):
            raise DataError(f"{s.asset.symbol}: some bars are not on the {calendar.name} {frequency} grid")
        for name in FIELDS:
            arrays[name][pos, col] = getattr(s, name)[lo:hi]
    first_label, last_label = calendar.session_label(first_session), calendar.session_label(last_session)
    splits = tuple(sp for s in series for sp in s.splits if first_label <= sp.date <= last_label)
    dividends = tuple(d for s in series for d in s.dividends if first_label <= d.ex_date <= last_label)
    sid_col = {s.asset.sid: i for i, s in enumerate(series)}
    price_factor, volume_factor = factors(
        calendar, row_start, first_session, arrays["close"], sid_col, splits, dividends
    )
    return BarArrays(
        frequency=frequency,
        calendar=calendar,
        first_session=first_session,
        last_session=last_session,
        assets=tuple(assets),
        times=times,
        session_row_start=row_start,
        price_factor=price_factor,
        volume_factor=volume_factor,
        splits=splits,
        dividends=dividends,
        **arrays,
    )


def _with_listing_dates(s: AssetSeries, calendar: TradingCalendar) -> Asset:
    a = s.asset
    if (a.start_date is not None and a.end_date is not None) or not len(s.times):
        return a
    first = calendar.session_label(calendar.session_of_instant(int(s.times[0])))
    last = calendar.session_label(calendar.session_of_instant(int(s.times[-1])))
    return dataclasses.replace(a, start_date=a.start_date or first, end_date=a.end_date or last)


def _listing_rows(
    calendar: TradingCalendar,
    frequency: str,
    s: AssetSeries,
    times: np.ndarray,
    row_start: np.ndarray,
    first_session: int,
    last_session: int,
) -> slice | None:
    """Rows of the grid inside the asset's listing (whole sessions from its first to its last bar)."""
    k0 = max(calendar.session_of_instant(int(s.times[0])), first_session) - first_session
    k1 = min(calendar.session_of_instant(int(s.times[-1])), last_session) - first_session
    if k1 < k0:
        return None
    return slice(int(row_start[k0]), int(row_start[k1 + 1]))


def factors(
    calendar: TradingCalendar,
    row_start: np.ndarray,
    first_session: int,
    close: np.ndarray,
    sid_col: dict[int, int],
    splits: tuple[Split, ...],
    dividends: tuple[Dividend, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Price and volume factors of a grid from its actions (each applies from the first row of its ex-session).

    A dividend's ratio uses the last unadjusted close before its ex-session (no close before: no adjustment).
    """
    n_rows, n_cols = close.shape

    def first_row(day: pd.Timestamp) -> int:
        k = calendar.session_index_on_or_after(day) - first_session
        return int(row_start[k]) if 0 <= k < len(row_start) - 1 else -1

    events: list[tuple[int, int, float, float]] = []  # (row, column, price multiplier, volume multiplier)
    for sp in splits:
        r = first_row(sp.date)
        if r > 0:
            events.append((r, sid_col[sp.sid], sp.price_multiplier, sp.ratio))
    if dividends:
        last_trade = np.maximum.accumulate(
            np.where(~np.isnan(close), np.arange(n_rows, dtype=np.int64)[:, None], -1), axis=0
        )
        for d in dividends:
            r, c = first_row(d.ex_date), sid_col[d.sid]
            prev = int(last_trade[r - 1, c]) if r > 0 else -1
            if prev < 0:
                continue
            ratio = d.price_multiplier(float(close[prev, c]))
            if not ratio > 0.0:
                raise DataError(f"dividend {d.amount} of sid {d.sid} on {d.ex_date.date()} exceeds the previous close")
            events.append((r, c, ratio, 1.0))
    table = np.array(events, dtype=np.float64).reshape(-1, 4)
    r_arr, c_arr = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    price = cumulative_factors(n_rows, n_cols, r_arr, c_arr, table[:, 2])
    volume = cumulative_factors(n_rows, n_cols, r_arr, c_arr, table[:, 3])
    return price, volume
