"""Backtests: the simulated clock driving the engine over a timeline of market events, as fast as possible."""

from __future__ import annotations

import datetime
import gc
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.algorithm.loader import load_algorithm
from runtime.algorithm.namespace import build_namespace
from runtime.brokers.sim import SimBroker
from runtime.core.costs import DEFAULT_COMMISSION, DEFAULT_SLIPPAGE
from runtime.core.metrics import Summary
from runtime.core.orders import OrderStatus
from runtime.data.benchmark import BenchmarkChoice, resolve_benchmark
from runtime.data.portal import DataPortal
from runtime.data.store import BarArrays
from runtime.engine.dispatch import Dispatcher, StoreBarFeed
from runtime.engine.engine import Engine, UserFunctions
from runtime.engine.results import ResultsRecorder, write_results
from runtime.engine.timeline import build_regular_timeline, build_timeline
from runtime.errors import AlgorithmLoadError, AlgorithmRaisedError
from runtime.report import write_report

log = logging.getLogger("ibalgo.backtest")
order_log = logging.getLogger("ibalgo.orders")

#: orders and fills a backtest logs one by one at INFO; after that, one line per session with counts (DEBUG: all)
ORDER_LOG_LIMIT = 20


@dataclass
class BacktestResult:
    """What a backtest produced: the results table, the summary, where files went, and timings."""

    perf: pd.DataFrame
    summary: Summary
    engine: Engine
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    events: int = 0
    bars: int = 0
    #: why the run stopped before its end (an interruption, end(), an account control, --strict), else None
    stopped: str | None = None
    #: the exception text when ``strict`` stopped the run at the algorithm's first error
    strict_error: str | None = None

    @property
    def last_session(self) -> pd.Timestamp | None:
        """The last session in the results (the last one completed), or None when none completed."""
        return None if self.perf.empty else pd.Timestamp(self.perf.index[-1]).tz_localize(None).normalize()


class SimClockFilter(logging.Filter):
    """Stamps algorithm log records with the simulation time in the exchange's time zone."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "simtime", None) is None:  # a record may carry its own instant (an order's, a fill's)
            ns = self.engine.clock.now_ns
            record.simtime = self.engine.calendar.to_local(ns).strftime("%Y-%m-%d %H:%M:%S %Z") if ns else None
        return True


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


def run_backtest(
    algo_path: str | Path,
    *,
    daily: BarArrays,
    minute: BarArrays | None,
    start: pd.Timestamp,
    end: pd.Timestamp,
    capital: float,
    frequency: str = "daily",
    output: Path | None = None,
    strict: bool = False,
    before_trading_start: object = None,
    replay_speed: float | bool | None = False,
    replay_grace_ns: int | None = None,
    replay_skip_closed: bool = False,
    rep_bar_freq: float | None = None,
    on_engine: Callable[[Engine], None] | None = None,
    session_hooks: list[Callable[[Engine, int], None]] | None = None,
    perf_pickle: Path | None = None,
    functions: UserFunctions | None = None,
    ibridgepy: object = None,
    fundamentals: str | Path | None = None,
    benchmark: BenchmarkChoice | None = None,
    params: Mapping[str, Any] | None = None,
) -> BacktestResult:
    """Run the algorithm in ``algo_path`` from session ``start`` to ``end`` on the given bars.

    ``replay_speed`` False (the default) runs the discrete-event loop as fast as possible. A number or None runs
    the same events through the live loop instead (clock ticks, the misfire policy) on a replay clock at that many
    times real speed (None: jump from event to event); the results must be the same. ``replay_skip_closed``: a
    replay at a speed jumps over the closed market, as ``ibalgo run`` does.

    ``rep_bar_freq`` (seconds) selects IBridgePy's REGULAR mode: handle_data every ``rep_bar_freq`` seconds around
    the clock (minute data only; ``data`` shows the last completed minute bar), instead of once per bar.

    ``on_engine`` sees the engine before ``initialize`` runs (the command line installs its Ctrl-C handler there:
    :meth:`Engine.request_stop` ends the run after the session being simulated). ``session_hooks`` run after each
    session's results are recorded (progress bars). A KeyboardInterrupt during the loop, or ``strict`` stopping at
    the algorithm's first error, still ends with ``analyze`` and the results of the sessions completed so far
    written; :attr:`BacktestResult.stopped` says why (``strict`` then raises AlgorithmRaisedError, a kind of
    AlgorithmLoadError, holding the result). ``perf_pickle`` writes only the results table there (zipline's
    ``-o FILE.pickle``) instead of the files into ``output``. ``functions`` runs those lifecycle functions instead of
    loading ``algo_path`` (which then only names them in messages): :func:`runtime.script.run_algorithm`.
    ``benchmark`` chooses what the results compare with (see :class:`BenchmarkChoice`; an algorithm's
    ``set_benchmark`` wins over it). With ``output``, the results files and ``report.html`` are written there.
    ``params`` are the algorithm's parameters (``context.params``, ``get_parameter``).
    """
    t0 = time.perf_counter()
    cal = daily.calendar
    first = cal.session_index_on_or_after(start)
    last = cal.session_index_on_or_before(end)
    if first > last:
        raise AlgorithmLoadError(f"no trading sessions between {start.date()} and {end.date()}")
    bars_for_fills = minute if frequency == "minute" else daily
    if bars_for_fills is None:
        raise AlgorithmLoadError("minute frequency needs minute bars")
    portal = DataPortal(daily, minute if frequency == "minute" else None)
    broker = SimBroker(bars_for_fills, DEFAULT_SLIPPAGE(), DEFAULT_COMMISSION())
    algo_log = logging.getLogger("ibalgo.algo")
    engine = Engine(
        None, portal=portal, calendar=cal, broker=broker, frequency=frequency, capital=capital,
        start_session=first, end_session=last, mode="backtest", strict=strict, algo_logger=algo_log,
    )
    engine.ibridgepy_options = ibridgepy
    clock_filter = SimClockFilter(engine)
    handlers = logging.getLogger().handlers
    for handler in handlers:  # every line of the run shows the simulation time, in the exchange's time zone
        handler.addFilter(clock_filter)
    algo_log.addFilter(clock_filter)
    strict_error: str | None = None
    if fundamentals:
        engine.api.pipelines.configure(table_path=str(fundamentals))
    try:
        namespace = build_namespace(engine.api, params, engine.context)
        engine.functions = functions if functions is not None else load_algorithm(algo_path, namespace)
        recorder = ResultsRecorder(capital)
        engine.on_session_end_hooks.append(recorder.on_session_end)
        engine.on_session_end_hooks.append(OrderLog().on_session_end)
        engine.on_session_end_hooks.extend(session_hooks or ())
        if on_engine is not None:
            on_engine(engine)
        t1 = time.perf_counter()
        engine.run_initialize()
        choice = benchmark or BenchmarkChoice()
        recorder.use_benchmark(resolve_benchmark(choice, engine.benchmark.sid if engine.benchmark else None, daily,
                                                 first, last), choice.enabled)
        kwargs = {} if before_trading_start is None else {"before_trading_start": _as_time(before_trading_start)}
        rules = [rule for rule, _ in engine.scheduled]
        if rep_bar_freq is None:
            timeline = build_timeline(cal, first, last, frequency, rules, **kwargs)
        else:
            if frequency != "minute":
                raise AlgorithmLoadError("REGULAR mode (rep_bar_freq) needs minute bars: add --frequency minute")
            start_ns = int(pd.Timestamp(cal.session_label(first)).tz_localize(cal.tz).tz_convert("UTC").value)
            timeline = build_regular_timeline(
                start_ns, int(cal.closes[last]), rep_bar_freq, cal=cal, rules=rules,
                before_trading_start=_as_time(before_trading_start or "08:45"),
            )
        t2 = time.perf_counter()
        minute_for_run = minute if frequency == "minute" else None
        counter = _BarCounter()
        try:
            if replay_speed is False:
                bars = _drive(engine, broker, timeline, daily, minute_for_run, first, rep_bar_freq is not None,
                              counter)
            else:
                bars = _replay(engine, broker, timeline, daily, minute_for_run, replay_speed, replay_grace_ns,
                               counter, replay_skip_closed)
        except KeyboardInterrupt:  # a second Ctrl-C while the algorithm's code runs: stop here, keep what is done
            engine.request_stop("interrupted")
            bars = counter.bars
        except AlgorithmLoadError as exc:  # strict: the algorithm's first error stops the run
            if not strict:
                raise
            strict_error = str(exc)
            engine.request_stop("the algorithm raised (--strict)")
            bars = counter.bars
        t3 = time.perf_counter()
        recorder.drop_incomplete()
        perf = recorder.frame(cal)
        if engine.functions.analyze is not None:
            from runtime.engine.engine import Phase

            engine.call_user(Phase.ANALYZE, engine.functions.analyze, engine.context, perf)
        summary = recorder.summary(perf)
        files: list[Path] = []
        if perf_pickle is not None:
            Path(perf_pickle).parent.mkdir(parents=True, exist_ok=True)
            perf.to_pickle(perf_pickle)
            files = [Path(perf_pickle)]
        elif output is not None:
            meta = {
                "algorithm": str(algo_path), "frequency": frequency, "capital": capital,
                "errors_in_algorithm": engine.error_count, "stopped": engine.stop_requested,
                "last_session": str(perf.index[-1].date()) if not perf.empty else None,
                "bar_events": bars, "assets": len(daily.assets), "loop_seconds": t3 - t2,
                "recorded": recorder.recorded_names,
            }
            files = write_results(perf, Path(output), summary, meta)
            files.append(write_report(Path(output)))
        t4 = time.perf_counter()
    finally:
        algo_log.removeFilter(clock_filter)
        for handler in handlers:
            handler.removeFilter(clock_filter)
    timings = {"setup": t2 - t0, "load": t1 - t0, "loop": t3 - t2, "finish": t4 - t3, "total": t4 - t0}
    result = BacktestResult(perf, summary, engine, files, timings, len(timeline), bars, engine.stop_requested,
                            strict_error)
    if strict_error is not None:
        raise AlgorithmRaisedError(strict_error, result)
    return result


class _BarCounter:
    """Where the loop's dispatcher is, so an interrupted run can still say how many bars it handled."""

    def __init__(self) -> None:
        self.dispatcher: Dispatcher | None = None

    @property
    def bars(self) -> int:
        return self.dispatcher.bars if self.dispatcher is not None else 0


def _as_time(value: object) -> datetime.time:
    if isinstance(value, datetime.time):
        return value
    try:
        hour, minute = str(value).split(":")[:2]
        return datetime.time(int(hour), int(minute))
    except (ValueError, TypeError):
        raise AlgorithmLoadError(f"before_trading_start must be a time like '08:45', got {value!r}") from None


def _drive(engine: Engine, broker: SimBroker, timeline, daily: BarArrays, minute: BarArrays | None,
           first: int, regular: bool = False, counter: _BarCounter | None = None) -> int:
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


def _replay(engine: Engine, broker: SimBroker, timeline, daily: BarArrays, minute: BarArrays | None,
            speed: float | None, grace_ns: int | None = None, counter: _BarCounter | None = None,
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
    engine.live_stats = {"skipped": loop.skipped, "overruns": loop.overruns}
    if skip_closed:
        engine.live_stats["jumped_ns"] = loop.jumped_ns
    return dispatcher.bars


def load_run_data(settings) -> tuple[BarArrays, BarArrays | None, pd.Timestamp, pd.Timestamp]:
    """The daily (and, for minute runs, minute) bars a run needs, and its first and last session.

    Without ``data_dir`` the bundled real daily bars are used; minute bars are generated from daily bars with the
    settings' seed when the data has none.
    """
    from runtime.data.runs import load_daily_and_minute

    return load_daily_and_minute(
        settings.data_dir, settings.frequency, settings.start_ts, settings.end_ts, seed=settings.seed,
        calendar_name=settings.exchange_calendar, universe=getattr(settings, "universe", None),
    )
