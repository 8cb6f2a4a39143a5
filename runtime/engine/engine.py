"""The engine: the one thread that owns the runtime's mutable state and runs all user code, in order.

Every event (a broker's fill, a bar, a scheduled function, before_trading_start, a session's end) is handled here,
one at a time, so algorithm code never runs concurrently. At equal timestamps the order is: broker events, then
``handle_data``, then scheduled functions in registration order.

Error policy: an exception in ``handle_data``, ``before_trading_start`` or a scheduled function is logged with the
algorithm's file:line and the run continues (``strict=True`` stops it instead); an exception in ``initialize``
stops the run with a clear message.

Why this module stays long: it is the one owner of the run's mutable state, and what it holds is used together on
every event: the order records and their lifecycle (place, bracket, modify, cancel, the broker's events), the
ledger they fill into, today's figures, the controls every order is checked against, and the user-code error
policy. Its small types live in :mod:`runtime.engine.state`; the event loops (:mod:`~runtime.engine.dispatch`,
:mod:`~runtime.engine.live_loop`), the backtest driver and everything above the engine (the algorithm API, ``data``,
the run assemblies in :mod:`runtime.assembly`) live elsewhere and reach this state only through methods.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from runtime.brokers.base import Broker, BrokerEvent, OrderRejected, OrderRequest
from runtime.core import margin
from runtime.core.assets import Asset
from runtime.core.calendar import TradingCalendar
from runtime.core.controls import MaxLeverage, MinLeverage, OrderCheck, TradingControl, check_order
from runtime.core.ledger import Ledger
from runtime.core.margin import MarginCheck
from runtime.core.matching import Cancelled, Fill
from runtime.core.orders import OrderPolicy, OrderStatus, SendAsPlaced, TimeInForce, check_price, round_amount
from runtime.core.styles import ExecutionStyle, LimitOrder, StopOrder
from runtime.data.portal import DataPortal
from runtime.engine.state import (
    AlgorithmCode,
    AlgorithmData,
    BrokerSources,
    CancelPolicy,
    NoAlgorithm,
    OrderRecord,
    Phase,
    SessionStats,
    SimTime,
    new_order_id,
)
from runtime.errors import (
    AlgorithmLoadError,
    BadOrderError,
    IbAlgoError,
    PhaseError,
    describe_user_exception,
    user_location,
)

log = logging.getLogger("ibalgo.engine")

__all__ = ["CancelPolicy", "Engine", "OrderRecord", "Phase", "SessionStats", "SimTime", "new_order_id"]


class Engine:
    """Owns the ledger, the orders and the algorithm; the clocks call its ``on_*`` methods."""

    def __init__(
        self,
        functions: AlgorithmCode | None,
        *,
        portal: DataPortal,
        calendar: TradingCalendar,
        broker: Broker,
        frequency: str,
        capital: float,
        start_session: int,
        end_session: int,
        mode: str = "backtest",
        strict: bool = False,
        algo_logger: logging.Logger | None = None,
    ) -> None:
        self.functions: AlgorithmCode = functions or NoAlgorithm()
        self.portal = portal
        self.calendar = calendar
        self.broker = broker
        self.frequency = frequency
        self.mode = mode
        self.strict = strict
        #: how placed orders become the orders sent (and recorded): see :meth:`set_order_policy`
        self.order_policy: OrderPolicy = SendAsPlaced()
        #: a backtest's pre-trade margin check (paper and live runs leave it to the broker): see set_margin_check
        self.margin_check = MarginCheck.NONE
        self.start_session = start_session
        self.end_session = end_session
        self.clock = SimTime()
        self.phase = Phase.SETUP
        self.ledger = Ledger(capital, calendar.session_label(start_session))
        self.orders: dict[str, OrderRecord] = {}
        self.open_order_ids: dict[str, None] = {}
        #: bracket entries not done yet: entry id -> its exits' ids
        self._children: dict[str, list[str]] = {}
        self._warned_day_exits = False
        self.today = SessionStats()
        self.recorded: dict[str, Any] = {}
        self.controls: list[TradingControl] = []
        self.max_leverage: MaxLeverage | None = None
        self.min_leverage: MinLeverage | None = None
        self.restricted: set[Asset] = set()
        self.cancel_policy = CancelPolicy.NEVER
        self.benchmark: Asset | None = None
        self.scheduled: list[tuple[Any, Callable[..., Any]]] = []
        self.error_count = 0
        self._error_seen: dict[tuple[Any, ...], int] = {}
        self.sessions_done = 0
        self.algo_log = algo_logger or logging.getLogger("ibalgo.algo")
        self.on_session_end_hooks: list[Callable[[Engine, int], None]] = []
        #: replays through the live loop: what it reported (see :meth:`set_live_stats`)
        self.live_stats: dict[str, int] = {}
        #: called with (session, last session of the run) at each session's start, before before_trading_start
        #: (the attached pipelines compute there), under the error policy of before_trading_start
        self.session_start_hooks: list[Callable[[int, int], None]] = []
        self.stop_requested: str | None = None
        #: paper/live runs: hand the broker everything sent so far and book what it reported (the live session
        #: sets it); order_status_monitor calls it while it waits. None in backtests (nothing to wait for).
        self.wait_for_broker: Callable[[], None] | None = None
        #: paper/live runs: IB's account value for a tag (None when IB sends none), and the tags IB sends
        self.account_value_source: Callable[[str], str | None] | None = None
        self.account_value_tags: Callable[[], list[str]] = list
        #: the account the ledger follows; fills of orders for another account (IBridgePy's accountCode=) are
        #: booked on their orders but not in this run's ledger
        self.ledger_account = ""
        #: backtests: the simulated ledgers of the run's other accounts (IBridgePy's accountCode=), by account code
        self._account_ledgers: dict[str, Ledger] = {}
        #: paper/live runs: IB's positions of an account (None: all) -> list of PositionSnapshot
        self.positions_source: Callable[[str | None], list[Any]] | None = None
        #: paper/live runs: IB history, (asset, duration, bar size, whatToShow, useRTH, end_ns|None, as_of_ns) ->
        #: HistoryBars (the adapter's paced, cached reqHistoricalData)
        self.history_source: Callable[..., Any] | None = None
        #: paper/live runs: zipline's context.account from IB's account values
        self.account_snapshot_source: Callable[[], Any] | None = None
        #: paper/live runs: the broker's streaming quote of an asset (bid, ask, sizes), None when there is none
        self.quote_source: Callable[[Asset], Any] | None = None
        #: IBridgePy's run options (show time zone, e-mail, account codes): see runtime.algorithm.ibridgepy
        self.ibridgepy_options: Any = None
        #: the user call running now (see :meth:`call_user`), None between calls
        self.user_call: tuple[int, float, str, int] | None = None
        self._user_calls = 0
        self._held_cols: dict[tuple, tuple[list[int], np.ndarray]] = {}
        self._mark_args: tuple[int, bool, int] = (-1, False, 0)
        #: (splits, dividends) the broker applies to the account, when the run knows them (the simulated gateway's
        #: data); None: those of the data portal's bars (backtests)
        self.corporate_actions: tuple[tuple, tuple] | None = None
        #: the algorithm's API, ``context`` and ``data``: set by :meth:`attach` (runtime.assembly builds them)
        self.api: Any = None
        self.context: Any = None
        self.data: AlgorithmData | Any = None

    def attach(self, api: Any, context: Any, data: AlgorithmData) -> None:
        """Give the engine the algorithm's API object, the ``context`` and the ``data`` it hands to user code
        (built above the engine, by :mod:`runtime.assembly`)."""
        self.api = api
        self.context = context
        self.data = data

    # ------------------------------------------------------------------------------------------ configuration
    # What the run's assembly and the algorithm API set up; each is a method so the engine owns its state.
    def load(self, functions: AlgorithmCode) -> None:
        """Run ``functions`` (the loaded algorithm file's) from now on."""
        self.functions = functions

    def use_broker_sources(self, sources: BrokerSources) -> None:
        """A paper or live run: read account values, quotes, positions and history from the broker."""
        self.wait_for_broker = sources.wait_for_broker
        self.account_value_source = sources.account_value
        self.account_value_tags = sources.account_value_tags
        self.account_snapshot_source = sources.account_snapshot
        self.quote_source = sources.quote
        self.history_source = sources.history
        self.positions_source = sources.positions
        self.ledger_account = sources.ledger_account
        self.corporate_actions = sources.corporate_actions

    def set_ibridgepy_options(self, options: Any) -> None:
        """IBridgePy's run options (time zone, e-mail, account codes): see runtime.algorithm.ibridgepy."""
        self.ibridgepy_options = options

    def add_session_end_hook(self, hook: Callable[[Engine, int], None]) -> None:
        """Call ``hook(engine, session)`` at each session's end, after the engine's own session-end steps."""
        self.on_session_end_hooks.append(hook)

    def add_session_start_hook(self, hook: Callable[[int, int], None]) -> None:
        """Call ``hook(session, last session)`` at each session's start (once, however often it is added)."""
        if hook not in self.session_start_hooks:
            self.session_start_hooks.append(hook)

    def set_live_stats(self, stats: dict[str, int]) -> None:
        """What the live loop reported (bars skipped, overruns, closed time jumped over)."""
        self.live_stats = dict(stats)

    def set_cancel_policy(self, policy: CancelPolicy) -> None:
        """Whether open orders are cancelled at each session's end (see :attr:`eod_cancel_active`)."""
        self.cancel_policy = policy

    def set_benchmark(self, asset: Asset) -> None:
        """The asset the run's results compare with."""
        self.benchmark = asset

    def add_control(self, control: TradingControl) -> None:
        """A trading control every order is checked against."""
        self.controls.append(control)

    def set_max_leverage(self, control: MaxLeverage) -> None:
        """The account control checked at each session's end (a violation stops the run)."""
        self.max_leverage = control

    def set_min_leverage(self, control: MinLeverage) -> None:
        """The account control checked at each session's end (a violation stops the run)."""
        self.min_leverage = control

    def schedule(self, rule: Any, func: Callable[..., Any]) -> None:
        """Run ``func(context, data)`` when ``rule`` fires (registration order at equal times)."""
        self.scheduled.append((rule, func))

    def record(self, name: str, value: Any) -> None:
        """A value for the results column ``name`` (the session's last one is kept)."""
        self.recorded[name] = value

    # ------------------------------------------------------------------------------------------------- helpers
    @property
    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self.clock.now_ns, tz="UTC")

    @property
    def eod_cancel_active(self) -> bool:
        """Whether open orders are cancelled at each session's end.

        zipline applies ``EODCancel`` in minute simulations only: with daily bars an order placed at a session's
        bar could otherwise never fill (it would be cancelled before the next bar), so the policy is a no-op there.
        """
        return self.cancel_policy is CancelPolicy.EOD and self.frequency == "minute"

    def is_restricted(self, asset: Asset) -> bool:
        return asset in self.restricted

    def require_phase(self, what: str, allowed: tuple[Phase, ...]) -> None:
        if self.phase not in allowed:
            where = ", ".join(p.value for p in allowed)
            if self.phase is Phase.SETUP:  # the file's top level runs before initialize
                raise PhaseError(f"{what} may only be called in {where}, not at module level (outside any "
                                 f"function): move the call into initialize(context)")
            raise PhaseError(f"{what} may only be called in {where}, not in {self.phase.value}")

    def current_price(self, asset: Asset) -> float:
        """The asset's current price as ``data.current(asset, 'price')`` sees it (NaN if it never traded)."""
        return self.data.price_now(self.portal.column(asset))

    def set_portal(self, portal: DataPortal) -> None:
        """Swap the data the algorithm sees (live runs refresh it from the broker); same assets or more."""
        assets_changed = portal.assets != self.portal.assets
        self.portal = portal
        self.data.set_portal(portal, assets_changed)
        if assets_changed:
            self._held_cols.clear()

    def request_stop(self, reason: str) -> None:
        """Ask the run to stop after the session being simulated (Ctrl-C, SIGTERM; a signal handler may call it).

        The first reason given stands (a later request does not hide why the run stopped)."""
        if self.stop_requested is None:
            self.stop_requested = reason

    # ----------------------------------------------------------------------------------------------- user code
    def call_user(self, phase: Phase, func: Callable[..., Any], *args: Any) -> bool:
        """Run one piece of algorithm code under ``phase``; returns False if it raised (and logs it)."""
        previous = self.phase
        self.phase = phase
        outer = self.user_call
        self._user_calls += 1
        # (call number, monotonic start, phase, thread): what a watchdog reads to find stuck algorithm code
        self.user_call = (self._user_calls, time.monotonic(), phase.value, threading.get_ident())
        try:
            func(*args)
            return True
        except BaseException as exc:
            self.user_call = outer
            self.user_raised(phase, exc)
            return False
        finally:
            self.user_call = outer
            self.phase = previous if previous is not Phase.SETUP else Phase.DONE if phase is Phase.ANALYZE else previous

    def call_bar(self, phase: Phase, func: Callable[..., Any], context: Any, data: Any) -> None:
        """:meth:`call_user` for the backtest's inlined bar loop: the same phase and error policy, without the
        record of the running call a watchdog reads (a backtest has none), which would double its cost per bar."""
        previous = self.phase
        self.phase = phase
        try:
            func(context, data)
        except BaseException as exc:
            self.user_raised(phase, exc)
        finally:
            self.phase = previous

    def user_raised(self, phase: Phase, exc: BaseException) -> None:
        """The engine's one error policy for algorithm code that raised ``exc`` under ``phase``: ``exit()`` stops
        the run as ``end()`` does, an exception is counted and logged (``strict``: the run stops); anything else (a
        load error, KeyboardInterrupt) goes on up."""
        if isinstance(exc, SystemExit):  # exit() / sys.exit() in algorithm code: stop the run as end() does
            self.user_exited(exc)
        elif isinstance(exc, Exception) and not isinstance(exc, AlgorithmLoadError):
            self.user_failed(phase, exc)  # the algorithm's mistake: report it, keep the run going
        else:
            raise exc

    def user_failed(self, phase: Phase, exc: Exception) -> None:
        """Count and log an exception algorithm code raised under ``phase`` (``strict``: stop the run instead)."""
        self.error_count += 1
        text = describe_user_exception(exc, self.functions.path)
        key = (type(exc).__name__, text.splitlines()[0])
        seen = self._error_seen.get(key, 0) + 1
        self._error_seen[key] = seen
        if self.strict:
            raise AlgorithmLoadError(f"stopped ({phase.value} raised):\n{text}") from exc
        if seen <= 3:
            self.algo_log.error("error in %s at %s:\n%s", phase.value, self.now, text)
        elif seen == 4:
            self.algo_log.error("the same error keeps happening; further repeats are counted, not shown")

    def user_exited(self, exc: SystemExit) -> None:
        """Algorithm code called ``exit()``/``sys.exit()``: the run stops after this event as with ``end()``
        (results are written, positions kept), never the process."""
        line, _ = user_location(exc.__traceback__, self.functions.path)
        where = f"{self.functions.path}:{line}" if line else self.functions.path
        code = "" if exc.code in (None, 0) else f" ({exc.code})"
        self.stop_requested = f"the algorithm called exit(){code} at {where}"

    def run_initialize(self) -> None:
        """Call ``initialize(context)``; an exception here stops the run with the algorithm's file:line."""
        self.phase = Phase.INITIALIZE
        try:
            self.functions.initialize(self.context)
        except SystemExit as exc:
            self.user_exited(exc)
        except IbAlgoError as exc:
            # an API mistake (unknown symbol, bad argument): one line, "file:line: what is wrong"
            line, _ = user_location(exc.__traceback__, self.functions.path)
            raise AlgorithmLoadError(
                f"initialize() failed: {type(exc).__name__}: {exc}", self.functions.path, line
            ) from exc
        except Exception as exc:
            raise AlgorithmLoadError(
                f"initialize() raised, so the run cannot start:\n{describe_user_exception(exc, self.functions.path)}"
            ) from exc
        finally:
            self.phase = Phase.SETUP

    # -------------------------------------------------------------------------------------------------- orders
    def _order_shares(self, asset: Asset, amount: float, what: str = "order()") -> int:
        """The phase, asset and listing checks every order passes; returns the rounded signed amount."""
        self.require_phase("ordering", (Phase.HANDLE_DATA, Phase.SCHEDULED))
        if not isinstance(asset, Asset):
            raise BadOrderError(f"{what} needs an asset such as symbol('AAPL'), got {asset!r}")
        shares = round_amount(float(amount))
        if shares == 0:
            return 0
        session = self.calendar.session_label(self.clock.session) if self.clock.session >= 0 else None
        if session is not None and not asset.is_alive_for_session(session):
            raise BadOrderError(
                f"cannot order {asset.symbol} on {session.date()}: it is not listed then "
                f"({asset.start_date.date() if asset.start_date is not None else '?'}.."
                f"{asset.end_date.date() if asset.end_date is not None else '?'})"
            )
        return shares

    def set_order_policy(self, policy: OrderPolicy) -> None:
        """How orders the algorithm places become the orders sent; each order's record shows what was sent (e.g.
        :class:`~runtime.core.orders.DailyCloseAuction`: a daily run's market orders go as market-on-close)."""
        self.order_policy = policy

    def set_margin_check(self, check: MarginCheck) -> None:
        """Whether orders are refused here by the margin rule (:mod:`runtime.core.margin`) as the simulated
        gateway and IB refuse them: backtests do by default; paper and live runs leave it to the broker."""
        self.margin_check = check

    def _margin_refusal(self, asset: Asset, shares: int, limit: float | None, stop: float | None) -> str | None:
        """IB's reason for refusing an order of ``shares`` that the account cannot margin, or None."""
        if self.margin_check is MarginCheck.NONE:
            return None
        price = self.current_price(asset)
        if not math.isfinite(price) or price <= 0:
            price = limit if limit is not None else (stop if stop is not None else math.nan)
        if not math.isfinite(price):
            return None  # nothing to value the order at: the broker would use the order's own price
        need = margin.order_margin(asset.sec_type.value, self.ledger.amount(asset.sid), shares, price,
                                   asset.multiplier)
        if need <= 0:
            return None
        available = self.ledger.portfolio_value - margin.requirements(self.ledger.margin_holdings()).initial
        return margin.refusal(available, need, asset.currency)

    def _refuse(self, record: OrderRecord, reason: str) -> None:
        """Book an order the margin rule refused: known to the algorithm, rejected at once, as IB would (the same
        booking as a broker's rejection)."""
        self._register(record)
        self.apply_broker_events([OrderRejected(record.id, record.asset, self.clock.now_ns, reason)])

    def _default_tif(self) -> TimeInForce:
        return TimeInForce.DAY if self.eod_cancel_active else TimeInForce.GTC

    def _check_controls(self, asset: Asset, shares: int) -> None:
        if self.controls:
            check_order(
                self.controls,
                OrderCheck(asset, shares, self.current_price(asset), self.ledger.amount(asset.sid),
                           self.today.orders_placed),
                lambda msg: self.algo_log.warning(msg),
            )

    def _register(self, record: OrderRecord) -> None:
        self.orders[record.id] = record
        self.open_order_ids[record.id] = None
        self.today.orders[record.id] = record
        self.today.orders_placed += 1

    def adopt_order(self, record: OrderRecord) -> bool:
        """Take over an order the broker already works (a restart's journal, an order adopted by orderRef): known
        and open from now on, not counted as placed. Returns False (and changes nothing) for an id already known."""
        if record.id in self.orders:
            return False
        self.orders[record.id] = record
        if record.status.is_open:
            self.open_order_ids[record.id] = None
        return True

    def place_order(
        self,
        asset: Asset,
        amount: float,
        style: ExecutionStyle,
        *,
        parent_id: str | None = None,
        oca_group: str | None = None,
        outside_rth: bool = False,
        order_ref: str = "",
        default_tif: TimeInForce | None = None,
        account: str = "",
    ) -> str | None:
        """Validate, check controls, register and send one order; returns its id (None for a zero amount).

        ``default_tif`` is the time in force when the style has none (None: the cancel policy decides);
        ``order_ref`` is kept on the order for the algorithm (IB's orderRef field carries the run's id)."""
        shares = self._order_shares(asset, amount)
        if shares == 0:
            return None
        is_buy = shares > 0
        limit = style.limit_for(is_buy, asset.tick_size)
        stop = style.stop_for(is_buy, asset.tick_size)
        tif = style.time_in_force or default_tif or self._default_tif()
        kind, tif = self.order_policy.apply(asset, style.kind, tif)
        self._check_controls(asset, shares)
        now = self.clock.now_ns
        order_id = new_order_id()
        record = OrderRecord(order_id, asset, shares, kind, limit, stop, tif, now, now, order_ref=order_ref,
                             account=account)
        refused = self._margin_refusal(asset, shares, limit, stop)
        if refused is not None:
            self._refuse(record, refused)
            return order_id
        trail_amount, trail_percent, limit_offset = style.trail_terms()
        request = OrderRequest(
            order_id, asset, shares, kind, limit, stop, tif, now, parent_id, oca_group, outside_rth, account,
            trail_amount, trail_percent, limit_offset,
        )
        self.broker.place_order(request)  # may raise NotConnectedError: nothing registered then
        self._register(record)
        return order_id

    def place_bracket(
        self,
        asset: Asset,
        amount: float,
        style: ExecutionStyle,
        *,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        tif: TimeInForce = TimeInForce.DAY,
        outside_rth: bool = False,
        what: str = "bracket order",
    ) -> tuple[str, ...]:
        """Place an entry order (``style``) with exit orders as one bracket; returns (entry id, stop-loss id,
        take-profit id), leaving out the exit not asked for.

        The exits are the opposite side and the same quantity: a STP at ``stop_loss`` and a LMT at
        ``take_profit``, each with time in force ``tif``. They are HELD until the entry has filled completely, then
        OPEN; with both, they form an OCA group (a fill of one cancels the other). Cancelling the entry cancels the
        exits. For a buy the stop must be below the entry price and the take-profit above it (a sell: the reverse);
        the entry price is the entry's limit price, else its stop price, else the current price. Wrong prices, a
        zero amount or no exit raise :class:`~runtime.errors.BadOrderError` and nothing is sent.
        """
        shares = self._order_shares(asset, amount, what)
        if shares == 0:
            raise BadOrderError(f"{what}: the amount {amount!r} rounds to 0 shares; a bracket needs an entry")
        stop_price = check_price(stop_loss, f"{what}: stopLossPrice")
        take_price = check_price(take_profit, f"{what}: takeProfitPrice")
        if stop_price is None and take_price is None:
            raise BadOrderError(f"{what}: give a stop-loss price, a take-profit price or both")
        for name, value in (("stopLossPrice", stop_price), ("takeProfitPrice", take_price)):
            if value is not None and value <= 0:
                raise BadOrderError(f"{what}: {name} must be above 0, got {value!r}")
        is_buy = shares > 0
        tick = asset.tick_size
        limit = style.limit_for(is_buy, tick)
        stop = style.stop_for(is_buy, tick)
        exits: list[ExecutionStyle] = []
        if stop_price is not None:
            exits.append(StopOrder(stop_price, tif=tif))
        if take_price is not None:
            exits.append(LimitOrder(take_price, tif=tif))
        exit_prices = [(s.stop_for(not is_buy, tick), s.limit_for(not is_buy, tick)) for s in exits]
        entry = limit if limit is not None else stop if stop is not None else self.current_price(asset)
        self._check_bracket_prices(asset, is_buy, entry, None if stop_price is None else exit_prices[0][0],
                                   None if take_price is None else exit_prices[-1][1], what)
        if tif is TimeInForce.DAY and self.frequency == "daily" and not self._warned_day_exits:
            self._warned_day_exits = True
            self.algo_log.warning("%s: its exits have tif='DAY', so in a daily run they expire at this session's "
                                  "close, before the entry fills at the next one; pass tif='GTC' to keep them", what)
        self._check_controls(asset, shares)
        now = self.clock.now_ns
        parent_id = new_order_id()
        group = f"ibalgo-{parent_id}" if len(exits) > 1 else None
        parent_kind, parent_tif = self.order_policy.apply(asset, style.kind, style.time_in_force or self._default_tif())
        trail_amount, trail_percent, limit_offset = style.trail_terms()
        parent = OrderRequest(parent_id, asset, shares, parent_kind, limit, stop, parent_tif, now, None, None,
                              outside_rth, trail_amount=trail_amount, trail_percent=trail_percent,
                              limit_offset=limit_offset)
        children = [
            OrderRequest(new_order_id(), asset, -shares, s.kind, s_limit, s_stop, tif, now, parent_id, group,
                         outside_rth)
            for s, (s_stop, s_limit) in zip(exits, exit_prices)
        ]
        refused = self._margin_refusal(asset, shares, limit, stop)
        if refused is None:
            self.broker.place_bracket(parent, children)  # may raise NotConnectedError: nothing registered then
        parent_record = OrderRecord(parent_id, asset, shares, parent_kind, limit, stop, parent_tif, now, now)
        if refused is None:
            self._register(parent_record)
        else:
            self._refuse(parent_record, refused)
        kids = []
        for c in children:
            child = OrderRecord(c.id, asset, c.amount, c.kind, c.limit, c.stop, tif, now, now,
                                status=OrderStatus.HELD, parent_id=parent_id, oca_group=group)
            self._register(child)
            if refused is not None:  # IB cancels the exits of a rejected entry
                child.reason = "its entry was rejected"
                self._close(child, OrderStatus.CANCELLED)
            kids.append(c.id)
        if refused is not None:
            return (parent_id, *kids)
        self._children[parent_id] = kids
        return (parent_id, *kids)

    @staticmethod
    def _check_bracket_prices(asset: Asset, is_buy: bool, entry: float, stop: float | None, take: float | None,
                              what: str) -> None:
        side = "buy" if is_buy else "sell"
        below, above = ("below", "above") if is_buy else ("above", "below")
        known = entry == entry and entry > 0
        if stop is not None and known and (stop >= entry if is_buy else stop <= entry):
            raise BadOrderError(f"{what}: for a {side} of {asset.symbol} the stop-loss price {stop:g} must be {below} "
                                f"the entry price {entry:g}")
        if take is not None and known and (take <= entry if is_buy else take >= entry):
            raise BadOrderError(f"{what}: for a {side} of {asset.symbol} the take-profit price {take:g} must be "
                                f"{above} the entry price {entry:g}")
        if stop is not None and take is not None and (stop >= take if is_buy else stop <= take):
            raise BadOrderError(f"{what}: for a {side} of {asset.symbol} the stop-loss price {stop:g} must be {below} "
                                f"the take-profit price {take:g}")

    def cancel_order(self, order_id: str) -> None:
        record = self.orders.get(order_id)
        if record is None or not record.status.is_open:
            return
        self.broker.cancel_order(order_id, self.clock.now_ns)
        self.apply_broker_events(self.broker.poll_events(self.clock.now_ns))

    def modify_order(self, order_id: str, *, amount: int | None = None, limit: float | None = None,
                     stop: float | None = None, tif: TimeInForce | None = None) -> None:
        """Change a working order in place (IB: the same order id sent again): its signed amount, limit price,
        stop price or time in force. Raises OrderNotFoundError for an unknown id, BadOrderError for an order that
        is not working or a change that does not fit it."""
        from runtime.errors import OrderNotFoundError

        self.require_phase("modify_order", (Phase.HANDLE_DATA, Phase.SCHEDULED))
        record = self.orders.get(order_id)
        if record is None:
            raise OrderNotFoundError(f"modify_order: no order {order_id!r} in this run: use the id order() returned")
        if not record.status.is_open:
            raise BadOrderError(f"modify_order: order {order_id} is {record.status.ib_status}, not working: it cannot "
                                "be modified")
        if amount is not None and (amount == 0 or abs(amount) < abs(record.filled)):
            raise BadOrderError(f"modify_order: the new quantity {abs(amount)} must be above 0 and not below the "
                                f"{abs(record.filled)} already filled")
        if limit is not None and not record.kind.has_limit:
            raise BadOrderError(f"modify_order: order {order_id} is a {record.kind.value} order: it has no limit price")
        if stop is not None and not record.kind.has_stop:
            raise BadOrderError(f"modify_order: order {order_id} is a {record.kind.value} order: it has no stop price")
        self.broker.modify_order(order_id, amount=amount, limit=limit, stop=stop, tif=tif, now_ns=self.clock.now_ns)
        if amount is not None:
            record.amount = amount
        if limit is not None:
            record.limit, record.limit_reached = limit, False
        if stop is not None:
            record.stop, record.stop_reached = stop, False
        if tif is not None:
            record.tif = tif
        record.dt_ns = self.clock.now_ns
        self.today.orders[record.id] = record
        self.apply_broker_events(self.broker.poll_events(self.clock.now_ns))

    def set_order_ref(self, order_id: str, order_ref: str) -> None:
        """The algorithm's own reference of an order (IBridgePy's orderRef), as ``get_order(id).orderRef`` shows it."""
        self.orders[order_id].order_ref = order_ref

    def open_orders(self, asset: Asset | None = None) -> list[OrderRecord]:
        out = [self.orders[i] for i in self.open_order_ids]
        if asset is not None:
            out = [o for o in out if o.asset == asset]
        return out

    def apply_broker_events(self, events: list[BrokerEvent], ledger: bool = True) -> None:
        """Book fills and status changes reported by the broker. ``ledger=False``: fills already in the account the
        ledger started from (a restart's reconciliation) update their orders only."""
        for event in events:
            record = self.orders.get(event.order_id)
            if isinstance(event, Fill):
                if ledger and (record is None or not record.account or record.account == self.ledger_account):
                    txn = self.ledger.apply_fill(event)
                    self.today.transactions.append(txn)
                elif ledger and record is not None and self.simulates_accounts:
                    self.account_ledger(record.account).apply_fill(event)
                if record is not None:
                    record.filled = event.cum_filled
                    record.avg_fill_price = event.avg_price
                    record.commission += event.commission
                    record.dt_ns = event.time_ns
                    if record.stop is not None:
                        record.stop_reached = True
                    if record.limit is not None:
                        record.limit_reached = True
                    if event.order_done:
                        self._close(record, OrderStatus.FILLED)
            elif record is not None and isinstance(event, Cancelled):
                record.reason = event.reason
                record.dt_ns = event.time_ns
                self._close(record, OrderStatus.CANCELLED)
            elif record is not None and isinstance(event, OrderRejected):
                record.reason = event.reason
                record.dt_ns = event.time_ns
                self._close(record, OrderStatus.REJECTED)
                self.algo_log.warning("order %s for %s rejected: %s", record.id, record.asset.symbol, event.reason)
            if record is not None:
                self.today.orders[record.id] = record

    def _close(self, record: OrderRecord, status: OrderStatus) -> None:
        record.status = status
        self.open_order_ids.pop(record.id, None)
        if self._children and record.id in self._children:
            self._parent_closed(record)

    def _parent_closed(self, parent: OrderRecord) -> None:
        """A bracket's entry is done: filled, its exits start working; rejected, its exits are cancelled (a broker
        that let them work without their entry must not keep them)."""
        kids = [self.orders[i] for i in self._children.pop(parent.id) if i in self.open_order_ids]
        if parent.status is OrderStatus.FILLED:
            for kid in kids:
                if kid.status is OrderStatus.HELD:
                    kid.status = OrderStatus.OPEN
                    kid.dt_ns = parent.dt_ns
                    self.today.orders[kid.id] = kid
        elif parent.status is OrderStatus.REJECTED:
            for kid in kids:
                self.broker.cancel_order(kid.id, self.clock.now_ns)

    # ------------------------------------------------------------------------------------------------ events
    def on_before_trading_start(self, ns: int, session: int) -> None:
        """Session start: corporate actions take effect, then ``before_trading_start``."""
        self.clock.now_ns = ns
        self.clock.session = session
        self.clock.in_session = False
        self._apply_corporate_actions(session)
        self._apply_account_actions(session)
        for hook in self.session_start_hooks:
            self.call_user(Phase.BEFORE_TRADING_START, hook, session, self.end_session)
        if self.functions.before_trading_start is not None:
            self.call_user(Phase.BEFORE_TRADING_START, self.functions.before_trading_start, self.context, self.data)

    def on_bar(self, ns: int, events: list[BrokerEvent], held_prices: Callable[[], None]) -> None:
        """A bar closed: book the broker's events, mark positions, then ``handle_data``."""
        self.clock.now_ns = ns
        if events:
            self.apply_broker_events(events)
        held_prices()
        if self.functions.handle_data is not None:
            self.call_user(Phase.HANDLE_DATA, self.functions.handle_data, self.context, self.data)

    def on_scheduled(self, ns: int, index: int) -> None:
        """A scheduled function is due."""
        self.clock.now_ns = ns
        _, func = self.scheduled[index]
        self.call_user(Phase.SCHEDULED, func, self.context, self.data)

    def on_session_end(self, ns: int, expired: list[BrokerEvent]) -> None:
        """After the session's last bar: cancel policy, DAY expiry, account controls, session hooks."""
        self.clock.now_ns = ns
        if expired:
            self.apply_broker_events(expired)
        if self.eod_cancel_active:
            records = self.open_orders()
            cancelling = {r.id for r in records}
            for record in records:
                if record.parent_id not in cancelling:  # a bracket's exits go with their entry
                    self.broker.cancel_order(record.id, ns)
            self.apply_broker_events(self.broker.poll_events(ns))
        self._check_account_controls()
        self.sessions_done += 1
        previous = self.phase
        self.phase = Phase.SESSION_END
        try:
            for hook in self.on_session_end_hooks:
                hook(self, self.clock.session)
        finally:
            self.phase = previous
        # the next session's figures start now: a fill the broker reports after the close (a live run's
        # reconnect overnight) is in the next session's transactions instead of in a session already recorded
        self.today = SessionStats()
        self.ledger.start_period()

    def _check_account_controls(self) -> None:
        if self.max_leverage is None and self.min_leverage is None:
            return
        leverage = self.ledger.leverage()
        messages = []
        if self.max_leverage is not None:
            messages.append(self.max_leverage.violation(leverage))
        if self.min_leverage is not None:
            messages.append(self.min_leverage.violation(leverage, self.sessions_done))
        for message in filter(None, messages):
            # the same rule in every mode: a backtest, a paper run and a live run all stop at the session's end
            self.stop_requested = f"account control violated on {self.now.date()}: {message}"
            self.algo_log.error("account control violated: %s", message)

    def _apply_corporate_actions(self, session: int) -> None:
        """Splits and cash dividends whose ex-date is ``session`` (from :attr:`corporate_actions` when the broker's
        data is known to the run, else from the bars of the data portal)."""
        bars = self.portal.daily.bars
        splits, dividends = self.corporate_actions or (bars.splits, bars.dividends)
        if not len(splits) and not len(dividends):
            return
        label = self.calendar.session_label(session)
        for split in splits:
            if split.date == label:
                asset = next((a for sid, a, *_ in self.ledger.position_items() if sid == split.sid), None)
                payout = self.ledger.apply_split(split.sid, split.ratio, self.clock.now_ns)
                self.broker.apply_split(split.sid, split.ratio)
                held = self.ledger.amount(split.sid)
                if asset is not None:
                    self.algo_log.info(
                        "%s split %g-for-1: position is now %d shares%s", asset.symbol, split.ratio, held,
                        f" ({payout:.2f} paid for a fractional share)" if payout else "",
                    )
        for div in dividends:
            if div.ex_date == label:
                self.ledger.apply_dividend(div.sid, div.amount)

    # ------------------------------------------------------------------------------------------ other accounts
    @property
    def simulates_accounts(self) -> bool:
        """Whether the run's other accounts are simulated here (backtests) rather than kept by the broker."""
        return self.positions_source is None

    def account_ledger(self, account: str) -> Ledger:
        """A backtest's ledger of another account of the run (IBridgePy's ``accountCode=``): its own cash (the
        run's capital to start with) and positions, filled by that account's orders, marked at current prices."""
        ledger = self._account_ledgers.get(account)
        if ledger is None:
            ledger = self._account_ledgers[account] = Ledger(self.ledger.starting_cash,
                                                             self.calendar.session_label(self.start_session))
        held = [(sid, asset) for sid, asset, *_ in ledger.position_items()]
        if held:
            prices = [self.current_price(asset) for _, asset in held]
            marked = [(sid, p) for (sid, _), p in zip(held, prices) if p == p]
            if marked:
                ledger.mark_many([sid for sid, _ in marked], [p for _, p in marked], self.clock.now_ns)
        return ledger

    def _apply_account_actions(self, session: int) -> None:
        """Splits and dividends whose ex-date is ``session`` in the other accounts' ledgers (backtests)."""
        if not self._account_ledgers:
            return
        bars = self.portal.daily.bars
        splits, dividends = self.corporate_actions or (bars.splits, bars.dividends)
        label = self.calendar.session_label(session)
        for ledger in self._account_ledgers.values():
            for split in splits:
                if split.date == label:
                    ledger.apply_split(split.sid, split.ratio, self.clock.now_ns)
            for div in dividends:
                if div.ex_date == label:
                    ledger.apply_dividend(div.sid, div.amount)

    # ---------------------------------------------------------------------------------------------- marking
    def mark_positions(self, frame_row: int, minute: bool) -> None:
        """Mark held positions at the last known price (forward-filled close) of ``frame_row``.

        Deferred: the ledger runs the marking only when something reads a price-dependent value before the next
        bar, so bars nobody looks at cost nothing.
        """
        if frame_row < 0 or not self.ledger.has_positions:
            return
        self.defer_mark(frame_row, minute, self.clock.now_ns)

    def defer_mark(self, frame_row: int, minute: bool, ns: int) -> None:
        """:meth:`mark_positions` at ``ns`` for a ``frame_row >= 0`` while positions are held (checked by the
        caller)."""
        self._mark_args = (frame_row, minute, ns)
        self.ledger.defer_mark(self._mark_deferred)

    def _mark_deferred(self) -> None:
        self._mark_now(*self._mark_args)

    def _mark_now(self, frame_row: int, minute: bool, ns: int) -> None:
        frame = self.portal.minute if minute else self.portal.daily
        assert frame is not None
        sids = self.ledger.held_sids()
        key = (minute, *sids)
        cols = self._held_cols.get(key)
        if cols is None:
            to_col = frame.bars.sid_to_col
            found = [to_col.get(s, -1) for s in sids]
            if -1 in found:
                held = [s for s, c in zip(sids, found) if c >= 0]
                found = [c for c in found if c >= 0]
            else:
                held = sids
            cols = (held, np.array(found, dtype=np.int64))
            if len(self._held_cols) > 256:
                self._held_cols.clear()
            self._held_cols[key] = cols
        held, idx = cols
        self.ledger.mark_many(held, frame.prices_at(frame_row, idx).tolist(), ns)
