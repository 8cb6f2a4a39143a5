"""Reconciliation after a connect, a reconnect or 1101/1102: what the broker has, as one typed report.

The reconciler asks TWS for this run's open orders (by ``orderRef``), its completed orders (server 150+), the
executions since a given time and every position, and reports them as a
:class:`~runtime.brokers.ib.events.ReconcileReport`. It decides nothing for the algorithm: executions missed while
away go out as Fills through the order tracker (deduplicated by execId), orders the broker no longer works are
listed as :class:`~runtime.brokers.ib.events.MissingOrder` facts, and the live session decides what to do with
them and with the positions.

The executions asked for after a loss start before the first loss not yet reconciled AND before the sending of
every order still open here: a loss is often noticed late (a stalled link, a replay clock that moved on), and an
order may have executed before it was noticed. When completed orders still show more filled than was booked, all
executions TWS has are asked for once more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from runtime.brokers.ib.account import AccountState
from runtime.brokers.ib.connection import ConnectionConfig, IBConnection
from runtime.brokers.ib.contracts import ContractResolver
from runtime.brokers.ib.events import PositionRecord, ReconcileReport
from runtime.brokers.ib.ibobjects import make_execution_filter
from runtime.brokers.ib.orders import OrderTracker
from runtime.brokers.ib.records import OpenOrderInfo, PositionInfo
from runtime.brokers.ib.requests import RequestRegistry
from runtime.core.ib.orders import parse_order_ref

log = logging.getLogger("runtime.brokers.ib.broker")

# ids of the answers that carry no request id (one of each may be outstanding)
OPEN_ORDERS_ID = -101
COMPLETED_ORDERS_ID = -102
POSITIONS_ID = -103
MIN_SERVER_VER_COMPLETED_ORDERS = 150
#: how far before a connection loss executions are asked for again (clocks and IB's filter are coarse)
EXECUTION_LOOKBACK_NS = 10 * 60 * 1_000_000_000


class Reconciler:
    """Reconciliation of one run's orders, executions and positions (see the module docstring)."""

    def __init__(self, run_id: str, config: ConnectionConfig, conn: IBConnection, registry: RequestRegistry,
                 orders: OrderTracker, account_state: AccountState, contracts: ContractResolver,
                 now_ns: Callable[[], int], emit: Callable[[object], None], since_ns: int | None = None) -> None:
        self.run_id = run_id
        self.config = config
        self.conn = conn
        self.registry = registry
        self.orders = orders
        self.account_state = account_state
        self.contracts = contracts
        self._now = now_ns
        self._emit = emit
        self.since_ns = since_ns  # the first connection's executions start here (None: all)
        self._lock = threading.Lock()
        self._loss_lock = threading.Lock()
        self._lost_at_ns: int | None = None  # the first loss not yet followed by a complete reconciliation
        self._losses = 0
        self.last_report: ReconcileReport | None = None
        #: set after each reconciliation (tests and the run command wait on it)
        self.done = threading.Event()

    def lost(self, now_ns: int) -> None:
        """The connection (or TWS's link to IB) was lost at ``now_ns``."""
        with self._loss_lock:
            self._losses += 1
            if self._lost_at_ns is None:
                self._lost_at_ns = now_ns

    def executions_since(self) -> int | None:
        """Where the executions asked for after a loss start (see the module docstring); None: all of them."""
        any_open, oldest_sent = self.orders.executions_needed_since()
        if any_open and oldest_sent is None:
            return self.since_ns
        starts = [t for t in (self._lost_at_ns, oldest_sent) if t is not None]
        return min(starts) - EXECUTION_LOOKBACK_NS if starts else self.since_ns

    def is_ours(self, ref: str) -> bool:
        parsed = parse_order_ref(ref)
        return parsed is not None and parsed[0] == self.run_id

    def reconcile(self, since_ns: int | None = None) -> ReconcileReport:
        """Open orders (by orderRef), executions since ``since_ns`` (None: all) and positions, as one report
        (emitted after the Fills it recovered, and returned)."""
        with self._lock:
            with self._loss_lock:
                losses, lost_at = self._losses, self._lost_at_ns
            timeout = self.config.request_timeout_s
            client = self.conn.require("reconciliation")
            rid, fut = self.registry.open("open orders", req_id=OPEN_ORDERS_ID)
            client.reqAllOpenOrders()
            open_rows: list[OpenOrderInfo] = self.registry.wait(rid, fut, timeout, "open orders")
            ours_open = {i.ib_order_id for i in open_rows if self.is_ours(i.order_ref)}
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
            missing = self.orders.close_missing(ours_open, completed)
            working = self.orders.working(ours_open)
            self.account_state.clear_positions()
            rid, fut = self.registry.open("positions", req_id=POSITIONS_ID)
            client.reqPositions()
            positions: list[PositionInfo] = self.registry.wait(rid, fut, timeout, "positions")
            records = tuple(PositionRecord(self.contracts.asset_for(p.contract), p.account, p.position, p.avg_cost)
                            for p in positions if p.position)
            report = ReconcileReport(self._now(), tuple(working), tuple(missing), recovered, tuple(unbooked), records)
            with self._loss_lock:
                covered = since_ns is None or lost_at is None or since_ns <= lost_at - EXECUTION_LOOKBACK_NS
                if covered and self._losses == losses:
                    self._lost_at_ns = None
            self._emit(report)
            self.last_report = report
            self.done.set()
            return report

    def _request_executions(self, client: Any, since_ns: int | None, timeout: float) -> None:
        rid, fut = self.registry.open("executions")
        client.reqExecutions(rid, make_execution_filter(0, self.conn.account, since_ns))
        self.registry.wait(rid, fut, timeout, "executions")
