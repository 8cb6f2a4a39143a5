"""Daily bars from minute bars (open = first traded open, close = last traded close, high/low/volume over the day)."""

from __future__ import annotations

import numpy as np

from runtime.data.store import DAILY, MINUTE, BarArrays


def aggregate_daily(minute: BarArrays) -> BarArrays:
    """The daily BarArrays of a minute store: one bar per session, same assets, actions and factors.

    A session without any trade has NaN prices and volume 0 (NaN outside a listing), as in the minute store.
    """
    if minute.frequency != MINUTE:
        raise ValueError("aggregate_daily needs a minute store")
    starts = minute.session_row_start[:-1]
    ends = minute.session_row_start[1:] - 1
    rows = np.arange(minute.n_rows, dtype=np.int64)[:, None]
    traded = ~np.isnan(minute.close)
    last_traded = np.maximum.accumulate(np.where(traded, rows, -1), axis=0)[ends]
    has_trade = last_traded >= starts[:, None]
    first_traded = np.minimum.accumulate(np.where(traded, rows, minute.n_rows)[::-1], axis=0)[::-1][starts]
    cols = np.arange(minute.n_assets)[None, :]
    with np.errstate(invalid="ignore"):
        open_ = np.where(has_trade, minute.open[np.minimum(first_traded, minute.n_rows - 1), cols], np.nan)
        close = np.where(has_trade, minute.close[np.maximum(last_traded, 0), cols], np.nan)
        high = np.fmax.reduceat(minute.high, starts, axis=0)
        low = np.fmin.reduceat(minute.low, starts, axis=0)
        listed = ~np.isnan(np.fmax.reduceat(minute.volume, starts, axis=0))
        volume = np.where(listed, np.add.reduceat(np.nan_to_num(minute.volume), starts, axis=0), np.nan)
    cal = minute.calendar
    return BarArrays(
        frequency=DAILY,
        calendar=cal,
        first_session=minute.first_session,
        last_session=minute.last_session,
        assets=minute.assets,
        times=cal.closes[minute.first_session : minute.last_session + 1].copy(),
        session_row_start=np.arange(minute.n_sessions + 1, dtype=np.int64),
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        price_factor=np.ascontiguousarray(minute.price_factor[starts]),
        volume_factor=np.ascontiguousarray(minute.volume_factor[starts]),
        splits=minute.splits,
        dividends=minute.dividends,
    )
