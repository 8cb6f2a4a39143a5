"""A paper or live run: the engine driven by the live loop, trading through the IB adapter.

Start-up (every start, including a restart with the same run id and journal):
1. the journal's orders of this run are handed to the adapter (``restore_orders``) before it connects, with the
   highest IB order id the journal used (never handed out again); the reconciliation adopts the open ones by
   ``orderRef`` (nothing is sent again) and closes, with the broker's status, those that expired, were cancelled or
   filled while the runtime was down; one journalled as ``sending`` that the broker does not know is closed as
   never sent (:meth:`LiveSession._settle_startup`);
2. the ledger starts from the broker's account: cash and positions with their average cost;
3. ``initialize`` runs, then the context saved in the journal is restored on top of it;
4. the live loop resumes after the last event the previous start handled.

All broker events are handled on the engine thread (:meth:`LiveSession.handle_pending`): fills (journaled by
execution, booked once), cancellations, rejections, late commissions, connection changes, adopted orders,
position snapshots, IB's warnings. An order call while disconnected raises the adapter's NotConnectedError into the
algorithm, where the engine's error policy logs it with the file:line and the run goes on.

IB's positions are compared with the ledger at each session's start (before ``before_trading_start``, and again
before the session's first bar, after the open) and after each reconciliation: a split IB booked is applied to the
ledger, any other difference is reported and left alone (:meth:`LiveSession.check_broker_positions`).
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
from runtime.brokers.ib.events import (
    CancelRejected,
    CommissionReported,
    ConnectionLost,
    ConnectionRestored,
    IBNotice,
    MarketDataDelayed,
    OrderAdopted,
    OrderStatusChanged,
    PositionsSnapshot,
    Reconciled,
)
from runtime.brokers.ib.orders import KnownOrder
from runtime.core.assets import Asset
from runtime.core.calendar import TradingCalendar
from runtime.core.ledger import _Pos
from runtime.core.matching import Cancelled, Fill
from runtime.core.metrics import Summary
from runtime.core.orders import OrderKind, OrderStatus, TimeInForce
from runtime.data.benchmark import BenchmarkChoice, resolve_benchmark
from runtime.data.store import BarArrays
from runtime.engine.clocks import Clock
from runtime.engine.dispatch import BAR, BTS
from runtime.engine.engine import Engine, OrderRecord
from runtime.engine.live import LiveLoop
from runtime.engine.results import ResultsRecorder
from runtime.engine.state import BrokerSources
from runtime.engine.timeline import Timeline, build_timeline
from runtime.errors import AlgorithmLoadError, AlgorithmRaisedError, ConfigError
from runtime.journal import SENDING, Journal
from runtime.live.broker import WAKE, EngineBroker, EventInbox, SyncedIBBroker
from runtime.live.feed import BrokerDispatcher, BrokerFeed
from runtime.live.positions import AppliedSplit, Holding, PositionDifference, compare_positions, describe_ratio
from runtime.live.watchdog import Watchdog

if TYPE_CHECKING:
    from runtime.live.dashboard import LiveDashboard

log = logging.getLogger("ibalgo.live")
order_log = logging.getLogger("ibalgo.orders")

#: the context key under which the last handled event's time is saved (a restart resumes after it)
RESUME_KEY = "_ibalgo_resume_ns"
#: the context is saved at least this often (run clock), besides after each instant that placed or cancelled orders
CONTEXT_SAVE_INTERVAL_NS = 60 * 1_000_000_000
#: journal status -> the engine's order status (results built from the journal)
_JOURNAL_STATUS = {"filled": OrderStatus.FILLED, "cancelled": OrderStatus.CANCELLED,
                   "rejected": OrderStatus.REJECTED}


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
        connect_broker: Callable[[EventInbox, EngineBroker], SyncedIBBroker],
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
        self.ib: SyncedIBBroker | None = None
        self.engine: Engine | None = None
        self.feed: BrokerFeed | None = None
        self.loop: _Loop | None = None
        self.recorder: ResultsRecorder | None = None
        self.connected = True
        self.last_event_ns: int | None = None
        self.fills = 0
        self.broker_splits: list[AppliedSplit] = []
        #: the live page (``dashboard_port``), and who hears its address once it serves (default: the log)
        self.dashboard: LiveDashboard | None = None
        self.on_dashboard: Callable[[str], None] | None = None
        self._reported_differences: set[tuple[int, int, int]] = set()
        self._startup = False  # handling the start's reconciliation (see _settle_startup)
        self._context_saved_ns = 0
        self.watchdog: Watchdog | None = None

    # ---------------------------------------------------------------------------------------------- start-up
    def _known_orders(self) -> tuple[list[KnownOrder], int]:
        """Every order of this run in the journal (open ones to settle at the broker, closed ones so their
        executions are not booked or counted again), and the highest IB order id the journal used (any run)."""
        out = []
        highest = 0
        for o in self.journal.orders():
            if o.broker_id and o.broker_id.isdigit():
                highest = max(highest, int(o.broker_id))
            if o.run_id != self.options.run_id:
                continue
            asset = Asset(sid=o.sid, symbol=o.symbol)
            filled = o.filled if o.amount >= 0 else -o.filled  # the journal keeps it unsigned; the tracker signed
            out.append(KnownOrder(o.order_id, asset, o.amount, filled, int(o.broker_id or 0), o.is_final,
                                  unconfirmed=o.status == SENDING))
        return out, highest

    def start(self) -> None:
        """Connect, build the engine from the broker's account, run initialize and restore the saved context."""
        opts = self.options
        known, highest = self._known_orders()
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
        self._seed_positions()
        engine.api.pipelines.configure(store=_pipeline_store(opts.pipeline_data, cal), live=True,
                                       table_path=opts.fundamentals or "",
                                       asset_map=lambda asset: engine.api.symbol(asset.symbol))
        load_into(engine, opts.algorithm, dict(opts.params))
        engine.api.symbol_source = feed.add_symbol
        engine.run_initialize()
        self._restore_orders(sum(1 for k in known if not k.closed))
        self._settle_startup(startup)
        saved = self.journal.load_context(self._saved_asset, opts.run_id)
        if saved:
            self.last_event_ns = saved.pop(RESUME_KEY, None)
            for name, value in saved.items():
                if value is None and getattr(engine.context, name, None) is not None:
                    continue  # not storable as JSON when saved: initialize's value stands
                setattr(engine.context, name, value)
            log.info("restored the saved context (%d values) after initialize", len(saved))
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

    def _seed_positions(self) -> None:
        """The broker's positions (with average cost) into the ledger, and their assets into the data."""
        assert self.ib is not None and self.engine is not None and self.feed is not None
        ledger = self.engine.ledger
        positions = [p for p in self.ib.positions() if p.amount]
        for p in positions:
            pos = _Pos(p.asset)
            pos.amount = round(p.amount)
            pos.cost_basis = float(p.avg_cost) / (p.asset.multiplier or 1.0)
            pos.last_sale_price = float(p.market_price or pos.cost_basis)
            ledger._positions[p.asset.sid] = pos
        if positions:
            ledger.version += 1
            self.feed.add_assets([p.asset for p in positions])
            log.info("starting positions from the broker: %s",
                     ", ".join(f"{p.asset.symbol} {p.amount:+g} @ {p.avg_cost:.2f}" for p in positions))

    def _saved_asset(self, sid: int) -> Asset:
        """An asset the saved context names, by sid; one this algorithm does not know is a ConfigError with advice."""
        engine = self.engine
        assert engine is not None
        try:
            return engine.api.sid(int(sid))
        except Exception as exc:
            symbols = sorted({o.symbol for o in self.journal.orders() if o.sid == int(sid)})
            name = f" ({', '.join(symbols)})" if symbols else ""
            raise ConfigError(
                f"the saved context of run {self.options.run_id!r} names the asset with sid {sid}{name}, which "
                f"{Path(self.options.algorithm).name} does not use ({exc}). The algorithm was edited since the run "
                "saved it: use symbol(...) for that asset in initialize again, or start a new run with another "
                "--run-id (its context starts from initialize; positions and open orders at the broker stay).") \
                from None

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
        for o in self.journal.orders(open_only=True):
            if o.run_id != self.options.run_id or o.status != SENDING:
                continue
            if o.order_id in engine.open_order_ids:
                self.journal.order_update(o.order_id, self.clock.now_ns(), status="submitted")
                order_log.info("order %s was journalled as sending before the previous stop and is at the broker: "
                               "adopted (IB id %s), not sent again", o.order_id[:8], o.broker_id)

    def _restore_orders(self, known: int) -> None:
        """Engine records of the journal's open orders (the adapter adopts them by orderRef)."""
        assert self.engine is not None
        engine = self.engine
        for o in self.journal.orders(open_only=True):
            if o.run_id != self.options.run_id or o.order_id in engine.orders:
                continue
            try:
                asset = engine.api.sid(o.sid)
            except Exception:
                asset = Asset(sid=o.sid, symbol=o.symbol)
            record = OrderRecord(o.order_id, asset, o.amount, OrderKind(o.kind), o.limit_price, o.stop_price,
                                 TimeInForce(o.tif), o.created_ns, o.created_ns, filled=o.filled,
                                 commission=o.commission, broker_id=o.broker_id)
            engine.adopt_order(record)
        if known:
            order_log.info("%d open orders of this run from the journal: matched to the broker's by orderRef, not "
                           "sent again", known)

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

    def handle(self, events: list[object]) -> None:
        """Handle broker events on the engine thread, in order."""
        engine = self.engine
        assert engine is not None
        for ev in events:
            if isinstance(ev, Fill):
                self._on_fill(ev)
            elif isinstance(ev, (Cancelled, OrderRejected)):
                engine.apply_broker_events([ev])
                status = "cancelled" if isinstance(ev, Cancelled) else "rejected"
                self.journal.order_update(ev.order_id, ev.time_ns, status=status, reason=ev.reason, defer=True)
                (order_log.warning if self._startup else order_log.info)(
                    "order %s %s%s: %s", ev.order_id[:8], status, " while the runtime was down" if self._startup
                    else "", ev.reason)
            elif isinstance(ev, CommissionReported):
                record = engine.orders.get(ev.order_id)
                if record is None or not record.account or record.account == engine.ledger_account:
                    engine.ledger.cash -= ev.commission
                    engine.ledger.version += 1
                if record is not None:
                    record.commission += ev.commission
                    self.journal.order_update(ev.order_id, ev.time_ns, commission=record.commission, defer=True)
            elif isinstance(ev, ConnectionLost):
                self.connected = False
                log.warning("connection lost: %s%s; orders raise NotConnectedError until it is back", ev.reason,
                            f" (IB {ev.code})" if ev.code else "")
            elif isinstance(ev, ConnectionRestored):
                self.connected = True
                log.info("connection restored: %s", ev.reason)
            elif isinstance(ev, OrderAdopted):
                self._on_adopted(ev)
            elif isinstance(ev, PositionsSnapshot):
                self._on_positions_snapshot(ev)
            elif isinstance(ev, Reconciled):
                log.info("reconciled with the broker: %d open orders of this run, %d fills recovered, %d closed "
                         "while away, %d positions", ev.open_orders, ev.recovered_fills, ev.closed_while_away,
                         ev.positions)
            elif isinstance(ev, OrderStatusChanged):
                order_log.debug("order %s is %s (%s)%s", ev.order_id[:8], ev.status.value, ev.ib_status,
                                f": {ev.why_held}" if ev.why_held else "")
            elif isinstance(ev, CancelRejected):
                order_log.warning("cancel of order %s refused: IB %d: %s", ev.order_id[:8], ev.code, ev.text)
            elif isinstance(ev, IBNotice):
                order_log.warning("IB %d%s: %s", ev.code, f" (order {ev.order_id[:8]})" if ev.order_id else "",
                                  ev.text)
            elif isinstance(ev, MarketDataDelayed):
                log.warning("%s: delayed market data (IB %d: %s)", ev.asset.symbol, ev.code, ev.text)
            else:
                log.debug("ignored broker event %r", ev)
        if self.dashboard is not None:
            self.dashboard.observe(events)
            self.dashboard.tick()

    def _on_fill(self, fill: Fill) -> None:
        engine = self.engine
        assert engine is not None
        # booked once: the journal's set of booked executions decides; its row is written off the engine thread,
        # after the fill is in the ledger (the order itself was journaled before it was sent)
        if not self.journal.add_fill(f"{fill.order_id}:{fill.cum_filled}", fill.order_id, fill.amount, fill.price,
                                     fill.commission, fill.time_ns, defer=True):
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

    def _on_adopted(self, ev: OrderAdopted) -> None:
        engine = self.engine
        assert engine is not None
        order_log.info("order %s adopted from the broker (IB id %d, %s, %d of %+d filled)", ev.order_id[:8],
                       ev.ib_order_id, ev.ib_status, ev.filled, ev.amount)
        if ev.order_id in engine.orders:
            return
        now = self.clock.now_ns()
        record = OrderRecord(ev.order_id, ev.asset, ev.amount, OrderKind.MARKET, None, None, TimeInForce.GTC, now,
                             now, filled=ev.filled, broker_id=str(ev.ib_order_id))
        engine.adopt_order(record)

    # ------------------------------------------------------------------------------------ broker positions
    def _on_positions_snapshot(self, ev: PositionsSnapshot) -> None:
        """IB's positions after a reconciliation (its fills recovered while away are booked before it)."""
        account = self.ib.account if self.ib is not None else ""
        held = [_holding(p.asset, p.amount, p.avg_cost) for p in ev.positions
                if not account or not p.account or p.account == account]
        self.check_broker_positions(held, "reconciliation")

    def check_positions_at_session_start(self, session: int) -> None:
        """IB's positions (kept current by the adapter's subscription) against the ledger, once everything IB sent
        up to now is booked. Skipped while disconnected or while a reconciliation reloads the positions: the
        reconciliation after the reconnect reports them."""
        ib = self.ib
        if ib is None or not self.connected or not ib.is_connected() or not ib.account_state.positions_loaded.is_set():
            return
        self.sync()
        self.handle_pending()
        held = [_holding(p.asset, p.amount, p.avg_cost) for p in ib.positions()]
        if not ib.account_state.positions_loaded.is_set():
            return  # a reconciliation began reloading them while they were read
        self.check_broker_positions(held, f"the start of {self.calendar.session_label(session).date()}")

    def check_broker_positions(self, positions: Iterable[Holding], when: str) -> list[PositionDifference]:
        """Compare IB's ``positions`` with the ledger's; apply a split IB booked, report anything else.

        Assets with a working order of the run (at the engine or the adapter: a fill not yet booked keeps the
        engine's order open) are skipped: their difference is the run's own trade on its way. For the others
        (policy in :mod:`runtime.live.positions`):

        - IB's amount and average cost show a split (``trunc(ledger x p/q)`` shares of small whole numbers p, q,
          average cost = cost basis / ratio): the split is applied to the ledger as a backtest applies one
          (:meth:`~runtime.core.ledger.Ledger.apply_split`: amount x ratio, cost basis and last price / ratio, the
          fractional share paid in cash), logged at WARNING with the reason, kept in :attr:`broker_splits` (the
          results' ``summary.json``) and in the journal's events (kind ``broker_split``);
        - anything else (a trade outside the run, a spin-off, a position IB no longer reports, an ambiguous ratio)
          is not guessed: a WARNING names the asset, both amounts and what to check; the ledger is not changed;
        - a run started with the broker's corporate actions (``LiveOptions.corporate_actions``: the simulated
          gateway's data) applies them from that data already, so nothing is applied a second time here; a
          difference is only reported.

        Cash dividends IB credits are not visible per asset through the API and are not inferred here.
        """
        engine, ib = self.engine, self.ib
        assert engine is not None
        ledger = engine.ledger
        ours = [Holding(asset, amount, basis) for _, asset, amount, basis, _ in ledger.position_items()]
        busy = {o.asset.sid for o in engine.open_orders()}
        if ib is not None:
            busy |= {o.asset.sid for o in ib.orders.open_orders()}
        differences = compare_positions(ours, positions, busy)
        known_actions = self.options.corporate_actions is not None
        current: set[tuple[int, int, int]] = set()
        for d in differences:
            if d.split is not None and not known_actions:
                self._apply_broker_split(d, when)
            else:
                current.add((d.asset.sid, d.ledger_amount, d.broker_amount))
                self._report_difference(d, when, known_actions)
        self._reported_differences = {k for k in self._reported_differences if k in current or k[0] in busy}
        return differences

    def _apply_broker_split(self, d: PositionDifference, when: str) -> None:
        engine = self.engine
        assert engine is not None and d.split is not None
        ledger = engine.ledger
        sid = d.asset.sid
        now = self.clock.now_ns()
        before = ledger.amount(sid)
        paid = ledger.apply_split(sid, d.split, now)  # a Fraction: the whole amount and the fraction are exact
        applied = AppliedSplit(now, d.asset, d.split, before, ledger.amount(sid), paid, d.reason)
        self.broker_splits.append(applied)
        log.warning("%s: IB booked a %s split (found at %s): the ledger's position is now %+d shares (was %+d)%s, "
                    "cost basis and last price divided by %g. Why: %s", d.asset.symbol, describe_ratio(d.split), when,
                    applied.amount_after, before, f", {paid:.2f} paid for the fractional share" if paid else "",
                    float(d.split), d.reason)
        self.journal.add_event(now, self.options.run_id, "broker_split", applied.to_dict())

    def _report_difference(self, d: PositionDifference, when: str, known_actions: bool) -> None:
        key = (d.asset.sid, d.ledger_amount, d.broker_amount)
        first = key not in self._reported_differences
        self._reported_differences.add(key)
        if known_actions and d.split is not None:
            why = (f"{d.reason}; this run applies the broker's corporate actions from its data, so it does not apply "
                   "this one again")
        else:
            why = f"not a split the run can infer: {d.reason}"
        (log.warning if first else log.debug)(
            "%s: the ledger holds %+d shares, IB holds %+d (found at %s); %s. The ledger is left unchanged, so the "
            "portfolio value and order_target use %+d. Check %s's trades and corporate actions in TWS (an order "
            "outside this run: TWS, another client or run on this account; a spin-off or merger); a restart of the "
            "run takes IB's positions as its starting positions.", d.asset.symbol, d.ledger_amount, d.broker_amount,
            when, why, d.ledger_amount, d.asset.symbol)

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

    def _record_unfinished_session(self) -> None:
        """The session the run stopped in (its end not reached) gets its row now, from the ledger as it is."""
        engine, recorder = self.engine, self.recorder
        assert engine is not None and recorder is not None
        session = engine.clock.session
        if session is None or session < engine.start_session or session in recorder.sessions:
            return
        if recorder.sessions and session < recorder.sessions[-1]:
            return
        recorder.on_session_end(engine, session)
        try:
            self.journal.save_session_row(self.options.run_id, session, int(self.calendar.closes[session]),
                                          recorder.last_row())
        except Exception:
            log.debug("could not store the unfinished session's row", exc_info=True)

    def _results_from_journal(self) -> None:
        """The results cover the whole run id: sessions of earlier starts from the journal, and every session's
        orders and fills from the journal's order and fill rows (each start's, and fills booked at a restart)."""
        engine, recorder = self.engine, self.recorder
        assert engine is not None and recorder is not None
        run_id = self.options.run_id
        orders = [o for o in self.journal.orders() if o.run_id == run_id]
        assets: dict[int, Asset] = {}
        for o in orders:
            if o.sid not in assets:
                try:
                    assets[o.sid] = engine.api.sid(o.sid)
                except Exception:
                    assets[o.sid] = Asset(sid=o.sid, symbol=o.symbol)
        ours = set(recorder.sessions)
        first = min(ours) if ours else None
        earlier = [(session, row) for session, _close, row in self.journal.session_rows(run_id)
                   if session not in ours and (first is None or session < first)]
        for _, row in earlier:
            for sid in row["positions"][::4]:
                sid = int(sid)
                if sid not in assets:
                    try:
                        assets[sid] = engine.api.sid(sid)
                    except Exception:
                        assets[sid] = Asset(sid=sid, symbol=f"sid {sid}")
        recorder.prepend_sessions(earlier, assets)
        if not recorder.sessions:
            return
        closes = np.asarray([int(self.calendar.closes[s]) for s in recorder.sessions], dtype=np.int64)

        def day_of(t: int) -> int:
            return min(int(np.searchsorted(closes, t, side="left")), len(closes) - 1)

        from runtime.core.ledger import Transaction
        from runtime.engine.results import _order_state

        by_id = {o.order_id: o for o in orders}
        day_orders: list[list[tuple]] = [[] for _ in closes]
        for o in orders:
            live = engine.orders.get(o.order_id)
            if live is None:
                live = OrderRecord(o.order_id, assets[o.sid], o.amount, OrderKind(o.kind), o.limit_price,
                                   o.stop_price, TimeInForce(o.tif), o.created_ns, o.created_ns, filled=o.filled,
                                   commission=o.commission, broker_id=o.broker_id)
                live.status = _JOURNAL_STATUS.get(o.status, OrderStatus.OPEN)
                live.reason = o.reason
            day_orders[day_of(o.created_ns)].append(_order_state(live))
        day_txns: list[list[Transaction]] = [[] for _ in closes]
        for _exec_id, order_id, amount, price, commission, time_ns in self.journal.fills():
            o = by_id.get(order_id)
            if o is None:
                continue
            day_txns[day_of(time_ns)].append(Transaction(assets[o.sid], int(amount), float(price),
                                                         float(commission), int(time_ns), order_id))
        recorder.set_activity(day_orders, day_txns)

    def _write_accounts(self, output: Path) -> list[Path]:
        """Several accounts (IBridgePy's ACCOUNT_CODE list): accounts.json, each account's values and positions."""
        codes = tuple(getattr(self.options.ibridgepy, "account_codes", ()) or ())
        if len(codes) < 2 or self.ib is None:
            return []
        import json

        path = Path(output) / "accounts.json"
        path.write_text(json.dumps(_account_results(self.ib, codes), indent=2, default=str), encoding="utf-8")
        return [path]

    def _result(self, reason: str | None, timings: dict[str, float]) -> LiveResult:
        engine, recorder = self.engine, self.recorder
        assert engine is not None and recorder is not None
        self._record_unfinished_session()
        self._results_from_journal()

        def meta(perf: pd.DataFrame) -> dict[str, Any]:
            return {"algorithm": self.options.algorithm, "frequency": self.options.frequency,
                    "mode": self.options.mode, "run_id": self.options.run_id, "capital": recorder.starting_cash,
                    "errors_in_algorithm": engine.error_count, "stopped": reason,
                    "loop_seconds": timings.get("loop"),
                    "broker_splits": [s.to_dict() for s in self.broker_splits],
                    "recorded": recorder.recorded_names}

        done = finish_run(engine, recorder, self.calendar, output=self.options.output, meta=meta,
                          extra_files=self._write_accounts)
        perf, summary, files = done.perf, done.summary, done.files
        return LiveResult(perf, summary, engine, reason, files, timings, self.link.sent,
                          self.feed.history_requests if self.feed else 0, list(self.broker_splits), self.strict_error)


def _account_results(ib: SyncedIBBroker, accounts: Iterable[str]) -> dict[str, Any]:
    """Each account's values (IB's numeric tags) and positions at the end of the run."""
    out: dict[str, Any] = {}
    for account in accounts:
        out[account] = {
            "values": ib.account_state.numbers(account),
            "positions": [{"symbol": p.asset.symbol, "sec_type": p.asset.sec_type.value, "amount": p.amount,
                           "avg_cost": p.avg_cost} for p in ib.positions(account) if p.amount],
        }
    return out


def _holding(asset: Asset, amount: float, avg_cost: float) -> Holding:
    """A position as IB reports it (average cost per contract) as a Holding (cost per unit, like the ledger's)."""
    return Holding(asset, round(amount), float(avg_cost) / (asset.multiplier or 1.0))


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


__all__ = ["LiveOptions", "LiveResult", "LiveSession"]
