"""A backtest put together: the data portal, the simulated broker, the engine with the algorithm's API, ``context``
and ``data``, the algorithm file, the results recorder and the order log; then the loop and the shared finish
step."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.algorithm.ibridgepy_options import ledger_tags
from runtime.algorithm.loader import UserFunctions
from runtime.assembly.finish import ExchangeTimeFilter, finish_run, stamped_logs
from runtime.assembly.parts import attach_api, load_into
from runtime.brokers.sim import SimBroker
from runtime.core.costs import DEFAULT_COMMISSION, DEFAULT_SLIPPAGE, BySecTypeCommission, CommissionModel
from runtime.core.margin import MarginCheck
from runtime.core.metrics import Summary
from runtime.data.benchmark import BenchmarkChoice, resolve_benchmark
from runtime.data.minute_stream import MinuteStream
from runtime.data.portal import DataPortal
from runtime.data.store import BarArrays
from runtime.engine.backtest import BarCounter, OrderLog, backtest_timeline, drive, open_minute, replay
from runtime.engine.engine import Engine
from runtime.engine.results import ResultsRecorder
from runtime.errors import AlgorithmLoadError, AlgorithmRaisedError


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


def build_backtest_engine(daily: BarArrays, minute: BarArrays | None, *, frequency: str, capital: float, first: int,
                          last: int, strict: bool = False, ibridgepy: object = None,
                          margin_check: MarginCheck = MarginCheck.REG_T) -> tuple[Engine, SimBroker]:
    """The engine of a backtest from session ``first`` to ``last`` with its API, ``context`` and ``data``, over a
    data portal of ``daily`` (and, at minute frequency, ``minute``) bars, with the simulated broker matching orders
    against the bars of the run's frequency (zipline's default slippage and commission) and orders checked against
    the margin rule as IB checks them (``margin_check``)."""
    bars_for_fills = minute if frequency == "minute" else daily
    if bars_for_fills is None:
        raise AlgorithmLoadError("minute frequency needs minute bars")
    portal = DataPortal(daily, minute if frequency == "minute" else None)
    broker = SimBroker(bars_for_fills, DEFAULT_SLIPPAGE(), DEFAULT_COMMISSION())
    engine = Engine(
        None, portal=portal, calendar=daily.calendar, broker=broker, frequency=frequency, capital=capital,
        start_session=first, end_session=last, mode="backtest", strict=strict,
        algo_logger=logging.getLogger("ibalgo.algo"),
    )
    engine.set_ibridgepy_options(ibridgepy)
    engine.set_margin_check(margin_check)
    attach_api(engine)
    if frequency == "daily":  # superSymbol may add synthetic FX/futures and modelled options while the run goes
        engine.api.instruments.add_data = functools.partial(_add_data, engine, broker)
    return engine, broker


def _add_data(engine: Engine, broker: SimBroker, store: BarArrays, commissions: dict[str, CommissionModel]) -> None:
    """Add a daily store of more assets (the run's sessions) to a daily backtest's data and simulated broker; orders
    on assets of the security types in ``commissions`` are charged those models from now on."""
    from runtime.data.universe import combine_stores  # only when an algorithm adds instruments: ordinary runs
    # never import the synthetic universe's module

    combined = combine_stores(engine.portal.daily.bars, store)
    broker.add_assets(combined)
    if commissions:
        current = broker.matcher.commission
        default = current.default if isinstance(current, BySecTypeCommission) else current
        known = current.by_sec_type if isinstance(current, BySecTypeCommission) else {}
        broker.set_models(commission=BySecTypeCommission(default, {**commissions, **known}))
    engine.set_portal(DataPortal(combined))


def run_backtest(
    algo_path: str | Path,
    *,
    daily: BarArrays,
    minute: BarArrays | MinuteStream | None,
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
    margin_check: MarginCheck = MarginCheck.REG_T,
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
    ``set_benchmark`` wins over it). ``margin_check`` refuses orders the account cannot margin, as the simulated
    gateway and IB do (:class:`~runtime.core.margin.MarginCheck`; NONE fills any order, as zipline). With
    ``output``, the results files and ``report.html`` are written there. ``params`` are the algorithm's parameters
    (``context.params``, ``get_parameter``).
    """
    t0 = time.perf_counter()
    cal = daily.calendar
    first = cal.session_index_on_or_after(start)
    last = cal.session_index_on_or_before(end)
    if first > last:
        raise AlgorithmLoadError(f"no trading sessions between {start.date()} and {end.date()}")
    # long minute runs on generated minutes hold a window of sessions at a time (the discrete-event loop only)
    minute, stream = open_minute(minute if frequency == "minute" else None,
                                 replay_speed is False and rep_bar_freq is None)
    engine, broker = build_backtest_engine(daily, minute, frequency=frequency, capital=capital, first=first,
                                           last=last, strict=strict, ibridgepy=ibridgepy,
                                           margin_check=margin_check)
    algo_log = engine.algo_log
    strict_error: str | None = None
    if fundamentals:
        engine.api.pipelines.configure(table_path=str(fundamentals))
    # every line of the run shows the simulation time, in the exchange's time zone
    with stamped_logs(ExchangeTimeFilter(lambda: engine.clock.now_ns, cal), algo_log):
        if functions is not None:
            engine.load(functions)
        else:
            load_into(engine, algo_path, params)
        recorder = ResultsRecorder(capital)
        engine.add_session_end_hook(recorder.on_session_end)
        engine.add_session_end_hook(OrderLog().on_session_end)
        for hook in session_hooks or ():
            engine.add_session_end_hook(hook)
        if on_engine is not None:
            on_engine(engine)
        t1 = time.perf_counter()
        engine.run_initialize()
        choice = benchmark or BenchmarkChoice()
        recorder.use_benchmark(resolve_benchmark(choice, engine.benchmark.sid if engine.benchmark else None, daily,
                                                 first, last), choice.enabled)
        timeline = backtest_timeline(cal, first, last, frequency, [rule for rule, _ in engine.scheduled],
                                     before_trading_start, rep_bar_freq)
        t2 = time.perf_counter()
        minute_for_run = minute if frequency == "minute" else None
        counter = BarCounter()
        try:
            if replay_speed is False:
                bars = drive(engine, broker, timeline, daily, minute_for_run, first, rep_bar_freq is not None,
                             counter, stream)
            else:
                bars = replay(engine, broker, timeline, daily, minute_for_run, replay_speed, replay_grace_ns,
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

        def meta(perf: pd.DataFrame) -> dict[str, object]:
            return {
                "algorithm": str(algo_path), "frequency": frequency, "capital": capital,
                "errors_in_algorithm": engine.error_count, "stopped": engine.stop_requested,
                "last_session": str(perf.index[-1].date()) if not perf.empty else None,
                "bar_events": bars, "assets": len(daily.assets), "loop_seconds": t3 - t2,
                "recorded": recorder.recorded_names,
            }

        done = finish_run(engine, recorder, cal, output=output, meta=meta, perf_pickle=perf_pickle,
                          extra_files=_accounts_file(engine, tuple(getattr(ibridgepy, "account_codes", ()) or ())))
        t4 = time.perf_counter()
    timings = {"setup": t2 - t0, "load": t1 - t0, "loop": t3 - t2, "finish": t4 - t3, "total": t4 - t0}
    result = BacktestResult(done.perf, done.summary, engine, done.files, timings, len(timeline), bars,
                            engine.stop_requested, strict_error)
    if strict_error is not None:
        raise AlgorithmRaisedError(strict_error, result)
    return result


def _accounts_file(engine: Engine, codes: tuple[str, ...]) -> Callable[[Path], list[Path]] | None:
    """Several accounts (IBridgePy's ACCOUNT_CODE list): a writer of accounts.json, each simulated account's values
    and positions at the end of the run (the first account is the run's own ledger), as paper runs write it."""
    if len(codes) < 2:
        return None

    def write(folder: Path) -> list[Path]:
        out: dict[str, object] = {}
        for i, code in enumerate(codes):
            portfolio = (engine.ledger if i == 0 else engine.account_ledger(code)).portfolio()
            out[code] = {
                "values": ledger_tags(portfolio),
                "positions": [{"symbol": a.symbol, "sec_type": a.sec_type.value, "amount": p.amount,
                               "avg_cost": p.cost_basis * (a.multiplier or 1.0)}
                              for a, p in portfolio.positions.items() if p.amount],
            }
        path = folder / "accounts.json"
        path.write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
        return [path]

    return write


def load_run_data(settings) -> tuple[BarArrays, BarArrays | MinuteStream | None, pd.Timestamp, pd.Timestamp]:
    """The daily (and, for minute runs, minute) bars a run needs, and its first and last session.

    Without ``data_dir`` the bundled real daily bars are used; minute bars are generated from daily bars with the
    settings' seed when the data has none, a window of sessions at a time (:class:`MinuteStream`).
    """
    from runtime.data.runs import load_daily_and_minute

    return load_daily_and_minute(
        settings.data_dir, settings.frequency, settings.start_ts, settings.end_ts, seed=settings.seed,
        calendar_name=settings.exchange_calendar, universe=getattr(settings, "universe", None), stream=True,
    )
