"""The simulated IB Gateway: an asyncio TCP server speaking the TWS protocol at server version 157.

:class:`Gateway` owns the listening socket, the client sessions, the exchange (orders, accounts) and the market
(prices), and answers requests. It runs on one asyncio event loop; use :class:`runtime.gateway.runner.GatewayThread`
to run it in a background thread of another program, or ``ibalgo gateway`` (:func:`runtime.gateway.cli.run_gateway`)
from a shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from runtime.core.costs import CommissionModel, SlippageModel
from runtime.core.ib_mapping import mask_accounts
from runtime.gateway import responses as msg
from runtime.gateway.contracts import Instrument
from runtime.gateway.exchange import Exchange, Execution
from runtime.gateway.faults import FaultPlan, FaultState
from runtime.gateway.history import (
    HistoryRequestError,
    build_bars,
    check_what_to_show,
    format_rows,
    format_time,
    parse_bar_size,
    parse_duration,
    parse_end,
    window_start,
    window_text,
)
from runtime.gateway.ids import NO_ID, Code
from runtime.gateway.market import NS_PER_SECOND
from runtime.gateway.pacing import HistoryPacingRules
from runtime.gateway.protocol import MAX_FRAME_BYTES
from runtime.gateway.requests import (
    AccountSummaryRequest,
    AccountUpdatesMultiRequest,
    ContractDetailsRequest,
    ExecutionFilterRequest,
    HeadTimestampRequest,
    HistoricalRequest,
    MktDataRequest,
    PnlRequest,
    PositionsMultiRequest,
    RealTimeBarsRequest,
)
from runtime.gateway.session import ClientSession
from runtime.gateway.state import load_state, save_state
from runtime.gateway.subscriptions import BarSubscription, HistorySubscription, TickSubscription
from runtime.gateway.universe import Universe, sample_universe

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class GatewayClock(Protocol):
    def now_ns(self) -> int: ...


@dataclass(frozen=True)
class GatewayConfig:
    """Everything about a gateway that is fixed when it starts.

    Attributes:
        host, port: where to listen (port 0 picks a free port). Anything but loopback needs ``allow_remote``.
        accounts: the paper accounts (managedAccounts), the first one is the default for orders.
        starting_cash: cash of every account on a fresh start.
        time_zone: the "TWS time zone" used for connection time, execution times and intraday bar dates.
        pump_interval_s: how often market data, real-time bars and order matching follow the clock.
        state_file: JSON file keeping orders, executions and ids across gateway restarts (None: in memory only).
        max_messages_per_second: error 100 above this inbound rate (None: no limit).
        pacing: enforce IB's historical-data pacing (error 162).
        max_frame: largest accepted incoming message; soft/max_send_buffer: per-client output limits (bytes).
        auto_advance_ns: with a replay clock that only moves when told (speed "max"), advance it this much on
            every pump (None: leave the clock to its owner).
        master_client_id: a client that also receives every order's messages (TWS's "master API client id").
        account_update_interval_s: after fills, account values (updateAccountValue, accountSummary, account
            updates multi, PnL) are pushed at most this often, always ending with the latest values (TWS pushes
            them on position changes and otherwise every three minutes). Positions and portfolio rows go out at
            once. A burst of fills thus costs one account push instead of one per fill.
    """

    host: str = "127.0.0.1"
    port: int = 4002
    accounts: tuple[str, ...] = ("DU1234567",)
    starting_cash: float = 1_000_000.0
    time_zone: str = "US/Eastern"
    pump_interval_s: float = 0.05
    state_file: str | None = None
    max_messages_per_second: int | None = 50
    pacing: bool = True
    max_frame: int = MAX_FRAME_BYTES
    soft_send_buffer: int = 4 << 20
    max_send_buffer: int = 64 << 20
    allow_remote: bool = False
    auto_advance_ns: int | None = None
    master_client_id: int | None = None
    account_update_interval_s: float = 0.05
    faults: FaultPlan = field(default_factory=FaultPlan)


class _SystemClock:
    def now_ns(self) -> int:
        return time.time_ns()


class Gateway:
    """The simulated gateway (all methods run on its event loop unless stated otherwise)."""

    def __init__(
        self,
        config: GatewayConfig | None = None,
        clock: GatewayClock | None = None,
        universe: Universe | None = None,
        slippage: SlippageModel | None = None,
        commission: CommissionModel | None = None,
    ) -> None:
        self.config = config or GatewayConfig()
        if self.config.host not in LOOPBACK and not self.config.allow_remote:
            raise ValueError(f"refusing to listen on {self.config.host!r}: the gateway binds to 127.0.0.1 unless "
                             "allow_remote is set (it has no authentication)")
        self.clock: GatewayClock = clock or _SystemClock()
        self.universe = universe or sample_universe(self.clock.now_ns())
        self.exchange = Exchange(self.universe.book, self.universe.market, self.config.accounts, self,
                                 self.config.starting_cash, slippage, commission, self.config.time_zone)
        self.exchange.master_client_id = self.config.master_client_id
        self.pacer = HistoryPacingRules(self.config.pacing)
        self.faults = FaultState()
        self.connections: set[ClientSession] = set()
        self.clients: dict[int, ClientSession] = {}
        self.port = self.config.port
        self._server: asyncio.base_events.Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._drop_task: asyncio.Task[None] | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._stopping = False
        self.pumps = 0
        self._account_pushed: dict[str, float] = {}  # account -> time.monotonic() of its last account-values push
        self._account_timers: dict[str, asyncio.TimerHandle] = {}
        if self.config.state_file:
            path = Path(self.config.state_file)
            if path.exists():
                load_state(self.exchange, path)
        plan = self.config.faults
        self.faults.message_delay_s = plan.message_delay_s
        if plan.reject_first_order:
            self.exchange.reject_next = "simulated rejection (fault injection)"
        self.pacer.force_next = plan.pacing_violations
        self.exchange.on_execution = self._on_execution
        self.exchange.on_actions = self.save
        self.exchange.on_order_change = self.save if self.config.state_file else None

    # ---------------------------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Listen and start following the clock."""
        if self.config.host not in LOOPBACK:
            log.warning("the simulated gateway listens on %s: anyone who can reach it can trade its paper accounts",
                        self.config.host)
        await self._listen(self.port)
        self._pump_task = asyncio.get_running_loop().create_task(self._pump_loop())
        if self.config.faults.refuse_for_s > 0:
            await self.refuse_connections(self.config.faults.refuse_for_s)
        if self.config.faults.drop_every_s > 0:
            self._drop_task = asyncio.get_running_loop().create_task(self._drop_loop(self.config.faults.drop_every_s))
        log.info("simulated IB Gateway listening on %s:%d (server version 157, accounts %s)", self.config.host,
                 self.port, mask_accounts(self.config.accounts))

    async def _drop_loop(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            self.drop_connections()

    async def _listen(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: ClientSession(self), self.config.host, port,
                                                reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and the listening socket; save the state file."""
        self._stopping = True
        if self._reopen is not None:
            self._reopen.cancel()
        for timer in self._account_timers.values():
            timer.cancel()
        self._account_timers.clear()
        for task in (self._pump_task, self._drop_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for s in list(self.connections):
            s.abort()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        self.save()

    def save(self) -> None:
        if self.config.state_file:
            save_state(self.exchange, Path(self.config.state_file), self.clock.now_ns())

    def _on_execution(self, ex: Execution) -> None:
        self.save()

    # ----------------------------------------------------------------------------------------------- sessions
    def claim_client_id(self, session: ClientSession, client_id: int) -> bool:
        other = self.clients.get(client_id)
        if other is not None and other is not session and other.state != other.CLOSED:
            return False
        self.clients[client_id] = session
        return True

    def probe_client(self, client_id: int) -> None:
        """Send the holder of ``client_id`` a harmless notice (it shows whether the connection is still alive)."""
        other = self.clients.get(client_id)
        if other is not None:
            other.send(msg.error(NO_ID, Code.MARKET_FARM_OK, "Market data farm connection is OK:usfarm"))

    def session_closed(self, session: ClientSession) -> None:
        self.connections.discard(session)
        if session.client_id is not None and self.clients.get(session.client_id) is session:
            del self.clients[session.client_id]
        self.pacer.open_requests = max(self.pacer.open_requests - len(session.histories), 0)

    def ready_sessions(self) -> list[ClientSession]:
        return [s for s in self.clients.values() if s.ready]

    def connection_time_text(self) -> str:
        local = pd.Timestamp(self.clock.now_ns(), tz="UTC").tz_convert(self.config.time_zone)
        return f"{local:%Y%m%d %H:%M:%S} {local.tzname()}"

    @property
    def connectivity_ok(self) -> bool:
        return not self.faults.connectivity_lost

    def farm_notices(self) -> list[tuple[int, str]]:
        return [
            (Code.MARKET_FARM_OK, "Market data farm connection is OK:usfarm"),
            (Code.HISTORICAL_FARM_OK, "HMDS data farm connection is OK:ushmds"),
            (Code.SECDEF_FARM_OK, "Sec-def data farm connection is OK:secdefnj"),
        ]

    # --------------------------------------------------------------------------------------- Outbox (exchange)
    def to_client(self, client_id: int, data: bytes) -> None:
        s = self.clients.get(client_id)
        if s is not None and s.ready:
            s.send(data)

    def account_changed(self, account: str, inst: Instrument | None) -> None:
        """After a fill, split or dividend: push the subscriptions that IB keeps up to date (positions now, account
        values at most every ``account_update_interval_s``)."""
        if inst is not None:
            self._push_position(account, inst)
        self._schedule_account_values(account)

    def _push_position(self, account: str, inst: Instrument) -> None:
        book = self.exchange.accounts[account]
        self.exchange.mark_all(self.clock.now_ns())
        h = book.holding(inst)
        for s in self.ready_sessions():
            if s.account_sub == account:
                self._send_portfolio_row(s, account, inst)
            if s.positions_sub:
                s.send(msg.position(account, inst, h.amount, h.avg_cost))
            for req_id, acct in s.positions_multi_subs.items():
                if acct in ("", "All", account):
                    s.send(msg.position_multi(req_id, account, inst, h.amount, h.avg_cost))
            for req_id, (acct, con_id) in s.pnl_single_subs.items():
                if acct in ("", account) and con_id == inst.con_id:
                    self._send_pnl_single(s, req_id, account, inst)

    def _schedule_account_values(self, account: str) -> None:
        if account in self._account_timers:
            return  # a push is already due; it will send the latest values
        wait = self.config.account_update_interval_s - (time.monotonic() - self._account_pushed.get(account, -1e18))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if wait <= 0 or loop is None:
            self._push_account_values(account)
        else:
            self._account_timers[account] = loop.call_later(wait, self._push_account_values, account)

    def _push_account_values(self, account: str) -> None:
        self._account_timers.pop(account, None)
        self._account_pushed[account] = time.monotonic()
        now = self.clock.now_ns()
        book = self.exchange.accounts[account]
        self.exchange.mark_all(now)
        for s in self.ready_sessions():
            if s.account_sub == account:
                self._send_account_values(s, account, changed_only=True)
                s.send(msg.account_time(self._hhmm(now)))
            for req_id, tags in s.summary_subs.items():
                for tag, value, cur in book.summary_rows(tags):
                    s.send(msg.account_summary(req_id, account, tag, value, cur))
            for req_id, (acct, model, _ledger) in s.multi_subs.items():
                if acct in ("", "All", account):
                    for key, value, cur in book.update_rows():
                        s.send(msg.account_update_multi(req_id, account, model, key, value, cur))
            for req_id, acct in s.pnl_subs.items():
                if acct in ("", account):
                    self._send_pnl(s, req_id, account)

    # ------------------------------------------------------------------------------------------------ requests
    def _resolve(self, session: ClientSession, req_id: int, contract) -> Instrument | None:
        found = self.universe.book.resolve(contract)
        if isinstance(found, Instrument):
            return found
        if found:
            session.send(msg.error(req_id, Code.NO_SECURITY, f"The contract description specified for "
                                   f"{contract.symbol} is ambiguous."))
        else:
            hint = self.universe.book.suggest(contract.symbol) if contract.symbol else None
            extra = f" (did you mean {hint}?)" if hint and hint != contract.symbol.upper() else ""
            session.send(msg.error(req_id, Code.NO_SECURITY,
                                   f"No security definition has been found for the request{extra}"))
        return None

    def contract_details(self, session: ClientSession, req: ContractDetailsRequest) -> None:
        found = self.universe.book.search(req.contract)
        if not found:
            hint = self.universe.book.suggest(req.contract.symbol) if req.contract.symbol else None
            extra = f" (did you mean {hint}?)" if hint and hint != req.contract.symbol.upper() else ""
            session.send(msg.error(req.req_id, Code.NO_SECURITY,
                                   f"No security definition has been found for the request{extra}"))
            return
        now = self.clock.now_ns()
        for inst in found:
            trading, liquid = inst.hours(now)
            session.send(msg.contract_details(req.req_id, inst, trading, liquid))
        session.send(msg.contract_details_end(req.req_id))

    def market_data(self, session: ClientSession, req: MktDataRequest) -> None:
        inst = self._resolve(session, req.req_id, req.contract)
        if inst is None:
            return
        delayed = session.md_type in (3, 4)
        session.send(msg.tick_req_params(req.req_id, inst.min_tick, "9c0001" if inst.is_stock else "", 3))
        if session.md_type_requested and session.md_type != 1:
            session.send(msg.market_data_type(req.req_id, session.md_type))
        sub = TickSubscription(req.req_id, inst, delayed=delayed, snapshot=req.snapshot or req.regulatory_snapshot)
        quote = self.universe.market.quote(inst, self.clock.now_ns())
        if req.snapshot or req.regulatory_snapshot:
            if quote is not None:
                sub.emit(quote, session.send)
            session.send(msg.tick_snapshot_end(req.req_id))
            return
        session.ticks[req.req_id] = sub
        if quote is not None and self.connectivity_ok:
            sub.emit(quote, session.send)

    def _history_series(self, session: ClientSession, req_id: int, contract):
        inst = self._resolve(session, req_id, contract)
        if inst is None:
            return None, None
        series = self.universe.market.series(inst)
        if series is None:
            session.send(msg.error(req_id, Code.HISTORICAL_DATA, "Historical Market Data Service error message:"
                                   f"No market data permissions for {inst.symbol}"))
            return None, None
        return inst, series

    def historical_data(self, session: ClientSession, req: HistoricalRequest) -> None:
        inst, series = self._history_series(session, req.req_id, req.contract)
        if inst is None or series is None:
            return
        tz = self.config.time_zone
        try:
            check_what_to_show(inst, req.what_to_show)
            bar_seconds = parse_bar_size(req.bar_size)
            duration = parse_duration(req.duration)
            if req.keep_up_to_date and req.end:
                raise HistoryRequestError(Code.VALIDATION, "Error validating request:-'bP' : cause - End date not "
                                   "supported with live updates")
            now = self.clock.now_ns()
            decision = self.pacer.check(
                (inst.con_id, req.end, req.bar_size, req.duration, req.what_to_show, req.use_rth, req.format_date),
                (inst.con_id, inst.exchange, req.what_to_show), 2 if req.what_to_show == "BID_ASK" else 1)
            if not decision.allowed:
                raise HistoryRequestError(Code.HISTORICAL_DATA, decision.reason)
            end = parse_end(req.end, now, tz)
            start = window_start(series, end, duration)
            rows = build_bars(series, bar_seconds, start, end, req.use_rth, now, tz)
        except HistoryRequestError as exc:
            session.send(msg.error(req.req_id, exc.code, exc.text))
            return
        if not len(rows):
            session.send(msg.error(req.req_id, Code.HISTORICAL_DATA, "Historical Market Data Service error "
                                   f"message:HMDS query returned no data: {inst.local_symbol}@{inst.exchange} "
                                   f"{req.what_to_show.title()}"))
            return
        formatted = format_rows(rows, inst, req.what_to_show, req.format_date, tz)
        session.send(msg.historical_data(req.req_id, window_text(start, tz), window_text(end, tz), formatted))
        if req.keep_up_to_date:
            sub = HistorySubscription(req.req_id, inst, series, bar_seconds, req.what_to_show, req.use_rth,
                                      req.format_date, tz)
            sub.last = (formatted[-1][0], *formatted[-1][1:])
            session.histories[req.req_id] = sub
            self.pacer.open_requests += 1

    def head_timestamp(self, session: ClientSession, req: HeadTimestampRequest) -> None:
        inst, series = self._history_series(session, req.req_id, req.contract)
        if inst is None or series is None:
            return
        text = format_time(series.first_ns, req.format_date, self.config.time_zone, False)
        session.send(msg.head_timestamp(req.req_id, text))

    def real_time_bars(self, session: ClientSession, req: RealTimeBarsRequest) -> None:
        inst, series = self._history_series(session, req.req_id, req.contract)
        if inst is None or series is None:
            return
        if req.bar_size != 5:
            session.send(msg.error(req.req_id, Code.VALIDATION, "Error validating request:-'bar size' : cause - "
                                   "real-time bars are 5 seconds only"))
            return
        if req.what_to_show not in ("TRADES", "MIDPOINT", "BID", "ASK"):
            session.send(msg.error(req.req_id, Code.VALIDATION, f"Error validating request:-'whatToShow' : cause "
                                   f"- {req.what_to_show!r} is not TRADES, MIDPOINT, BID or ASK"))
            return
        now = self.clock.now_ns()
        step = 5 * NS_PER_SECOND
        session.rt_bars[req.req_id] = BarSubscription(req.req_id, inst, series, req.what_to_show, req.use_rth,
                                                      now - now % step + step)

    def send_open_orders(self, session: ClientSession, client_id: int | None) -> None:
        ex = self.exchange
        for rec in ex.open_orders(client_id):
            session.send(ex.open_order_message(rec))
            session.send(ex.status_message(rec))
        session.send(msg.open_order_end())

    def send_executions(self, session: ClientSession, f: ExecutionFilterRequest) -> None:
        ex = self.exchange
        since = None
        if f.time:
            with contextlib.suppress(HistoryRequestError):
                since = parse_end(f.time, self.clock.now_ns(), self.config.time_zone) if "-" not in f.time else \
                    parse_end(f.time, self.clock.now_ns(), "UTC")
        for e in ex.executions:
            if f.client_id and e.client_id != f.client_id:
                continue
            if f.account and e.account != f.account:
                continue
            if f.symbol and e.instrument.symbol != f.symbol:
                continue
            if f.sec_type and e.instrument.sec_type != f.sec_type:
                continue
            if f.exchange and f.exchange not in (e.exchange, e.instrument.exchange):
                continue
            if f.side and not (f.side == e.side or f.side == {"BOT": "BUY", "SLD": "SELL"}[e.side]):
                continue
            if since is not None and e.time_ns < since:
                continue
            session.send(ex.exec_message(e, f.req_id))
            session.send(ex.commission_message(e))
        session.send(msg.exec_details_end(f.req_id))

    def send_completed_orders(self, session: ClientSession) -> None:
        for rec in self.exchange.completed():
            session.send(self.exchange.completed_message(rec))
        session.send(msg.completed_orders_end())

    def _hhmm(self, now: int) -> str:
        return f"{pd.Timestamp(now, tz='UTC').tz_convert(self.config.time_zone):%H:%M}"

    def _send_account_values(self, session: ClientSession, account: str, *, changed_only: bool = False) -> None:
        """updateAccountValue rows: all of them (on subscription), or those whose value changed since the session
        last got them (after a fill, as TWS pushes on a position change)."""
        sent = session.account_values_sent
        if not changed_only:
            sent.clear()
        for key, value, cur in self.exchange.accounts[account].update_rows():
            if sent.get((key, cur)) != value:
                sent[(key, cur)] = value
                session.send(msg.account_value(key, value, cur, account))

    def _send_portfolio_row(self, session: ClientSession, account: str, inst: Instrument) -> None:
        h = self.exchange.accounts[account].holding(inst)
        session.send(msg.portfolio_value(inst, h.amount, h.market_price, h.market_value, h.avg_cost, h.unrealized,
                                         h.realized, account))

    def subscribe_account(self, session: ClientSession, account: str) -> None:
        code = account or self.exchange.default_account
        if code not in self.exchange.accounts:
            session.send(msg.error(NO_ID, Code.VALIDATION, f"Error validating request:-'{code}' : cause - unknown "
                                   "account"))
            return
        session.account_sub = code
        now = self.clock.now_ns()
        self.exchange.mark_all(now)
        self._send_account_values(session, code)
        for h in self.exchange.accounts[code].holdings():
            self._send_portfolio_row(session, code, h.instrument)
        session.send(msg.account_time(self._hhmm(now)))
        session.send(msg.account_download_end(code))

    def send_positions(self, session: ClientSession) -> None:
        for code, book in self.exchange.accounts.items():
            for h in book.holdings():
                if h.amount:
                    session.send(msg.position(code, h.instrument, h.amount, h.avg_cost))
        session.send(msg.position_end())

    def account_summary(self, session: ClientSession, req: AccountSummaryRequest) -> None:
        self.exchange.mark_all(self.clock.now_ns())
        for code, book in self.exchange.accounts.items():
            for tag, value, cur in book.summary_rows(req.tags):
                session.send(msg.account_summary(req.req_id, code, tag, value, cur))
        session.send(msg.account_summary_end(req.req_id))
        session.summary_subs[req.req_id] = req.tags

    def account_updates_multi(self, session: ClientSession, req: AccountUpdatesMultiRequest) -> None:
        self.exchange.mark_all(self.clock.now_ns())
        for code, book in self.exchange.accounts.items():
            if req.account not in ("", "All", code):
                continue
            for key, value, cur in book.update_rows():
                session.send(msg.account_update_multi(req.req_id, code, req.model_code, key, value, cur))
        session.send(msg.account_update_multi_end(req.req_id))
        session.multi_subs[req.req_id] = (req.account, req.model_code, req.ledger_and_nlv)

    def positions_multi(self, session: ClientSession, req: PositionsMultiRequest) -> None:
        for code, book in self.exchange.accounts.items():
            if req.account not in ("", "All", code):
                continue
            for h in book.holdings():
                if h.amount:
                    session.send(msg.position_multi(req.req_id, code, h.instrument, h.amount, h.avg_cost,
                                                    req.model_code))
        session.send(msg.position_multi_end(req.req_id))
        session.positions_multi_subs[req.req_id] = req.account

    def _send_pnl(self, session: ClientSession, req_id: int, account: str) -> None:
        book = self.exchange.accounts.get(account or self.exchange.default_account)
        if book is None:
            return
        unrealized = sum(h.unrealized for h in book.holdings())
        session.send(msg.pnl(req_id, unrealized + book.realized_total, unrealized, book.realized_total))

    def _send_pnl_single(self, session: ClientSession, req_id: int, account: str, inst: Instrument) -> None:
        book = self.exchange.accounts.get(account or self.exchange.default_account)
        if book is None:
            return
        h = book.holding(inst)
        session.send(msg.pnl_single(req_id, int(h.amount), h.unrealized + h.realized, h.unrealized, h.realized,
                                    h.market_value))

    def pnl(self, session: ClientSession, req: PnlRequest) -> None:
        session.pnl_subs[req.req_id] = req.account
        self.exchange.mark_all(self.clock.now_ns())
        self._send_pnl(session, req.req_id, req.account)

    def pnl_single(self, session: ClientSession, req: PnlRequest) -> None:
        inst = self.universe.book.by_con_id(req.con_id)
        if inst is None:
            session.send(msg.error(req.req_id, Code.NO_SECURITY, "No security definition has been found for the "
                                   "request"))
            return
        session.pnl_single_subs[req.req_id] = (req.account, req.con_id)
        self.exchange.mark_all(self.clock.now_ns())
        self._send_pnl_single(session, req.req_id, req.account, inst)

    # --------------------------------------------------------------------------------------------------- pump
    async def _pump_loop(self) -> None:
        interval = self.config.pump_interval_s
        while True:
            await asyncio.sleep(interval)
            try:
                self.pump()
            except Exception:  # keep following the clock whatever happens
                log.exception("gateway pump failed")

    def pump(self) -> None:
        """Follow the clock: advance a self-driven replay clock, match orders, stream market data."""
        step = self.config.auto_advance_ns
        if step:
            advance = getattr(self.clock, "advance_to", None)
            if advance is not None:
                advance(self.clock.now_ns() + step)
        now = self.clock.now_ns()
        self.pumps += 1
        if not self.connectivity_ok:
            return
        self.exchange.advance(now)
        market = self.universe.market
        quotes: dict[int, object] = {}
        for s in self.ready_sessions():
            for sub in list(s.ticks.values()):
                q = quotes.get(sub.inst.con_id)
                if q is None:
                    q = quotes[sub.inst.con_id] = market.quote(sub.inst, now) or False
                if q:
                    sub.emit(q, s.send_market)  # type: ignore[arg-type]
            for bar_sub in list(s.rt_bars.values()):
                bar_sub.emit(now, s.send_market)
            for hist in list(s.histories.values()):
                hist.emit(now, s.send_market)

    # ------------------------------------------------------------------------------------------------- faults
    def drop_connections(self) -> int:
        """Abort every client connection; returns how many were dropped."""
        n = len(self.connections)
        for s in list(self.connections):
            s.abort()
        return n

    async def refuse_connections(self, seconds: float) -> None:
        """Close the listening socket for ``seconds`` (clients get "connection refused"), then listen again."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self.faults.refusing_until = time.monotonic() + seconds
        loop = asyncio.get_running_loop()
        if self._reopen is not None:
            self._reopen.cancel()
        self._reopen = loop.call_later(seconds, lambda: loop.create_task(self._reopen_listener()))

    async def _reopen_listener(self) -> None:
        self._reopen = None
        if self._stopping or self._server is not None:
            return
        for _ in range(50):
            try:
                await self._listen(self.port)
                return
            except OSError:
                await asyncio.sleep(0.1)
        log.error("could not listen again on port %d", self.port)

    def connectivity_lost(self) -> None:
        """Error 1100 to every client; market data and matching pause."""
        self.faults.connectivity_lost = True
        for s in self.ready_sessions():
            s.send(msg.error(NO_ID, Code.CONNECTIVITY_LOST, "Connectivity between IB and Trader Workstation has "
                             "been lost."))

    def connectivity_restored(self, data_lost: bool) -> None:
        """1101 (market data subscriptions dropped: clients must resubscribe) or 1102 (data maintained)."""
        self.faults.connectivity_lost = False
        for s in self.ready_sessions():
            if data_lost:
                s.ticks.clear()
                s.rt_bars.clear()
                s.histories.clear()
                s.send(msg.error(NO_ID, Code.RESTORED_DATA_LOST, "Connectivity between IB and Trader Workstation "
                                 "has been restored - data lost."))
            else:
                s.send(msg.error(NO_ID, Code.RESTORED_DATA_KEPT, "Connectivity between IB and Trader Workstation "
                                 "has been restored - data maintained."))
            for code, text in self.farm_notices():
                s.send(msg.error(NO_ID, code, text))

    def reject_next_order(self, reason: str = "simulated rejection (fault injection)") -> None:
        self.exchange.reject_next = reason

    def force_pacing_violation(self, count: int = 1) -> None:
        self.pacer.force_next += count

    def delay_messages(self, seconds: float) -> None:
        self.faults.message_delay_s = max(seconds, 0.0)

    async def restart(self, downtime_s: float = 1.0) -> None:
        """Drop every client, refuse connections for ``downtime_s``, then come back with the state kept.

        With a state file the exchange is rebuilt from the file, exactly as after a process restart.
        """
        self.save()
        self.drop_connections()
        await self.refuse_connections(downtime_s)
        if self.config.state_file and Path(self.config.state_file).exists():
            fresh = Exchange(self.universe.book, self.universe.market, self.config.accounts, self,
                             self.config.starting_cash, self.exchange.matcher.slippage,
                             self.exchange.matcher.commission, self.config.time_zone)
            fresh.master_client_id = self.config.master_client_id
            fresh.on_execution = self._on_execution
            fresh.on_actions = self.save
            fresh.on_order_change = self.save if self.config.state_file else None
            load_state(fresh, Path(self.config.state_file))
            self.exchange = fresh


