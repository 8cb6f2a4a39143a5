"""The live data feed: the engine's :class:`~runtime.data.portal.DataPortal` kept up to date from the broker.

What the algorithm sees has the backtest's shapes and semantics (the same BarData over the same kind of arrays):

- daily bars, ``history_sessions`` sessions back, from the broker's history (``reqHistoricalData``, one request per
  asset) when an asset is added and at each ``before_trading_start``: sessions up to yesterday, adjusted as of then;
- the current bar from streaming quotes (``reqMktData``), never a request per bar: in a daily run today's daily bar
  at the close (open, high, low, last, volume of the day); in a minute run one minute row per bar (close = last
  trade, volume = the day's volume since the previous bar, open = the previous close, high/low = the extremes of
  those two, widened when the day's high/low moved);
- in a minute run, today's minutes so far from history once when the run starts in the middle of a session.

Prices by security type, as IB serves them (TWS API "Historical Bar Data", whatToShow per product:
https://interactivebrokers.github.io/tws-api/historical_bars.html):

- stocks, futures and indices: TRADES history (first, highest, lowest, last traded price and traded volume) and
  the last-trade tick for the current price;
- currency pairs (CASH on IDEALPRO): IB has no trades for them and refuses TRADES history with error 162; it
  serves MIDPOINT, BID, ASK and BID_ASK. The feed asks for MIDPOINT bars and prices the current bar at the bid/ask
  midpoint (IB sends bid and ask ticks but no last price for a currency pair). FX volume is not available from IB
  (MIDPOINT bars carry -1, the quote has no volume tick): a currency pair's volume is 0 in ``data.current`` and
  ``data.history``.

IB labels a daily bar by its trade date, while the session behind it is the asset's own (a future trades on CME
hours, a currency pair around the clock): a daily bar goes to the run calendar's session of the same date (none if
that date is not one of its sessions). Intraday bars are placed by the instant they end.

Before a bar is shown, :attr:`sync` makes sure everything the broker reported up to now (fills, quotes) has been
handled (against the in-process gateway: it follows the clock to now first), so that fills are booked on the
same bar as in a backtest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from runtime.brokers.ib.broker import IBBroker
from runtime.brokers.ib.errors import IBError
from runtime.brokers.ib.history import HistoryBars
from runtime.core.assets import Asset, SecType
from runtime.core.calendar import TradingCalendar
from runtime.core.ib.bars import duration_for_sessions, history_what_to_show
from runtime.data.portal import DataPortal, Frame
from runtime.data.store import DAILY, MINUTE, BarArrays
from runtime.engine.dispatch import BTS, Dispatcher
from runtime.engine.engine import Engine
from runtime.errors import NotConnectedError

log = logging.getLogger("ibalgo.data")

FIELDS = ("open", "high", "low", "close", "volume")


def _empty(n: int, m: int) -> dict[str, np.ndarray]:
    out = {f: np.full((n, m), np.nan) for f in FIELDS[:4]}
    out["volume"] = np.zeros((n, m))
    return out


def _store(frequency: str, cal: TradingCalendar, first: int, last: int, assets: Sequence[Asset], times: np.ndarray,
           row_start: np.ndarray, fields: dict[str, np.ndarray]) -> BarArrays:
    ones = np.ones((len(times), len(assets)))
    return BarArrays(frequency, cal, first, last, tuple(assets), times.astype(np.int64), row_start.astype(np.int64),
                     fields["open"], fields["high"], fields["low"], fields["close"], fields["volume"], ones,
                     ones.copy())


class BrokerFeed:
    """A :class:`~runtime.engine.dispatch.BarFeed` over a broker's history and quotes (see the module docstring)."""

    def __init__(
        self,
        broker: IBBroker,
        engine: Engine,
        calendar: TradingCalendar,
        frequency: str,
        *,
        now: Callable[[], int],
        sync: Callable[[], None],
        handle_pending: Callable[[], None],
        history_sessions: int = 260,
    ) -> None:
        self.broker = broker
        self.engine = engine
        self.cal = calendar
        self.minute = frequency == "minute"
        self.now = now
        self.sync = sync
        self.handle_pending = handle_pending
        self.history_sessions = history_sessions
        self.assets: list[Asset] = []
        self._session = -1  # the session the daily history ends before
        self._hist_first = 0
        self._hist: dict[str, np.ndarray] = _empty(0, 0)
        self._today: dict[str, np.ndarray] | None = None
        self._minutes: np.ndarray = np.empty(0, dtype=np.int64)  # today's minute grid up to the last bar
        self._mrows: dict[str, np.ndarray] = _empty(0, 0)
        self._last_volume: np.ndarray = np.zeros(0)
        self._last_high: np.ndarray = np.zeros(0)
        self._last_low: np.ndarray = np.zeros(0)
        self._daily_frame: Frame | None = None
        self.history_requests = 0
        self._warned: set[tuple[int, str]] = set()
        engine.api.super_symbol_source = self.add_super_symbol

    # ------------------------------------------------------------------------------------------------ assets
    def start(self, now_ns: int) -> None:
        """The portal before anything is known: no assets, the session of ``now_ns``."""
        self._session = self._current_session(now_ns)
        self._hist_first = max(self._session - 1, 0)
        self._hist = _empty(self._session - self._hist_first, 0)
        self._publish()

    def _current_session(self, now_ns: int) -> int:
        """The first session not closed at ``now_ns``."""
        return int(np.searchsorted(self.cal.closes, now_ns, side="left"))

    def add_symbol(self, text: str) -> Asset:
        """``symbol()`` of a live run: resolved by the broker, streamed, its history loaded."""
        asset = self.broker.symbol(text)
        self.add_assets([asset])
        return asset

    def add_super_symbol(self, **fields: Any) -> Asset:
        """``superSymbol()`` of a live run: the contract resolved by the broker (snake_case IB fields: sec_type,
        symbol, currency, exchange, expiry...), streamed, its history loaded; an asset already in the data is
        returned as it is."""
        asset = self.broker.super_symbol(**fields)
        known = next((a for a in self.assets if a == asset), None)
        if known is not None:
            return known
        self.add_assets([asset])
        return asset

    def add_assets(self, assets: Sequence[Asset]) -> None:
        new = [a for a in dict.fromkeys(assets) if a not in self.assets]
        if not new:
            return
        for a in new:
            try:
                self.broker.subscribe(a)
            except (IBError, NotConnectedError) as exc:
                log.warning("no market data for %s: %s", a.symbol, exc)
        self.assets.extend(new)
        self.engine.api.add_assets(new)
        now = self.now()
        hist = self._fetch_daily(new, now)
        for f in FIELDS:
            self._hist[f] = np.hstack([self._hist[f], hist[f]])
        if self._today is not None:
            for f in FIELDS:
                self._today[f] = np.concatenate([self._today[f], np.full(len(new), np.nan if f != "volume" else 0)])
        if self.minute:
            n = len(self._minutes)
            extra = self._fetch_minutes(new, now) if n else _empty(0, len(new))
            for f in FIELDS:
                self._mrows[f] = np.hstack([self._mrows[f], extra[f]])
            self._last_volume = np.concatenate([self._last_volume, np.nansum(extra["volume"], axis=0)])
            self._last_high = np.concatenate([self._last_high, np.fmax.reduce(extra["high"], axis=0, initial=-np.inf)])
            self._last_low = np.concatenate([self._last_low, np.fmin.reduce(extra["low"], axis=0, initial=np.inf)])
        self._publish()

    # ------------------------------------------------------------------------------------------------ history
    def _fetch_daily(self, assets: Sequence[Asset], now_ns: int) -> dict[str, np.ndarray]:
        """Daily rows of sessions ``_hist_first .. _session - 1`` for ``assets`` (NaN where the broker has none)."""
        first, last = self._hist_first, self._session - 1
        closes = self.cal.closes[first: last + 1].astype(np.int64)
        out = _empty(len(closes), len(assets))
        duration = duration_for_sessions(max(last - first + 1, 1))
        for c, a in enumerate(assets):
            bars = self._history(a, duration, "1 day", now_ns)
            if bars is not None:
                self._place(out, c, closes, bars.end_labels_on(self.cal), bars)
        return out

    def _fetch_minutes(self, assets: Sequence[Asset], now_ns: int) -> dict[str, np.ndarray]:
        out = _empty(len(self._minutes), len(assets))
        for c, a in enumerate(assets):
            bars = self._history(a, "1 D", "1 min", now_ns)
            if bars is not None:
                self._place(out, c, self._minutes, bars.end_ns, bars)
        return out

    def _history(self, asset: Asset, duration: str, bar_size: str, now_ns: int) -> HistoryBars | None:
        try:
            self.history_requests += 1
            return self.broker.history_bars(asset, duration, bar_size, history_what_to_show(asset.sec_type),
                                            as_of_ns=now_ns)
        except (IBError, NotConnectedError) as exc:  # disconnected: NaN bars now, fetched again after the reconnect
            key = (asset.sid, bar_size)
            (log.debug if key in self._warned else log.warning)("no %s history for %s: %s", bar_size, asset.symbol,
                                                                 exc)
            self._warned.add(key)
            return None

    @staticmethod
    def _place(out: dict[str, np.ndarray], col: int, times: np.ndarray, ends: np.ndarray, bars: HistoryBars) -> None:
        """Put ``bars`` (labelled ``ends`` on the run's calendar) in column ``col`` of the rows at ``times``."""
        n = len(times)
        if not n or not len(bars):
            return
        rows = np.searchsorted(times, ends)
        ok = (rows < n) & (times[np.minimum(rows, n - 1)] == ends)
        r = rows[ok]
        for f in FIELDS:
            values = getattr(bars, f)[ok]
            out[f][r, col] = np.nan_to_num(values) if f == "volume" else values

    def refresh_daily(self, now_ns: int) -> None:
        """Daily history up to the last completed session (at start and each before_trading_start)."""
        self._session = self._current_session(now_ns)
        self._hist_first = max(self._session - self.history_sessions, 0)
        self._hist = self._fetch_daily(self.assets, now_ns)
        self._today = None
        self._minutes = np.empty(0, dtype=np.int64)
        m = len(self.assets)
        self._mrows = _empty(0, m)
        self._last_volume = np.zeros(m)
        self._last_high = np.full(m, -np.inf)
        self._last_low = np.full(m, np.inf)
        self._publish()

    # --------------------------------------------------------------------------------------------- quotes
    def _quote_row(self) -> dict[str, np.ndarray]:
        """The latest quote of every asset: open, high, low, volume, and ``last`` the last trade, else the bid/ask
        midpoint (currency pairs, whose volume is 0)."""
        m = len(self.assets)
        row = {f: np.full(m, np.nan) for f in ("open", "high", "low", "last", "volume")}
        for c, a in enumerate(self.assets):
            q = self.broker.quote(a)
            if q is None:
                continue
            for f in ("open", "high", "low", "volume"):
                value = getattr(q, f)
                if value is not None:
                    row[f][c] = value
            if q.price is not None:
                row["last"][c] = q.price
            if a.sec_type is SecType.CASH:
                row["volume"][c] = 0.0
        return row

    def _daily_today(self) -> None:
        q = self._quote_row()
        self._today = {"open": q["open"], "high": q["high"], "low": q["low"], "close": q["last"],
                       "volume": np.nan_to_num(q["volume"])}

    def _minute_bar(self, t: int, session: int) -> None:
        if self._session != session:  # no before_trading_start for this session (a run started mid-session)
            self.refresh_daily(t)
        grid = self.cal.session_minutes(session)
        k = int(np.searchsorted(grid, t, side="right"))
        started_mid_session = not len(self._minutes) and k > 1
        minutes = grid[:k].astype(np.int64)
        extra = k - len(self._minutes)
        if started_mid_session:
            self._minutes = minutes
            self._mrows = self._fetch_minutes(self.assets, t)
            self._last_volume = np.nansum(self._mrows["volume"], axis=0)
            self._last_high = np.fmax.reduce(self._mrows["high"], axis=0, initial=-np.inf)
            self._last_low = np.fmin.reduce(self._mrows["low"], axis=0, initial=np.inf)
            return
        if extra <= 0:
            return
        q = self._quote_row()
        m = len(self.assets)
        prev_close = self._mrows["close"][-1] if len(self._mrows["close"]) else np.full(m, np.nan)
        close = q["last"]
        opened = np.where(np.isnan(prev_close), q["open"], prev_close)
        day_volume = np.nan_to_num(q["volume"])
        volume = np.maximum(day_volume - self._last_volume, 0.0)
        with np.errstate(invalid="ignore"):
            high = np.fmax(opened, close)
            low = np.fmin(opened, close)
            high = np.where(q["high"] > self._last_high, np.fmax(high, q["high"]), high)
            low = np.where(q["low"] < self._last_low, np.fmin(low, q["low"]), low)
        self._last_volume = np.maximum(day_volume, self._last_volume)
        self._last_high = np.fmax(self._last_high, q["high"])
        self._last_low = np.fmin(self._last_low, q["low"])
        block = _empty(extra, m)
        for f, v in (("open", opened), ("high", high), ("low", low), ("close", close), ("volume", volume)):
            block[f][-1] = v
        for f in FIELDS:
            self._mrows[f] = np.vstack([self._mrows[f], block[f]])
        self._minutes = minutes

    # ------------------------------------------------------------------------------------------------ portal
    def _publish(self) -> None:
        first, last = self._hist_first, self._session - 1
        n_hist = last - first + 1
        fields = self._hist
        if self._today is not None:
            fields = {f: np.vstack([self._hist[f], self._today[f][None, :]]) for f in FIELDS}
            last += 1
        if last < first:  # nothing before the first session of the calendar
            last = first
            fields = _empty(1, len(self.assets))
        times = self.cal.closes[first: last + 1]
        assert len(times) == len(fields["close"]) or n_hist < 1
        daily = _store(DAILY, self.cal, first, last, self.assets, times, np.arange(len(times) + 1), fields)
        self._daily_frame = Frame.build(daily)
        self._publish_minutes()

    def _publish_minutes(self) -> None:
        assert self._daily_frame is not None
        minute_frame = None
        if self.minute:
            s = min(self._session, len(self.cal) - 1)
            minutes = self.cal.session_minutes(s)[:max(len(self._minutes), 1)].astype(np.int64)
            rows = self._mrows if len(self._minutes) else _empty(1, len(self.assets))
            minute = _store(MINUTE, self.cal, s, s, self.assets, minutes, np.array([0, len(minutes)]), rows)
            minute_frame = Frame.build(minute)
        self.engine.set_portal(DataPortal.from_frames(self._daily_frame, minute_frame))

    # ------------------------------------------------------------------------------------------ BarFeed
    def before_session(self, t: int, session: int) -> None:
        self.handle_pending()
        self.refresh_daily(t)

    def advance(self, engine: Engine, t: int, session: int) -> list:
        """Show the bar ending at ``t``: book what the broker reported up to now, then the bar's data."""
        self.sync()
        self.handle_pending()
        clock = engine.clock
        if self.minute:
            self._minute_bar(t, session)
            self._publish_minutes()
            row = len(self._minutes) - 1
            clock.minute_row = row
            clock.daily_row = session - self._hist_first - 1
        else:
            if self._session != session:
                self.refresh_daily(t)
            self._daily_today()
            self._publish()
            row = session - self._hist_first
            clock.daily_row = row
        clock.bar_row = row
        return []

    def end_of_session(self, t: int) -> list:
        """The close: DAY orders expire at the broker; today's daily bar joins the history (minute runs)."""
        self.sync()
        self.handle_pending()
        if self._today is None:
            self._daily_today()
            self._publish()
        return []


class BrokerDispatcher(Dispatcher):
    """The shared Dispatcher, plus the daily history refresh before each ``before_trading_start``."""

    feed: BrokerFeed

    def dispatch(self, t: int, kind: int, rule: int, session: int) -> bool:
        if kind == BTS:
            self.feed.before_session(t, session)
        return super().dispatch(t, kind, rule, session)
