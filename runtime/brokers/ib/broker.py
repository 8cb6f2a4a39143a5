"""IBBroker: the Broker the engine uses for TWS, IB Gateway and the simulated gateway.

Threads: ibapi's message thread only records (quotes, account values) and completes futures or emits events; the
adapter's worker thread reconnects, resubscribes and reconciles; the engine's thread places and cancels orders
and reads snapshots. Events (Fill / Cancelled / OrderRejected and :mod:`runtime.brokers.ib.events`) go to the
engine's ``event_sink`` (e.g. ``queue.put``) as they happen; without a sink they wait for :meth:`poll_events`.

Orders carry ``orderRef = 'ibalgo:<run_id>:<order id>'``; the IB order id is recorded (and handed to the optional
``order_journal``) before anything is sent, an order id is never sent twice, and an order while disconnected
raises :class:`~runtime.errors.NotConnectedError` (nothing is queued).

After a reconnect (or 1101/1102) the executions asked for start before the first loss not yet reconciled AND
before the sending of every order still open here: a loss is often noticed late (a stalled link, a replay clock
that moved on), and an order may have executed before it was noticed. When completed orders still show more filled
than was booked, all executions TWS has are asked for once more.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from runtime.brokers.base import BrokerEvent, OrderRequest
from runtime.brokers.ib.account import AccountState, PositionSnapshot
from runtime.brokers.ib.compat import ErrorArgs, cancel_order
from runtime.brokers.ib.connection import ConnectionConfig, IBConnection
from runtime.brokers.ib.contracts import ContractResolver
from runtime.brokers.ib.errors import (
    ContractNotFoundError,
    HistoricalDataError,
    IBError,
    MarketDataError,
    OrderError,
)
from runtime.brokers.ib.events import (
    ConnectionLost,
    ConnectionRestored,
    IBNotice,
    MarketDataDelayed,
    PositionRecord,
    PositionsSnapshot,
    Reconciled,
)
from runtime.brokers.ib.history import HistoryBars, HistoryService
from runtime.brokers.ib.ibobjects import make_contract, make_execution_filter, make_order
from runtime.brokers.ib.market_data import MarketDataBook, Quote
from runtime.brokers.ib.orders import KnownOrder, OrderTracker, TrackedOrder
from runtime.brokers.ib.records import BarInfo, ExecutionInfo, OpenOrderInfo, PositionInfo
from runtime.brokers.ib.requests import RequestRegistry
from runtime.brokers.ib.worker import Worker
from runtime.core.assets import Asset, SecType
from runtime.core.calendar import TradingCalendar
from runtime.core.ib_mapping import (
    ContractFacts,
    ContractSpec,
    ErrorKind,
    OrderSpec,
    contract_spec_for,
    error_info,
    ib_time_zone,
    order_ref,
    order_spec_for,
    parse_ib_time,
    parse_order_ref,
    super_symbol,
)
from runtime.core.ledger import Account
from runtime.data.calendars import get_calendar
from runtime.data.store import BarArrays

log = logging.getLogger(__name__)

# ids of the answers that carry no request id (one of each may be outstanding)
OPEN_ORDERS_ID = -101
COMPLETED_ORDERS_ID = -102
POSITIONS_ID = -103
#: reqId of the account summary subscription (several accounts: their values for IBridgePy's accountCode=)
ACCOUNT_SUMMARY_ID = 9_000_103
#: the tags the account summary asks for
SUMMARY_TAGS = ("NetLiquidation,TotalCashValue,GrossPositionValue,BuyingPower,AvailableFunds,ExcessLiquidity,"
                "EquityWithLoanValue,InitMarginReq,MaintMarginReq,SettledCash,Cushion,Leverage")
ACCOUNT_ID = -104
MIN_SERVER_VER_COMPLETED_ORDERS = 150
DELAYED = 3
#: how far before a connection loss executions are asked for again (clocks and IB's filter are coarse)
EXECUTION_LOOKBACK_NS = 10 * 60 * 1_000_000_000


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
        order_journal: Callable[[str, int, str], None] | None = None,
        since_ns: int | None = None,
        time_zone: str | None = None,
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
        self._journal = order_journal
        self._since_ns = since_ns
        self._tz = time_zone
        self.worker = Worker()
        self.conn = IBConnection(config, self, self.worker)
        self.registry = RequestRegistry()
        self.contracts = ContractResolver(self._fetch_details, config.request_timeout_s)
        self.account_state = AccountState(self.contracts.asset_for)
        self.market = MarketDataBook()
        self.orders = OrderTracker(run_id, self._emit, self.contracts.asset_for, config.commission_wait_s)
        self.history = HistoryService(self._fetch_history, calendar_for, time_zone=time_zone or "US/Eastern",
                                      timeout_s=max(config.request_timeout_s, 30.0), lot_for=self._lot_for)
        self._order_lock = threading.Lock()
        self._reconcile_lock = threading.Lock()
        self._md_type = 1
        self._lost_at_ns: int | None = None  # the first loss not yet followed by a complete reconciliation
        self._losses = 0
        self._loss_lock = threading.Lock()
        self.last_reconciled: Reconciled | None = None
        self.reconciled = threading.Event()

    # ======================================================================================== connection
    def connect(self) -> None:
        """Connect, start the account and position subscriptions and reconcile this run's orders.

        Raises IBConnectError (502: with the default ports), ClientIdInUseError (326), AccountNotFoundError (with
        the managed accounts) or IBTimeoutError.
        """
        if self.worker.stopped:
            self.worker = self.conn.worker = Worker()
        self.conn.connect()

    def disconnect(self) -> None:
        """Close the connection for good; pending requests fail; fills waiting for commissions go out."""
        self.conn.disconnect()
        self.registry.fail_all("disconnected")
        self.orders.flush_due(float("inf"))
        self.worker.stop()

    def is_connected(self) -> bool:
        """Whether an order placed now would be sent."""
        return self.conn.is_connected

    @property
    def account(self) -> str:
        """The account code orders go to."""
        return self.conn.account

    @property
    def managed_accounts(self) -> tuple[str, ...]:
        return self.conn.managed_accounts

    def now_ns(self) -> int:
        return self._clock()

    @property
    def time_zone(self) -> str:
        """TWS's time zone (execution times and bar dates without a zone are in it)."""
        if self._tz:
            return self._tz
        parts = self.conn.connection_time.split()
        return ib_time_zone(parts[-1] if len(parts) >= 3 else "")

    # ---------------------------------------------------------------------------------- listener callbacks
    def on_connected(self, reconnect: bool, attempts: int) -> None:
        """A socket is up (first connect: caller's thread; reconnect: worker)."""
        self.market.server_version = self.conn.server_version or 0
        self.history.time_zone = self.time_zone
        client = self.conn.client
        if client is None:
            return
        if self._md_type != 1:
            client.reqMarketDataType(self._md_type)
        self._subscribe_account()
        if reconnect:
            self._emit(ConnectionRestored(self.now_ns(), "reconnected to TWS / IB Gateway", True, attempts))
            self._resubscribe_market_data()
        since = self._executions_since() if reconnect else self._since_ns
        try:
            self.reconcile(since)
        except IBError as exc:
            log.warning("reconciliation after connecting failed: %s", exc)

    def on_lost(self, reason: str, code: int | None) -> None:
        now = self.now_ns()
        with self._loss_lock:
            self._losses += 1
            if self._lost_at_ns is None:
                self._lost_at_ns = now
        if code is None:
            self.registry.fail_all(reason)
        self._emit(ConnectionLost(now, reason, code))

    def on_restored(self, data_lost: bool) -> None:
        self._emit(ConnectionRestored(self.now_ns(), "TWS reconnected to IB" + (" (market data lost)" if data_lost
                                      else ""), data_lost))
        if data_lost:
            self._resubscribe_market_data()
        try:
            self.reconcile(self._executions_since())
        except IBError as exc:
            log.warning("reconciliation after 1101/1102 failed: %s", exc)

    def _executions_since(self) -> int | None:
        """Where the executions asked for after a loss start (see the module docstring); None: all of them."""
        any_open, oldest_sent = self.orders.executions_needed_since()
        if any_open and oldest_sent is None:
            return self._since_ns
        starts = [t for t in (self._lost_at_ns, oldest_sent) if t is not None]
        return min(starts) - EXECUTION_LOOKBACK_NS if starts else self._since_ns

    def on_message(self, name: str, *args: Any) -> None:
        """Everything from the message thread that is not about the connection."""
        handler = self._handlers.get(name)
        if handler is not None:
            handler(self, *args)

    # ------------------------------------------------------------------------------------ message handlers
    def _h_error(self, err: ErrorArgs) -> None:
        code, rid, text = err.code, err.req_id, err.text
        now = self.now_ns()
        info = error_info(code)
        informational = info.kind in (ErrorKind.INFO, ErrorKind.WARNING)
        asset = self.market.asset_of(rid) if rid >= 0 else None
        if asset is not None:
            self._market_data_error(asset, rid, code, text, now)
            return
        if rid in self.registry and not informational:
            self.registry.fail(rid, code, text)
            return
        if rid > 0 and self.orders.on_error(rid, code, text, now):
            return
        if info.kind is ErrorKind.INFO:
            log.debug("IB %d: %s", code, text)
            return
        log.info("IB %d (id %d): %s", code, rid, text)
        self._emit(IBNotice(now, code, text, rid))

    def _market_data_error(self, asset: Asset, rid: int, code: int, text: str, now: int) -> None:
        if code == 354 and self._md_type == 1:
            log.warning("no real-time market data subscription for %s: switching to delayed data", asset.symbol)
            self._emit(MarketDataDelayed(asset, now, code, text))
            self.worker.call_soon(lambda: self._fallback_to_delayed(asset))
        elif code == 10167:
            self._emit(MarketDataDelayed(asset, now, code, text))
        elif error_info(code).kind is ErrorKind.INFO:
            log.debug("IB %d for %s: %s", code, asset.symbol, text)
        else:
            self._emit(IBNotice(now, code, text, rid))

    def _h_request_end(self, req_id: int) -> None:
        self.registry.finish(req_id)

    def _h_row(self, req_id: int, row: Any) -> None:
        self.registry.add_row(req_id, row)

    def _h_open_order(self, info: OpenOrderInfo) -> None:
        self.orders.on_open_order(info, self.now_ns())
        self.registry.add_row(OPEN_ORDERS_ID, info)

    def _h_completed_order(self, info: OpenOrderInfo) -> None:
        self.registry.add_row(COMPLETED_ORDERS_ID, info)

    def _h_order_status(self, info: Any) -> None:
        self.orders.on_status(info, self.now_ns())

    def _h_execution(self, info: ExecutionInfo) -> None:
        try:
            t = parse_ib_time(info.time_text, self.time_zone)
        except (ValueError, TypeError):
            t = self.now_ns()
        new_fill_waiting = self.orders.on_execution(info, t, time.monotonic())
        if info.req_id >= 0:
            self.registry.add_row(info.req_id, info)
        if new_fill_waiting:
            self.worker.call_later(self.config.commission_wait_s + 0.01, self._flush_fills)

    def _h_commission(self, info: Any) -> None:
        self.orders.on_commission(info, self.now_ns())

    def _h_account_summary(self, account: str, tag: str, value: str, currency: str) -> None:
        self.account_state.on_value(tag, value, currency, account)

    def subscribe_account_summary(self) -> None:
        """Every managed account's values (reqAccountSummary 'All'), for queries naming an account other than the
        connection's; no-op while disconnected."""
        client = self.conn.client
        if client is not None:
            client.reqAccountSummary(ACCOUNT_SUMMARY_ID, "All", SUMMARY_TAGS)

    def _h_account_value(self, key: str, value: str, currency: str, account: str) -> None:
        self.account_state.on_value(key, value, currency, account)

    def _h_portfolio(self, info: PositionInfo) -> None:
        self.account_state.on_portfolio(info)

    def _h_account_end(self, account: str) -> None:
        self.account_state.downloaded.set()
        self.registry.finish(ACCOUNT_ID)

    def _h_position(self, info: PositionInfo) -> None:
        self.account_state.on_position(info)
        self.registry.add_row(POSITIONS_ID, info)

    def _h_position_end(self) -> None:
        self.account_state.positions_loaded.set()
        self.registry.finish(POSITIONS_ID)

    def _h_tick(self, req_id: int, tick_type: int, value: float | None) -> None:
        self.market.on_tick(req_id, tick_type, value, self.now_ns())

    def _h_tick_string(self, req_id: int, tick_type: int, value: str) -> None:
        self.market.on_tick_string(req_id, tick_type, value)

    def _h_ignore(self, *args: Any) -> None:
        return None

    _handlers: ClassVar[dict[str, Callable[..., None]]] = {
        "error": _h_error,
        "request_end": _h_request_end,
        "contract_details": _h_row,
        "bar": _h_row,
        "open_order": _h_open_order,
        "open_order_end": lambda self: self.registry.finish(OPEN_ORDERS_ID),
        "completed_order": _h_completed_order,
        "completed_orders_end": lambda self: self.registry.finish(COMPLETED_ORDERS_ID),
        "order_status": _h_order_status,
        "execution": _h_execution,
        "commission": _h_commission,
        "account_value": _h_account_value,
        "account_summary": _h_account_summary,
        "portfolio": _h_portfolio,
        "account_download_end": _h_account_end,
        "account_time": _h_ignore,
        "position": _h_position,
        "position_end": _h_position_end,
        "tick": _h_tick,
        "tick_string": _h_tick_string,
        "market_data_type": _h_ignore,
        "current_time": _h_ignore,
    }

    # ============================================================================================== events
    def _emit(self, event: object) -> None:
        if self._sink is not None:
            self._sink(event)
        else:
            self._events.append(event)

    def _flush_fills(self) -> None:
        self.orders.flush_due(time.monotonic())

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

        Open ones are matched to TWS's by orderRef at the reconciliation (and closed with their reason when TWS no
        longer works them); closed ones keep their executions from being booked or counted again. IB order ids at
        or below ``highest_ib_id`` (the highest the journal used) are never handed out again.
        """
        self.orders.restore(known, lambda oid: order_ref(self.run_id, oid))
        if highest_ib_id:
            self.conn.reserve_order_ids_through(highest_ib_id)

    def _contract_for(self, asset: Asset) -> Any:
        if not asset.con_id and asset.sec_type is not SecType.STOCK:
            asset = self.contracts.resolve_asset(asset)
        return make_contract(contract_spec_for(asset))

    def _spec_for(self, request: OrderRequest, transmit: bool, parent_ib_id: int) -> OrderSpec:
        try:
            return order_spec_for(
                amount=request.amount, kind=request.kind, limit=request.limit, stop=request.stop, tif=request.tif,
                ref=order_ref(self.run_id, request.id), trailing_amount=request.trail_amount,
                trailing_percent=request.trail_percent, limit_offset=request.limit_offset,
                outside_rth=request.outside_rth,
                oca_group=request.oca_group, account=request.account or self.conn.account, transmit=transmit,
                parent_ib_id=parent_ib_id)
        except ValueError as exc:
            raise OrderError(f"order {request.id} for {request.asset.symbol} cannot be sent to IB: {exc}") from None

    def _parent_ib_id(self, request: OrderRequest) -> int:
        if not request.parent_id:
            return 0
        parent = self.orders.get(request.parent_id)
        if parent is None:
            raise OrderError(f"order {request.id}: its parent order {request.parent_id} was never sent")
        return parent.ib_order_id

    def place_order(self, request: OrderRequest) -> None:
        """Send one order (a child names its parent with ``parent_id``). NotConnectedError if disconnected."""
        self._send([request], [True])

    def place_bracket(self, parent: OrderRequest, children: Sequence[OrderRequest]) -> None:
        """Send a parent and its children atomically: the parent and all but the last child with transmit=False,
        so TWS activates nothing before the whole bracket has arrived."""
        kids = [dataclasses.replace(c, parent_id=parent.id) for c in children]
        self._send([parent, *kids], [False] * len(kids) + [True])

    def _send(self, requests: list[OrderRequest], transmits: list[bool]) -> None:
        what = f"order {requests[0].id} ({requests[0].amount:+d} {requests[0].asset.symbol})"
        client = self.conn.require(what)
        contracts = [self._contract_for(r.asset) for r in requests]
        with self._order_lock:
            for r in requests:
                if self.orders.get(r.id) is not None:
                    raise OrderError(f"order {r.id} was already sent; an order is never sent twice")
            sent: list[tuple[int, Any, Any]] = []
            for r, contract, transmit in zip(requests, contracts, transmits):
                parent_ib = self._parent_ib_id(r)
                spec = self._spec_for(r, transmit, parent_ib)
                ib_id = self.conn.take_order_id()
                tracked = self.orders.register(r.id, r.asset, r.amount, ib_id, spec.order_ref, self.now_ns())
                tracked.spec, tracked.contract = spec, contract
                if self._journal is not None:
                    self._journal(r.id, ib_id, spec.order_ref)
                sent.append((ib_id, contract, make_order(spec, ib_id)))
            for ib_id, contract, order in sent:
                client.placeOrder(ib_id, contract, order)

    def modify_order(self, order_id: str, *, amount: int | None = None, limit: float | None = None,
                     stop: float | None = None, tif: str | None = None) -> None:
        """Change a working order (IB: placeOrder again with the same order id)."""
        o = self._tracked(order_id)
        client = self.conn.require(f"modification of order {order_id}")
        spec: OrderSpec = o.spec  # type: ignore[assignment]
        if spec is None or o.closed:
            raise OrderError(f"order {order_id} is not working: it cannot be modified")
        changes: dict[str, Any] = {"transmit": True}
        if amount is not None:
            changes.update(action="BUY" if amount > 0 else "SELL", quantity=float(abs(amount)))
            o.amount = amount
        if limit is not None:
            changes["limit_price"] = limit
        if stop is not None:
            changes["aux_price"] = stop
        if tif is not None:
            changes["tif"] = str(tif).upper()
        new = dataclasses.replace(spec, **changes)
        o.spec = new
        client.placeOrder(o.ib_order_id, o.contract, make_order(new, o.ib_order_id))

    def cancel_order(self, order_id: str, now_ns: int) -> None:
        """Ask TWS to cancel; the outcome arrives as Cancelled (or CancelRejected). NotConnectedError if down."""
        o = self.orders.get(order_id)
        if o is None or o.closed:
            return
        client = self.conn.require(f"cancel of order {order_id}")
        cancel_order(client, o.ib_order_id)

    def _tracked(self, order_id: str) -> TrackedOrder:
        o = self.orders.get(order_id)
        if o is None:
            raise OrderError(f"unknown order {order_id}")
        return o

    def ib_order_id(self, order_id: str) -> int | None:
        """IB's order id of one of the runtime's orders."""
        o = self.orders.get(order_id)
        return None if o is None else o.ib_order_id

    # ======================================================================================= reconciliation
    def reconcile(self, since_ns: int | None = None) -> Reconciled:
        """Open orders (by orderRef), executions since ``since_ns`` (None: all) and positions, reported as events.

        Orders of this run that TWS no longer works and that no execution finished are closed (Cancelled /
        OrderRejected with the reason); fills missed while away are reported as Fills (deduplicated by execId).
        When a completed order shows more filled than was booked, all executions are asked for once more.
        """
        with self._reconcile_lock:
            with self._loss_lock:
                losses, lost_at = self._losses, self._lost_at_ns
            timeout = self.config.request_timeout_s
            client = self.conn.require("reconciliation")
            rid, fut = self.registry.open("open orders", req_id=OPEN_ORDERS_ID)
            client.reqAllOpenOrders()
            open_rows: list[OpenOrderInfo] = self.registry.wait(rid, fut, timeout, "open orders")
            ours_open = {i.ib_order_id for i in open_rows if self._is_ours(i.order_ref)}
            completed: dict[str, OpenOrderInfo] = {}
            if (self.conn.server_version or 0) >= MIN_SERVER_VER_COMPLETED_ORDERS:
                rid, fut = self.registry.open("completed orders", req_id=COMPLETED_ORDERS_ID)
                client.reqCompletedOrders(True)
                for info in self.registry.wait(rid, fut, timeout, "completed orders"):
                    parsed = parse_order_ref(info.order_ref)
                    if parsed is not None and parsed[0] == self.run_id:
                        completed[parsed[1]] = info
            booked = self.orders.booked
            self._request_executions(client, since_ns, timeout)
            unbooked = self.orders.unbooked_at_ib(ours_open, completed)
            if unbooked and since_ns is not None:
                log.info("IB reports %d order(s) of this run filled beyond what was booked: asking for all executions",
                         len(unbooked))
                self._request_executions(client, None, timeout)
                unbooked = self.orders.unbooked_at_ib(ours_open, completed)
            for order_id in unbooked:
                log.warning("order %s: IB reports it filled beyond what was booked, but sent no execution for it; its "
                            "fills are not booked (check the order in TWS's trade log)", order_id)
            recovered = self.orders.booked - booked
            self.orders.flush_due(time.monotonic() + self.config.commission_wait_s)
            closed = self.orders.close_missing(ours_open, completed, self.now_ns())
            self.account_state.clear_positions()
            rid, fut = self.registry.open("positions", req_id=POSITIONS_ID)
            client.reqPositions()
            positions: list[PositionInfo] = self.registry.wait(rid, fut, timeout, "positions")
            now = self.now_ns()
            records = tuple(PositionRecord(self.contracts.asset_for(p.contract), p.account, p.position, p.avg_cost)
                            for p in positions if p.position)
            self._emit(PositionsSnapshot(now, records))
            result = Reconciled(now, len(ours_open), recovered, closed, len(records))
            with self._loss_lock:
                covered = since_ns is None or lost_at is None or since_ns <= lost_at - EXECUTION_LOOKBACK_NS
                if covered and self._losses == losses:
                    self._lost_at_ns = None
            self._emit(result)
            self.last_reconciled = result
            self.reconciled.set()
            return result

    def _request_executions(self, client: Any, since_ns: int | None, timeout: float) -> None:
        rid, fut = self.registry.open("executions")
        client.reqExecutions(rid, make_execution_filter(0, self.conn.account, since_ns))
        self.registry.wait(rid, fut, timeout, "executions")

    def _is_ours(self, ref: str) -> bool:
        parsed = parse_order_ref(ref)
        return parsed is not None and parsed[0] == self.run_id

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
        if self.market.req_id_of(asset) is not None:
            return
        client = self.conn.require(f"market data request for {asset.symbol}")
        if not asset.con_id:
            asset = self.contracts.resolve_asset(asset)
        rid = self.registry.next_id()
        self.market.add(rid, asset, self.contracts.size_multiplier(asset.con_id))
        client.reqMktData(rid, make_contract(contract_spec_for(asset)), "", False, False, [])

    def unsubscribe(self, asset: Asset) -> None:
        rid = self.market.remove(asset)
        client = self.conn.client
        if rid is not None and client is not None and self.conn.is_connected:
            client.cancelMktData(rid)

    def quote(self, asset: Asset) -> Quote | None:
        """The latest streamed quote (None if not subscribed)."""
        return self.market.quote(asset)

    def wait_for_quote(self, asset: Asset, timeout: float | None = None) -> Quote:
        """Subscribe if needed and wait for a first price; MarketDataError if none comes in time."""
        self.subscribe(asset)
        wait = timeout or self.config.request_timeout_s
        if not self.market.wait_fresh(asset, wait):
            raise MarketDataError(f"no market data for {asset.symbol} within {wait:g} s (market closed and no close "
                                  "price, or no permissions)")
        q = self.market.quote(asset)
        assert q is not None
        return q

    def _resubscribe_market_data(self) -> None:
        client = self.conn.client
        if client is None:
            return
        for asset in self.market.assets():
            rid = self.registry.next_id()
            self.market.add(rid, asset, self.contracts.size_multiplier(asset.con_id))
            client.reqMktData(rid, make_contract(contract_spec_for(asset)), "", False, False, [])

    def _fallback_to_delayed(self, asset: Asset) -> None:
        client = self.conn.client
        if client is None:
            return
        if self._md_type == 1:
            self._md_type = DELAYED
            client.reqMarketDataType(DELAYED)
        old = self.market.req_id_of(asset)
        if old is not None:
            client.cancelMktData(old)
        rid = self.registry.next_id()
        self.market.add(rid, asset, self.contracts.size_multiplier(asset.con_id))
        client.reqMktData(rid, make_contract(contract_spec_for(asset)), "", False, False, [])

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

    def daily_bar_arrays(self, assets: Sequence[Asset], n_sessions: int, calendar: TradingCalendar,
                         now_ns: int | None = None) -> BarArrays:
        """The live data portal's daily store: ``n_sessions`` sessions back (today's partial bar included)."""
        return self.history.daily_bar_arrays(assets, n_sessions, calendar, self.now_ns() if now_ns is None else now_ns)

    def minute_bar_arrays(self, assets: Sequence[Asset], calendar: TradingCalendar,
                          now_ns: int | None = None) -> BarArrays:
        """The live data portal's minute store: today's session so far."""
        return self.history.minute_bar_arrays(assets, calendar, self.now_ns() if now_ns is None else now_ns)
