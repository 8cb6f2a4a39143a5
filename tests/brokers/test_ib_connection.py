"""Connecting, typed connection errors, reconnection and 1100/1101/1102, with the real ibapi client.

Most tests talk to the simulated gateway; two handshake cases it cannot produce (a server that never answers the
handshake, one that closes at once) use the SCRIPTED socket server of tests/support/gateway.py, clearly a test double.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from support.gateway import ACCOUNT, EventLog, ScriptedServer, SimGateway, free_port, read_hello, wait_until

from runtime.brokers.base import OrderRequest
from runtime.brokers.ib import ConnectionConfig, IBBroker
from runtime.brokers.ib.broker import EXECUTION_LOOKBACK_NS
from runtime.brokers.ib.errors import AccountNotFoundError, ClientIdInUseError, IBConnectError, IBTimeoutError
from runtime.brokers.ib.events import ConnectionLost, ConnectionRestored, ConnectionState, Reconciled
from runtime.brokers.ib.orders import KnownOrder, OrderTracker
from runtime.brokers.ib.records import ExecutionInfo, OpenOrderInfo
from runtime.core.assets import Asset
from runtime.core.ib_mapping import ContractFacts, asset_from_facts
from runtime.core.matching import Fill
from runtime.core.orders import OrderKind, OrderStatus, TimeInForce
from runtime.errors import NotConnectedError


@pytest.fixture
def gw() -> Iterator[SimGateway]:
    g = SimGateway()
    yield g
    g.stop()


def make_broker(port: int, log: EventLog | None = None, client_id: int = 1, clock=None,  # type: ignore[no-untyped-def]
                **cfg: object) -> IBBroker:
    cfg.setdefault("connect_timeout_s", 5.0)
    cfg.setdefault("request_timeout_s", 5.0)
    cfg.setdefault("backoff_initial_s", 0.05)
    cfg.setdefault("backoff_max_s", 0.5)
    return IBBroker(ConnectionConfig(port=port, client_id=client_id, **cfg), "run1",  # type: ignore[arg-type]
                    log.put if log else None, **({"clock": clock} if clock else {}))


def market(order_id: str, asset, amount: int = 10) -> OrderRequest:  # type: ignore[no-untyped-def]
    return OrderRequest(order_id, asset, amount, OrderKind.MARKET, None, None, TimeInForce.DAY, 0)


def test_connect_reports_accounts_and_reconciles(gw: SimGateway) -> None:
    log = EventLog()
    b = make_broker(gw.port, log)
    try:
        b.connect()
        assert b.is_connected() and b.account == ACCOUNT and b.managed_accounts == (ACCOUNT,)
        assert b.conn.server_version == 157
        assert log.wait_for(lambda e: isinstance(e, Reconciled), 5).open_orders == 0
        b.connect()  # connecting twice is harmless
    finally:
        b.disconnect()
    assert not b.is_connected()
    with pytest.raises(NotConnectedError, match="disconnected"):
        b.place_order(market("x", Asset(24, "AAPL", primary_exchange="NASDAQ")))


def second_reconciliation(log: EventLog) -> Reconciled:
    log.wait_for(lambda e: isinstance(e, Reconciled) and len(log.of(Reconciled)) >= 2, 10)
    return log.of(Reconciled)[-1]


def test_502_nothing_listening_lists_default_ports() -> None:
    b = make_broker(free_port())
    t0 = time.monotonic()
    with pytest.raises(IBConnectError) as info:
        b.connect()
    assert time.monotonic() - t0 < 5
    text = str(info.value)
    assert info.value.code == 502 and "7497" in text and "4002" in text and "Enable ActiveX" in text
    assert isinstance(info.value, NotConnectedError)
    b.disconnect()


def test_326_client_id_in_use(gw: SimGateway) -> None:
    first = make_broker(gw.port, client_id=5)
    second = make_broker(gw.port, client_id=5)
    try:
        first.connect()
        with pytest.raises(ClientIdInUseError) as info:
            second.connect()
        assert info.value.code == 326 and "client id 5" in str(info.value) and "6" in str(info.value)
        assert first.is_connected()
    finally:
        first.disconnect()
        second.disconnect()


def test_wrong_account_lists_managed_accounts(gw: SimGateway) -> None:
    b = make_broker(gw.port, account="U999")
    with pytest.raises(AccountNotFoundError) as info:
        b.connect()
    assert ACCOUNT in str(info.value) and "U999" in str(info.value)
    assert not b.is_connected()
    b.disconnect()


def test_no_handshake_answer_times_out_scripted_server() -> None:
    # SCRIPTED server: accepts, reads the hello, never answers (a wrong port with some other program on it)
    def silent(conn: socket.socket) -> None:
        read_hello(conn)
        conn.settimeout(3)
        with contextlib.suppress(OSError):
            conn.recv(10)

    srv = ScriptedServer(silent)
    b = make_broker(srv.port, connect_timeout_s=0.5)
    try:
        t0 = time.monotonic()
        with pytest.raises(IBTimeoutError, match="handshake"):
            b.connect()
        assert time.monotonic() - t0 < 3
    finally:
        b.disconnect()
        srv.close()


def test_closed_during_handshake_scripted_server() -> None:
    # SCRIPTED server: closes the connection right after the hello (API disabled / untrusted address)
    srv = ScriptedServer(lambda conn: read_hello(conn))
    b = make_broker(srv.port)
    try:
        with pytest.raises(IBConnectError, match=r"handshake|refused"):
            b.connect()
    finally:
        b.disconnect()
        srv.close()


def test_reconnects_after_a_drop_and_refuses_orders_meanwhile(gw: SimGateway) -> None:
    log = EventLog()
    b = make_broker(gw.port, log)
    try:
        b.connect()
        aapl = b.symbol("AAPL")
        b.place_order(market("o1", aapl))
        log.wait_for(lambda e: isinstance(e, Fill) and e.order_id == "o1")
        gw.thread.refuse_connections(0.6)
        gw.thread.drop_connections()
        log.wait_for(lambda e: isinstance(e, ConnectionLost))
        assert not b.is_connected()
        with pytest.raises(NotConnectedError, match="not sent"):
            b.place_order(market("o2", aapl))
        assert b.orders.get("o2") is None
        restored = log.wait_for(lambda e: isinstance(e, ConnectionRestored), 10)
        assert restored.attempts >= 1 and restored.data_lost
        assert b.conn.wait_state(ConnectionState.CONNECTED, 5)
        assert second_reconciliation(log).recovered_fills == 0  # o1's fill is not booked twice
        b.place_order(market("o3", aapl, -10))
        log.wait_for(lambda e: isinstance(e, Fill) and e.order_id == "o3")
        fills = [e.order_id for e in log.of(Fill)]
        assert fills == ["o1", "o3"]  # nothing duplicated, nothing lost
    finally:
        b.disconnect()


def test_1100_blocks_orders_and_1101_resubscribes(gw: SimGateway) -> None:
    log = EventLog()
    b = make_broker(gw.port, log)
    try:
        b.connect()
        aapl = b.symbol("AAPL")
        b.wait_for_quote(aapl, 5)
        old_req = b.market.req_id_of(aapl)
        gw.thread.connectivity_lost()
        lost = log.wait_for(lambda e: isinstance(e, ConnectionLost))
        assert lost.code == 1100 and not b.is_connected()
        with pytest.raises(NotConnectedError, match="1100"):
            b.place_order(market("o1", aapl))
        gw.thread.connectivity_restored(data_lost=True)
        restored = log.wait_for(lambda e: isinstance(e, ConnectionRestored))
        assert restored.data_lost and b.is_connected()
        # market data was requested again under a new id and flows again
        second_reconciliation(log)
        assert b.market.req_id_of(aapl) != old_req
        before = b.quote(aapl).time_ns
        assert wait_until(lambda: b.quote(aapl).time_ns > before)
    finally:
        b.disconnect()


def test_1100_without_restore_reopens_the_socket(gw: SimGateway) -> None:
    log = EventLog()
    b = make_broker(gw.port, log, connectivity_grace_s=0.3)
    try:
        b.connect()
        gw.thread.connectivity_lost()
        log.wait_for(lambda e: isinstance(e, ConnectionLost) and e.code == 1100)
        # the gateway keeps saying 1100 on every new connection while connectivity is lost; restore it so the
        # re-opened socket comes back up
        log.wait_for(lambda e: isinstance(e, ConnectionLost) and e.code is None, 5)
        gw.thread.connectivity_restored(data_lost=False)
        assert b.conn.wait_state(ConnectionState.CONNECTED, 10)
        # the state turns CONNECTED inside the reconnect, just before its counter moves on: wait for the count too
        assert wait_until(lambda: b.conn.reconnects >= 1, 5)
    finally:
        b.disconnect()


def test_limit_order_survives_a_gateway_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gw = SimGateway(state_file=str(tmp_path / "gw.json"))
    log = EventLog()
    b = make_broker(gw.port, log)
    try:
        b.connect()
        aapl = b.symbol("AAPL")
        req = OrderRequest("lim", aapl, 10, OrderKind.LIMIT, 1.0, None, TimeInForce.GTC, 0)
        b.place_order(req)
        gw.thread.restart(0.3)
        log.wait_for(lambda e: isinstance(e, ConnectionRestored), 10)
        rec = second_reconciliation(log)
        assert rec.open_orders == 1 and rec.closed_while_away == 0
        assert not b.orders.get("lim").closed
    finally:
        b.disconnect()
        gw.stop()


def test_connect_again_after_disconnect(gw: SimGateway) -> None:
    log = EventLog()
    b = make_broker(gw.port, log, client_id=9)
    b.connect()
    b.disconnect()
    b.connect()
    try:
        assert b.is_connected()
        b.place_order(market("again", b.symbol("AAPL")))
        log.wait_for(lambda e: isinstance(e, Fill) and e.order_id == "again")
    finally:
        b.disconnect()


def _stalled_fill_then_reconnect(gw: SimGateway, b: IBBroker, log: EventLog, order_id: str,
                                 notice_after_s: float = 0.0) -> Reconciled:
    """The link stalls (the gateway's messages stop arriving), a market order fills at the gateway meanwhile, the
    socket closes ``notice_after_s`` gateway seconds after the fill (that is when the adapter notices the loss), and
    the adapter reconnects: its reconciliation after the reconnect."""
    aapl = b.symbol("AAPL")
    b.wait_for_quote(aapl, 5)
    gw.thread.delay_messages(3600.0)
    b.place_order(market(order_id, aapl))
    exchange = gw.gateway.exchange
    assert wait_until(lambda: gw.thread.call(lambda: len(exchange.executions)) == 1, 5)
    filled_at = gw.thread.call(lambda: exchange.executions[0].time_ns)
    assert wait_until(lambda: gw.clock.now_ns() - filled_at > notice_after_s * 1e9, 10)
    assert b.orders.get(order_id) is not None and not b.orders.get(order_id).closed
    gw.thread.refuse_connections(0.3)
    gw.thread.drop_connections()
    log.wait_for(lambda e: isinstance(e, ConnectionLost))
    gw.thread.delay_messages(0.0)
    log.wait_for(lambda e: isinstance(e, ConnectionRestored), 10)
    return second_reconciliation(log)


def _booked_once(gw: SimGateway, b: IBBroker, log: EventLog, rec: Reconciled, order_id: str) -> None:
    assert rec.recovered_fills == 1 and rec.closed_while_away == 0 and rec.open_orders == 0
    fills = [e for e in log.of(Fill) if e.order_id == order_id]
    assert len(fills) == 1
    fill = fills[0]
    execution = gw.thread.call(lambda: gw.gateway.exchange.executions[0])
    assert fill.amount == 10 and fill.order_done and fill.price == execution.price
    assert fill.commission == execution.commission > 0
    tracked = b.orders.get(order_id)
    assert tracked.closed and tracked.status is OrderStatus.FILLED and tracked.filled == 10
    assert gw.thread.call(lambda: (len(gw.gateway.exchange.orders), len(gw.gateway.exchange.executions))) == (1, 1)


def test_fill_before_a_late_noticed_loss_is_recovered_once(gw: SimGateway, caplog: pytest.LogCaptureFixture) -> None:
    """The loss is noticed 20 minutes (gateway time) after the fill: the executions asked for after the reconnect reach
    back to the order's sending, not only to the moment the loss was noticed."""
    log = EventLog()
    b = make_broker(gw.port, log, clock=gw.clock.now_ns)
    try:
        b.connect()
        rec = _stalled_fill_then_reconnect(gw, b, log, "late", notice_after_s=1200.0)
        _booked_once(gw, b, log, rec, "late")
        assert "asking for all executions" not in caplog.text
    finally:
        b.disconnect()


def test_fill_outside_the_execution_window_is_recovered_from_completed_orders(gw: SimGateway) -> None:
    """The adapter's clock (the wall clock) is years ahead of the gateway's (a replay in 2012): the executions asked
    for by time miss the fill; the completed order shows it filled, so all executions are asked for once more."""
    log = EventLog()
    b = make_broker(gw.port, log)
    try:
        b.connect()
        rec = _stalled_fill_then_reconnect(gw, b, log, "skewed")
        _booked_once(gw, b, log, rec, "skewed")
    finally:
        b.disconnect()


def test_execution_window_after_a_loss() -> None:
    """After a loss, executions are asked for from before the first loss not yet reconciled and before the sending of
    every order still open; an order not sent by this process widens the window to everything."""
    now = [0]
    b = IBBroker(ConnectionConfig(port=free_port()), "run1", EventLog().put, clock=lambda: now[0])
    minute = 60 * 10**9
    lookback = EXECUTION_LOOKBACK_NS
    aapl = Asset(24, "AAPL", primary_exchange="NASDAQ")
    try:
        now[0] = 100 * minute
        b.on_lost("the socket closed", None)
        now[0] = 200 * minute
        b.on_lost("TWS lost IB", 1100)
        b.on_lost("the socket closed", None)  # a later loss before any reconciliation: the first one still counts
        assert b._executions_since() == 100 * minute - lookback
        b.orders.register("o1", aapl, 10, 5, "ibalgo:run1:o1", 40 * minute)
        assert b._executions_since() == 40 * minute - lookback
        b.orders.restore([KnownOrder("o0", aapl, 10, 0, 4)], lambda oid: f"ibalgo:run1:{oid}")
        assert b._executions_since() is None
    finally:
        b.disconnect()


def test_orders_filled_at_ib_beyond_what_was_booked() -> None:
    """After a reconnect: which of the orders TWS no longer works still wait for executions (Filled, or cancelled
    after a partial fill that was not booked)."""
    facts = ContractFacts(24, "AAPL", "STK", "USD", "SMART", "NASDAQ", "AAPL", "NMS", 0.01, "", "", 0.0, "", "APPLE")
    aapl = Asset(24, "AAPL", con_id=24)
    tracker = OrderTracker("r", lambda e: None, asset_from_facts, 0.0)
    for i, oid in enumerate(("filled", "partial", "cancelled", "booked", "working")):
        tracker.register(oid, aapl, 10, 5 + i, f"ibalgo:r:{oid}")
    tracker.on_execution(ExecutionInfo(-1, "e1", 8, 1, 1, "ibalgo:r:booked", facts, "20121114 10:00:00 US/Eastern",
                                       "DU1", "BOT", 10, 1.0, 10, 1.0), 0, 0.0)

    def completed(ib_id: int, oid: str, status: str, filled: float) -> OpenOrderInfo:
        return OpenOrderInfo(ib_id, 1, 1, f"ibalgo:r:{oid}", facts, "BUY", 10, "LMT", 1.0, None, "DAY", "DU1", 0,
                             status, filled=filled, completed=True)

    done = {"filled": completed(5, "filled", "Filled", 10), "partial": completed(6, "partial", "Cancelled", 4),
            "cancelled": completed(7, "cancelled", "Cancelled", 0), "booked": completed(8, "booked", "Filled", 10)}
    assert tracker.unbooked_at_ib({9}, done) == ["filled", "partial"]
