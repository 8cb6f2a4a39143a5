"""The simulated IB Gateway: an asyncio TCP server speaking the TWS protocol at server version 157.

:class:`Gateway` owns the listening socket, the client connections (runtime/gateway/connection.py), the exchange
(orders, accounts), the market (prices) and the request handlers of each area (runtime/gateway/handlers/). It
follows the clock (the pump) and carries the fault switches. It runs on one asyncio event loop; use
:class:`runtime.gateway.runner.GatewayThread` to run it in a background thread of another program, or
``ibalgo gateway`` (:func:`runtime.gateway.cli.run_gateway`) from a shell.

Calls point one way: the server builds connections and handlers; a connection decodes frames and hands typed
requests to the handlers through its route table; the handlers answer through the connection and the shared
:class:`~runtime.gateway.handlers.base.Desk`. A connection tells the server only that it opened, started or closed
(:class:`~runtime.gateway.connection.ConnectionHost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

import pandas as pd

from runtime.core.costs import CommissionModel, SlippageModel
from runtime.core.ib.account import mask_accounts
from runtime.gateway import responses as msg
from runtime.gateway.config import LOOPBACK, GatewayClock, GatewayConfig, SystemClock
from runtime.gateway.connection import ClientConnection, ClientTable, ConnectionLimits, Route
from runtime.gateway.contracts import Instrument
from runtime.gateway.exchange import Exchange, Execution
from runtime.gateway.faults import FaultState
from runtime.gateway.handlers.account import AccountHandlers
from runtime.gateway.handlers.base import Desk
from runtime.gateway.handlers.history import HistoryHandlers
from runtime.gateway.handlers.market_data import MarketDataHandlers
from runtime.gateway.handlers.options import OptionHandlers
from runtime.gateway.handlers.orders import OrderHandlers
from runtime.gateway.handlers.reference import ReferenceHandlers
from runtime.gateway.handlers.scanners import ScannerHandlers
from runtime.gateway.ids import NO_ID, Code
from runtime.gateway.market import MarketQuote
from runtime.gateway.pacing import HistoryPacingRules
from runtime.gateway.state import load_state, save_state
from runtime.gateway.universe import Universe, sample_universe

log = logging.getLogger(__name__)


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
        self.clock: GatewayClock = clock or SystemClock()
        self.universe = universe or sample_universe(self.clock.now_ns())
        self.pacer = HistoryPacingRules(self.config.pacing)
        self.faults = FaultState()
        self.table = ClientTable()
        self.port = self.config.port
        self._server: asyncio.base_events.Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._drop_task: asyncio.Task[None] | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._stopping = False
        self.pumps = 0
        self.desk = Desk(self.config, self.clock, self.universe, self._new_exchange(slippage, commission),
                         self.pacer, self.faults, self.table, self.save)
        if self.config.state_file:
            path = Path(self.config.state_file)
            if path.exists():
                load_state(self.exchange, path)
        plan = self.config.faults
        self.faults.message_delay_s = plan.message_delay_s
        if plan.reject_first_order:
            self.exchange.reject_next = "simulated rejection (fault injection)"
        self.pacer.force_next = plan.pacing_violations
        self.reference = ReferenceHandlers(self.desk)
        self.orders = OrderHandlers(self.desk)
        self.market_data = MarketDataHandlers(self.desk)
        self.history = HistoryHandlers(self.desk)
        self.account = AccountHandlers(self.desk)
        self.scanners = ScannerHandlers(self.desk)
        self.options = OptionHandlers(self.desk)
        self.routes: dict[int, Route] = {}
        for area in (self.reference, self.market_data, self.history, self.orders, self.account, self.scanners,
                     self.options):
            self.routes.update(area.routes())
        self._limits = ConnectionLimits(self.config.max_frame, self.config.soft_send_buffer,
                                        self.config.max_send_buffer, self.config.max_messages_per_second)

    def _new_exchange(self, slippage: SlippageModel | None, commission: CommissionModel | None) -> Exchange:
        ex = Exchange(self.universe.book, self.universe.market, self.config.accounts, self, self.config.starting_cash,
                      slippage, commission, self.config.time_zone)
        ex.master_client_id = self.config.master_client_id
        ex.on_execution = self._on_execution
        ex.on_actions = self.save
        ex.on_order_change = self.save if self.config.state_file else None
        return ex

    @property
    def exchange(self) -> Exchange:
        return self.desk.exchange

    @property
    def connections(self) -> set[ClientConnection]:
        """Every open client connection (started or not)."""
        return self.table.connections

    @property
    def clients(self) -> dict[int, ClientConnection]:
        """The started connections by client id."""
        return self.table.by_id

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

    def _new_connection(self) -> ClientConnection:
        return ClientConnection(self, self.routes, self._limits, self.faults)

    async def _listen(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_connection, self.config.host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and the listening socket; save the state file."""
        self._stopping = True
        if self._reopen is not None:
            self._reopen.cancel()
        self.account.stop()
        for task in (self._pump_task, self._drop_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for conn in self.table:
            conn.abort()
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

    # ------------------------------------------------------------------------------- connections (ConnectionHost)
    def connection_opened(self, conn: ClientConnection) -> None:
        self.table.opened(conn)

    def connection_closed(self, conn: ClientConnection) -> None:
        self.table.closed(conn)
        self.orders.drop(conn)
        self.market_data.drop(conn)
        self.history.drop(conn)
        self.account.drop(conn)
        self.scanners.drop(conn)

    def claim_client_id(self, conn: ClientConnection, client_id: int) -> bool:
        return self.table.claim(conn, client_id)

    def probe_client(self, client_id: int) -> None:
        """Send the holder of ``client_id`` a harmless notice (it shows whether the connection is still alive)."""
        other = self.table.get(client_id)
        if other is not None:
            other.send(msg.error(NO_ID, Code.MARKET_FARM_OK, "Market data farm connection is OK:usfarm"))

    def client_started(self, conn: ClientConnection) -> None:
        """After startApi: managedAccounts, nextValidId and the farm notices (or 1100 while connectivity is lost)."""
        conn.send(msg.managed_accounts(self.config.accounts))
        conn.send(msg.next_valid_id(self.exchange.next_order_id))
        if self.connectivity_ok:
            for code, text in self.farm_notices():
                conn.send(msg.error(NO_ID, code, text))
        else:
            conn.send(msg.error(NO_ID, Code.CONNECTIVITY_LOST, "Connectivity between IB and Trader Workstation "
                                "has been lost."))

    def connection_time_text(self) -> str:
        local = pd.Timestamp(self.clock.now_ns(), tz="UTC").tz_convert(self.config.time_zone)
        return f"{local:%Y%m%d %H:%M:%S} {local.tzname()}"

    def ready_connections(self) -> list[ClientConnection]:
        return self.table.ready()

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
        conn = self.table.get(client_id)
        if conn is not None and conn.ready:
            conn.send(data)

    def account_changed(self, account: str, inst: Instrument | None) -> None:
        self.account.account_changed(account, inst)

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
        quotes: dict[int, MarketQuote | None] = {}
        ready = self.table.ready()
        for conn in ready:
            self.market_data.pump(conn, now, quotes)
            self.history.pump(conn, now)
            self.scanners.pump(conn, now)
        self.account.pump(ready, now)

    # ------------------------------------------------------------------------------------------------- faults
    def drop_connections(self) -> int:
        """Abort every client connection; returns how many were dropped."""
        n = len(self.table)
        for conn in self.table:
            conn.abort()
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
        for conn in self.table.ready():
            conn.send(msg.error(NO_ID, Code.CONNECTIVITY_LOST, "Connectivity between IB and Trader Workstation has "
                                "been lost."))

    def connectivity_restored(self, data_lost: bool) -> None:
        """1101 (market data subscriptions dropped: clients must resubscribe) or 1102 (data maintained)."""
        self.faults.connectivity_lost = False
        for conn in self.table.ready():
            if data_lost:
                self.market_data.drop_streams(conn)
                self.history.drop_streams(conn)
                conn.send(msg.error(NO_ID, Code.RESTORED_DATA_LOST, "Connectivity between IB and Trader Workstation "
                                    "has been restored - data lost."))
            else:
                conn.send(msg.error(NO_ID, Code.RESTORED_DATA_KEPT, "Connectivity between IB and Trader Workstation "
                                    "has been restored - data maintained."))
            for code, text in self.farm_notices():
                conn.send(msg.error(NO_ID, code, text))

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
            old = self.exchange
            fresh = self._new_exchange(old.matcher.slippage, old.matcher.commission)
            load_state(fresh, Path(self.config.state_file))
            self.desk.exchange = fresh


__all__ = ["Gateway", "GatewayClock", "GatewayConfig"]
