"""Historical bars (reqHistoricalData) as numpy arrays labelled by bar END, a per-bar cache, and the live data
portal's :class:`~runtime.data.store.BarArrays` built from them.

An intraday bar still forming (IB sends it) is left out until it has ended; today's partial DAILY bar is kept,
labelled with today's close (the portal decides what an algorithm sees of it).

IB labels a bar by its START ('20121114' for a day, epoch seconds with formatDate=2 for intraday bars); the
runtime labels it by its END (a day by its session's close, a minute by the minute that ended). A daily bar is
IB's bar of a trade date, and the session it closes is the asset's own (a future's CME session and a currency
pair's day end at other hours than NYSE's): :attr:`HistoryBars.dates` keeps the trade dates and
:meth:`HistoryBars.end_labels_on` places the bars on another calendar (the run's) by date. TRADES volumes come in
lots of ``mdSizeMultiplier`` below server version 163 and are converted to shares; MIDPOINT, BID and ASK bars have
no volume (IB sends -1, kept as NaN).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from runtime.brokers.ib.errors import HistoricalDataError
from runtime.brokers.ib.pacing import HistoricalPacer, HistoryKey
from runtime.brokers.ib.records import BarInfo
from runtime.core.assets import Asset
from runtime.core.calendar import TradingCalendar
from runtime.core.ib.bars import (
    bar_seconds,
    duration_for_sessions,
    end_labels_daily,
    end_labels_intraday,
    normalize_bar_size,
    parse_duration,
    session_end_labels,
)
from runtime.core.ib.time import NS_PER_SECOND, ib_end_time, parse_ib_time
from runtime.data.store import DAILY, MINUTE, BarArrays

#: fetch(asset, end, duration, bar_size, what_to_show, use_rth, timeout) -> IB's bars (start-labelled)
Fetch = Callable[[Asset, str, str, str, str, bool, float], list[BarInfo]]


@dataclass(frozen=True, eq=False)
class HistoryBars:
    """Bars of one asset: ``end_ns`` int64 ns UTC (bar END), float64 fields, ascending; ``dates`` (datetime64[ns]
    midnights) the trade date IB labels each daily bar with, None for intraday bars."""

    asset: Asset
    bar_size: str
    end_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    dates: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.end_ns)

    def tail(self, n: int) -> HistoryBars:
        """The last ``n`` bars."""
        s = slice(max(len(self) - n, 0), len(self))
        return HistoryBars(self.asset, self.bar_size, self.end_ns[s], self.open[s], self.high[s], self.low[s],
                           self.close[s], self.volume[s], None if self.dates is None else self.dates[s])

    def end_labels_on(self, calendar: TradingCalendar) -> np.ndarray:
        """END labels of the bars on ``calendar``: a daily bar at the close of that calendar's session of its trade
        date (-1 if the date is not one of its sessions), an intraday bar at its own end."""
        if self.dates is None:
            return self.end_ns
        return session_end_labels(self.dates, calendar.sessions, calendar.closes)


log = logging.getLogger(__name__)

#: how long a history request waits after IB's pacing violation it did not cause (identical-request window + margin)
PACING_RETRY_S = 15.5


class HistoryService:
    """reqHistoricalData with IB's pacing respected (requests wait their turn) and a cache per bar."""

    def __init__(self, fetch: Fetch, calendar_for: Callable[[Asset], TradingCalendar], *,
                 pacer: HistoricalPacer | None = None, time_zone: str = "US/Eastern", timeout_s: float = 30.0,
                 lot_for: Callable[[Asset], int] | None = None, cache_size: int = 512,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._fetch = fetch
        self._calendar_for = calendar_for
        self.pacer = pacer or HistoricalPacer()
        self.time_zone = time_zone
        self.timeout_s = timeout_s
        self._lot_for = lot_for or (lambda a: 1)
        self._sleep = sleep
        self._cache: OrderedDict[tuple, HistoryBars] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.requests = 0
        self.cache_hits = 0
        self.waited_s = 0.0

    def bars(self, asset: Asset, duration: str, bar_size: str, what_to_show: str = "TRADES", use_rth: bool = True,
             end_ns: int | None = None, as_of_ns: int | None = None, timeout: float | None = None) -> HistoryBars:
        """Bars of ``asset`` covering ``duration`` ('30 D', '3600 S', '1 Y') up to ``end_ns`` (None: now).

        Answers are cached per bar: asking the same again before the next bar of ``bar_size`` has ended (at
        ``as_of_ns``, the engine's clock; wall time if None) costs nothing.
        """
        size = normalize_bar_size(bar_size)
        parse_duration(duration)
        what = what_to_show.upper()
        seconds = bar_seconds(size)
        now = time.time_ns() if as_of_ns is None else as_of_ns
        bucket = now // (seconds * NS_PER_SECOND) if end_ns is None else None
        key = (asset.sid, asset.con_id, duration, size, what, use_rth, end_ns, bucket)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.cache_hits += 1
                return hit
        end = ib_end_time(end_ns)
        pace_key = HistoryKey((asset.con_id or asset.sid, end, duration, size, what, use_rth),
                              (asset.con_id or asset.sid, asset.exchange, what), 2 if what == "BID_ASK" else 1)
        budget = timeout or self.timeout_s
        deadline = time.monotonic() + budget
        while True:
            wait = self.pacer.reserve(pace_key)
            if wait <= 0:
                break
            if time.monotonic() + wait > deadline:
                raise HistoricalDataError(
                    f"history for {asset.symbol} ({duration} of {size}) would have to wait {wait:.0f} s for IB's "
                    "historical-data pacing (max 60 requests / 10 min, 6 per contract / 2 s, no identical request "
                    "within 15 s): ask for fewer or longer series, or rely on the cache", 162)
            self.waited_s += wait
            self._sleep(wait)
        self.requests += 1
        try:
            rows = self._fetch(asset, end, duration, size, what, use_rth, max(deadline - time.monotonic(), 1.0))
        except HistoricalDataError as exc:
            # a pacing violation this process did not cause: the same request from a run started moments ago (a
            # quick restart's preload) counts at IB for 15 s. Wait it out once, when the request's time allows
            if exc.code != 162 or "pacing violation" not in (exc.text or str(exc)) or \
                    time.monotonic() + PACING_RETRY_S > deadline:
                raise
            log.info("history for %s: IB's pacing rule (an identical request within 15 s, e.g. by the run before a "
                     "restart): asking again in %.0f s", asset.symbol, PACING_RETRY_S)
            self.waited_s += PACING_RETRY_S
            self._sleep(PACING_RETRY_S)
            self.requests += 1
            rows = self._fetch(asset, end, duration, size, what, use_rth, max(deadline - time.monotonic(), 1.0))
        lot = self._lot_for(asset) if what in ("TRADES", "ADJUSTED_LAST") else 1
        result = self._to_bars(asset, size, seconds, rows, lot, now)
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result

    def _to_bars(self, asset: Asset, size: str, seconds: int, rows: Sequence[BarInfo], lot: int,
                 now_ns: int) -> HistoryBars:
        cal = self._calendar_for(asset)
        n = len(rows)
        fields = np.array([[r.open, r.high, r.low, r.close, r.volume] for r in rows], dtype=np.float64).reshape(n, 5)
        vol = fields[:, 4]
        vol = np.where(vol < 0, np.nan, vol * lot)
        dates = None
        if seconds >= 86_400:
            days = [r.date.split()[0] for r in rows]
            ends = end_labels_daily(days, cal.sessions, cal.closes)
            dates = np.array([np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:8]}", "ns") for d in days],
                             dtype="datetime64[ns]")
        else:
            starts = np.fromiter((parse_ib_time(r.date, self.time_zone) for r in rows), dtype=np.int64, count=n)
            ends = end_labels_intraday(starts, seconds, cal.closes)
            # IB includes the bar still forming; the runtime knows a bar once it has ended
            keep = ends <= now_ns
            ends, fields, vol = ends[keep], fields[keep], vol[keep]
        order = np.argsort(ends, kind="stable")
        return HistoryBars(asset, size, ends[order], fields[order, 0], fields[order, 1], fields[order, 2],
                           fields[order, 3], vol[order], None if dates is None else dates[order])

    # ------------------------------------------------------------------------------------------ bar stores
    def daily_bar_arrays(self, assets: Sequence[Asset], n_sessions: int, calendar: TradingCalendar,
                         now_ns: int | None = None, timeout: float | None = None) -> BarArrays:
        """Daily BarArrays of the last ``n_sessions`` sessions up to now (today's partial bar included when IB sends
        it: it is labelled with today's close)."""
        now = time.time_ns() if now_ns is None else now_ns
        last = calendar.last_session_started_by(now)
        first = max(last - n_sessions + 1, 0)
        times = calendar.closes[first: last + 1].astype(np.int64)
        data = [self.bars(a, duration_for_sessions(n_sessions), "1 day", end_ns=None, as_of_ns=now,
                          timeout=timeout) for a in assets]
        return _bar_arrays(DAILY, calendar, first, last, assets, times, np.arange(len(times) + 1, dtype=np.int64),
                           data)

    def minute_bar_arrays(self, assets: Sequence[Asset], calendar: TradingCalendar, now_ns: int | None = None,
                          timeout: float | None = None) -> BarArrays:
        """Minute BarArrays of the current session so far (the last session if none is open)."""
        now = time.time_ns() if now_ns is None else now_ns
        k = calendar.last_session_started_by(now)
        minutes = calendar.session_minutes(k)
        minutes = minutes[minutes <= now]
        data = [self.bars(a, "1 D", "1 min", end_ns=None, as_of_ns=now, timeout=timeout) for a in assets]
        return _bar_arrays(MINUTE, calendar, k, k, assets, minutes.astype(np.int64),
                           np.array([0, len(minutes)], dtype=np.int64), data)


def _bar_arrays(frequency: str, calendar: TradingCalendar, first: int, last: int, assets: Sequence[Asset],
                times: np.ndarray, session_row_start: np.ndarray, data: Sequence[HistoryBars]) -> BarArrays:
    n, m = len(times), len(assets)
    out = {f: np.full((n, m), np.nan) for f in ("open", "high", "low", "close")}
    volume = np.zeros((n, m))
    for c, bars in enumerate(data):
        ends = bars.end_labels_on(calendar)
        rows = np.searchsorted(times, ends)
        ok = (rows < n) & (times[np.minimum(rows, n - 1)] == ends) if n else np.zeros(len(bars), bool)
        r = rows[ok]
        for f in out:
            out[f][r, c] = getattr(bars, f)[ok]
        volume[r, c] = np.nan_to_num(bars.volume[ok])
    ones = np.ones((n, m))
    return BarArrays(frequency, calendar, first, last, tuple(assets), times, session_row_start, out["open"],
                     out["high"], out["low"], out["close"], volume, ones, ones.copy())
