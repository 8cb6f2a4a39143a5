"""The adapter's inbound side: each IB message (a typed :class:`MessageListener` call) to the part that owns it.

Requests with an id (contract details, executions, history) complete in the request registry; order messages go to
the order tracker, account and position messages to the account state, ticks to the market data book, errors to
the line, request or order they name; ``currentTime`` answers release round trips and sync the broker clock.
Everything runs on ibapi's message thread and only records, completes futures or emits events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from runtime.brokers.ib.account import AccountState
from runtime.brokers.ib.broker_clock import RoundTrips
from runtime.brokers.ib.compat import ErrorArgs
from runtime.brokers.ib.events import IBNotice
from runtime.brokers.ib.listener import MessageListener
from runtime.brokers.ib.orders import OrderTracker
from runtime.brokers.ib.quotes import MarketDataService
from runtime.brokers.ib.reconcile import COMPLETED_ORDERS_ID, OPEN_ORDERS_ID, POSITIONS_ID
from runtime.brokers.ib.records import (
    BarInfo,
    CommissionInfo,
    ExecutionInfo,
    OpenOrderInfo,
    OrderStatusInfo,
    PositionInfo,
)
from runtime.brokers.ib.requests import RequestRegistry
from runtime.core.ib.contracts import ContractFacts
from runtime.core.ib.errors import ErrorKind, error_info
from runtime.core.ib.time import parse_ib_time

if TYPE_CHECKING:
    from runtime.brokers.ib.worker import Worker

log = logging.getLogger("runtime.brokers.ib.broker")

#: the registry id of the account download (reqAccountUpdates answers with no request id)
ACCOUNT_ID = -104


class Inbound(MessageListener):
    """Routes IB's messages (see the module docstring)."""

    def __init__(self, registry: RequestRegistry, orders: OrderTracker, account_state: AccountState,
                 market: MarketDataService, round_trips: RoundTrips, *, now_ns: Callable[[], int],
                 time_zone: Callable[[], str], worker: Callable[[], Worker], commission_wait_s: float,
                 emit: Callable[[object], None]) -> None:
        self.registry = registry
        self.orders = orders
        self.account_state = account_state
        self.market = market
        self.round_trips = round_trips
        self._now = now_ns
        self._time_zone = time_zone
        self._worker = worker
        self._commission_wait_s = commission_wait_s
        self._emit = emit

    # ------------------------------------------------------------------------------------------ general
    def error(self, err: ErrorArgs) -> None:
        code, rid, text = err.code, err.req_id, err.text
        now = self._now()
        info = error_info(code)
        informational = info.kind in (ErrorKind.INFO, ErrorKind.WARNING)
        asset = self.market.book.asset_of(rid) if rid >= 0 else None
        if asset is not None:
            self.market.on_error(asset, rid, code, text, now)
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

    def request_end(self, req_id: int) -> None:
        self.registry.finish(req_id)

    def current_time(self, epoch_s: int) -> None:
        self.round_trips.answered(epoch_s)

    def contract_details(self, req_id: int, facts: ContractFacts) -> None:
        self.registry.add_row(req_id, facts)

    def bar(self, req_id: int, bar: BarInfo) -> None:
        self.registry.add_row(req_id, bar)

    # ------------------------------------------------------------------------------------------- orders
    def open_order(self, info: OpenOrderInfo) -> None:
        self.orders.on_open_order(info, self._now())
        self.registry.add_row(OPEN_ORDERS_ID, info)

    def open_order_end(self) -> None:
        self.registry.finish(OPEN_ORDERS_ID)

    def completed_order(self, info: OpenOrderInfo) -> None:
        self.registry.add_row(COMPLETED_ORDERS_ID, info)

    def completed_orders_end(self) -> None:
        self.registry.finish(COMPLETED_ORDERS_ID)

    def order_status(self, info: OrderStatusInfo) -> None:
        self.orders.on_status(info, self._now())

    def execution(self, info: ExecutionInfo) -> None:
        try:
            t = parse_ib_time(info.time_text, self._time_zone())
        except (ValueError, TypeError):
            t = self._now()
        new_fill_waiting = self.orders.on_execution(info, t, time.monotonic())
        if info.req_id >= 0:
            self.registry.add_row(info.req_id, info)
        if new_fill_waiting:
            self._worker().call_later(self._commission_wait_s + 0.01, self.flush_fills)

    def commission(self, info: CommissionInfo) -> None:
        self.orders.on_commission(info, self._now())

    def flush_fills(self) -> None:
        """Fills whose commission is overdue go out (with 0.0)."""
        self.orders.flush_due(time.monotonic())

    # -------------------------------------------------------------------------------- account, positions
    def account_value(self, key: str, value: str, currency: str, account: str) -> None:
        self.account_state.on_value(key, value, currency, account)

    def account_summary(self, account: str, tag: str, value: str, currency: str) -> None:
        self.account_state.on_value(tag, value, currency, account)

    def portfolio(self, info: PositionInfo) -> None:
        self.account_state.on_portfolio(info)

    def account_download_end(self, account: str) -> None:
        self.account_state.downloaded.set()
        self.registry.finish(ACCOUNT_ID)

    def position(self, info: PositionInfo) -> None:
        self.account_state.on_position(info)
        self.registry.add_row(POSITIONS_ID, info)

    def position_end(self) -> None:
        self.account_state.positions_loaded.set()
        self.registry.finish(POSITIONS_ID)

    # -------------------------------------------------------------------------------------- market data
    def tick(self, req_id: int, tick_type: int, value: float | None) -> None:
        self.market.book.on_tick(req_id, tick_type, value, self._now())

    def tick_string(self, req_id: int, tick_type: int, value: str) -> None:
        self.market.book.on_tick_string(req_id, tick_type, value)
