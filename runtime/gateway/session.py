"""One client connection: handshake, framing, request dispatch and the client's subscriptions.

The session is an :class:`asyncio.Protocol`; everything runs on the gateway's event loop. A broken message gets an
error 321 and the connection goes on; a broken stream (bad handshake, oversized length prefix) closes only this
connection. Outgoing data is bounded: market data is dropped while the client's socket buffer is above a soft limit
and a client that stops reading altogether is disconnected at a hard limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from runtime.gateway import requests as rq
from runtime.gateway import responses as msg
from runtime.gateway.ids import NO_ID, Code, In
from runtime.gateway.order_wire import decode_place_order
from runtime.gateway.protocol import FieldError, FrameReader, ProtocolError, parse_hello, split_fields
from runtime.gateway.subscriptions import BarSubscription, HistorySubscription, TickSubscription

if TYPE_CHECKING:
    from runtime.gateway.gateway import Gateway

log = logging.getLogger(__name__)
CLAIM_RETRIES = 30
CLAIM_RETRY_S = 0.05


class ClientSession(asyncio.Protocol):
    """The gateway's side of one API client connection."""

    HELLO, STARTING, READY, CLOSED = range(4)

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.state = self.HELLO
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.version = 0
        self.client_id: int | None = None
        self._hello = bytearray()
        self._frames = FrameReader(gateway.config.max_frame)
        self._delayed: deque[tuple[float, bytes]] = deque()
        self._delay_handle: asyncio.TimerHandle | None = None
        self._rate: deque[float] = deque()
        self._rate_warned = 0.0
        self.dropped_messages = 0
        self.sent_messages = 0
        self._out: list[bytes] = []  # this loop iteration's messages, written together by flush()
        self._out_bytes = 0
        self._flush_scheduled = False
        # subscriptions
        self.md_type = 1
        self.md_type_requested = False
        self.ticks: dict[int, TickSubscription] = {}
        self.rt_bars: dict[int, BarSubscription] = {}
        self.histories: dict[int, HistorySubscription] = {}
        self.account_sub: str | None = None
        self.positions_sub = False
        self.account_values_sent: dict[tuple[str, str], str] = {}  # (key, currency) -> value last sent
        self.summary_subs: dict[int, str] = {}
        self.multi_subs: dict[int, tuple[str, str, bool]] = {}
        self.positions_multi_subs: dict[int, str] = {}
        self.pnl_subs: dict[int, str] = {}
        self.pnl_single_subs: dict[int, tuple[str, int]] = {}
        self.auto_open_orders = False

    # -------------------------------------------------------------------------------------------- transport
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.gw.connections.add(self)
        log.debug("connection from %s", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = self.CLOSED
        if self._delay_handle is not None:
            self._delay_handle.cancel()
        self._delayed.clear()
        self._drop_batch()
        self.gw.session_closed(self)
        log.debug("connection %s (client %s) closed", self.peer, self.client_id)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.flush()
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection at once (no flushing), as a crashed or restarted gateway would."""
        self._drop_batch()
        if self.transport is not None:
            self.transport.abort()

    @property
    def ready(self) -> bool:
        return self.state == self.READY

    def send(self, data: bytes) -> None:
        """Queue one framed message to the client (subject to the delay fault and the buffer limits)."""
        t = self.transport
        if t is None or t.is_closing():
            return
        delay = self.gw.faults.message_delay_s
        if delay > 0 or self._delayed:
            self._delayed.append((time.monotonic() + delay, data))
            if self._delay_handle is None:
                self._schedule_delayed()
            return
        self._write(data)

    def send_market(self, data: bytes) -> None:
        """Send market data, dropping it while the client does not keep up (the soft buffer limit)."""
        if self.transport is not None and self.buffered_bytes() > self.gw.config.soft_send_buffer:
            self.dropped_messages += 1
            return
        self.send(data)

    def buffered_bytes(self) -> int:
        """Bytes written but not yet taken by the client (this loop iteration's batch and the transport's buffer)."""
        t = self.transport
        return self._out_bytes + (t.get_write_buffer_size() if t is not None else 0)

    def _write(self, data: bytes) -> None:
        """Add one message to this loop iteration's batch; the batch goes out in one socket write.

        Everything a request causes (an order's openOrder, orderStatus, execDetails, commissionReport and the
        account updates) thus reaches the client in one piece, as from TWS, instead of one system call and one
        reader wake-up per message."""
        t = self.transport
        if t is None or t.is_closing():
            return
        self._out.append(data)
        self._out_bytes += len(data)
        self.sent_messages += 1
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)
        if self.buffered_bytes() > self.gw.config.max_send_buffer:
            log.warning("client %s (%s) does not read its messages: disconnecting it", self.client_id, self.peer)
            self._drop_batch()
            t.abort()

    def flush(self) -> None:
        """Write the batched messages to the socket now."""
        self._flush_scheduled = False
        if not self._out:
            return
        data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
        self._drop_batch()
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(data)

    def _drop_batch(self) -> None:
        self._out.clear()
        self._out_bytes = 0

    def _schedule_delayed(self) -> None:
        loop = asyncio.get_running_loop()
        due = self._delayed[0][0]
        self._delay_handle = loop.call_later(max(due - time.monotonic(), 0.0), self._flush_delayed)

    def _flush_delayed(self) -> None:
        self._delay_handle = None
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            self._write(self._delayed.popleft()[1])
        if self._delayed:
            self._schedule_delayed()

    # ------------------------------------------------------------------------------------------------ input
    def data_received(self, data: bytes) -> None:
        try:
            if self.state == self.HELLO:
                self._hello += data
                hello, used = parse_hello(self._hello)
                if hello is None:
                    if len(self._hello) > 4096:
                        raise ProtocolError("handshake too long")
                    return
                version = hello.negotiate()
                if version is None:
                    log.info("client %s wants versions %d..%d: closing", self.peer, hello.min_version,
                             hello.max_version)
                    self.close()
                    return
                self.version = version
                rest = bytes(self._hello[used:])
                self._hello = bytearray()
                self.state = self.STARTING
                self._write(msg.server_hello(version, self.gw.connection_time_text()))
                data = rest
                if not data:
                    return
            for frame in self._frames.feed(data):
                if self.state == self.CLOSED:
                    return
                self._on_frame(frame)
        except ProtocolError as exc:
            log.info("closing %s: %s", self.peer, exc)
            self.abort()

    def _on_frame(self, frame: bytes) -> None:
        fields = split_fields(frame)
        if not fields:
            return
        try:
            msg_id = int(fields[0])
        except ValueError:
            self.send(msg.error(NO_ID, Code.VALIDATION, f"Error validating request:-'message id' : cause - "
                                f"not a number: {fields[0][:20]!r}"))
            return
        if self.state == self.STARTING:
            if msg_id == In.START_API:
                self._start_api(fields)
            return
        self._count_rate()
        handler = _HANDLERS.get(msg_id)
        if handler is None:
            self.send(msg.error(NO_ID, Code.VALIDATION, f"Error validating request:-'message id' : cause - "
                                f"unsupported message id {msg_id}"))
            return
        try:
            handler(self, fields)
        except FieldError as exc:
            self.send(msg.error(_guess_id(fields), Code.VALIDATION, f"Error validating request:-'{msg_id}' : "
                                f"cause - {exc}"))
        except Exception as exc:  # a bug must never take the gateway down
            log.exception("handling message %s from client %s failed", msg_id, self.client_id)
            self.send(msg.error(_guess_id(fields), Code.VALIDATION, f"Error processing request {msg_id}: "
                                f"{type(exc).__name__}: {exc}"))

    def _count_rate(self) -> None:
        limit = self.gw.config.max_messages_per_second
        if not limit:
            return
        now = time.monotonic()
        rate = self._rate
        rate.append(now)
        while rate and now - rate[0] > 1.0:
            rate.popleft()
        if len(rate) > limit and now - self._rate_warned > 1.0:
            self._rate_warned = now
            self.send(msg.error(NO_ID, Code.MAX_RATE, f"Max rate of messages per second has been exceeded:max="
                                f"{limit} rec={len(rate)} (1)"))

    # ------------------------------------------------------------------------------------------- handshake
    def _start_api(self, fields: list[str], attempt: int = 0) -> None:
        try:
            start = rq.start_api(fields)
        except FieldError:
            self.abort()
            return
        if self.state != self.STARTING:
            return
        if not self.gw.claim_client_id(self, start.client_id):
            if attempt < CLAIM_RETRIES:
                # A client that reconnects at once may beat the news of its old connection's end. ibapi's
                # disconnect() closes the socket while its reader thread still waits in recv(), so the old
                # connection only really ends once it receives something: send it a harmless notice, look again.
                if attempt == 0:
                    self.gw.probe_client(start.client_id)
                asyncio.get_running_loop().call_later(CLAIM_RETRY_S, self._start_api, fields, attempt + 1)
                return
            self.send(msg.error(NO_ID, Code.CLIENT_ID_IN_USE, "Unable to connect as the client id is already in "
                                "use. Retry with a unique client id."))
            self.close()
            return
        self.client_id = start.client_id
        self.state = self.READY
        gw = self.gw
        self.send(msg.managed_accounts(gw.config.accounts))
        self.send(msg.next_valid_id(gw.exchange.next_order_id))
        if gw.connectivity_ok:
            for code, text in gw.farm_notices():
                self.send(msg.error(NO_ID, code, text))
        else:
            self.send(msg.error(NO_ID, Code.CONNECTIVITY_LOST, "Connectivity between IB and Trader Workstation "
                                "has been lost."))

    # --------------------------------------------------------------------------------------------- handlers
    def h_req_ids(self, fields: list[str]) -> None:
        rq.req_ids(fields)
        self.send(msg.next_valid_id(self.gw.exchange.next_order_id))

    def h_current_time(self, fields: list[str]) -> None:
        self.send(msg.current_time(self.gw.clock.now_ns() // 1_000_000_000))

    def h_managed_accounts(self, fields: list[str]) -> None:
        self.send(msg.managed_accounts(self.gw.config.accounts))

    def h_ignore(self, fields: list[str]) -> None:
        return None

    def h_contract_details(self, fields: list[str]) -> None:
        self.gw.contract_details(self, rq.req_contract_details(fields))

    def h_market_rule(self, fields: list[str]) -> None:
        rule = rq.req_market_rule(fields)
        self.send(msg.market_rule(rule, [(0.0, 0.01)] if rule == 26 else [(0.0, 0.25)]))

    def h_mkt_data(self, fields: list[str]) -> None:
        self.gw.market_data(self, rq.req_mkt_data(fields))

    def h_cancel_mkt_data(self, fields: list[str]) -> None:
        self.ticks.pop(rq.cancel_by_req_id(fields), None)

    def h_market_data_type(self, fields: list[str]) -> None:
        self.md_type = rq.req_market_data_type(fields)
        self.md_type_requested = True

    def h_historical(self, fields: list[str]) -> None:
        self.gw.historical_data(self, rq.req_historical_data(fields))

    def h_cancel_historical(self, fields: list[str]) -> None:
        req_id = rq.cancel_by_req_id(fields)
        if self.histories.pop(req_id, None) is not None:
            self.gw.pacer.open_requests = max(self.gw.pacer.open_requests - 1, 0)

    def h_head_timestamp(self, fields: list[str]) -> None:
        self.gw.head_timestamp(self, rq.req_head_timestamp(fields))

    def h_real_time_bars(self, fields: list[str]) -> None:
        self.gw.real_time_bars(self, rq.req_real_time_bars(fields))

    def h_cancel_real_time_bars(self, fields: list[str]) -> None:
        self.rt_bars.pop(rq.cancel_by_req_id(fields), None)

    def h_place_order(self, fields: list[str]) -> None:
        ticket = decode_place_order(fields)
        self.gw.exchange.place(self._cid, ticket, self.gw.clock.now_ns())
        self.gw.save()

    def h_cancel_order(self, fields: list[str]) -> None:
        self.gw.exchange.cancel(self._cid, rq.cancel_order(fields), self.gw.clock.now_ns())
        self.gw.save()

    def h_global_cancel(self, fields: list[str]) -> None:
        self.gw.exchange.global_cancel(self.gw.clock.now_ns())
        self.gw.save()

    def h_open_orders(self, fields: list[str]) -> None:
        self.gw.send_open_orders(self, self._cid if self._cid != 0 else None)

    def h_all_open_orders(self, fields: list[str]) -> None:
        self.gw.send_open_orders(self, None)

    def h_auto_open_orders(self, fields: list[str]) -> None:
        self.auto_open_orders = rq.req_auto_open_orders(fields)

    def h_executions(self, fields: list[str]) -> None:
        self.gw.send_executions(self, rq.req_executions(fields))

    def h_completed_orders(self, fields: list[str]) -> None:
        rq.req_completed_orders(fields)
        self.gw.send_completed_orders(self)

    def h_account_updates(self, fields: list[str]) -> None:
        req = rq.req_account_updates(fields)
        if not req.subscribe:
            self.account_sub = None
            return
        self.gw.subscribe_account(self, req.account)

    def h_positions(self, fields: list[str]) -> None:
        self.positions_sub = True
        self.gw.send_positions(self)

    def h_cancel_positions(self, fields: list[str]) -> None:
        self.positions_sub = False

    def h_account_summary(self, fields: list[str]) -> None:
        self.gw.account_summary(self, rq.req_account_summary(fields))

    def h_cancel_account_summary(self, fields: list[str]) -> None:
        self.summary_subs.pop(rq.cancel_by_req_id(fields), None)

    def h_account_updates_multi(self, fields: list[str]) -> None:
        self.gw.account_updates_multi(self, rq.req_account_updates_multi(fields))

    def h_cancel_account_updates_multi(self, fields: list[str]) -> None:
        self.multi_subs.pop(rq.cancel_by_req_id(fields), None)

    def h_positions_multi(self, fields: list[str]) -> None:
        self.gw.positions_multi(self, rq.req_positions_multi(fields))

    def h_cancel_positions_multi(self, fields: list[str]) -> None:
        self.positions_multi_subs.pop(rq.cancel_by_req_id(fields), None)

    def h_pnl(self, fields: list[str]) -> None:
        self.gw.pnl(self, rq.req_pnl(fields))

    def h_cancel_pnl(self, fields: list[str]) -> None:
        self.pnl_subs.pop(rq.cancel_pnl(fields), None)

    def h_pnl_single(self, fields: list[str]) -> None:
        self.gw.pnl_single(self, rq.req_pnl_single(fields))

    def h_cancel_pnl_single(self, fields: list[str]) -> None:
        self.pnl_single_subs.pop(rq.cancel_pnl(fields), None)

    def h_mkt_depth(self, fields: list[str]) -> None:
        req_id = rq.FieldReader(fields, 2).int()
        self.send(msg.error(req_id, 10092, "Deep market data is not supported by the simulated gateway."))

    @property
    def _cid(self) -> int:
        return self.client_id if self.client_id is not None else -1


def _guess_id(fields: list[str]) -> int:
    for i in (2, 1):
        if len(fields) > i:
            try:
                return int(fields[i])
            except ValueError:
                continue
    return NO_ID


_HANDLERS: dict[int, Callable[[ClientSession, list[str]], None]] = {
    In.REQ_IDS: ClientSession.h_req_ids,
    In.REQ_CURRENT_TIME: ClientSession.h_current_time,
    In.REQ_MANAGED_ACCTS: ClientSession.h_managed_accounts,
    In.START_API: ClientSession.h_ignore,
    In.SET_SERVER_LOGLEVEL: ClientSession.h_ignore,
    In.REQ_NEWS_BULLETINS: ClientSession.h_ignore,
    In.CANCEL_NEWS_BULLETINS: ClientSession.h_ignore,
    In.CANCEL_HEAD_TIMESTAMP: ClientSession.h_ignore,
    In.CANCEL_MKT_DEPTH: ClientSession.h_ignore,
    In.REQ_CONTRACT_DATA: ClientSession.h_contract_details,
    In.REQ_MARKET_RULE: ClientSession.h_market_rule,
    In.REQ_MKT_DATA: ClientSession.h_mkt_data,
    In.CANCEL_MKT_DATA: ClientSession.h_cancel_mkt_data,
    In.REQ_MARKET_DATA_TYPE: ClientSession.h_market_data_type,
    In.REQ_HISTORICAL_DATA: ClientSession.h_historical,
    In.CANCEL_HISTORICAL_DATA: ClientSession.h_cancel_historical,
    In.REQ_HEAD_TIMESTAMP: ClientSession.h_head_timestamp,
    In.REQ_REAL_TIME_BARS: ClientSession.h_real_time_bars,
    In.CANCEL_REAL_TIME_BARS: ClientSession.h_cancel_real_time_bars,
    In.PLACE_ORDER: ClientSession.h_place_order,
    In.CANCEL_ORDER: ClientSession.h_cancel_order,
    In.REQ_GLOBAL_CANCEL: ClientSession.h_global_cancel,
    In.REQ_OPEN_ORDERS: ClientSession.h_open_orders,
    In.REQ_ALL_OPEN_ORDERS: ClientSession.h_all_open_orders,
    In.REQ_AUTO_OPEN_ORDERS: ClientSession.h_auto_open_orders,
    In.REQ_EXECUTIONS: ClientSession.h_executions,
    In.REQ_COMPLETED_ORDERS: ClientSession.h_completed_orders,
    In.REQ_ACCT_DATA: ClientSession.h_account_updates,
    In.REQ_POSITIONS: ClientSession.h_positions,
    In.CANCEL_POSITIONS: ClientSession.h_cancel_positions,
    In.REQ_ACCOUNT_SUMMARY: ClientSession.h_account_summary,
    In.CANCEL_ACCOUNT_SUMMARY: ClientSession.h_cancel_account_summary,
    In.REQ_ACCOUNT_UPDATES_MULTI: ClientSession.h_account_updates_multi,
    In.CANCEL_ACCOUNT_UPDATES_MULTI: ClientSession.h_cancel_account_updates_multi,
    In.REQ_POSITIONS_MULTI: ClientSession.h_positions_multi,
    In.CANCEL_POSITIONS_MULTI: ClientSession.h_cancel_positions_multi,
    In.REQ_PNL: ClientSession.h_pnl,
    In.CANCEL_PNL: ClientSession.h_cancel_pnl,
    In.REQ_PNL_SINGLE: ClientSession.h_pnl_single,
    In.CANCEL_PNL_SINGLE: ClientSession.h_cancel_pnl_single,
    In.REQ_MKT_DEPTH: ClientSession.h_mkt_depth,
}
