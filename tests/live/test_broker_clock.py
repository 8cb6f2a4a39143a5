"""The run's clock on TWS / IB Gateway follows the broker's (reqCurrentTime), and the account summary of several
accounts is renewed after a reconnect; against the simulated gateway with the real ibapi client."""

from __future__ import annotations

import pytest
from support.gateway import EventLog, SimGateway, wait_until

from runtime.brokers.base import OrderRequest
from runtime.brokers.ib import ConnectionConfig, IBBroker
from runtime.core.matching import Fill
from runtime.core.orders import OrderKind, TimeInForce
from runtime.live.broker_clock import BrokerClock

S = 1_000_000_000


class FakeMonotonic:
    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


def test_the_clock_carries_the_broker_time_forward_at_its_measured_rate() -> None:
    mono = FakeMonotonic()
    clock = BrokerClock(mono_ns=mono, wall_ns=lambda: 5 * S)
    assert clock.now_ns() == 5 * S  # before any answer: the wall clock
    clock.sync(1_000, 0, 0)
    assert clock.now_ns() == 1_000 * S + S // 2  # the middle of the answer's whole second
    mono.ns = 10 * S  # a replay at 60 x real time answers 600 s later
    clock.sync(1_600, mono.ns, mono.ns)
    assert clock.rate == pytest.approx(60.0)
    mono.ns = 11 * S
    assert clock.now_ns() == pytest.approx(1_660.5 * S, abs=S)
    clock.sync(1_000, mono.ns, mono.ns)  # a broker behind the clock: it never goes backwards
    assert clock.now_ns() >= 1_660 * S


def test_a_real_time_broker_gives_rate_one_despite_whole_seconds() -> None:
    mono = FakeMonotonic()
    clock = BrokerClock(mono_ns=mono)
    clock.sync(2_000, 0, 0)
    mono.ns = int(10.4 * S)
    clock.sync(2_010, mono.ns, mono.ns)  # 10.4 s later TWS still says 2010: measured 0.96..1.0
    assert clock.rate == 1.0
    mono.ns = int(20.4 * S)
    assert abs(clock.now_ns() - (2_020.4 * S + S // 2)) < S


def test_the_runs_clock_is_the_replaying_gateways_and_follows_it_after_a_reconnect() -> None:
    gw = SimGateway(step_s=0)  # the gateway's replay clock moves only when the test says so
    clock = BrokerClock()
    b = IBBroker(ConnectionConfig(port=gw.port, client_id=7, request_timeout_s=5.0, backoff_initial_s=0.05,
                                  backoff_max_s=0.2), "clk", EventLog().put, clock=clock.now_ns, broker_clock=clock)
    try:
        b.connect()
        assert clock.synced.is_set()
        assert abs(clock.now_ns() - gw.clock.now_ns()) < 2 * S  # 2012, not today
        assert abs(b.now_ns() - gw.clock.now_ns()) < 2 * S
        gw.clock.advance_to(gw.clock.now_ns() + 3_600 * S)  # the replay moves on an hour while the link is down
        b.reconciled.clear()
        gw.thread.drop_connections()
        assert wait_until(lambda: b.conn.reconnects >= 1 and b.is_connected() and b.reconciled.is_set(), 20)
        assert abs(clock.now_ns() - gw.clock.now_ns()) < 2 * S
    finally:
        b.disconnect()
        gw.stop()


def test_the_account_summary_is_renewed_after_a_reconnect() -> None:
    accounts = ("DU1111111", "DU2222222")
    gw = SimGateway(accounts=accounts)
    log = EventLog()
    b = IBBroker(ConnectionConfig(port=gw.port, client_id=8, account=accounts[0], request_timeout_s=5.0,
                                  backoff_initial_s=0.05, backoff_max_s=0.2), "sum", log.put)
    try:
        b.connect()
        b.subscribe_account_summary()
        assert wait_until(lambda: b.account_value("TotalCashValue", accounts[1]) is not None, 10)
        before = b.account_value("TotalCashValue", accounts[1])
        b.reconciled.clear()
        gw.thread.drop_connections()  # the gateway's disconnect fault: the new connection has no subscriptions
        assert wait_until(lambda: b.conn.reconnects >= 1 and b.is_connected() and b.reconciled.is_set(), 20)
        aapl = b.symbol("AAPL")
        b.place_order(OrderRequest("s1", aapl, 10, OrderKind.MARKET, None, None, TimeInForce.DAY, 0,
                                   account=accounts[1]))
        log.wait_for(lambda e: isinstance(e, Fill) and e.order_id == "s1", 10)
        # the second account's cash moved: only a renewed summary subscription tells this connection
        assert wait_until(lambda: b.account_value("TotalCashValue", accounts[1]) != before, 10)
    finally:
        b.disconnect()
        gw.stop()
