"""Event dispatch: what the engine does for each timeline event, shared by every clock.

The backtest's discrete-event loop, the live loop (wall clock) and the replay loop (virtual time) all hand events
to :meth:`Dispatcher.dispatch`; only how events are chosen differs (all of them in a backtest; the misfire policy
of :func:`runtime.engine.timeline.plan_due` live). A :class:`BarFeed` moves the data (and, for a simulated market,
the matching) to a bar and returns the broker events that happened up to it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from runtime.brokers.base import Broker, BrokerEvent
from runtime.data.store import BarArrays
from runtime.engine.engine import Engine, Phase
from runtime.engine.timeline import EventKind, Timeline

BTS = int(EventKind.BEFORE_TRADING_START)
BAR = int(EventKind.BAR)
SCHEDULED = int(EventKind.SCHEDULED)
SESSION_END = int(EventKind.SESSION_END)
HANDLE_DATA = Phase.HANDLE_DATA


class BarFeed(Protocol):
    """Moves the engine's view of the market to a bar."""

    minute: bool

    def advance(self, engine: Engine, t: int, session: int) -> list[BrokerEvent]:
        """Set the engine's clock rows for the bar ending at ``t``; return broker events up to it."""

    def end_of_session(self, t: int) -> list[BrokerEvent]:
        """Broker events at the session's end (DAY expiry)."""


class StoreBarFeed:
    """Bars from calendar-aligned stores, with the in-process simulated broker matching orders against them."""

    def __init__(self, broker: Broker, daily: BarArrays, minute: BarArrays | None) -> None:
        self.broker = broker
        self.daily = daily
        self.minute_bars = minute
        self.minute = minute is not None
        #: the last bar row the broker's orders were matched against (each bar meets the orders once)
        self.matched_row = -1

    def advance(self, engine: Engine, t: int, session: int) -> list[BrokerEvent]:
        clock = engine.clock
        if self.minute_bars is None:
            row = session - self.daily.first_session
            clock.daily_row = row
        else:
            times = self.minute_bars.times
            row = clock.minute_row + 1
            if not (0 <= row < len(times) and times[row] == t):  # not the next bar: a live run skipped some
                row = int(np.searchsorted(times, t, side="right")) - 1
            clock.minute_row = row
            clock.daily_row = session - self.daily.first_session - 1
        clock.bar_row = row
        if row <= self.matched_row or not self.broker.has_open_orders:
            return []  # each bar meets the orders once, however often handle_data runs (REGULAR mode)
        return self.match(row)

    def match(self, row: int) -> list[BrokerEvent]:
        """Match the broker's open orders against bar ``row`` (a row after :attr:`matched_row`); their events."""
        self.matched_row = row
        return self.broker.process_bar(row)

    def end_of_session(self, t: int) -> list[BrokerEvent]:
        return self.broker.end_of_session(t)


class Dispatcher:
    """Runs one timeline event on the engine (on the engine's thread)."""

    def __init__(self, engine: Engine, feed: BarFeed, regular: bool = False) -> None:
        self.engine = engine
        self.feed = feed
        self.bars = 0
        self._minute = feed.minute
        self._regular = regular
        self._opens = engine.calendar.opens
        self._closes = engine.calendar.closes

    def _mark(self) -> None:
        self.engine.mark_positions(self.engine.clock.bar_row, self._minute)

    def dispatch(self, t: int, kind: int, rule: int, session: int) -> bool:
        """Handle one event; returns False when the run should stop."""
        engine = self.engine
        clock = engine.clock
        if kind == BAR:
            self.bars += 1
            clock.now_ns = t
            clock.session = session
            # REGULAR mode ticks around the clock; bar-close ticks are always inside their session
            clock.in_session = not self._regular or bool(self._opens[session] < t <= self._closes[session])
            events = self.feed.advance(engine, t, session)
            engine.on_bar(t, events, self._mark)
        elif kind == SCHEDULED:
            engine.on_scheduled(t, rule)
        elif kind == BTS:
            clock.daily_row = session - engine.portal.daily.bars.first_session - 1
            engine.on_before_trading_start(t, session)
        if kind != SESSION_END and engine.stop_requested:
            return self.stop_now(t, session)
        if kind == SESSION_END:
            clock.in_session = False
            clock.daily_row = session - engine.portal.daily.bars.first_session
            engine.on_session_end(t, self.feed.end_of_session(t))
            if engine.stop_requested:
                engine.algo_log.warning("run stopped: %s", engine.stop_requested)
                return False
        return True

    def stop_now(self, t: int, session: int) -> bool:
        """end() / exit() in algorithm code: the run stops at once. The session so far is closed as at its end
        (DAY orders expire, its results row is written), and False is returned."""
        engine = self.engine
        engine.clock.in_session = False
        engine.clock.daily_row = session - engine.portal.daily.bars.first_session
        engine.on_session_end(t, self.feed.end_of_session(t))
        engine.algo_log.warning("run stopped: %s", engine.stop_requested)
        return False

    def run(self, timeline: Timeline) -> None:
        """Every event of ``timeline``, in order, until the engine asks to stop: the backtest's discrete-event loop.

        With the calendar-aligned stores of :class:`StoreBarFeed` the bars are handled here directly (the same steps
        as :meth:`dispatch`, with each bar's store row found for the whole timeline at once); any other feed, or a
        dispatcher that changes :meth:`dispatch`, gets every event through :meth:`dispatch`.
        """
        times, kinds = timeline.times, timeline.kinds
        events = zip(times.tolist(), kinds.tolist(), timeline.rules.tolist(), timeline.sessions.tolist())
        feed = self.feed
        if type(feed) is not StoreBarFeed or self._regular or type(self).dispatch is not Dispatcher.dispatch:
            dispatch = self.dispatch
            for t, k, r, s in events:
                if not dispatch(t, k, r, s):
                    return
            return
        self._run_store_bars(events, feed, self._bar_rows(feed, times, kinds, timeline.sessions))

    def _bar_rows(self, feed: StoreBarFeed, times: np.ndarray, kinds: np.ndarray, sessions: np.ndarray) -> list[int]:
        """The store row of every event's bar, as :meth:`StoreBarFeed.advance` finds it (only bar events use it)."""
        if feed.minute_bars is None:
            return (sessions.astype(np.int64) - feed.daily.first_session).tolist()
        rows = np.searchsorted(feed.minute_bars.times, times, side="right") - 1
        return np.where(kinds == BAR, rows, -1).tolist()

    def _run_store_bars(self, events, feed: StoreBarFeed, rows: list[int]) -> None:
        """The loop of :meth:`run` over :class:`StoreBarFeed` bars (``rows``: each event's bar row)."""
        engine = self.engine
        clock = engine.clock
        broker = feed.broker
        dispatch = self.dispatch
        minute = feed.minute
        daily_first = feed.daily.first_session
        context, data = engine.context, engine.data
        handle_data = engine.functions.handle_data
        call_user = engine.call_user
        ledger = engine.ledger
        bars = 0
        try:
            for (t, k, r, s), row in zip(events, rows):
                if k != BAR:
                    if not dispatch(t, k, r, s):
                        return
                    continue
                bars += 1
                clock.now_ns = t
                clock.session = s
                clock.in_session = True
                if minute:
                    clock.minute_row = row
                    clock.daily_row = s - daily_first - 1
                else:
                    clock.daily_row = row
                clock.bar_row = row
                if row > feed.matched_row and broker.has_open_orders:
                    fills = feed.match(row)
                    if fills:
                        engine.apply_broker_events(fills)
                if row >= 0 and ledger.has_positions:
                    engine.defer_mark(row, minute, t)
                if handle_data is not None:
                    call_user(HANDLE_DATA, handle_data, context, data)  # the engine's one error policy
                    if engine.stop_requested:
                        self.stop_now(t, s)
                        return
        finally:
            self.bars += bars
