"""IBBroker: the Broker the engine uses for TWS, IB Gateway and the simulated gateway.

It assembles the adapter's parts and is the one object the rest of the runtime holds:

- :mod:`.connection` (handshake, reconnects) and :mod:`.client` (the one ibapi subclass) deliver IB's messages as
  typed calls of a :class:`~.listener.MessageListener`, routed by :class:`~.inbound.Inbound`;
- :class:`~.order_entry.OrderEntry` places, modifies and cancels orders, each written to the
  :class:`~.order_entry.OrderJournal` before it is sent; :class:`~.orders.OrderTracker` turns IB's order messages
  into events;
- :class:`~.reconcile.Reconciler` reports what the broker has after each (re)connect as a
  :class:`~.events.ReconcileReport`;
- :class:`~.quotes.MarketDataService` streams quotes, :class:`~.history.HistoryService` serves history,
  :class:`~.account.AccountState` keeps the account's values and positions;
- :class:`~.broker_clock.RoundTrips` are ``reqCurrentTime`` round trips (the :meth:`IBBroker.barrier`), which also
  sync an optional :class:`~.broker_clock.ClockFollower` (the run's clock on TWS / IB Gateway).

Threads: ibapi's message thread only records (quotes, account values) and completes futures or emits events; the
adapter's worker thread reconnects, resubscribes and reconciles; the engine's thread places and cancels orders
and reads snapshots. Events (Fill / Cancelled / OrderRejected and :mod:`runtime.brokers.ib.events`) go to the
engine's ``event_sink`` (e.g. ``queue.put``) as they happen; without a sink they wait for :meth:`poll_events`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from runtime.brokers.base import BrokerEvent, OrderRequest
from runtime.brokers.ib.account import AccountState, PositionSnapshot
from runtime.brokers.ib.broker_clock import RESYNC_S, ClockFollower, RoundTrips
from runtime.brokers.ib.connection import ConnectionConfig, IBConnection
from runtime.brokers.ib.contracts import ContractResolver
from runtime.brokers.ib.errors import ContractNotFoundError, HistoricalDataError, IBError
from runtime.brokers.ib.events import ConnectionLost, ConnectionRestored, ReconcileReport
from runtime.brokers.ib.history import HistoryBars, HistoryService
from runtime.brokers.ib.ibobjects import make_contract
from runtime.brokers.ib.inbound import Inbound
from runtime.brokers.ib.listener import MessageListener
from runtime.brokers.ib.market_data import Quote
from runtime.brokers.ib.order_entry import OrderEntry, OrderJournal
from runtime.brokers.ib.orders import KnownOrder, OrderTracker
from runtime.brokers.ib.quotes import MarketDataService
from runtime.brokers.ib.reconcile import Reconciler
from runtime.brokers.ib.records import BarInfo
from runtime.brokers.ib.requests import RequestRegistry
from runtime.brokers.ib.worker import Worker
from runtime.core.assets import Asset, SecType
from runtime.core.calendar import TradingCalendar
from runtime.core.ib.contracts import ContractFacts, ContractSpec, contract_spec_for, super_symbol
from runtime.core.ib.orders import order_ref
from runtime.core.ib.time import ib_time_zone
from runtime.core.ledger import Account
from runtime.data.calendars import get_calendar

log = logging.getLogger(__name__)

#: reqId of the account summary subscription (several accounts: their values for IBridgePy's accountCode=)
ACCOUNT_SUMMARY_ID = 9_000_103
#: the tags the account summary asks for
SUMMARY_TAGS = ("NetLiquidation,TotalCashValue,GrossPositionValue,BuyingPower,AvailableFunds,ExcessLiquidity,"
                "EquityWithLoanValue,InitMarginReq,MaintMarginReq,SettledCash,Cushion,Leverage")
#: how long the first connection waits for the broker's time when the run follows the broker's clock
FIRST_SYNC_WAIT_S = 5.0


def default_calendar(asset: Asset) -> TradingCalendar:
    """The exchange calendar of an asset: XNYS for stocks, CME for futures, 24/5 for currency pairs."""
    if asset.sec_type is SecType.CASH:
        return get_calendar("24/5")
    if asset.sec_type is SecType.FUTURE:
        return get_calendar("CMES")
    return get_calendar("XNYS")


class IBBroker:
    """The IB adapter (see the module docstring)."""

    def __init__(
        self,
        config: ConnectionConfig,
        run_id: str,
        event_sink: Callable[[object], None] | None = None,
        *,
        clock: Callable[[], int] = time.time_ns,
        calendar_for: Callable[[Asset], TradingCalendar] = default_calendar,
        order_journal: OrderJournal | None = None,
        since_ns: int | None = None,
        time_zone: str | None = None,
        broker_clock: ClockFollower | None = None,
    ) -> None:
        order_ref(run_id, "x")  # validates the run id
        ibapi_log = logging.getLogger("ibapi")
        if ibapi_log.level == logging.NOTSET:
            ibapi_log.setLevel(logging.WARNING)  # ibapi logs every message it sends at INFO
        self.config = config
        self.run_id = run_id
        self._sink = event_sink
        self._events: deque[object] = deque()
        self._clock = clock
        self._tz = time_zone
        self.broker_clock = broker_clock
        self.registry = RequestRegistry()
        self.round_trips = RoundTrips(broker_clock)
        self.contracts = ContractResolver(self._fetch_details, config.request_timeout_s)
        self.account_state = AccountState(self.contracts.asset_for)
        self.orders = OrderTracker(run_id, self._emit, self.contracts.asset_for, config.commission_wait_s)
        # the connection's messages go to ``inbound`` (set below: it needs the market data, which needs the connection)
        self.conn = IBConnection(config, self, MessageListener(), Worker())
        self.market = MarketDataService(self.conn, self.registry, self.contracts, self._emit, config.request_timeout_s)
        self.inbound = Inbound(self.registry, self.orders, self.account_state, self.market, self.round_trips,
                               now_ns=self.now_ns, time_zone=lambda: self.time_zone, worker=lambda: self.conn.worker,
                               commission_wait_s=config.commission_wait_s, emit=self._emit)
        self.conn.messages = self.inbound
        self.entry = OrderEntry(run_id, self.conn, self.orders, self.contracts, self.now_ns, order_journal)
        self.reconciler = Reconciler(run_id, config, self.conn, self.registry, self.orders, self.account_state,
                                     self.contracts, self.now_ns, self._emit, since_ns)
        self.history = HistoryService(self._fetch_history, calendar_for, time_zone=time_zone or "US/Eastern",
                                      timeout_s=max(config.request_timeout_s, 30.0), lot_for=self._lot_for)
        self._summary = False  # the account summary was asked for (renewed after each reconnect)
        self._resync_scheduled = False

    # ======================================================================================== connection
    @property
    def worker(self) -> Worker:
        """The adapter's worker thread (reconnects, resubscriptions, reconciliations)."""
        return self.conn.worker

    def connect(self) -> None:
        """Connect, start the account and position subscriptions and reconcile this run's orders.

        Raises IBConnectError (502: with the default ports), ClientIdInUseError (326), AccountNotFoundError (with
        the managed accounts) or IBTimeoutError.
        """
        if self.conn.worker.stopped:
            self.conn.worker = Worker()
            self._resync_scheduled = False
        self.conn.connect()

    def disconnect(self) -> None:
        """Close the connection for good; pending requests fail; fills waiting for commissions go out."""
        self.conn.disconnect()
        self.registry.fail_all("disconnected")
        self.round_trips.lost()
        self.orders.flush_due(float("inf"))
        self.conn.worker.stop()

    def is_connected(self) -> bool:
        """Whether an order placed now would be sent."""
        return self.conn.is_connected

    @property
    def account(self) -> str:
        """The account code orders go to."""
        return self.conn.account

    @property
    def managed_accounts(self) -> tuple[str, ...]:
        """Every account code this login may trade."""
        return self.conn.managed_accounts

    def now_ns(self) -> int:
        """The adapter's time (the run's clock)."""
        return self._clock()

    @property
    def time_zone(self) -> str:
        """TWS's time zone (execution times and bar dates without a zone are in it)."""
        if self._tz:
            return self._tz
        parts = self.conn.connection_time.split()
        return ib_time_zone(parts[-1] if len(parts) >= 3 else "")

    @property
    def reconciled(self) -> threading.Event:
        """Set after each reconciliation."""
        return self.reconciler.done

    @property
    def last_reconciled(self) -> ReconcileReport | None:
        """The latest reconciliation's report."""
        return self.reconciler.last_report

    # ------------------------------------------------------------------------- ConnectionListener callbacks
    def on_connected(self, reconnect: bool, attempts: int) -> None:
        """A socket is up (first connect: caller's thread; reconnect: worker)."""
        self.history.time_zone = self.time_zone
        client = self.conn.client
        if client is None:
            return
        self.market.on_connected(client, reconnect=False)
        self._subscribe_account()
        if self.broker_clock is not None:
            self._sync_clock(wait_s=FIRST_SYNC_WAIT_S if not reconnect else 0.0, restart=True)
        if reconnect:
            self._emit(ConnectionRestored(self.now_ns(), "reconnected to TWS / IB Gateway", True, attempts))
            self.market.resubscribe()
            if self._summary:
                self.subscribe_account_summary()
        since = self.reconciler.executions_since() if reconnect else self.reconciler.since_ns
        try:
            self.reconcile(since)
        except IBError as exc:
            log.warning("reconciliation after connecting failed: %s", exc)

    def on_lost(self, reason: str, code: int | None) -> None:
        """The connection, or TWS's link to IB, was lost."""
        now = self.now_ns()
        self.reconciler.lost(now)
        if code is None:
            self.registry.fail_all(reason)
            self.round_trips.lost()  # their answers will never come
        self._emit(ConnectionLost(now, reason, code))

    def on_restored(self, data_lost: bool) -> None:
        """TWS's link to IB is back (1101: market data lost, 1102: kept)."""
        self._emit(ConnectionRestored(self.now_ns(), "TWS reconnected to IB" + (" (market data lost)" if data_lost
                                      else ""), data_lost))
        if data_lost:
            self.market.resubscribe()
        try:
            self.reconcile(self.reconciler.executions_since())
        except IBError as exc:
            log.warning("reconciliation after 1101/1102 failed: %s", exc)

    # ================================================================================ round trips, clock
    def barrier(self, timeout_s: float = 10.0) -> bool:
        """Wait until every message TWS sent so far has been handled (a ``reqCurrentTime`` round trip); False if
        disconnected or timed out."""
        client = self.conn.client
        if client is None or not self.is_connected():
            return False
        waiter = threading.Event()
        entry = self.round_trips.sent(waiter)
        try:
            client.reqCurrentTime()
        except Exception:
            self.round_trips.withdraw(entry)
            return False
        if waiter.wait(timeout_s):
            return True
        self.round_trips.withdraw(entry)
        return False

    def _sync_clock(self, wait_s: float = 0.0, restart: bool = False) -> None:
        """Ask for the broker's time (its answer syncs the broker clock); the first connection waits for it."""
        clock, client = self.broker_clock, self.conn.client
        if clock is None or client is None:
            return
        if restart:
            clock.restart()
        if wait_s > 0:
            if not self.barrier(wait_s):
                log.warning("no answer to reqCurrentTime within %.0f s: the run's clock is the local clock until one "
                            "comes", wait_s)
        else:
            entry = self.round_trips.sent()
            try:
                client.reqCurrentTime()
            except Exception:
                self.round_trips.withdraw(entry)
        if not self._resync_scheduled:
            self._resync_scheduled = True
            self.conn.worker.call_later(RESYNC_S, self._resync)

    def _resync(self) -> None:
        self._resync_scheduled = False
        if self.conn.worker.stopped:
            return
        if self.is_connected():
            self._sync_clock()
        else:  # reconnects sync it; keep the timer alive for after them
            self._resync_scheduled = True
            self.conn.worker.call_later(RESYNC_S, self._resync)

    # ============================================================================================== events
    def _emit(self, event: object) -> None:
        if self._sink is not None:
            self._sink(event)
        else:
            self._events.append(event)

    def poll_events(self, now_ns: int) -> list[BrokerEvent]:
        """Events not yet taken (always [] when an ``event_sink`` was given: events went there)."""
        self.orders.flush_due(time.monotonic())
        out: list[Any] = []
        while self._events:
            out.append(self._events.popleft())
        return out

    # ============================================================================================== orders
    def restore_orders(self, known: Iterable[KnownOrder], highest_ib_id: int = 0) -> None:
        """Orders of this run the engine already knows (from its journal); call before :meth:`connect`.

        Open ones are matched to TWS's by orderRef at the reconciliation (and reported missing when TWS no longer
        works them); closed ones keep their executions from being booked or counted again. IB order ids at or below
        ``highest_ib_id`` (the highest the journal used) are never handed out again.
        """
        self.entry.restore(known, highest_ib_id)

    def place_order(self, request: OrderRequest) -> None:
        """Send one order (a child names its parent with ``parent_id``). NotConnectedError if disconnected."""
        self.entry.place([request], [True])

    def place_bracket(self, parent: OrderRequest, children: Sequence[OrderRequest]) -> None:
        """Send a parent and its children atomically: the parent and all but the last child with transmit=False,
        so TWS activates nothing before the whole bracket has arrived."""
        self.entry.bracket(parent, children)

    def modify_order(self, order_id: str, *, amount: int | None = None, limit: float | None = None,
                     stop: float | None = None, tif: str | None = None) -> None:
        """Change a working order (IB: placeOrder again with the same order id)."""
        self.entry.modify(order_id, amount=amount, limit=limit, stop=stop, tif=tif)

    def cancel_order(self, order_id: str, now_ns: int) -> None:
        """Ask TWS to cancel; the outcome arrives as Cancelled (or CancelRejected). NotConnectedError if down."""
        self.entry.cancel(order_id)

    def ib_order_id(self, order_id: str) -> int | None:
        """IB's order id of one of the runtime's orders."""
        o = self.orders.get(order_id)
        return None if o is None else o.ib_order_id

    def reconcile(self, since_ns: int | None = None) -> ReconcileReport:
        """What the broker has now: open orders, executions since ``since_ns`` (None: all), positions (see
        :mod:`runtime.brokers.ib.reconcile`); the report is also emitted as an event."""
        return self.reconciler.reconcile(since_ns)

    # ============================================================================================ contracts
    def _fetch_details(self, spec: ContractSpec, timeout: float) -> list[ContractFacts]:
        client = self.conn.require(f"contract lookup of {spec.describe()}")
        rid, fut = self.registry.open(f"contract details of {spec.describe()}",
                                      lambda c, t, r: ContractNotFoundError(t, c, t, r))
        client.reqContractDetails(rid, make_contract(spec))
        return self.registry.wait(rid, fut, timeout, f"contract details of {spec.describe()}")

    def symbol(self, text: str) -> Asset:
        """'AAPL', 'STK,AAPL,USD', 'CASH,EUR,USD', 'EUR.USD', 'FUT,ES,USD,202412' as a resolved Asset."""
        return self.contracts.symbol(text)

    def super_symbol(self, **fields: Any) -> Asset:
        """IBridgePy's superSymbol (snake_case arguments: sec_type, symbol, currency, exchange, ...) resolved."""
        return self.contracts.resolve(super_symbol(**fields))

    def resolve_asset(self, asset: Asset) -> Asset:
        """``asset`` with IB's conId, primaryExchange and minTick (cached)."""
        return self.contracts.resolve_asset(asset)

    def contract_details(self, spec: ContractSpec) -> list[ContractFacts]:
        """Every contract matching ``spec`` (e.g. an option chain)."""
        return self.contracts.details(spec)

    def _lot_for(self, asset: Asset) -> int:
        if (self.conn.server_version or 0) >= 163:
            return 1
        lot = self.contracts.size_multiplier(asset.con_id)
        if lot == 1 and asset.sec_type is SecType.STOCK and not asset.con_id:
            return 1
        return lot

    # ============================================================================================= account
    def _subscribe_account(self) -> None:
        client = self.conn.client
        if client is None:
            return
        self.account_state.downloaded.clear()
        client.reqAccountUpdates(True, self.conn.account)

    def subscribe_account_summary(self) -> None:
        """Every managed account's values (reqAccountSummary 'All'), for queries naming an account other than the
        connection's; renewed after each reconnect; no-op while disconnected (the next connection asks)."""
        self._summary = True
        client = self.conn.client
        if client is not None:
            client.reqAccountSummary(ACCOUNT_SUMMARY_ID, "All", SUMMARY_TAGS)

    def account_snapshot(self, account: str | None = None) -> Account:
        """zipline's ``context.account`` from IB's account values."""
        return self.account_state.account(account or self.conn.account)

    def account_value(self, tag: str, account: str | None = None) -> str | None:
        """One IB account tag (IBridgePy's show_account_info), as IB sent it; None if not reported."""
        return self.account_state.value(tag, account or self.conn.account)

    def positions(self, account: str | None = None) -> list[PositionSnapshot]:
        """Positions with IB's average cost (and the latest mark when the account subscription has one)."""
        return self.account_state.positions(account or self.conn.account)

    def wait_account(self, timeout: float | None = None) -> bool:
        """Wait until the first account download has finished."""
        return self.account_state.downloaded.wait(timeout or self.config.request_timeout_s)

    # ========================================================================================= market data
    def subscribe(self, asset: Asset) -> None:
        """Stream ``asset``'s market data (no-op if already streaming)."""
        self.market.subscribe(asset)

    def unsubscribe(self, asset: Asset) -> None:
        """Stop streaming ``asset``."""
        self.market.unsubscribe(asset)

    def quote(self, asset: Asset) -> Quote | None:
        """The latest streamed quote (None if not subscribed)."""
        return self.market.quote(asset)

    def wait_for_quote(self, asset: Asset, timeout: float | None = None) -> Quote:
        """Subscribe if needed and wait for a first price; MarketDataError if none comes in time."""
        return self.market.wait_for_quote(asset, timeout)

    # ============================================================================================= history
    def _fetch_history(self, asset: Asset, end: str, duration: str, bar_size: str, what: str, use_rth: bool,
                       timeout: float) -> list[BarInfo]:
        client = self.conn.require(f"history request for {asset.symbol}")
        if not asset.con_id:
            asset = self.contracts.resolve_asset(asset)
        what_text = f"history of {asset.symbol} ({duration}, {bar_size}, {what})"
        rid, fut = self.registry.open(what_text, lambda c, t, r: HistoricalDataError(f"{what_text}: IB error {c}: "
                                                                                      f"{t}", c, t, r))
        client.reqHistoricalData(rid, make_contract(contract_spec_for(asset)), end, duration, bar_size, what,
                                 1 if use_rth else 0, 2, False, [])
        return self.registry.wait(rid, fut, timeout, what_text)

    def history_bars(self, asset: Asset, duration: str, bar_size: str, what_to_show: str = "TRADES",
                     use_rth: bool = True, end_ns: int | None = None, as_of_ns: int | None = None) -> HistoryBars:
        """Bars of ``asset`` ('30 D' of '1 day', '3600 S' of '1 min'...) with END labels; cached per bar."""
        as_of = self.now_ns() if as_of_ns is None else as_of_ns
        return self.history.bars(asset, duration, bar_size, what_to_show, use_rth, end_ns, as_of)
