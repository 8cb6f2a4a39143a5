"""Order requests: placing (and modifying), cancelling, open and completed orders, executions.

The order lifecycle itself is the exchange's (runtime/gateway/exchange.py); this area turns requests into its
calls and its records into replies.
"""

from __future__ import annotations

import contextlib

from runtime.gateway import requests as rq
from runtime.gateway import responses as msg
from runtime.gateway.connection import ClientConnection, Route
from runtime.gateway.handlers.base import Desk
from runtime.gateway.history import HistoryRequestError, parse_end
from runtime.gateway.ids import In
from runtime.gateway.order_wire import decode_place_order
from runtime.gateway.tickets import OrderTicket


class OrderHandlers:
    """placeOrder, cancelOrder, reqGlobalCancel, reqOpenOrders/reqAllOpenOrders/reqAutoOpenOrders,
    reqExecutions, reqCompletedOrders."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        #: connections that asked for reqAutoOpenOrders(True) (recorded; TWS binds manual orders to them)
        self.auto_open: set[ClientConnection] = set()

    def routes(self) -> dict[int, Route]:
        return {
            In.PLACE_ORDER: Route(decode_place_order, self.place),
            In.CANCEL_ORDER: Route(rq.cancel_order, self.cancel),
            In.REQ_GLOBAL_CANCEL: Route(rq.no_arguments, self.global_cancel),
            In.REQ_OPEN_ORDERS: Route(rq.no_arguments, self.open_orders),
            In.REQ_ALL_OPEN_ORDERS: Route(rq.no_arguments, self.all_open_orders),
            In.REQ_AUTO_OPEN_ORDERS: Route(rq.req_auto_open_orders, self.auto_open_orders),
            In.REQ_EXECUTIONS: Route(rq.req_executions, self.executions),
            In.REQ_COMPLETED_ORDERS: Route(rq.req_completed_orders, self.completed_orders),
        }

    def drop(self, conn: ClientConnection) -> None:
        self.auto_open.discard(conn)

    # ------------------------------------------------------------------------------------------------ placing
    def place(self, conn: ClientConnection, ticket: OrderTicket) -> None:
        if ticket.contract.sec_type == "OPT" or ticket.contract.con_id > 0:  # list the option chains it may name
            self.desk.universe.options.register(ticket.contract, self.desk.now_ns())
        self.desk.exchange.place(conn.order_client_id, ticket, self.desk.now_ns())
        self.desk.save()

    def cancel(self, conn: ClientConnection, req: rq.CancelOrderRequest) -> None:
        self.desk.exchange.cancel(conn.order_client_id, req.order_id, self.desk.now_ns())
        self.desk.save()

    def global_cancel(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        self.desk.exchange.global_cancel(self.desk.now_ns())
        self.desk.save()

    # ------------------------------------------------------------------------------------------------ queries
    def open_orders(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        cid = conn.order_client_id
        self._send_open_orders(conn, cid if cid != 0 else None)

    def all_open_orders(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        self._send_open_orders(conn, None)

    def auto_open_orders(self, conn: ClientConnection, req: rq.AutoOpenOrdersRequest) -> None:
        if req.auto_bind:
            self.auto_open.add(conn)
        else:
            self.auto_open.discard(conn)

    def _send_open_orders(self, conn: ClientConnection, client_id: int | None) -> None:
        ex = self.desk.exchange
        for rec in ex.open_orders(client_id):
            conn.send(ex.open_order_message(rec))
            conn.send(ex.status_message(rec))
        conn.send(msg.open_order_end())

    def executions(self, conn: ClientConnection, f: rq.ExecutionFilterRequest) -> None:
        ex = self.desk.exchange
        now, tz = self.desk.now_ns(), self.desk.config.time_zone
        since = None
        if f.time:
            with contextlib.suppress(HistoryRequestError):
                since = parse_end(f.time, now, tz) if "-" not in f.time else parse_end(f.time, now, "UTC")
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
            conn.send(ex.exec_message(e, f.req_id))
            conn.send(ex.commission_message(e))
        conn.send(msg.exec_details_end(f.req_id))

    def completed_orders(self, conn: ClientConnection, req: rq.CompletedOrdersRequest) -> None:
        for rec in self.desk.exchange.completed():
            conn.send(self.desk.exchange.completed_message(rec))
        conn.send(msg.completed_orders_end())
