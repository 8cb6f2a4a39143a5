"""Conformance of the simulated gateway with ib_async (its own protocol implementation, asyncio based)."""

from __future__ import annotations

import pytest
from ib_async import IB, Forex, Future, LimitOrder, MarketOrder, Stock, StopOrder
from support.gateway import advance, start_gateway


@pytest.fixture()
def env():
    gateway, clock = start_gateway()
    ib = IB()
    ib.connect("127.0.0.1", gateway.port, clientId=5, timeout=15)
    yield gateway, clock, ib
    ib.disconnect()
    gateway.stop()



def test_connect_sync_qualify_and_details(env):
    _, _, ib = env
    assert ib.client.serverVersion() == 157 and ib.managedAccounts() == ["DU1234567"]
    aapl, eur = Stock("AAPL", "SMART", "USD"), Forex("EURUSD")
    ib.qualifyContracts(aapl, eur)
    assert aapl.conId == 24 and aapl.primaryExchange == "NASDAQ" and eur.conId > 0
    details = ib.reqContractDetails(Future("ES", exchange="CME"))
    assert [d.contract.localSymbol for d in details] == ["ESM2", "ESU2"]
    assert details[0].tradingSessions() and details[0].minTick == 0.25


def test_history_ticks_and_realtime_bars(env):
    gateway, clock, ib = env
    aapl = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(aapl)
    bars = ib.reqHistoricalData(aapl, "", "2 D", "1 hour", "TRADES", True)
    assert len(bars) >= 9 and bars[-1].date.day == 1
    fx_bars = ib.reqHistoricalData(Forex("EURUSD"), "", "1 W", "1 day", "MIDPOINT", True)
    assert len(fx_bars) >= 5 and fx_bars[-1].volume == -1
    ticker = ib.reqMktData(aapl)
    rt = ib.reqRealTimeBars(aapl, 5, "TRADES", True)
    ib.sleep(0.2)
    assert ticker.bid < ticker.last < ticker.ask and ticker.volume > 0
    advance(gateway, clock, 0.5)
    for _ in ib.loopUntil(lambda: len(rt) >= 5, 10):
        pass
    assert len(rt) >= 5
    ib.cancelMktData(aapl)
    ib.cancelRealTimeBars(rt)


@pytest.mark.slow
def test_orders_fills_positions_portfolio_and_completed(env):
    _gateway, _clock, ib = env
    aapl = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(aapl)
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 20, orderRef="ib-async-1"))
    for _ in ib.loopUntil(lambda: trade.isDone() and trade.fills and trade.fills[0].commissionReport.commission, 10):
        pass  # the commission report follows the Filled status
    assert trade.orderStatus.status == "Filled" and trade.fills[0].commissionReport.commission > 0
    for _ in ib.loopUntil(lambda: ib.positions() and ib.portfolio(), 10):
        pass
    assert ib.positions()[0].position == 20 and ib.portfolio()[0].position == 20
    limit = ib.placeOrder(aapl, LimitOrder("BUY", 10, 100.0))
    stop = ib.placeOrder(aapl, StopOrder("SELL", 20, 300.0))
    for _ in ib.loopUntil(lambda: limit.orderStatus.status == "Submitted" and stop.orderStatus.status == "Submitted",
                          10):
        pass
    assert {t.order.orderId for t in ib.openTrades()} == {limit.order.orderId, stop.order.orderId}
    ib.cancelOrder(limit.order)
    for _ in ib.loopUntil(lambda: limit.orderStatus.status == "Cancelled", 10):
        pass
    assert limit.orderStatus.status == "Cancelled"
    bracket = ib.bracketOrder("BUY", 5, 600.0, 800.0, 300.0)
    trades = [ib.placeOrder(aapl, o) for o in bracket]
    for _ in ib.loopUntil(lambda: trades[0].orderStatus.status == "Filled", 10):
        pass
    for _ in ib.loopUntil(lambda: trades[1].orderStatus.status == "Submitted", 10):
        pass
    assert trades[1].orderStatus.status == "Submitted"
    completed = ib.reqCompletedOrders(False)
    assert {t.orderStatus.status for t in completed} >= {"Filled", "Cancelled"}
    fills = ib.reqExecutions()
    assert sum(f.execution.shares for f in fills) == 25
    values = {v.tag: v.value for v in ib.accountValues() if v.currency in ("USD", "")}
    assert float(values["NetLiquidation"]) > 0


def test_reconnect_keeps_state(env):
    gateway, _clock, ib = env
    eur = Forex("EURUSD")
    trade = ib.placeOrder(eur, MarketOrder("SELL", 25000))
    for _ in ib.loopUntil(lambda: trade.isDone(), 10):
        pass
    ib.disconnect()
    ib2 = IB()
    ib2.connect("127.0.0.1", gateway.port, clientId=5, timeout=15)
    try:
        assert [p.position for p in ib2.positions()] == [-25000]
        assert len(ib2.fills()) == 1
    finally:
        ib2.disconnect()
