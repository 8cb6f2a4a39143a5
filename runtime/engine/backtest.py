"""Backtests: the simulated clock driving the engine over a timeline of market events, as fast as possible (or, for
a replay, through the live loop), and the backtest's order log. :mod:`runtime.assembly.backtest` puts a backtest
together around these."""

from __future__ import annotations

import datetime
import gc
import logging

import pandas as pd

from runtime.brokers.sim import SimBroker
from runtime.core.calendar import TradingCalendar
from runtime.core.orders import OrderStatus
from runtime.data.store import BarArrays
from runtime.engine.dispatch import Dispatcher, StoreBarFeed
from runtime.engine.engine import Engine
from runtime.engine.timeline import Timeline, build_regular_timeline, build_timeline
from runtime.errors import AlgorithmLoadError

order_log = logging.getLogger("ibalgo.orders")

#: orders and fills a backtest logs one by one at INFO; after that, one line per session with counts (DEBUG: all)
ORDER_LOG_LIMIT = 20


class OrderLog:
    """Logs a backtest's orders and fills in the words ``ibalgo run`` uses, once per session (nothing per bar).

    The first :data:`ORDER_LOG_LIMIT` orders and fills are logged one by one at INFO; after that each session with
    activity gets one INFO line of counts, and every order and fill is still logged at DEBUG. Each line is stamped
    with the order's or the fill's own simulation time.
    """

    def __init__(self, limit: int = ORDER_LOG_LIMIT) -> None:
        self.limit = limit
        self.logged = 0
        self._seen: set[str] = set()
        self._summarised = False

    def _say_summarised(self) -> None:
        if not self._summarised:
            self._summarised = True
            order_log.info("%d orders and fills logged; from now on one line per session (--log-level DEBUG logs "
                           "each)", self.limit)

    def on_session_end(self, engine: Engine, session: int) -> None:
        today = engine.today
        if (not today.orders and not today.transactions) or not order_log.isEnabledFor(logging.INFO):
            return
        debug = order_log.isEnabledFor(logging.DEBUG)
        if self.logged >= self.limit and not debug:  # counts only: nothing to format
            self._say_summarised()
            order_log.info("%d orders placed, %d fills, %d orders open", today.orders_placed, len(today.transactions),
                           len(engine.open_order_ids))
            return
        cal = engine.calendar
        # (instant, rank, format, args): at one instant, fills (at the bar's start) come before new orders
        lines: list[tuple[int, int, str, tuple]] = []
        for record in today.orders.values():
            if record.id not in self._seen:
                self._seen.add(record.id)
                lines.append((record.created_ns, 1, "order %s sent: %s %d %s %s%s%s%s", (
                    record.id[:8], "BUY" if record.amount > 0 else "SELL", abs(record.amount), record.asset.symbol,
                    record.kind.value, f" limit {record.limit:g}" if record.limit is not None else "",
                    f" stop {record.stop:g}" if record.stop is not None else "",
                    f" (child of {record.parent_id[:8]})" if record.parent_id else "")))
        for txn in today.transactions:
            record = engine.orders.get(txn.order_id)
            done = record is not None and record.filled == record.amount and record.status is OrderStatus.FILLED
            lines.append((txn.time_ns, 0, "order %s %s: %+d %s @ %.4f (commission %.2f)", (
                txn.order_id[:8], "filled" if done else "partially filled", txn.amount, txn.asset.symbol, txn.price,
                txn.commission)))
        for record in today.orders.values():
            if record.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
                lines.append((record.dt_ns, 2, "order %s %s: %s", (record.id[:8], record.status.name.lower(),
                                                                  record.reason or "")))
        lines.sort(key=lambda line: line[:2])
        rest = 0
        for ns, _, fmt, args in lines:
            stamp = {"simtime": cal.to_local(ns).strftime("%Y-%m-%d %H:%M:%S %Z")}
            if self.logged < self.limit:
                self.logged += 1
                order_log.info(fmt, *args, extra=stamp)
            else:
                rest += 1
                if debug:
                    order_log.debug(fmt, *args, extra=stamp)
        if rest and not debug:
            self._say_summarised()
            order_log.info("%d orders placed, %d fills, %d orders open", today.orders_placed, len(today.transactions),
                           len(engine.open_order_ids))


class BarCounter:
    """Where the loop's dispatcher is, so an interrupted run can still say how many bars it handled."""

    def __init__(self) -> None:
        self.dispatcher: Dispatcher | None = None

    @property
    def bars(self) -> int:
        return self.dispatcher.bars if self.dispatcher is not None else 0


def as_time(value: object) -> datetime.time:
    if isinstance(value, datetime.time):
        return value
    try:
        hour, minute = str(value).split(":")[:2]
        return datetime.time(int(hour), int(minute))
    except (ValueError, TypeError):
        raise AlgorithmLoadError(f"before_trading_start must be a time like '08:45', got {value!r}") from None


def backtest_timeline(cal: TradingCalendar, first: int, last: int, frequency: str, rules: list,
                      before_trading_start: object = None, rep_bar_freq: float | None = None) -> Timeline:
    """The events of a backtest from session ``first`` to ``last``: bars, scheduled functions (``rules``),
    before_trading_start (at its default time unless given) and session ends; with ``rep_bar_freq`` (seconds),
    IBridgePy's REGULAR mode: a tick every ``rep_bar_freq`` seconds around the clock (minute data only)."""
    if rep_bar_freq is None:
        kwargs = {} if before_trading_start is None else {"before_trading_start": as_time(before_trading_start)}
        return build_timeline(cal, first, last, frequency, rules, **kwargs)
    if frequency != "minute":
        raise AlgorithmLoadError("REGULAR mode (rep_bar_freq) needs minute bars: add --frequency minute")
    start_ns = int(pd.Timestamp(cal.session_label(first)).tz_localize(cal.tz).tz_convert("UTC").value)
    return build_regular_timeline(start_ns, int(cal.closes[last]), rep_bar_freq, cal=cal, rules=rules,
                                  before_trading_start=as_time(before_trading_start or "08:45"))


def drive(engine: Engine, broker: SimBroker, timeline, daily: BarArrays, minute: BarArrays | None,
           first: int, regular: bool = False, counter: BarCounter | None = None) -> int:
    """The discrete-event loop: jump from event to event, in the timeline's order. Returns the bars processed.

    Every event runs (the clock is exactly at each event's time, so the live misfire policy would run them all).
    The objects made before the loop (data, algorithm, engine) live through it, so the garbage collector is told
    to leave them out of its passes until the loop ends.
    """
    dispatcher = Dispatcher(engine, StoreBarFeed(broker, daily, minute), regular)
    if counter is not None:
        counter.dispatcher = dispatcher
    gc.freeze()
    try:
        dispatcher.run(timeline)
    finally:
        gc.unfreeze()
    return dispatcher.bars


def replay(engine: Engine, broker: SimBroker, timeline, daily: BarArrays, minute: BarArrays | None,
            speed: float | None, grace_ns: int | None = None, counter: BarCounter | None = None,
            skip_closed: bool = False) -> int:
    """The live code path on a replay clock: ticks from the dispatcher, the misfire policy, the same dispatcher."""
    from runtime.engine.clocks import ReplayClock
    from runtime.engine.live import LiveLoop

    if not len(timeline):
        return 0
    clock = ReplayClock(int(timeline.times[0]) - 1, speed=speed)
    dispatcher = Dispatcher(engine, StoreBarFeed(broker, daily, minute))
    if counter is not None:
        counter.dispatcher = dispatcher
    loop = LiveLoop(dispatcher, timeline, clock, skip_closed=skip_closed,
                    **({} if grace_ns is None else {"grace_ns": grace_ns}))
    loop.run()
    stats = {"skipped": loop.skipped, "overruns": loop.overruns}
    if skip_closed:
        stats["jumped_ns"] = loop.jumped_ns
    engine.set_live_stats(stats)
    return dispatcher.bars


