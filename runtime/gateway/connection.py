"""One client connection: handshake, framing, output buffering, and the hand-off of typed requests.

A :class:`ClientConnection` is an :class:`asyncio.Protocol` running on the gateway's event loop. It knows nothing
of orders or market data: each incoming frame is decoded by the :class:`Route` of its message id into a typed
request (runtime/gateway/requests.py) and handed to the handler of its area (runtime/gateway/handlers/). The
server (runtime/gateway/gateway.py) owns the connections; a connection reports its life to the server only
through the narrow :class:`ConnectionHost` interface.

A broken message gets an error 321 and the connection goes on; a broken stream (bad handshake, oversized length
prefix) closes only this connection. Outgoing data is bounded: market data is dropped while the client's socket
buffer is above a soft limit and a client that stops reading altogether is disconnected at a hard limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from runtime.gateway import requests as rq
from runtime.gateway import responses as msg
from runtime.gateway.faults import FaultState
from runtime.gateway.ids import NO_ID, Code, In
from runtime.gateway.protocol import FieldError, FrameReader, ProtocolError, parse_hello, split_fields

log = logging.getLogger(__name__)
CLAIM_RETRIES = 30
CLAIM_RETRY_S = 0.05


class ConnectionState(Enum):
    HELLO = "hello"  # waiting for the API\0 handshake
    STARTING = "starting"  # handshake answered, waiting for startApi
    READY = "ready"
    CLOSED = "closed"


@dataclass(frozen=True)
class Route:
    """How one message id is served: ``decode(fields)`` gives the typed request, ``handle(connection, request)``
    answers it.

    ``min_version``: the lowest negotiated server version at which clients send the message (below it the request
    is refused with error 321, as the layout would not be the one the decoder reads); ``versioned``: the layout
    depends on the version, and the decoder is called as ``decode(fields, version)``; ``id_at``: the field holding
    the request id that errors about the message carry (None: guessed, field 2 then 1).
    """

    decode: Callable[..., Any]
    handle: Callable[[ClientConnection, Any], None]
    min_version: int = 0
    versioned: bool = False
    id_at: int | None = None


@dataclass(frozen=True)
class ConnectionLimits:
    max_frame: int
    soft_send_buffer: int
    max_send_buffer: int
    max_messages_per_second: int | None


class ConnectionHost(Protocol):
    """What a connection tells the server that owns it."""

    def connection_opened(self, conn: ClientConnection) -> None: ...

    def connection_closed(self, conn: ClientConnection) -> None: ...

    def connection_time_text(self) -> str: ...

    def claim_client_id(self, conn: ClientConnection, client_id: int) -> bool: ...

    def probe_client(self, client_id: int) -> None: ...

    def client_started(self, conn: ClientConnection) -> None: ...


class ClientConnection(asyncio.Protocol):
    """The gateway's side of one API client connection."""

    def __init__(self, host: ConnectionHost, routes: Mapping[int, Route], limits: ConnectionLimits,
                 faults: FaultState) -> None:
        self._host = host
        self._routes = routes
        self._limits = limits
        self._faults = faults
        self.state = ConnectionState.HELLO
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.version = 0
        self.client_id: int | None = None
        self._hello = bytearray()
        self._frames = FrameReader(limits.max_frame)
        self._delayed: deque[tuple[float, bytes]] = deque()
        self._delay_handle: asyncio.TimerHandle | None = None
        self._rate: deque[float] = deque()
        self._rate_warned = 0.0
        self.dropped_messages = 0
        self.sent_messages = 0
        self._out: list[bytes] = []  # this loop iteration's messages, written together by flush()
        self._out_bytes = 0
        self._flush_scheduled = False

    # -------------------------------------------------------------------------------------------- transport
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._host.connection_opened(self)
        log.debug("connection from %s", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = ConnectionState.CLOSED
        if self._delay_handle is not None:
            self._delay_handle.cancel()
        self._delayed.clear()
        self._drop_batch()
        self._host.connection_closed(self)
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
        return self.state is ConnectionState.READY

    @property
    def closed(self) -> bool:
        return self.state is ConnectionState.CLOSED

    @property
    def order_client_id(self) -> int:
        """The client id orders of this connection belong to (-1 before startApi)."""
        return self.client_id if self.client_id is not None else -1

    def send(self, data: bytes) -> None:
        """Queue one framed message to the client (subject to the delay fault and the buffer limits)."""
        t = self.transport
        if t is None or t.is_closing():
            return
        delay = self._faults.message_delay_s
        if delay > 0 or self._delayed:
            self._delayed.append((time.monotonic() + delay, data))
            if self._delay_handle is None:
                self._schedule_delayed()
            return
        self._write(data)

    def send_market(self, data: bytes) -> None:
        """Send market data, dropping it while the client does not keep up (the soft buffer limit)."""
        if self.transport is not None and self.buffered_bytes() > self._limits.soft_send_buffer:
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
        if self.buffered_bytes() > self._limits.max_send_buffer:
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
            if self.state is ConnectionState.HELLO:
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
                self.state = ConnectionState.STARTING
                self._write(msg.server_hello(version, self._host.connection_time_text()))
                data = rest
                if not data:
                    return
            for frame in self._frames.feed(data):
                if self.state is ConnectionState.CLOSED:
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
        if self.state is ConnectionState.STARTING:
            if msg_id == In.START_API:
                self._start_api(fields)
            return
        self._count_rate()
        route = self._routes.get(msg_id)
        if route is None:
            self.send(msg.error(NO_ID, Code.VALIDATION, f"Error validating request:-'message id' : cause - "
                                f"unsupported message id {msg_id}"))
            return
        if self.version < route.min_version:
            self.send(msg.error(_guess_id(fields, route.id_at), Code.VALIDATION,
                                f"Error validating request:-'{msg_id}' : cause - needs server version "
                                f"{route.min_version}, this connection has {self.version}"))
            return
        try:
            request = route.decode(fields, self.version) if route.versioned else route.decode(fields)
            route.handle(self, request)
        except FieldError as exc:
            self.send(msg.error(_guess_id(fields, route.id_at), Code.VALIDATION,
                                f"Error validating request:-'{msg_id}' : cause - {exc}"))
        except Exception as exc:  # a bug must never take the gateway down
            log.exception("handling message %s from client %s failed", msg_id, self.client_id)
            self.send(msg.error(_guess_id(fields, route.id_at), Code.VALIDATION,
                                f"Error processing request {msg_id}: {type(exc).__name__}: {exc}"))

    def _count_rate(self) -> None:
        limit = self._limits.max_messages_per_second
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
        if self.state is not ConnectionState.STARTING:
            return
        if not self._host.claim_client_id(self, start.client_id):
            if attempt < CLAIM_RETRIES:
                # A client that reconnects at once may beat the news of its old connection's end. ibapi's
                # disconnect() closes the socket while its reader thread still waits in recv(), so the old
                # connection only really ends once it receives something: send it a harmless notice, look again.
                if attempt == 0:
                    self._host.probe_client(start.client_id)
                asyncio.get_running_loop().call_later(CLAIM_RETRY_S, self._start_api, fields, attempt + 1)
                return
            self.send(msg.error(NO_ID, Code.CLIENT_ID_IN_USE, "Unable to connect as the client id is already in "
                                "use. Retry with a unique client id."))
            self.close()
            return
        self.client_id = start.client_id
        self.state = ConnectionState.READY
        self._host.client_started(self)


def _guess_id(fields: list[str], at: int | None = None) -> int:
    for i in (at,) if at is not None else (2, 1):
        if len(fields) > i:
            try:
                return int(fields[i])
            except ValueError:
                continue
    return NO_ID


class ClientTable:
    """The server's connections: every open one, and the started ones by client id."""

    def __init__(self) -> None:
        self.connections: set[ClientConnection] = set()
        self.by_id: dict[int, ClientConnection] = {}

    def opened(self, conn: ClientConnection) -> None:
        self.connections.add(conn)

    def closed(self, conn: ClientConnection) -> None:
        self.connections.discard(conn)
        if conn.client_id is not None and self.by_id.get(conn.client_id) is conn:
            del self.by_id[conn.client_id]

    def claim(self, conn: ClientConnection, client_id: int) -> bool:
        """Give ``client_id`` to ``conn`` unless another open connection holds it."""
        other = self.by_id.get(client_id)
        if other is not None and other is not conn and not other.closed:
            return False
        self.by_id[client_id] = conn
        return True

    def get(self, client_id: int) -> ClientConnection | None:
        return self.by_id.get(client_id)

    def ready(self) -> list[ClientConnection]:
        """Started connections, in the order their client ids were claimed."""
        return [c for c in self.by_id.values() if c.ready]

    def __iter__(self) -> Iterator[ClientConnection]:
        return iter(list(self.connections))

    def __len__(self) -> int:
        return len(self.connections)


__all__ = ["ClientConnection", "ClientTable", "ConnectionHost", "ConnectionLimits", "ConnectionState", "Route"]
