"""A paper or live run: the engine driven by the live loop, trading through the IB adapter.

Start-up and restore (every start, including a restart with the same run id and journal) are in
:mod:`runtime.live.startup`; the results, built from the journal for the whole run id, in :mod:`runtime.live.results`.

All broker events are handled on the engine thread (:meth:`LiveSession.handle_pending`): fills (journaled by
execution, booked once), cancellations, rejections, late commissions, connection changes, adopted orders,
reconciliation reports (:mod:`runtime.live.reconcile`), IB's warnings; :data:`HANDLERS` says which method takes
each kind. An order call while disconnected raises the adapter's NotConnectedError into the
algorithm, where the engine's error policy logs it with the file:line and the run goes on.

IB's positions are compared with the ledger at each session's start (before ``before_trading_start``, and again
before the session's first bar, after the open) and after each reconciliation: a split IB booked is applied to the
ledger, any other difference is reported and left alone (:class:`~runtime.live.positions.PositionCheck`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runtime.assembly.finish import finish_run
from runtime.assembly.live import build_live_engine
from runtime.assembly.parts import load_into
from runtime.brokers.base import OrderRejected
from runtime.brokers.ib.broker import IBBroker
from runtime.brokers.ib.events import (
    CancelRejected,
    CommissionReported,
    ConnectionLost,
    ConnectionRestored,
    IBNotice,
    MarketDataDelayed,
    OrderAdopted,
    OrderStatusChanged,
    ReconcileReport,
)
from runtime.core.calendar import TradingCalendar
from runtime.core.matching import Cancelled, Fill
from runtime.core.metrics import Summary
from runtime.data.benchmark import BenchmarkChoice, resolve_benchmark
from runtime.data.store import BarArrays
from runtime.engine.clocks import Clock
from runtime.engine.dispatch import BAR, BTS
from runtime.engine.engine import Engine
from runtime.engine.live_loop import LiveLoop
from runtime.engine.results import ResultsRecorder
from runtime.engine.state import BrokerSources
from runtime.engine.timeline import Timeline, build_timeline
from runtime.errors import AlgorithmLoadError, AlgorithmRaisedError, ConfigError
from runtime.journal import Journal
from runtime.live.feed import BrokerDispatcher, BrokerFeed
from runtime.live.order_link import WAKE, EngineBroker, EventInbox
from runtime.live.positions import AppliedSplit, PositionCheck
from runtime.live.reconcile import missing_order_event
from runtime.live.results import record_unfinished_session, results_from_journal, write_accounts
from runtime.live.startup import (
    RESUME_KEY,
    adopt_from_broker,
    known_orders,
    restore_context,
    restore_open_orders,
    saved_asset_resolver,
    seed_positions,
    settle_sending,
)
from runtime.live.store_refresh import install_store_refresh
from runtime.live.watchdog import Watchdog

if TYPE_CHECKING:
    from runtime.live.dashboard import LiveDashboard

log = logging.getLogger("ibalgo.live")
order_log = logging.getLogger("ibalgo.orders")

#: the context is saved at least this often (run clock), besides after each instant that placed or cancelled orders
CONTEXT_SAVE_INTERVAL_NS = 60 * 1_000_000_000

@dataclass(frozen=True)
class LiveOptions:
    """How a paper or live run goes (besides the broker connection)."""

    algorithm: str
    run_id: str
    journal_path: Path
    frequency: str = "daily"
    end: pd.Timestamp | None = None
    output: Path | None = None
    strict: bool = False
    history_sessions: int = 260
    cancel_on_stop: bool = False
    before_trading_start: str = "08:45"
    mode: str = "paper"
    #: (splits, dividends) the broker applies to the account, when known (the embedded simulated gateway's data), so
    #: the run's ledger applies them too; None: none are known (TWS/IB Gateway)
    corporate_actions: tuple[tuple, tuple] | None = None
    #: a replay clock at a speed jumps over the closed market (nights, weekends, holidays)
    skip_closed: bool = True
    #: IBridgePy's run options (runtime.algorithm.ibridgepy.IBridgePyOptions); None: the defaults
    ibridgepy: Any = None
    #: IBridgePy's REGULAR mode: handle_data every rep_bar_freq seconds around the clock (minute runs); None: per bar
    rep_bar_freq: float | None = None
    #: the daily bar folder whose symbols are the pipelines' universe (None: the bundled stocks)
    pipeline_data: str | None = None
    #: the point-in-time table of the pipelines' Fundamentals / DataSets
    fundamentals: str | None = None
    #: seconds one call of algorithm code may run before the watchdog reports where it is stuck (0: no watchdog)
    watchdog_s: float = 30.0
    #: what the results compare with (``--benchmark``, ``--benchmark-file``, ``--no-benchmark``)
    benchmark: BenchmarkChoice | None = None
    #: the daily bars the broker replays (the embedded simulated gateway's), for the benchmark's adjusted prices;
    #: None (TWS/IB Gateway): the benchmark's prices seen each session are used
    benchmark_bars: BarArrays | None = None
    #: serve the live page on this loopback port while the run lasts (0: a free port); None: no live page
    dashboard_port: int | None = None
    #: the algorithm's parameters (context.params, get_parameter): PARAMS in settings.py, --param
    params: tuple[tuple[str, Any], ...] = ()


@dataclass
class LiveResult:
    """What a paper or live run produced."""

    perf: pd.DataFrame
    summary: Summary
    engine: Engine
    stopped_because: str | None
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    orders_sent: int = 0
    history_requests: int = 0
    #: splits IB booked that the run inferred from IB's positions and applied to its ledger
    broker_splits: list[AppliedSplit] = field(default_factory=list)
    #: the exception text when ``strict`` stopped the run at the algorithm's first error
    strict_error: str | None = None


class _Loop(LiveLoop):
    """The live loop of a broker run: inbox wake-ups drain the inbox; after a tick that sent orders, a barrier."""

    def __init__(self, session: LiveSession, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = session

    def on_item(self, item: object) -> None:
        if item is WAKE:
            self.session.handle_pending()
        else:
            self.session.handle([item])

    def _on_tick(self, cursor: int) -> int:
        out = super()._on_tick(cursor)
        self.session.after_tick()
        return out


class _SessionDispatcher(BrokerDispatcher):
    """The broker run's dispatcher: IB's positions are checked against the ledger at each session's start, before
    ``before_trading_start`` and again before the session's first bar (IB books a split before the open; the
    simulated gateway at the open)."""

    def __init__(self, live: LiveSession, engine: Engine, feed: BrokerFeed, regular: bool = False) -> None:
        super().__init__(engine, feed, regular)
        self.live = live
        self._bar_checked = -1

    def dispatch(self, t: int, kind: int, rule: int, session: int) -> bool:
        if kind == BTS:
            self.live.check_positions_at_session_start(session)
        elif kind == BAR and session != self._bar_checked:
            self._bar_checked = session
            self.live.check_positions_at_session_start(session)
        return super().dispatch(t, kind, rule, session)


def _pipeline_store(folder: str | None, calendar: TradingCalendar) -> Callable[[], Any]:
    """Loads (once, on first use) the daily bars a live pipeline computes over: ``folder`` or the bundled data."""
    cache: list[Any] = []

    def load() -> Any:
        if not cache:
            from runtime.data import load_bars

            cache.append(load_bars(folder, "daily", None, None, calendar=calendar))
        return cache[0]

    return load


class LiveSession:
    """One start of a paper or live run (see the module docstring)."""

    def __init__(
        self,
        options: LiveOptions,
        connect_broker: Callable[[EventInbox, EngineBroker], IBBroker],
        clock: Clock,
        calendar: TradingCalendar,
        *,
        sync: Callable[[], None] | None = None,
        set_models: Callable[..., None] | None = None,
        session_hooks: Iterable[Callable[[Engine, int], None]] = (),
    ) -> None:
        self.options = options
        #: called after each session's results are recorded (progress bars)
        self.session_hooks = list(session_hooks)
        self.strict_error: str | None = None
        self.clock = clock
        self.calendar = calendar
        self.journal = Journal(options.journal_path)
        self.inbox = EventInbox()
        self.link = EngineBroker(self.journal, options.run_id, set_models=set_models)
        self._connect_broker = connect_broker
        self._sync_extra = sync
        self.ib: IBBroker | None = None
        self.engine: Engine | None = None
        self.feed: BrokerFeed | None = None
        self.loop: _Loop | None = None
        self.recorder: ResultsRecorder | None = None
        self.connected = True
        self.last_event_ns: int | None = None
        self.fills = 0
        #: IB's positions against the ledger (from the start on)
        self.positions: PositionCheck | None = None
        #: the live page (``dashboard_port``), and who hears its address once it serves (default: the log)
        self.dashboard: LiveDashboard | None = None
        self.on_dashboard: Callable[[str], None] | None = None
        self._startup = False  # handling the start's reconciliation (see _settle_startup)
        self._context_saved_ns = 0
        self.watchdog: Watchdog | None = None

    # ---------------------------------------------------------------------------------------------- start-up
    def start(self) -> None:
        """Connect, build the engine from the broker's account, run initialize and restore the saved context."""
        opts = self.options
        known, highest = known_orders(self.journal, opts.run_id)
        self.link.restore_with(known, highest)  # handed to the adapter before it connects and reconciles
        self.ib = self._connect_broker(self.inbox, self.link)
        self.link.attach(self.ib)
        # what the reconciliation of this start reported: fills while away are already in the broker's account (the
        # ledger starts from it), so they are journalled and booked on their orders but not added to the ledger
        startup = self.inbox.drain()
        self.journal.start_run(opts.run_id, opts.algorithm, self.ib.account, opts.mode, self.clock.now_ns())
        self.ib.wait_account(20.0)
        now = self.clock.now_ns()
        cash = _number(self.ib.account_value("TotalCashValue"))
        if cash is None:
            cash = self.ib.account_snapshot().settled_cash
        cal = self.calendar
        first = int(np.searchsorted(cal.closes, now, side="left"))
        last = cal.session_index_on_or_before(opts.end) if opts.end is not None else len(cal) - 1
        from runtime.live.feed import _empty, _store

        empty = _store("daily", cal, max(first - 1, 0), max(first - 1, 0), [], cal.closes[max(first - 1, 0):first][:1],
                       np.arange(2), _empty(1, 0))
        from runtime.data.portal import DataPortal

        ib = self.ib
        sources = BrokerSources(
            wait_for_broker=self.wait_for_broker, account_value=ib.account_value,
            account_value_tags=lambda: list(ib.account_state.numbers(ib.conn.account)),
            account_snapshot=ib.account_snapshot, quote=ib.quote, history=ib.history_bars,
            positions=lambda account: ib.positions(account), ledger_account=ib.conn.account,
            corporate_actions=opts.corporate_actions)
        engine = build_live_engine(self.link, DataPortal(empty), cal, frequency=opts.frequency,
                                   capital=max(float(cash), 0.0), first=first, last=last, mode=opts.mode,
                                   strict=opts.strict, sources=sources, ibridgepy=opts.ibridgepy)
        self.engine = engine
        codes = getattr(opts.ibridgepy, "account_codes", ())
        if len(codes) > 1:  # IBridgePy's accountCode= on queries: every account's values
            ib.subscribe_account_summary()
        engine.clock.now_ns = now
        feed = BrokerFeed(self.ib, engine, cal, opts.frequency, now=self.clock.now_ns, sync=self.sync,
                          handle_pending=self.handle_pending, history_sessions=opts.history_sessions)
        self.feed = feed
        feed.start(now)
        self.feed.add_assets(seed_positions(engine.ledger, self.ib.positions()))
        self.positions = PositionCheck(engine, ib, self.journal, opts.run_id,
                                       known_actions=opts.corporate_actions is not None, now_ns=self.clock.now_ns)
        engine.api.pipelines.configure(store=_pipeline_store(opts.pipeline_data, cal), live=True,
                                       table_path=opts.fundamentals or "",
                                       asset_map=lambda asset: engine.api.symbol(asset.symbol))
        install_store_refresh(engine, opts.pipeline_data, self.ib, cal, self.clock.now_ns,
                              lambda: _pipeline_store(opts.pipeline_data, cal))  # a Parquet folder: kept current
        load_into(engine, opts.algorithm, dict(opts.params))
        engine.api.symbol_source = feed.add_symbol
        engine.run_initialize()
        restore_open_orders(engine, self.journal, opts.run_id, sum(1 for k in known if not k.closed))
        self._settle_startup(startup)
        resolve = saved_asset_resolver(engine, self.journal, opts.run_id, opts.algorithm)
        self.last_event_ns = restore_context(engine, self.journal.load_context(resolve, opts.run_id))
        self.recorder = ResultsRecorder(engine.ledger.portfolio_value)
        self._choose_benchmark(engine, self.recorder)
        for hook in (self.recorder.on_session_end, self._on_session_end, *self.session_hooks):
            engine.add_session_end_hook(hook)
        self.handle_pending()

    def _choose_benchmark(self, engine: Engine, recorder: ResultsRecorder) -> None:
        """The run's benchmark: the algorithm's ``set_benchmark``, else the options' choice (adjusted prices from
        the replayed bars; on TWS/IB Gateway the asset's prices as the run sees them)."""
        choice = self.options.benchmark or BenchmarkChoice()
        bars = self.options.benchmark_bars
        if choice.enabled and engine.benchmark is None and choice.symbol and bars is None:
            engine.set_benchmark(engine.api.resolve_asset(choice.symbol))
        sid = engine.benchmark.sid if engine.benchmark is not None else None
        recorder.use_benchmark(resolve_benchmark(choice, sid, bars, engine.start_session, engine.end_session)
                               if bars is not None or choice.file else None, choice.enabled)

    def _settle_startup(self, events: list[object]) -> None:
        """The start's reconciliation events, once the journal's open orders are engine records: orders that
        expired, were cancelled or filled while the runtime was down are closed with their status (the algorithm
        sees them in ``get_order``, no longer in ``get_open_orders``); orders journalled as ``sending`` are settled
        by orderRef (at the broker: adopted; not there: closed as never sent)."""
        engine = self.engine
        assert engine is not None
        self._startup = True
        try:
            self.handle(events)
        finally:
            self._startup = False
        settle_sending(engine, self.journal, self.options.run_id, self.clock.now_ns())

    # ------------------------------------------------------------------------------------------------ events
    def sync(self) -> None:
        """Everything the broker reported up to now is in the inbox (in-process gateway: it follows the clock)."""
        if self.ib is None or not self.ib.is_connected():
            return
        if self._sync_extra is not None:
            self._sync_extra()
        self.ib.barrier()
        self.link.dirty = False

    def after_tick(self) -> None:
        """Orders placed or cancelled at this instant reach the broker before the clock moves on; the context is
        saved after an instant whose user calls placed or cancelled an order, and at least every
        :data:`CONTEXT_SAVE_INTERVAL_NS` of the run's clock."""
        engine = self.engine
        if self.link.dirty:
            if engine is not None:
                self.last_event_ns = engine.clock.now_ns  # a restart resumes after this instant
            self.save_context()
            self.sync()
        elif self.clock.now_ns() - self._context_saved_ns >= CONTEXT_SAVE_INTERVAL_NS:
            if engine is not None:
                self.last_event_ns = engine.clock.now_ns
            self.save_context()
        self.handle_pending()

    def wait_for_broker(self) -> None:
        """Algorithm code waits for the broker (order_status_monitor): everything sent so far reaches it, and
        everything it reported is booked, without moving the run's clock or running other algorithm code."""
        self.sync()
        self.handle_pending()
        if self.dashboard is not None:
            self.dashboard.tick()

    def handle_pending(self) -> None:
        events = self.inbox.drain()
        if events:
            self.handle(events)
        elif self.dashboard is not None:  # the live page follows the clock, not only the broker's events
            self.dashboard.tick()

    def handle(self, events: list[object]) -> None:
        """Handle broker events on the engine thread, in order (each by its type's entry in :data:`HANDLERS`)."""
        assert self.engine is not None
        for ev in events:
            handler = HANDLERS.get(type(ev))
            if handler is None:
                log.debug("ignored broker event %r", ev)
            else:
                handler(self, ev)
        if self.dashboard is not None:
            self.dashboard.observe(events)
            self.dashboard.tick()

    def _on_closed(self, ev: Cancelled | OrderRejected) -> None:
        assert self.engine is not None
        self.engine.apply_broker_events([ev])
        status = "cancelled" if isinstance(ev, Cancelled) else "rejected"
        self.journal.order_update(ev.order_id, ev.time_ns, status=status, reason=ev.reason, defer=True)
        (order_log.warning if self._startup else order_log.info)(
            "order %s %s%s: %s", ev.order_id[:8], status, " while the runtime was down" if self._startup
            else "", ev.reason)

    def _on_late_commission(self, ev: CommissionReported) -> None:
        engine = self.engine
        assert engine is not None
        record = engine.orders.get(ev.order_id)
        if record is None or not record.account or record.account == engine.ledger_account:
            engine.ledger.charge_commission(ev.commission)
        if record is not None:
            record.commission += ev.commission
            self.journal.order_update(ev.order_id, ev.time_ns, commission=record.commission, defer=True)

    def _on_lost(self, ev: ConnectionLost) -> None:
        self.connected = False
        log.warning("connection lost: %s%s; orders raise NotConnectedError until it is back", ev.reason,
                    f" (IB {ev.code})" if ev.code else "")

    def _on_restored(self, ev: ConnectionRestored) -> None:
        self.connected = True
        log.info("connection restored: %s", ev.reason)

    def _on_adopted(self, ev: OrderAdopted) -> None:
        assert self.engine is not None
        adopt_from_broker(self.engine, ev, self.clock.now_ns())

    def _on_fill(self, fill: Fill) -> None:
        engine = self.engine
        assert engine is not None
        # booked once: the journal's set of booked executions decides; its row is written off the engine thread,
        # after the fill is in the ledger (the order itself was journaled before it was sent)
        if not self.journal.add_fill(fill.exec_id or f"{fill.order_id}:{fill.cum_filled}", fill.order_id,
                                     fill.amount, fill.price, fill.commission, fill.time_ns,
                                     cum_filled=abs(fill.cum_filled), defer=True):
            return  # booked before (a restart or a reconnect reported it again)
        record = engine.orders.get(fill.order_id)
        if record is not None:
            fill = dataclasses.replace(fill, asset=record.asset)  # the engine's asset (its sid)
        engine.apply_broker_events([fill], ledger=not self._startup)
        self.fills += 1
        status = "filled" if fill.order_done else "partially filled"
        self.journal.order_update(fill.order_id, fill.time_ns, status="filled" if fill.order_done else None,
                                  filled=abs(fill.cum_filled), commission=record.commission if record else None,
                                  defer=True)
        order_log.info("order %s %s: %+d %s @ %.4f (commission %.2f)", fill.order_id[:8], status, fill.amount,
                       fill.asset.symbol, fill.price, fill.commission)

    # ------------------------------------------------------------------------------------ broker positions
    def _on_reconcile_report(self, ev: ReconcileReport) -> None:
        """What the broker has after a (re)connect: orders it no longer works are closed for the algorithm, then its
        positions (its fills recovered while away are booked before the report) are compared with the ledger."""
        for m in ev.missing:
            self._on_closed(missing_order_event(m, ev.time_ns))
        assert self.positions is not None
        self.positions.check(self.positions.held_at_broker(ev.positions), "reconciliation")
        log.info("reconciled with the broker: %d open orders of this run, %d fills recovered, %d closed "
                 "while away, %d positions", len(ev.open_orders), ev.recovered_fills, len(ev.missing),
                 len(ev.positions))

    def check_positions_at_session_start(self, session: int) -> None:
        """IB's positions (kept current by the adapter's subscription) against the ledger, once everything IB sent
        up to now is booked. Skipped while disconnected or while a reconciliation reloads the positions: the
        reconciliation after the reconnect reports them."""
        ib, check = self.ib, self.positions
        if ib is None or check is None or not self.connected or not ib.is_connected() \
                or not ib.account_state.positions_loaded.is_set():
            return
        self.sync()
        self.handle_pending()
        held = check.current()
        if held is not None:
            check.check(held, f"the start of {self.calendar.session_label(session).date()}")

    @property
    def broker_splits(self) -> list[AppliedSplit]:
        """Splits IB booked that the run inferred from IB's positions and applied to its ledger."""
        return self.positions.applied if self.positions is not None else []

    def _on_session_end(self, engine: Engine, session: int) -> None:
        self.last_event_ns = engine.clock.now_ns
        self.save_context()
        if engine.recorded:
            self.journal.add_records(engine.clock.now_ns, dict(engine.recorded))
        recorder = self.recorder
        if recorder is not None and recorder.sessions and recorder.sessions[-1] == session:
            self.journal.save_session_row(self.options.run_id, session, int(self.calendar.closes[session]),
                                          recorder.last_row())

    def save_context(self) -> None:
        """Store the context's JSON-storable attributes, with the order updates not yet committed, in one
        transaction (see :mod:`runtime.journal`)."""
        engine = self.engine
        if engine is None:
            return
        attributes = {k: v for k, v in vars(engine.context).items() if not k.startswith("_")}
        if self.last_event_ns is not None:
            attributes[RESUME_KEY] = int(self.last_event_ns)
        self._context_saved_ns = self.clock.now_ns()
        skipped = self.journal.save_context(attributes, self._context_saved_ns, self.options.run_id)
        if skipped:
            log.debug("context values not saved (not JSON-storable): %s", ", ".join(skipped))

    # -------------------------------------------------------------------------------------------------- run
    def timeline(self) -> Timeline:
        engine = self.engine
        assert engine is not None
        from runtime.engine.backtest import as_time

        rules = [rule for rule, _ in engine.scheduled]
        if self.options.rep_bar_freq is not None:
            from runtime.engine.timeline import build_regular_timeline

            cal = self.calendar
            label = cal.session_label(engine.start_session)
            start_ns = int(pd.Timestamp(label).tz_localize(cal.tz).tz_convert("UTC").value)
            return build_regular_timeline(start_ns, int(cal.closes[engine.end_session]), self.options.rep_bar_freq,
                                          cal=cal, rules=rules,
                                          before_trading_start=as_time(self.options.before_trading_start))
        return build_timeline(self.calendar, engine.start_session, engine.end_session, self.options.frequency, rules,
                              before_trading_start=as_time(self.options.before_trading_start))

    def run(self, on_loop: Callable[[_Loop], None] | None = None, stop_after: Callable[[Engine], bool] | None = None
            ) -> LiveResult:
        """Start, run the live loop to the end (or a stop request), shut down, write the results."""
        t0 = time.perf_counter()
        self._start_dashboard()
        try:
            self.start()
            engine, feed = self.engine, self.feed
            assert engine is not None and feed is not None
            timeline = self.timeline()
            dispatcher = _SessionDispatcher(self, engine, feed, regular=self.options.rep_bar_freq is not None)
            loop = _Loop(self, dispatcher, timeline, self.clock, resume_after_ns=self.last_event_ns,
                         skip_closed=self.options.skip_closed)
            self.loop = loop
            self.inbox.connect(loop.post)
            if stop_after is not None:
                engine.add_session_end_hook(lambda e, s: loop.stop("stop requested") if stop_after(e) else None)
            if on_loop is not None:
                on_loop(loop)
            self.watchdog = Watchdog(engine, self.options.watchdog_s, strict=self.options.strict)
            self.watchdog.start()
            t1 = time.perf_counter()
            try:
                loop.run()
                reason = loop.stopped_because
            except AlgorithmLoadError as exc:  # strict: the algorithm's first error stops the run, results written
                if not self.options.strict:
                    raise
                self.strict_error = str(exc)
                reason = "the algorithm raised (--strict)"
            t2 = time.perf_counter()
        except BaseException:
            self._stop_watchdog()
            self.close(cancel=False)
            self._stop_dashboard("error")
            raise
        self._stop_watchdog()
        self.shutdown(reason or "stopped", keep_journal=True)
        try:
            result = self._result(reason, {"start": t1 - t0, "loop": t2 - t1, "total": time.perf_counter() - t0})
        finally:
            self.journal.close()
            self._stop_dashboard(reason or "stopped")
        if self.strict_error is not None:  # strict: the results are written, then the error is raised
            raise AlgorithmRaisedError(self.strict_error, result)
        return result

    def _start_dashboard(self) -> None:
        """Serve the live page (``dashboard_port``) on 127.0.0.1 and say where."""
        if self.options.dashboard_port is None:
            return
        from runtime.live.dashboard import LiveDashboard
        from runtime.report.dashboard import DashboardServer

        try:
            server = DashboardServer(int(self.options.dashboard_port))
        except OSError as exc:
            raise ConfigError(f"the live page cannot listen on 127.0.0.1:{self.options.dashboard_port}: {exc}; "
                              "give another port, or --dashboard 0 for a free one") from exc
        self.dashboard = LiveDashboard(self, server)
        self.dashboard.start()
        log.info("live page: %s (this machine only; it updates while the run lasts)", server.url)
        if self.on_dashboard is not None:
            self.on_dashboard(server.url)

    def _stop_dashboard(self, reason: str) -> None:
        if self.dashboard is not None:
            dashboard, self.dashboard = self.dashboard, None
            dashboard.stop(reason)

    def stop(self, reason: str) -> None:
        """Thread-safe: ask the run to stop after the event being handled (Ctrl-C, SIGTERM). Algorithm code that has
        been running for a second or more (stuck) is interrupted (see :mod:`runtime.live.watchdog`)."""
        if self.loop is not None:
            self.loop.stop(reason)
        engine, watchdog = self.engine, self.watchdog
        if engine is not None and watchdog is not None:
            call = engine.user_call
            if call is not None and time.monotonic() - call[1] >= min(1.0, watchdog.after_s or 1.0):
                watchdog.interrupt(reason)

    def _stop_watchdog(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()

    def shutdown(self, reason: str, keep_journal: bool = False) -> None:
        """Stop scheduling, keep or cancel open orders, save the context, disconnect."""
        engine = self.engine
        log.info("stopping: %s", reason)
        if engine is not None:
            self.handle_pending()
            if self.options.cancel_on_stop and self.ib is not None and self.ib.is_connected():
                for record in list(engine.open_orders()):
                    try:
                        self.link.cancel_order(record.id, self.clock.now_ns())
                    except Exception as exc:  # keep shutting down
                        log.warning("cancel of order %s failed: %s", record.id[:8], exc)
                self.sync()
                self.handle_pending()
            elif engine.open_order_ids:
                log.info("%d open orders stay working at the broker (a restart adopts them)",
                         len(engine.open_order_ids))
            self.save_context()
        self.close(cancel=False, reason=reason, keep_journal=keep_journal)

    def close(self, cancel: bool = False, reason: str = "error", keep_journal: bool = False) -> None:
        if self.ib is not None:
            try:
                self.ib.disconnect()
            except Exception:
                log.debug("disconnect failed", exc_info=True)
        try:
            self.journal.stop_run(self.options.run_id, reason, self.clock.now_ns())
            if not keep_journal:
                self.journal.close()
        except Exception:
            log.debug("could not record the stop in the journal", exc_info=True)

    def _result(self, reason: str | None, timings: dict[str, float]) -> LiveResult:
        engine, recorder = self.engine, self.recorder
        assert engine is not None and recorder is not None
        record_unfinished_session(engine, recorder, self.journal, self.options.run_id, self.calendar)
        results_from_journal(engine, recorder, self.journal, self.options.run_id, self.calendar)
        codes = tuple(getattr(self.options.ibridgepy, "account_codes", ()) or ())

        def meta(perf: pd.DataFrame) -> dict[str, Any]:
            return {"algorithm": self.options.algorithm, "frequency": self.options.frequency,
                    "mode": self.options.mode, "run_id": self.options.run_id, "capital": recorder.starting_cash,
                    "errors_in_algorithm": engine.error_count, "stopped": reason,
                    "loop_seconds": timings.get("loop"),
                    "broker_splits": [s.to_dict() for s in self.broker_splits],
                    "recorded": recorder.recorded_names}

        done = finish_run(engine, recorder, self.calendar, output=self.options.output, meta=meta,
                          extra_files=lambda output: write_accounts(self.ib, codes, output))
        perf, summary, files = done.perf, done.summary, done.files
        return LiveResult(perf, summary, engine, reason, files, timings, self.link.sent,
                          self.feed.history_requests if self.feed else 0, list(self.broker_splits), self.strict_error)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


#: what the session does with each kind of broker event
HANDLERS: dict[type, Callable[[LiveSession, Any], None]] = {
    Fill: LiveSession._on_fill,
    Cancelled: LiveSession._on_closed,
    OrderRejected: LiveSession._on_closed,
    CommissionReported: LiveSession._on_late_commission,
    ConnectionLost: LiveSession._on_lost,
    ConnectionRestored: LiveSession._on_restored,
    OrderAdopted: LiveSession._on_adopted,
    ReconcileReport: LiveSession._on_reconcile_report,
    OrderStatusChanged: lambda s, ev: order_log.debug(
        "order %s is %s (%s)%s", ev.order_id[:8], ev.status.value, ev.ib_status,
        f": {ev.why_held}" if ev.why_held else ""),
    CancelRejected: lambda s, ev: order_log.warning(
        "cancel of order %s refused: IB %d: %s", ev.order_id[:8], ev.code, ev.text),
    IBNotice: lambda s, ev: order_log.warning(
        "IB %d%s: %s", ev.code, f" (order {ev.order_id[:8]})" if ev.order_id else "", ev.text),
    MarketDataDelayed: lambda s, ev: log.warning(
        "%s: delayed market data (IB %d: %s)", ev.asset.symbol, ev.code, ev.text),
}


__all__ = ["LiveOptions", "LiveResult", "LiveSession"]
