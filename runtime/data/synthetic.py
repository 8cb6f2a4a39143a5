"""Seeded synthetic bars: minute bars expanded from daily bars, and daily/minute random-walk prices.

:func:`expand_to_minutes` turns a daily store into minute bars on the same calendar that agree EXACTLY with the
daily bars: the first minute opens at the daily open, the last closes at the daily close, the highest minute high
and the lowest minute low are the daily high and low, and the minute volumes add up to the daily volume. The path
is a Brownian bridge from open to close whose rises and dips are scaled to nearly fill the day's range, with a
U-shaped volume profile. Early closes are respected because the minutes come from the calendar (210 bars on 2024-11-29).

:func:`synthetic_bars` makes up daily (or minute) bars for any symbols: stocks, FX pairs ('EUR.USD') and futures
('ES'), with each instrument's typical price level, volatility, tick size and volume.

Every random number is a pure function of (seed, asset, instant) (see :mod:`runtime.data.counter_rng`), so the
bars of a session do not depend on the requested range or on the other symbols. Everything is vectorised over
(rows x assets).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from runtime.core.assets import Asset
from runtime.core.calendar import NS_PER_MINUTE, TradingCalendar
from runtime.data import counter_rng
from runtime.data.builder import AssetSeries, assemble, factors, grid
from runtime.data.calendars import get_calendar
from runtime.data.contracts import asset_from_spec, profile_of
from runtime.data.errors import DataError, DateRangeError
from runtime.data.store import DAILY, MINUTE, BarArrays, normalize_frequency

TRADING_DAYS_PER_YEAR = 252
#: Log prices revert to the instrument's typical level over about this many sessions, so a walk that starts at the
#: calendar's first session still has a plausible level decades later (the stationary spread is the annual vol).
REVERSION_SESSIONS = 2 * TRADING_DAYS_PER_YEAR


def _session_range(
    calendar: TradingCalendar, start: pd.Timestamp | str | None, end: pd.Timestamp | str | None, lo: int, hi: int
) -> tuple[int, int]:
    """Calendar indexes of the sessions in ``start..end`` (defaults ``lo``/``hi``), checked against ``lo..hi``."""
    k0 = lo if start is None else calendar.session_index_on_or_after(start)
    k1 = hi if end is None else calendar.session_index_on_or_before(end)
    if k0 < lo or k1 > hi or k1 < k0:
        first, last = calendar.session_label(lo), calendar.session_label(hi)
        raise DateRangeError.outside(pd.Timestamp(start or first), pd.Timestamp(end or last), first, last)
    return k0, k1


def _round_to_tick(values: np.ndarray, tick: np.ndarray, how: str = "nearest") -> np.ndarray:
    """Round to a multiple of the per-column tick, then to the tick's decimals (the nearest double of the price)."""
    op = {"nearest": np.round, "up": np.ceil, "down": np.floor}[how]
    scaled = values / tick
    if how != "nearest":  # tolerate float noise just past a multiple
        scaled = scaled - 1e-9 if how == "up" else scaled + 1e-9
    decimals = int(np.max(np.ceil(-np.log10(tick)))) + 1 if len(tick) else 2
    return np.round(op(scaled) * tick, max(decimals, 0))


def _segment_cumsum(x: np.ndarray, row_start: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Cumulative sum along rows that restarts at every session (rows ``row_start[k]..``)."""
    cs = np.cumsum(x, axis=0)
    before = np.vstack([np.zeros((1, x.shape[1])), cs])[row_start[:-1]]
    return cs - before[seg]


def expand_to_minutes(
    daily: BarArrays,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    seed: int = 0,
) -> BarArrays:
    """Minute bars for the sessions ``start..end`` (default: all) of a daily store, consistent with its bars.

    Sessions without a daily bar give minutes with NaN prices and volume 0 (NaN everything outside a listing).
    Splits and dividends of the range carry over; the factors then apply from the first minute of the ex-session.
    """
    if daily.frequency != DAILY:
        raise DataError("expand_to_minutes needs a daily store")
    cal = daily.calendar
    k0, k1 = _session_range(cal, start, end, daily.first_session, daily.last_session)
    times, row_start = grid(cal, MINUTE, k0, k1)
    n_sess, n_rows = k1 - k0 + 1, len(times)
    counts = np.diff(row_start)
    seg = np.repeat(np.arange(n_sess), counts)
    first_rows, last_rows = row_start[:-1], row_start[1:] - 1
    drows = slice(k0 - daily.first_session, k1 - daily.first_session + 1)
    o_d, h_d, l_d, c_d, v_d = (daily.field(f)[drows] for f in ("open", "high", "low", "close", "volume"))
    sids = np.array([a.sid for a in daily.assets], dtype=np.int64)
    tick = np.array([a.tick_size if a.tick_size > 0 else 0.01 for a in daily.assets])
    minute_ticks = times // NS_PER_MINUTE
    day_ticks = cal.sessions[k0 : k1 + 1].astype("datetime64[D]").astype(np.int64)
    frac = ((np.arange(n_rows) - row_start[seg] + 1) / counts[seg])[:, None]

    day_high, day_low = h_d[seg], l_d[seg]
    with np.errstate(invalid="ignore", divide="ignore"):
        # Brownian bridge from open to close, scaled so the closes stay inside [low, high]
        walk = _segment_cumsum(counter_rng.normal(seed, 1, sids, minute_ticks), row_start, seg)
        bridge = walk - frac * walk[last_rows][seg]
        lin = o_d[seg]
        lin += (c_d[seg] - lin) * frac
        # excursions above and below the open-close line are scaled separately, so the path nears both extremes
        up = bridge > 0
        room = (np.where(up, day_high, day_low) - lin) / bridge
        room[bridge == 0] = np.inf
        shrink = 0.7 + 0.3 * counter_rng.uniform(seed, 2, sids, day_ticks)
        scale_up = np.minimum.reduceat(np.where(up, room, np.inf), first_rows, axis=0)
        scale_down = np.minimum.reduceat(np.where(up, np.inf, room), first_rows, axis=0)
        scale_up = np.where(np.isfinite(scale_up), scale_up, 0.0) * shrink
        scale_down = np.where(np.isfinite(scale_down), scale_down, 0.0) * shrink
        path = lin + np.where(up, scale_up[seg], scale_down[seg]) * bridge
        close = np.clip(_round_to_tick(path, tick), day_low, day_high)
        close[last_rows] = c_d
        open_ = np.empty_like(close)
        open_[1:] = close[:-1]
        open_[first_rows] = o_d
        # exponential wicks, rounded outward to ticks and kept inside the day's range
        wick = (h_d - l_d)[seg] * (0.2 / np.sqrt(counts[seg]))[:, None]
        body_hi, body_lo = np.maximum(open_, close), np.minimum(open_, close)
        high = _round_to_tick(body_hi - wick * np.log(counter_rng.uniform(seed, 3, sids, minute_ticks)), tick, "up")
        high = np.maximum(np.minimum(high, day_high), body_hi)
        low = _round_to_tick(body_lo + wick * np.log(counter_rng.uniform(seed, 4, sids, minute_ticks)), tick, "down")
        low = np.minimum(np.maximum(low, day_low), body_lo)
        # the day's extremes are reached in the minutes where the path is most extreme
        at_high = high == np.maximum.reduceat(high, first_rows, axis=0)[seg]
        high[at_high] = day_high[at_high]
        at_low = low == np.minimum.reduceat(low, first_rows, axis=0)[seg]
        low[at_low] = day_low[at_low]
        volume = _minute_volumes(v_d, seed, sids, minute_ticks, frac, counts, row_start, seg)

    no_trade = np.isnan(c_d)[seg]
    for arr in (open_, high, low, close):
        arr[no_trade] = np.nan
    lo, hi = cal.session_label(k0), cal.session_label(k1)
    splits = tuple(x for x in daily.splits if lo <= x.date <= hi)
    dividends = tuple(x for x in daily.dividends if lo <= x.ex_date <= hi)
    price_factor, volume_factor = factors(cal, row_start, k0, close, daily.sid_to_col, splits, dividends)
    return BarArrays(
        frequency=MINUTE,
        calendar=cal,
        first_session=k0,
        last_session=k1,
        assets=daily.assets,
        times=times,
        session_row_start=row_start,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        price_factor=price_factor,
        volume_factor=volume_factor,
        splits=splits,
        dividends=dividends,
    )


def _minute_volumes(
    v_d: np.ndarray,
    seed: int,
    sids: np.ndarray,
    minute_ticks: np.ndarray,
    frac: np.ndarray,
    counts: np.ndarray,
    row_start: np.ndarray,
    seg: np.ndarray,
) -> np.ndarray:
    """Daily volume spread over the minutes with a U-shaped profile and noise; sums exactly to the daily volume."""
    x = frac - 0.5 / counts[seg][:, None]
    profile = 0.7 + 2.5 * np.exp(-12.0 * x) + 1.5 * np.exp(-15.0 * (1.0 - x))
    weights = profile * (0.3 + 1.4 * counter_rng.uniform(seed, 5, sids, minute_ticks))
    cum = _segment_cumsum(weights, row_start, seg)
    cum = cum / cum[row_start[1:] - 1][seg]
    total = v_d[seg]
    finite = v_d[np.isfinite(v_d)]
    whole = bool(np.all(finite == np.round(finite)))
    target = np.round(total * cum) if whole else total * cum
    target[row_start[1:] - 1] = v_d
    volume = np.diff(target, axis=0, prepend=0.0)
    volume[row_start[:-1]] = target[row_start[:-1]]
    return volume


def synthetic_bars(
    symbols: Sequence[str | Asset],
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    frequency: str = DAILY,
    seed: int = 0,
    calendar: TradingCalendar | None = None,
) -> BarArrays:
    """Random-walk bars for ``symbols`` over the sessions ``start..end`` (daily, or minute via expansion).

    Symbols are specs such as 'AAPL', 'EUR.USD', 'ES' (a futures root) or 'FUT,ES,USD', or Assets. Prices follow a
    geometric random walk with each instrument's typical level and volatility (a stock's starting level comes from
    its symbol), rounded to its tick, with realistic gaps, ranges and volumes. The walk starts at the calendar's
    first session, so a session's bars do not depend on ``start``. No splits or dividends.
    """
    cal = calendar if calendar is not None else get_calendar("XNYS")
    k0, k1 = _session_range(cal, start, end, 0, len(cal) - 1)
    assets = [s if isinstance(s, Asset) else asset_from_spec(s, futures_roots=True) for s in symbols]
    if not assets:
        raise DataError("synthetic_bars needs at least one symbol")
    daily = _synthetic_daily(assets, cal, k0, k1, seed)
    if normalize_frequency(frequency) == MINUTE:
        return expand_to_minutes(daily, seed=seed)
    return daily


def _ar1(shocks: np.ndarray, phi: float, block: int = 512) -> np.ndarray:
    """x[t] = phi * x[t-1] + shocks[t] (x[-1] = 0) along rows, vectorised in blocks (phi**-block stays small)."""
    out = np.empty_like(shocks)
    carry = np.zeros(shocks.shape[1])
    for b0 in range(0, len(shocks), block):
        chunk = shocks[b0 : b0 + block]
        powers = phi ** np.arange(1, len(chunk) + 1, dtype=np.float64)[:, None]
        out[b0 : b0 + block] = powers * (carry + np.cumsum(chunk / powers, axis=0))
        carry = out[b0 + len(chunk) - 1]
    return out


def _synthetic_daily(assets: list[Asset], cal: TradingCalendar, k0: int, k1: int, seed: int) -> BarArrays:
    sids = np.array([a.sid for a in assets], dtype=np.int64)
    profiles = [profile_of(a) for a in assets]
    tick = np.array([a.tick_size if a.tick_size > 0 else p.tick_size for a, p in zip(assets, profiles)])
    vol = np.array([p.annual_vol for p in profiles]) / np.sqrt(TRADING_DAYS_PER_YEAR)
    base_volume = np.array([p.daily_volume or 1_000_000 for p in profiles], dtype=np.float64)
    level = np.array([p.price for p in profiles])
    level_draw = counter_rng.uniform(seed, 20, sids, np.zeros(1, dtype=np.int64))[0]
    is_stock = np.array([a.sec_type.value == "STK" for a in assets])
    level = np.where(is_stock, 10.0 ** (1.2 + 1.2 * level_draw), level)  # stocks: $16..$250

    days = cal.sessions[: k1 + 1].astype("datetime64[D]").astype(np.int64)
    z = counter_rng.normal(seed, 21, sids, days)
    log_close = np.log(level) + _ar1(vol * z, 1.0 - 1.0 / REVERSION_SESSIONS)
    rows = slice(k0, k1 + 1)
    close = np.exp(log_close[rows])
    prev_close = np.exp(np.concatenate([np.log(level)[None, :], log_close[:-1]])[rows])
    d = days[rows]
    open_ = prev_close * np.exp(0.3 * vol * counter_rng.normal(seed, 22, sids, d))
    high = np.maximum(open_, close) * np.exp(0.6 * vol * np.abs(counter_rng.normal(seed, 23, sids, d)))
    low = np.minimum(open_, close) * np.exp(-0.6 * vol * np.abs(counter_rng.normal(seed, 24, sids, d)))
    open_, close = _round_to_tick(open_, tick), _round_to_tick(close, tick)
    high = np.maximum(_round_to_tick(high, tick, "up"), np.maximum(open_, close))
    low = np.maximum(np.minimum(_round_to_tick(low, tick, "down"), np.minimum(open_, close)), tick)
    move = np.abs(np.log(close / prev_close)) / vol
    volume = np.round(base_volume * np.exp(0.3 * counter_rng.normal(seed, 25, sids, d)) * (0.8 + 0.2 * move))
    times = cal.closes[rows]
    series = [
        AssetSeries(a, times, open_[:, j], high[:, j], low[:, j], close[:, j], np.maximum(volume[:, j], 1.0))
        for j, a in enumerate(assets)
    ]
    return assemble(cal, DAILY, series, k0, k1)
