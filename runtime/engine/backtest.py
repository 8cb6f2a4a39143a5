"""Backtests: the simulated clock driving the engine over a timeline of market events, as fast as possible."""

from __future__ import annotations

import datetime
import gc
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from runtime.algorithm.loader import load_algorithm
from runtime.algorithm.namespace import build_namespace
from runtime.brokers.sim import SimBroker
from runtime.core.costs import DEFAULT_COMMISSION, DEFAULT_SLIPPAGE
from runtime.core.metrics import Summary
from runtime.data.benchmark import BenchmarkChoice, resolve_benchmark
from runtime.data.portal import DataPortal
from runtime.data.store import BarArrays
from runtime.engine.dispatch import Dispatcher, StoreBarFeed
from runtime.engine.engine import Engine
from runtime.engine.results import ResultsRecorder, write_results
from runtime.engine.timeline import build_regular_timeline, build_timeline
from runtime.errors import AlgorithmLoadError
from runtime.report import write_report

log = logging.getLogger("ibalgo.backtest")


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


class SimClockFilter(logging.Filter):
    """Stamps algorithm log records with the simulation time in the exchange's time zone."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def filter(self, record: logging.LogRecord) -> bool:
        ns = self.engine.clock.now_ns
        record.simtime = self.engine.calendar.to_local(ns).strftime("%Y-%m-%d %H:%M:%S %Z") if ns else "-"
        return True


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
    rep_bar_freq: float | None = None,
    benchmark: BenchmarkChoice | None = None,
) -> BacktestResult:
    """Run the algorithm in ``algo_path`` from session ``start`` to ``end`` on the given bars.

    ``replay_speed`` False (the default) runs the discrete-event loop as fast as possible. A number or None runs
    the same events through the live loop instead (clock ticks, the misfire policy) on a replay clock at that many
    times real speed (None: jump from event to event); the results must be the same.

    ``rep_bar_freq`` (seconds) selects IBridgePy's REGULAR mode: handle_data every ``rep_bar_freq`` seconds around
    the clock (minute data only; ``data`` shows the last completed minute bar), instead of once per bar.

    ``benchmark`` chooses what the results compare with (see :class:`BenchmarkChoice`; an algorithm's
    ``set_benchmark`` wins over it). With ``output``, the results files and ``report.html`` are written there.
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
    clock_filter = SimClockFilter(engine)
    algo_log.addFilter(clock_filter)
    try:
        engine.functions = load_algorithm(algo_path, build_namespace(engine.api))
        recorder = ResultsRecorder(capital)
        engine.on_session_end_hooks.append(recorder.on_session_end)
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
        if replay_speed is False:
            bars = _drive(engine, broker, timeline, daily, minute_for_run, first, rep_bar_freq is not None)
        else:
            bars = _replay(engine, broker, timeline, daily, minute_for_run, replay_speed, replay_grace_ns)
        t3 = time.perf_counter()
        perf = recorder.frame(cal)
        if engine.functions.analyze is not None:
            from runtime.engine.engine import Phase

            engine.call_user(Phase.ANALYZE, engine.functions.analyze, engine.context, perf)
        summary = recorder.summary(perf)
        files: list[Path] = []
        if output is not None:
            meta = {
                "algorithm": str(algo_path), "frequency": frequency, "capital": capital,
                "errors_in_algorithm": engine.error_count, "stopped": engine.stop_requested,
                "bar_events": bars, "assets": len(daily.assets), "loop_seconds": t3 - t2,
                "recorded": recorder.recorded_names,
            }
            files = write_results(perf, Path(output), summary, meta)
            files.append(write_report(Path(output)))
        t4 = time.perf_counter()
    finally:
        algo_log.removeFilter(clock_filter)
    timings = {"setup": t2 - t0, "load": t1 - t0, "loop": t3 - t2, "finish": t4 - t3, "total": t4 - t0}
    return BacktestResult(perf, summary, engine, files, timings, len(timeline), bars)


def _as_time(value: object) -> datetime.time:
    if isinstance(value, datetime.time):
        return value
    try:
        hour, minute = str(value).split(":")[:2]
        return datetime.time(int(hour), int(minute))
    except (ValueError, TypeError):
        raise AlgorithmLoadError(f"before_trading_start must be a time like '08:45', got {value!r}") from None


def _drive(engine: Engine, broker: SimBroker, timeline, daily: BarArrays, minute: BarArrays | None,
           first: int, regular: bool = False) -> int:
    """The discrete-event loop: jump from event to event, in the timeline's order. Returns the bars processed.

    Every event runs (the clock is exactly at each event's time, so the live misfire policy would run them all).
    The objects made before the loop (data, algorithm, engine) live through it, so the garbage collector is told
    to leave them out of its passes until the loop ends.
    """
    dispatcher = Dispatcher(engine, StoreBarFeed(broker, daily, minute), regular)
    gc.freeze()
    try:
        dispatcher.run(timeline)
    finally:
        gc.unfreeze()
    return dispatcher.bars


def _replay(engine: Engine, broker: SimBroker, timeline, daily: BarArrays, minute: BarArrays | None,
            speed: float | None, grace_ns: int | None = None) -> int:
    """The live code path on a replay clock: ticks from the dispatcher, the misfire policy, the same dispatcher."""
    from runtime.engine.clocks import ReplayClock
    from runtime.engine.live import LiveLoop

    if not len(timeline):
        return 0
    clock = ReplayClock(int(timeline.times[0]) - 1, speed=speed)
    dispatcher = Dispatcher(engine, StoreBarFeed(broker, daily, minute))
    loop = LiveLoop(dispatcher, timeline, clock, **({} if grace_ns is None else {"grace_ns": grace_ns}))
    loop.run()
    engine.live_stats = {"skipped": loop.skipped, "overruns": loop.overruns}
    return dispatcher.bars


def load_run_data(settings) -> tuple[BarArrays, BarArrays | None, pd.Timestamp, pd.Timestamp]:
    """The daily (and, for minute runs, minute) bars a run needs, and its first and last session.

    Without ``data_dir`` the bundled real daily bars are used; minute bars are generated from daily bars with the
    settings' seed when the data has none.
    """
    from runtime.data.runs import load_daily_and_minute

    return load_daily_and_minute(
        settings.data_dir, settings.frequency, settings.start_ts, settings.end_ts, seed=settings.seed,
        calendar_name=settings.exchange_calendar,
    )
