"""Prices the gateway serves: bars from the shared bar store, quotes at any instant of the gateway's clock.

Each instrument has a :class:`Series`: one column of a daily :class:`~runtime.data.store.BarArrays` (the bundled
sample, a user's data or seeded synthetic bars) whose minute bars are expanded per session on demand with the data
layer's :func:`~runtime.data.synthetic.expand_to_minutes` (they agree exactly with the daily bars). Inside a minute
the price follows a seeded path from the minute's open to its close through its high and low, so ticks, 5-second
bars and seconds bars are consistent with the minute bars the matcher and the backtester see.

Replay is simply a clock set in the past: the quote at instant ``t`` summarises the 1-second bars of the session
that ended by ``t`` (the minute bars that ended plus the seconds of the current minute that ended), so at a minute
boundary it shows the close of the minute that just ended and nothing of the next one.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from runtime.core.calendar import NS_PER_MINUTE, TradingCalendar
from runtime.data import counter_rng
from runtime.data.store import MINUTE, BarArrays
from runtime.data.synthetic import expand_to_minutes
from runtime.gateway.contracts import Instrument

NS_PER_SECOND = 1_000_000_000
#: Volume assumed per minute for currency pairs, which have no exchange volume (the matcher needs some).
FX_MINUTE_VOLUME = 1e9


@dataclass(frozen=True, slots=True)
class Bars:
    """A block of bars: END instants (int64 ns UTC) and float64 fields, ascending, without empty bars."""

    end_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.end_ns)

    @staticmethod
    def empty() -> Bars:
        z = np.empty(0, dtype=np.float64)
        return Bars(np.empty(0, dtype=np.int64), z, z, z, z, z)

    @staticmethod
    def concat(blocks: Iterable[Bars]) -> Bars:
        blocks = [b for b in blocks if len(b)]
        if not blocks:
            return Bars.empty()
        if len(blocks) == 1:
            return blocks[0]
        return Bars(*(np.concatenate([getattr(b, f) for b in blocks]) for f in Bars.__slots__))

    def between(self, start_ns: int, end_ns: int) -> Bars:
        """Bars whose end lies in ``(start_ns, end_ns]``."""
        i = int(np.searchsorted(self.end_ns, start_ns, side="right"))
        j = int(np.searchsorted(self.end_ns, end_ns, side="right"))
        if i == 0 and j == len(self.end_ns):
            return self
        return Bars(*(getattr(self, f)[i:j] for f in Bars.__slots__))


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """The market of one instrument at one instant."""

    time_ns: int
    last: float
    last_size: int
    bid: float
    bid_size: int
    ask: float
    ask_size: int
    volume: float
    open: float
    high: float
    low: float
    prev_close: float
    trading: bool
    minute_volume: float
    last_trade_ns: int


class MinuteCache:
    """Minute bars of a daily store, expanded one session at a time and kept in a small LRU cache."""

    def __init__(self, daily: BarArrays, seed: int = 0, minute: BarArrays | None = None, size: int = 48) -> None:
        self.daily = daily
        self.minute = minute
        self.seed = seed
        self.size = size
        self._cache: OrderedDict[int, BarArrays | None] = OrderedDict()

    def session(self, k: int) -> BarArrays | None:
        """Minute bars of calendar session ``k`` (None outside the store's sessions)."""
        if self.minute is not None and self.minute.first_session <= k <= self.minute.last_session:
            return self.minute.slice_sessions(k, k)
        if not self.daily.first_session <= k <= self.daily.last_session:
            return None
        hit = self._cache.get(k)
        if hit is not None or k in self._cache:
            self._cache.move_to_end(k)
            return hit
        label = self.daily.calendar.session_label(k)
        bars = expand_to_minutes(self.daily, start=label, end=label, seed=self.seed)
        self._cache[k] = bars
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return bars


class Series:
    """All prices of one instrument: its column of a daily store and minute bars per session."""

    def __init__(self, inst: Instrument, minutes: MinuteCache, column: int, seed: int = 0) -> None:
        self.inst = inst
        self.minutes = minutes
        self.daily = minutes.daily
        self.col = column
        self.seed = seed
        self.calendar: TradingCalendar = self.daily.calendar
        self.tick = inst.min_tick
        self._sid = np.array([inst.con_id], dtype=np.int64)
        close = self.daily.close[:, column]
        traded = np.flatnonzero(~np.isnan(close))
        self.first_row = int(traded[0]) if len(traded) else 0
        self.last_row = int(traded[-1]) if len(traded) else -1
        self._minute_volume_floor = FX_MINUTE_VOLUME if inst.sec_type == "CASH" else 0.0
        self._paths: OrderedDict[tuple[int, float, float, float, float], np.ndarray] = OrderedDict()
        self._volumes: OrderedDict[tuple[int, float], np.ndarray] = OrderedDict()
        self._session_cache: tuple[int, Bars] | None = None
        self._quote_cache: MarketQuote | None = None

    # ----------------------------------------------------------------------------------------------- coverage
    @property
    def first_ns(self) -> int:
        """The open of the first session with data (what IB's head timestamp reports)."""
        k = self.daily.first_session + self.first_row
        return int(self.calendar.opens[k])

    @property
    def last_ns(self) -> int:
        k = self.daily.first_session + max(self.last_row, 0)
        return int(self.calendar.closes[k])

    def covers_session(self, k: int) -> bool:
        return self.daily.first_session + self.first_row <= k <= self.daily.first_session + self.last_row

    # ------------------------------------------------------------------------------------------------- bars
    def session_minutes(self, k: int) -> Bars:
        """Minute bars (raw prices) of calendar session ``k``; empty outside the data."""
        cached = self._session_cache
        if cached is not None and cached[0] == k:
            return cached[1]
        bars = self._session_minutes(k)
        self._session_cache = (k, bars)
        return bars

    def _session_minutes(self, k: int) -> Bars:
        if not self.covers_session(k):
            return Bars.empty()
        m = self.minutes.session(k)
        if m is None:
            return Bars.empty()
        c = self.col
        close = m.close[:, c]
        keep = ~np.isnan(close)
        vol = m.volume[keep, c]
        if self._minute_volume_floor:
            vol = np.maximum(vol, self._minute_volume_floor)
        return Bars(m.times[keep], m.open[keep, c], m.high[keep, c], m.low[keep, c], close[keep], vol)

    def minutes_between(self, start_ns: int, end_ns: int) -> Bars:
        """Minute bars ending in ``(start_ns, end_ns]`` across sessions."""
        cal = self.calendar
        k0 = max(int(np.searchsorted(cal.closes, start_ns, side="right")), 0)
        k1 = int(np.searchsorted(cal.opens, end_ns, side="left")) - 1
        blocks = [self.session_minutes(k) for k in range(k0, min(k1, len(cal) - 1) + 1)]
        return Bars.concat(blocks).between(start_ns, end_ns)

    def daily_bars(self, k0: int, k1: int, as_of_ns: int | None = None) -> Bars:
        """Daily bars of sessions ``k0..k1`` adjusted for splits and dividends as of ``as_of_ns`` (raw if None)."""
        d = self.daily
        lo = max(k0 - d.first_session, 0)
        hi = min(k1 - d.first_session, d.n_rows - 1)
        if hi < lo:
            return Bars.empty()
        rows = slice(lo, hi + 1)
        c = self.col
        if as_of_ns is None:
            fields = [d.field(f)[rows, c] for f in ("open", "high", "low", "close", "volume")]
        else:
            as_of = max(min(d.row_at_or_before(as_of_ns), d.n_rows - 1), 0)
            cols = np.array([c])
            fields = [d.adjusted(f, rows, cols, as_of)[:, 0] for f in ("open", "high", "low", "close", "volume")]
        close = fields[3]
        keep = ~np.isnan(close)
        return Bars(d.times[rows][keep], *(f[keep] for f in fields))

    def price_factor(self, at_ns: int, as_of_ns: int) -> float:
        """The multiplier that adjusts a raw price at ``at_ns`` for actions up to ``as_of_ns`` (1.0 if none)."""
        d = self.daily
        if not d.splits and not d.dividends:
            return 1.0
        r = max(min(d.row_at_or_before(at_ns), d.n_rows - 1), 0)
        a = max(min(d.row_at_or_before(as_of_ns), d.n_rows - 1), 0)
        num, den = d.price_factor[r, self.col], d.price_factor[a, self.col]
        return float(num / den) if den and num == num and den == den else 1.0

    # ----------------------------------------------------------------------------------------------- seconds
    def second_path(self, minute_end_ns: int, o: float, h: float, low: float, c: float) -> np.ndarray:
        """60 prices, one per second of a minute, from ``o`` to ``c`` touching ``h`` and ``low`` (seeded)."""
        key = (minute_end_ns, o, h, low, c)
        hit = self._paths.get(key)
        if hit is not None:
            return hit
        path = self._make_path(minute_end_ns, o, h, low, c)
        self._paths[key] = path
        if len(self._paths) > 128:
            self._paths.popitem(last=False)
        return path

    def _make_path(self, minute_end_ns: int, o: float, h: float, low: float, c: float) -> np.ndarray:
        secs = minute_end_ns // NS_PER_SECOND - 60 + np.arange(1, 61, dtype=np.int64)
        z = counter_rng.normal(self.seed, 31, self._sid, secs)[:, 0]
        walk = np.cumsum(z)
        frac = np.arange(1, 61) / 60.0
        bridge = walk - frac * walk[-1]
        base = o + (c - o) * frac
        path = base.copy()
        span = np.max(np.abs(bridge))
        if span > 0 and h > low:
            up = max(h - max(o, c), 0.0)
            down = max(min(o, c) - low, 0.0)
            pad = (h - low) * 0.1
            scaled = np.where(bridge > 0, bridge / span * (up + pad), bridge / span * (down + pad))
            path = np.clip(base + scaled, low, h)
            if up > 0:
                path[int(np.argmax(bridge[:-1]))] = h
            if down > 0:
                path[int(np.argmin(bridge[:-1]))] = low
        path[-1] = c
        return _round_to(path, self.tick)

    def seconds_between(self, start_ns: int, end_ns: int) -> Bars:
        """One-second bars ending in ``(start_ns, end_ns]``, derived from the minute bars."""
        minutes = self.minutes_between(start_ns - NS_PER_MINUTE, end_ns + NS_PER_MINUTE)
        if not len(minutes):
            return Bars.empty()
        ends, opens, highs, lows, closes, vols = [], [], [], [], [], []
        for i in range(len(minutes)):
            e = int(minutes.end_ns[i])
            if e <= start_ns or e - NS_PER_MINUTE >= end_ns:
                continue
            path = self.second_path(e, float(minutes.open[i]), float(minutes.high[i]), float(minutes.low[i]),
                                    float(minutes.close[i]))
            prev = np.concatenate([[minutes.open[i]], path[:-1]])
            t = e - NS_PER_MINUTE + np.arange(1, 61, dtype=np.int64) * NS_PER_SECOND
            ends.append(t)
            opens.append(prev)
            highs.append(np.maximum(prev, path))
            lows.append(np.minimum(prev, path))
            closes.append(path)
            vols.append(self.second_volumes(e, float(minutes.volume[i])))
        if not ends:
            return Bars.empty()
        out = Bars(*(np.concatenate(x) for x in (ends, opens, highs, lows, closes, vols)))
        return out.between(start_ns, end_ns)

    # ------------------------------------------------------------------------------------------------- quote
    def quote(self, now_ns: int) -> MarketQuote | None:
        """The market at ``now_ns`` (None before the data starts)."""
        cached = self._quote_cache
        if cached is not None and cached.time_ns == now_ns:
            return cached
        quote = self._quote(now_ns)
        self._quote_cache = quote
        return quote

    def second_volumes(self, minute_end_ns: int, volume: float) -> np.ndarray:
        """The volume of each second of a minute (as the 1-second bars split it; seeded)."""
        key = (minute_end_ns, volume)
        hit = self._volumes.get(key)
        if hit is not None:
            return hit
        split = _split_volume(volume, 60, self.seed, minute_end_ns)
        self._volumes[key] = split
        if len(self._volumes) > 128:
            self._volumes.popitem(last=False)
        return split

    def _quote(self, now_ns: int) -> MarketQuote | None:
        """The 1-second bars of the session that ended by ``now_ns``, summarised.

        A minute bar ending at ``e`` is known from ``e`` on; second ``i`` (1..60) of the minute, the seeded path's
        price ``i - 1``, from ``e - 60 s + i s`` on. So at a minute boundary the last price is the close of the minute
        that just ended, and nothing of the minute starting there shows before its first second has passed.
        """
        cal = self.calendar
        k = int(np.searchsorted(cal.opens, now_ns, side="left")) - 1  # last session opened before now
        k = min(k, self.daily.first_session + self.last_row)
        while k >= 0 and not self.covers_session(k):
            if k < self.daily.first_session + self.first_row:
                return None
            k -= 1
        if k < 0:
            return None
        bars = self.session_minutes(k)
        if not len(bars):
            return None
        trading = bool(now_ns < int(cal.closes[k]))
        done = int(np.searchsorted(bars.end_ns, now_ns, side="right")) if trading else len(bars)
        e = int(bars.end_ns[done]) if done < len(bars) else 0  # the minute in progress ends at e
        secs = max(int((now_ns - (e - NS_PER_MINUTE)) // NS_PER_SECOND), 0) if e else 0  # its seconds that ended
        previous = self._prev_close(k)
        if not done and not secs:
            if previous is None:
                return None
            prev_close, prev_ns = previous
            return self._make_quote(now_ns, prev_close, 0.0, prev_close, prev_close, prev_close, prev_close,
                                    trading, 0.0, prev_ns)
        prev_close = float(bars.open[0]) if previous is None else previous[0]
        high = float(bars.high[:done].max(initial=-math.inf))
        low = float(bars.low[:done].min(initial=math.inf))
        vol = float(bars.volume[:done].sum())
        if secs:
            part = self.second_path(e, float(bars.open[done]), float(bars.high[done]), float(bars.low[done]),
                                    float(bars.close[done]))[:secs]
            part_vol = float(self.second_volumes(e, float(bars.volume[done]))[:secs].sum())
            last = float(part[-1])
            high = max(high, float(part.max()), float(bars.open[done]))
            low = min(low, float(part.min()), float(bars.open[done]))
            vol += part_vol
            minute_vol = float(bars.volume[done - 1]) if done else part_vol
            last_ns = e - NS_PER_MINUTE + secs * NS_PER_SECOND
        else:
            last = float(bars.close[done - 1])
            minute_vol = float(bars.volume[done - 1])
            last_ns = int(bars.end_ns[done - 1])
        return self._make_quote(now_ns, last, vol, float(bars.open[0]), high, low, prev_close, trading, minute_vol,
                                last_ns)

    def _make_quote(self, now_ns: int, last: float, volume: float, open_: float, high: float, low: float,
                    prev_close: float, trading: bool, minute_volume: float, last_trade_ns: int) -> MarketQuote:
        tick = self.tick
        mult = self.inst.md_size_multiplier or 1
        lots = 1 + hash((self.seed, self.inst.con_id, now_ns // NS_PER_SECOND)) % 9  # ints hash deterministically
        return MarketQuote(
            time_ns=now_ns,
            last=last,
            last_size=lots * mult,
            bid=_round_to_scalar(last - tick, tick),
            bid_size=(lots + 2) * mult,
            ask=_round_to_scalar(last + tick, tick),
            ask_size=(lots + 3) * mult,
            volume=volume,
            open=open_,
            high=high,
            low=low,
            prev_close=prev_close,
            trading=trading,
            minute_volume=minute_volume,
            last_trade_ns=last_trade_ns,
        )

    def _prev_close(self, k: int) -> tuple[float, int] | None:
        """The last close before session ``k`` and the end of its session (None if the data starts at ``k``)."""
        row = k - self.daily.first_session - 1
        while row >= 0:
            v = self.daily.close[row, self.col]
            if v == v:
                return float(v), int(self.calendar.closes[self.daily.first_session + row])
            row -= 1
        return None


def _round_to(values: np.ndarray, tick: float) -> np.ndarray:
    decimals = max(math.ceil(-math.log10(tick)) + 1, 0) if tick > 0 else 6
    return np.round(np.round(values / tick) * tick, decimals)


def _round_to_scalar(value: float, tick: float) -> float:
    decimals = max(math.ceil(-math.log10(tick)) + 1, 0) if tick > 0 else 6
    return round(round(value / tick) * tick, decimals)


def _split_volume(total: float, n: int, seed: int, key: int) -> np.ndarray:
    """Split a minute's volume over its seconds (whole numbers when the total is whole)."""
    w = counter_rng.uniform(seed, 37, np.array([key % (1 << 62)], dtype=np.int64), np.arange(n, dtype=np.int64))[:, 0]
    cum = np.cumsum(w) / w.sum() * total
    if float(total).is_integer():
        cum = np.round(cum)
    cum[-1] = total
    return np.diff(cum, prepend=0.0)


class Market:
    """The price series of every instrument, looked up by conId."""

    def __init__(self) -> None:
        self._series: dict[int, Series] = {}
        self._derived: Callable[[Instrument, int], MarketQuote | None] | None = None

    def derive(self, quote: Callable[[Instrument, int], MarketQuote | None]) -> None:
        """Quote options (instruments without a series of their own) through ``quote`` (the option model)."""
        self._derived = quote

    def add(self, series: Series) -> None:
        self._series[series.inst.con_id] = series

    def series(self, inst: Instrument) -> Series | None:
        return self._series.get(inst.con_id)

    def instrument(self, con_id: int) -> Instrument | None:
        """The instrument of a series by conId (an option's underlying, say)."""
        s = self._series.get(con_id)
        return s.inst if s is not None else None

    def all_series(self) -> list[Series]:
        """Every instrument's series, in the order they were added."""
        return list(self._series.values())

    def quote(self, inst: Instrument, now_ns: int) -> MarketQuote | None:
        s = self._series.get(inst.con_id)
        if s is None:
            derived = self._derived
            return derived(inst, now_ns) if derived is not None and inst.is_option else None
        return s.quote(now_ns)

    def __contains__(self, inst: Instrument) -> bool:
        return inst.con_id in self._series


__all__ = ["MINUTE", "Bars", "Market", "MarketQuote", "MinuteCache", "Series"]
