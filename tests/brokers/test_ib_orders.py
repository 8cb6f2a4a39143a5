"""Orders through the real ibapi client against the simulated gateway: every order type, fills with commissions,
cancels, rejections, brackets, restarts (reconciliation by orderRef) and the never-twice rule."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from support.gateway import EventLog, SimGateway

from runtime.brokers.base import OrderRejected, OrderRequest
from runtime.brokers.ib import ConnectionConfig, IBBroker, KnownOrder
from runtime.brokers.ib.errors import OrderError
from runtime.brokers.ib.events import OrderStatusChanged, PositionsSnapshot, Reconciled
from runtime.core.assets import Asset
from runtime.core.matching import Cancelled, Fill
from runtime.core.orders import OrderStatus, TimeInForce
from runtime.core.styles import (
    ExecutionStyle,
    LimitOnCloseOrder,
    LimitOrder,
    MarketOnCloseOrder,
    MarketOrder,
    StopLimitOrder,
    StopOrder,
    TrailStopOrder,
)

_ids = itertools.count(10)


@pytest.fixture(scope="module")
def gw() -> Iterator[SimGateway]:
    g = SimGateway()
    yield g
    g.stop()


@pytest.fixture
def broker(gw: SimGateway) -> Iterator[tuple[IBBroker, EventLog]]:
    log = EventLog()
    b = IBBroker(ConnectionConfig(port=gw.port, client_id=next(_ids), request_timeout_s=5.0), "run1", log.put,
                 clock=gw.clock.now_ns)
    b.connect()
    yield b, log
    b.disconnect()


def request(order_id: str, asset: Asset, amount: int, style: ExecutionStyle | None = None,
            tif: TimeInForce = TimeInForce.GTC, **kw: object) -> OrderRequest:
    style = style or MarketOrder()
    is_buy = amount > 0
    trail_amount, trail_percent, limit_offset = style.trail_terms()
    return OrderRequest(order_id, asset, amount, style.kind, style.limit_for(is_buy, 0.01),
                        style.stop_for(is_buy, 0.01), tif, 0, trail_amount=trail_amount, trail_percent=trail_percent,
                        limit_offset=limit_offset, **kw)  # type: ignore[arg-type]


def is_fill(order_id: str):  # type: ignore[no-untyped-def]
    return lambda e: isinstance(e, Fill) and e.order_id == order_id


def status_of(order_id: str, status: OrderStatus):  # type: ignore[no-untyped-def]
    return lambda e: isinstance(e, OrderStatusChanged) and e.order_id == order_id and e.status is status


def test_market_order_fills_with_commission(broker: tuple[IBBroker, EventLog]) -> None:
    b, log = broker
    journal: list[tuple[str, int, str]] = []
    b._journal = lambda oid, ib_id, ref: journal.append((oid, ib_id, ref))
    aapl = b.symbol("AAPL")
    b.place_order(request("m1", aapl, 25))
    assert journal == [("m1", b.ib_order_id("m1"), "ibalgo:run1:m1")]  # recorded before sending
    fill = log.wait_for(is_fill("m1"))
    assert fill.amount == 25 and fill.cum_filled == 25 and fill.order_done and fill.commission > 0
    assert fill.asset == aapl and fill.price > 0
    with pytest.raises(OrderError, match="never sent twice"):
        b.place_order(request("m1", aapl, 25))
    b.place_order(request("m2", aapl, -25))
    assert log.wait_for(is_fill("m2")).cum_filled == -25
    assert len(log.of(Fill)) == 2


def test_limit_order_rests_then_cancels(broker: tuple[IBBroker, EventLog]) -> None:
    b, log = broker
    aapl = b.symbol("AAPL")
    b.place_order(request("l1", aapl, 10, LimitOrder(1.0)))
    log.wait_for(status_of("l1", OrderStatus.OPEN))
    b.cancel_order("l1", 0)
    cancelled = log.wait_for(lambda e: isinstance(e, Cancelled) and e.order_id == "l1")
    assert cancelled.asset == aapl
    b.cancel_order("l1", 0)  # already closed: nothing is sent
    assert len([e for e in log.of(Cancelled) if e.order_id == "l1"]) == 1


def test_rejection_carries_code_and_text(gw: SimGateway, broker: tuple[IBBroker, EventLog]) -> None:
    b, log = broker
    aapl = b.symbol("AAPL")
    gw.thread.reject_next_order("no funds, just testing")
    b.place_order(request("r1", aapl, 10))
    rej = log.wait_for(lambda e: isinstance(e, OrderRejected) and e.order_id == "r1")
    assert rej.code == 201 and "just testing" in rej.reason
    assert not [e for e in log.of(Fill) if e.order_id == "r1"]


@pytest.mark.parametrize(("style", "tif"), [
    (StopOrder(1.0), TimeInForce.GTC),
    (StopLimitOrder(limit_price=1.0, stop_price=1.5), TimeInForce.GTC),
    (TrailStopOrder(trailing_percent=50.0), TimeInForce.GTC),
    (TrailStopOrder(trailing_amount=200.0), TimeInForce.DAY),
    (LimitOnCloseOrder(limit_price=1.0), TimeInForce.DAY),
    (LimitOrder(1.0), TimeInForce.IOC),
])
def test_order_types_are_accepted(broker: tuple[IBBroker, EventLog], style: ExecutionStyle,
                                  tif: TimeInForce) -> None:
    b, log = broker
    aapl = b.symbol("AAPL")
    oid = f"t-{style.kind.value}-{tif.value}"
    amount = -10 if isinstance(style, StopOrder | StopLimitOrder | TrailStopOrder) else 10
    b.place_order(request(oid, aapl, amount, style, tif, outside_rth=True))
    first = log.wait_for(lambda e: getattr(e, "order_id", None) == oid)
    assert not isinstance(first, OrderRejected), first
    if tif is TimeInForce.IOC:  # nothing at 1.0: IOC cancels the rest
        log.wait_for(lambda e: isinstance(e, Cancelled) and e.order_id == oid)
    else:
        b.cancel_order(oid, 0)
        log.wait_for(lambda e: isinstance(e, Cancelled) and e.order_id == oid)


def test_market_on_close_waits_for_the_close(broker: tuple[IBBroker, EventLog]) -> None:
    b, log = broker
    aapl = b.symbol("AAPL")
    b.place_order(request("moc", aapl, 5, MarketOnCloseOrder(), TimeInForce.DAY))
    log.wait_for(lambda e: getattr(e, "order_id", None) == "moc")
    assert not [e for e in log.of(Fill) if e.order_id == "moc"]
    b.cancel_order("moc", 0)
    log.wait_for(lambda e: isinstance(e, Cancelled) and e.order_id == "moc")


def test_bracket_parent_fills_children_work(broker: tuple[IBBroker, EventLog]) -> None:
    b, log = broker
    aapl = b.symbol("AAPL")
    parent = request("bp", aapl, 10)
    take = request("bt", aapl, -10, LimitOrder(10_000.0), oca_group="oca-b")
    stop = request("bs", aapl, -10, StopOrder(1.0), oca_group="oca-b")
    b.place_bracket(parent, [take, stop])
    assert b.orders.get("bt").spec.parent_ib_id == b.ib_order_id("bp")
    assert b.orders.get("bp").spec.transmit is False and b.orders.get("bs").spec.transmit is True
    log.wait_for(is_fill("bp"))
    log.wait_for(status_of("bt", OrderStatus.OPEN))
    b.cancel_order("bt", 0)
    log.wait_for(lambda e: isinstance(e, Cancelled) and e.order_id == "bt")
    # OCA: cancelling one member cancels the other, or we cancel it
    b.cancel_order("bs", 0)
    log.wait_for(lambda e: isinstance(e, Cancelled) and e.order_id == "bs")
    b.place_order(request("bclose", aapl, -10))
    log.wait_for(is_fill("bclose"))


def test_modify_a_working_order(broker: tuple[IBBroker, EventLog]) -> None:
    b, log = broker
    aapl = b.symbol("AAPL")
    b.place_order(request("mod", aapl, 10, LimitOrder(1.0)))
    log.wait_for(status_of("mod", OrderStatus.OPEN))
    b.modify_order("mod", limit=10_000.0)  # now marketable: it fills
    assert log.wait_for(is_fill("mod")).cum_filled == 10
    b.place_order(request("mod-close", aapl, -10))
    log.wait_for(is_fill("mod-close"))


def test_restart_recovers_orders_and_missed_fills() -> None:
    gw = SimGateway(step_s=0)  # the clock moves only when the test says so
    try:
        log_a = EventLog()
        a = IBBroker(ConnectionConfig(port=gw.port, client_id=3, request_timeout_s=5.0), "runR", log_a.put,
                     clock=gw.clock.now_ns)
        a.connect()
        aapl = a.symbol("AAPL")
        a.place_order(request("mkt", aapl, 10))
        a.place_order(request("lim", aapl, 10, LimitOrder(1.0)))
        log_a.wait_for(status_of("lim", OrderStatus.OPEN))
        a.disconnect()  # the runtime "crashes" with an unfilled market order and a resting limit
        gw.clock.advance_to(gw.clock.now_ns() + 120 * 10**9)
        gw.thread.pump()  # the market order fills while nobody listens
        log_b = EventLog()
        b = IBBroker(ConnectionConfig(port=gw.port, client_id=3, request_timeout_s=5.0), "runR", log_b.put,
                     clock=gw.clock.now_ns)
        b.restore_orders([KnownOrder("mkt", aapl, 10), KnownOrder("lim", aapl, 10)])
        b.connect()
        rec = log_b.wait_for(lambda e: isinstance(e, Reconciled))
        assert rec.open_orders == 1 and rec.recovered_fills == 1 and rec.closed_while_away == 0
        fill = [e for e in log_b.of(Fill)]
        assert [(f.order_id, f.amount, f.order_done) for f in fill] == [("mkt", 10, True)]
        assert fill[0].commission > 0
        snap = log_b.of(PositionsSnapshot)[-1]
        assert [(p.asset.symbol, p.amount) for p in snap.positions] == [("AAPL", 10.0)]
        assert b.orders.get("lim").ib_order_id == a.ib_order_id("lim")
        b.cancel_order("lim", 0)  # the adopted order can be managed again
        log_b.wait_for(lambda e: isinstance(e, Cancelled) and e.order_id == "lim")
        b.disconnect()
        # a different run sees none of it
        log_c = EventLog()
        c = IBBroker(ConnectionConfig(port=gw.port, client_id=4, request_timeout_s=5.0), "other", log_c.put)
        c.connect()
        assert log_c.wait_for(lambda e: isinstance(e, Reconciled)).open_orders == 0
        assert not log_c.of(Fill)
        c.disconnect()
    finally:
        gw.stop()
