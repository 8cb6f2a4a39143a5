"""One logical connection to TWS / IB Gateway: the handshake with clear errors, and reconnection with backoff.

A fresh :class:`~runtime.brokers.ib.client.IBClient` is made for every socket, so nothing of a dead connection
(its message queue, its half-read frames, its late callbacks) can leak into the next one: callbacks from any client
but the current one are ignored.

Failures at connect time are typed: nothing listening / API not enabled (502, with the default ports), client id in
use (326), an account code this login does not manage (listing the managed ones), or no handshake answer (wrong
port, an unanswered "accept incoming connection" dialog). After a socket loss, or a 1100 that is not followed by a
1101/1102 within ``connectivity_grace_s``, the connection is re-opened on the worker with exponential backoff; the
:class:`ConnectionListener` then resubscribes and reconciles.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from runtime.brokers.ib.client import IBClient
from runtime.brokers.ib.compat import ErrorArgs
from runtime.brokers.ib.errors import (
    AccountNotFoundError,
    ClientIdInUseError,
    IBConnectError,
    IBError,
    IBTimeoutError,
)
from runtime.brokers.ib.events import ConnectionState
from runtime.brokers.ib.listener import MessageListener
from runtime.brokers.ib.pacing import DEFAULT_RATE, TokenBucket
from runtime.brokers.ib.worker import Worker
from runtime.core.ib.account import mask_accounts
from runtime.core.ib.errors import default_ports_text
from runtime.errors import NotConnectedError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionConfig:
    """Where and how to connect.

    Attributes:
        host, port, client_id: TWS / IB Gateway API socket and this program's client id.
        account: the account code to trade (None: the only / first managed account).
        connect_timeout_s: for the TCP connect plus the API handshake.
        request_timeout_s: default wait for a request's answer.
        auto_reconnect: re-open the connection after a loss (with exponential backoff).
        backoff_initial_s, backoff_factor, backoff_max_s: reconnect delays (0.5, 1, 2, 4 ... 30 s by default).
        max_reconnect_attempts: give up after this many failed attempts in a row (None: never).
        connectivity_grace_s: after a 1100 (TWS lost IB), how long to wait for 1101/1102 before re-opening the socket.
        message_rate: outgoing messages per second (IB allows 50).
        commission_wait_s: how long a fill waits for its commission report before it is reported without one.
    """

    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 1
    account: str | None = None
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 20.0
    auto_reconnect: bool = True
    backoff_initial_s: float = 0.5
    backoff_factor: float = 2.0
    backoff_max_s: float = 30.0
    max_reconnect_attempts: int | None = None
    connectivity_grace_s: float = 60.0
    message_rate: float = DEFAULT_RATE
    commission_wait_s: float = 1.0

    def backoff(self, attempt: int) -> float:
        """Delay before reconnect attempt ``attempt`` (0-based)."""
        return min(self.backoff_initial_s * self.backoff_factor ** attempt, self.backoff_max_s)


class ConnectionListener(Protocol):
    """What the connection tells its owner (the broker) about the connection itself."""

    def on_connected(self, reconnect: bool, attempts: int) -> None:
        """A socket is up and the API session started (caller's thread at first, then the worker)."""

    def on_lost(self, reason: str, code: int | None) -> None:
        """The connection (or TWS's link to IB) was lost (reader thread or worker)."""

    def on_restored(self, data_lost: bool) -> None:
        """TWS's link to IB is back (1101: data lost, 1102: kept) (worker)."""


class _Handshake:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.next_id: int | None = None
        self.accounts: list[str] | None = None
        self.failure: IBError | None = None
        self.errors: list[ErrorArgs] = []

    def fail(self, exc: IBError) -> None:
        if self.failure is None:
            self.failure = exc
        self.done.set()


class IBConnection:
    """The connection state machine (see the module docstring)."""

    def __init__(self, config: ConnectionConfig, listener: ConnectionListener, messages: MessageListener,
                 worker: Worker | None = None) -> None:
        self.config = config
        self.listener = listener
        #: where every message that is not about the connection goes (the adapter's inbound side)
        self.messages = messages
        self.worker = worker or Worker()
        self.bucket = TokenBucket(config.message_rate)
        self.state = ConnectionState.DISCONNECTED
        self.client: IBClient | None = None
        self.managed_accounts: tuple[str, ...] = ()
        self.account: str = config.account or ""
        self.server_version: int | None = None
        self.connection_time: str = ""
        self.next_order_id = 0
        self.reconnects = 0
        self._hs: _Handshake | None = None
        self._lock = threading.RLock()
        self._ib_lost_at: float | None = None
        self._attempt = 0
        self.state_changed = threading.Condition(self._lock)

    # ------------------------------------------------------------------------------------------------- public
    @property
    def is_connected(self) -> bool:
        """True when orders can be sent: socket up, API session started, TWS connected to IB."""
        c = self.client
        return self.state == ConnectionState.CONNECTED and c is not None and c.isConnected()

    def require(self, what: str) -> IBClient:
        """The current client, or NotConnectedError saying that ``what`` was not sent."""
        c = self.client
        if self.state != ConnectionState.CONNECTED or c is None or not c.isConnected():
            detail = {
                ConnectionState.RECONNECTING: "the connection was lost; reconnecting",
                ConnectionState.IB_LOST: "TWS has lost its connection to IB (1100); waiting for it to come back",
                ConnectionState.CLOSED: "the broker was disconnected",
                ConnectionState.CONNECTING: "still connecting",
            }.get(self.state, "not connected")
            raise NotConnectedError(f"{what} was not sent: {detail} (TWS / IB Gateway at {self.config.host}:"
                                    f"{self.config.port}). Nothing was queued.")
        return c

    def connect(self) -> None:
        """Connect and start the API session; raises IBConnectError subclasses or IBTimeoutError."""
        with self._lock:
            if self.is_connected:
                return
            self._set_state(ConnectionState.CONNECTING)
        try:
            self._open()
        except BaseException:
            with self._lock:
                self._set_state(ConnectionState.DISCONNECTED)
            raise
        self.listener.on_connected(False, 0)

    def disconnect(self) -> None:
        """Close the connection for good (no reconnects)."""
        with self._lock:
            self._set_state(ConnectionState.CLOSED)
            client, self.client = self.client, None
        if client is not None:
            client.disconnect()
            if client.thread is not None and client.thread is not threading.current_thread():
                client.closed.wait(2.0)

    def wait_state(self, state: str, timeout: float) -> bool:
        """Block until the connection reaches ``state`` (for tests and the run command)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.state != state:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.state_changed.wait(left)
            return True

    def take_order_id(self) -> int:
        """The next IB order id (from nextValidId, increasing)."""
        with self._lock:
            oid = self.next_order_id
            self.next_order_id += 1
            return oid

    def reserve_order_ids_through(self, used: int) -> None:
        """Never hand out an IB order id at or below ``used`` (the highest id a journal of this account used: an
        id taken and journalled before a crash may never have reached TWS, so TWS's nextValidId can repeat it)."""
        with self._lock:
            self.next_order_id = max(self.next_order_id, used + 1)

    # ------------------------------------------------------------------------------------------- handshake
    def _open(self) -> None:
        cfg = self.config
        hs = _Handshake()
        client = IBClient(self, self.messages, self.bucket)
        with self._lock:
            self._hs = hs
            self.client = client
        watchdog = threading.Timer(cfg.connect_timeout_s, self._abort_handshake, (client, hs))
        watchdog.daemon = True
        watchdog.start()
        try:
            client.connect(cfg.host, cfg.port, cfg.client_id)
            if not client.isConnected():
                raise hs.failure or self._refused(hs)
            self.server_version = client.serverVersion()
            self.connection_time = str(client.twsConnectionTime() or "")
            client.start_thread()
            if not hs.done.wait(cfg.connect_timeout_s):
                raise IBTimeoutError(
                    f"connected to {cfg.host}:{cfg.port} but the API session did not start within "
                    f"{cfg.connect_timeout_s:g} s: is a dialog waiting to accept the connection in TWS? "
                    f"Default ports: {default_ports_text()}.")
            if hs.failure is not None:
                raise hs.failure
        except BaseException:
            watchdog.cancel()
            with self._lock:
                if self.client is client:
                    self.client = None
            client.disconnect()
            raise
        watchdog.cancel()
        accounts = tuple(hs.accounts or ())
        wanted = cfg.account
        if wanted and accounts and wanted not in accounts:
            with self._lock:
                self.client = None
            client.disconnect()
            raise AccountNotFoundError(wanted, accounts)
        with self._lock:
            self.managed_accounts = accounts
            self.account = wanted or (accounts[0] if accounts else "")
            self.next_order_id = max(self.next_order_id, hs.next_id or 0)
            self._ib_lost_at = None
            self._set_state(ConnectionState.CONNECTED)
        log.info("connected to %s:%d as client %d (server version %s, accounts %s)", cfg.host, cfg.port,
                 cfg.client_id, self.server_version, mask_accounts(accounts))

    def _refused(self, hs: _Handshake) -> IBConnectError:
        cfg = self.config
        codes = [e.code for e in hs.errors]
        if 502 in codes:
            return IBConnectError.cannot_connect(cfg.host, cfg.port, "connection refused")
        return IBConnectError.cannot_connect(cfg.host, cfg.port, "the connection was closed during the handshake: "
                                             "API not enabled, this address not trusted, or not an API port")

    def _abort_handshake(self, client: IBClient, hs: _Handshake) -> None:
        if hs.done.is_set():
            return
        cfg = self.config
        hs.fail(IBTimeoutError(
            f"no API handshake answer from {cfg.host}:{cfg.port} within {cfg.connect_timeout_s:g} s: is this the "
            f"TWS / IB Gateway API port? Default ports: {default_ports_text()}."))
        conn = client.conn
        if conn is not None:
            conn.disconnect()

    # ------------------------------------------------------------------------- ClientSession (reader thread)
    def is_current(self, client: IBClient) -> bool:
        """Whether ``client`` is this connection's current client (an old socket's callbacks are dropped)."""
        return client is self.client

    def on_next_valid_id(self, client: IBClient, order_id: int) -> None:
        if client is not self.client:
            return
        hs = self._hs
        with self._lock:
            self.next_order_id = max(self.next_order_id, order_id)
        if hs is not None and not hs.done.is_set():
            hs.next_id = order_id
            if hs.accounts is not None:
                hs.done.set()

    def on_managed_accounts(self, client: IBClient, accounts: list[str]) -> None:
        if client is not self.client:
            return
        hs = self._hs
        if hs is not None and not hs.done.is_set():
            hs.accounts = list(accounts)
            if hs.next_id is not None:
                hs.done.set()
        else:
            self.managed_accounts = tuple(accounts)

    def on_socket_closed(self, client: IBClient) -> None:
        if client is not self.client:
            return
        self._on_socket_closed(client)

    def on_connection_error(self, client: IBClient, err: ErrorArgs) -> bool:
        """Connection-level codes (the handshake's 326/502, 1100/1101/1102); True when handled here (or stale)."""
        if client is not self.client:
            return True
        return self._on_error(err)

    def _on_error(self, err: ErrorArgs) -> bool:
        """Connection-level codes; True when the error is fully handled here."""
        hs = self._hs
        if hs is not None and not hs.done.is_set():
            hs.errors.append(err)
            if err.code == 326:
                hs.fail(ClientIdInUseError(self.config.client_id, err.text))
                return True
            if err.code == 502:
                hs.fail(IBConnectError.cannot_connect(self.config.host, self.config.port, err.text))
                return True
        if err.code == 1100:
            with self._lock:
                if self.state == ConnectionState.CONNECTED:
                    self._ib_lost_at = time.monotonic()
                    self._set_state(ConnectionState.IB_LOST)
            self.listener.on_lost(err.text or "connectivity between TWS and IB lost", 1100)
            self.worker.call_later(self.config.connectivity_grace_s, self._check_ib_lost)
            return True
        if err.code in (1101, 1102):
            with self._lock:
                was_lost = self.state == ConnectionState.IB_LOST
                if was_lost:
                    self._ib_lost_at = None
                    self._set_state(ConnectionState.CONNECTED)
            data_lost = err.code == 1101
            self.worker.call_soon(lambda: self.listener.on_restored(data_lost))
            return True
        return False

    def _on_socket_closed(self, client: IBClient) -> None:
        with self._lock:
            hs = self._hs
            if hs is not None and not hs.done.is_set():
                hs.fail(IBConnectError.cannot_connect(self.config.host, self.config.port,
                                                      "TWS closed the connection during the handshake"))
                return
            if self.state not in (ConnectionState.CONNECTED, ConnectionState.IB_LOST) or self.client is not client:
                return
            self.client = None
            reconnect = self.config.auto_reconnect
            self._set_state(ConnectionState.RECONNECTING if reconnect else ConnectionState.DISCONNECTED)
            self._attempt = 0
        log.warning("connection to TWS / IB Gateway at %s:%d lost", self.config.host, self.config.port)
        self.listener.on_lost("the socket to TWS / IB Gateway closed", None)
        if reconnect:
            self.worker.call_later(self.config.backoff(0), self._reconnect)

    # ----------------------------------------------------------------------------------------- reconnection
    def _check_ib_lost(self) -> None:
        with self._lock:
            lost_at = self._ib_lost_at
            if self.state != ConnectionState.IB_LOST or lost_at is None:
                return
            if time.monotonic() - lost_at < self.config.connectivity_grace_s - 0.01:
                return
            client = self.client
        log.warning("no 1101/1102 within %.0f s after 1100: re-opening the connection",
                    self.config.connectivity_grace_s)
        if client is not None:
            client.disconnect()

    def _reconnect(self) -> None:
        with self._lock:
            if self.state != ConnectionState.RECONNECTING:
                return
            self._attempt += 1
            attempt = self._attempt
        try:
            self._open()
        except IBError as exc:
            limit = self.config.max_reconnect_attempts
            with self._lock:
                if self.state == ConnectionState.CLOSED:
                    return
                self._set_state(ConnectionState.RECONNECTING)
                if limit is not None and attempt >= limit:
                    log.error("giving up reconnecting after %d attempts: %s", attempt, exc)
                    self._set_state(ConnectionState.DISCONNECTED)
                    return
            delay = self.config.backoff(attempt)
            log.info("reconnect attempt %d failed (%s); next in %.1f s", attempt, exc, delay)
            self.worker.call_later(delay, self._reconnect)
            return
        with self._lock:
            if self.state == ConnectionState.CLOSED:
                client, self.client = self.client, None
                if client is not None:
                    client.disconnect()
                return
            self.reconnects += 1
        log.info("reconnected after %d attempt(s)", attempt)
        self.listener.on_connected(True, attempt)

    def _set_state(self, state: str) -> None:
        with self._lock:
            if self.state == ConnectionState.CLOSED and state not in (ConnectionState.CONNECTING,):
                return
            self.state = state
            self.state_changed.notify_all()
