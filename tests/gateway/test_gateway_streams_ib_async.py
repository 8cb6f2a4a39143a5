"""Depth, tick-by-tick, scanners, what-if and PnL at the simulated gateway, checked with ib_async."""

from __future__ import annotations

import pytest
from ib_async import IB, MarketOrder, ScannerSubscription, Stock
from support.gateway import advance, start_gateway


@pytest.fixture()
def env():
    gateway, clock = start_gateway()
    ib = IB()
    ib.connect("127.0.0.1", gateway.port, clientId=7, timeout=15)
    yield gateway, clock, ib
    ib.disconnect()
    gateway.stop()


def test_depth_and_tick_by_tick_tickers(env):
    gateway, clock, ib = env
    aapl = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(aapl)
    quote = ib.reqMktData(aapl)
    depth = ib.reqMktDepth(aapl, numRows=5)
    ticks = ib.reqTickByTickData(aapl, "BidAsk")
    for _ in ib.loopUntil(lambda: len(depth.domBids) == 5 and len(depth.domAsks) == 5 and ticks.tickByTicks, 10):
        pass
    assert depth.domBids[0].price == pytest.approx(quote.bid) and depth.domAsks[0].price == pytest.approx(quote.ask)
    assert [b.price for b in depth.domBids] == sorted((b.price for b in depth.domBids), reverse=True)
    tick = ticks.tickByTicks[-1]
    assert (tick.bidPrice, tick.askPrice) == (pytest.approx(quote.bid), pytest.approx(quote.ask))
    advance(gateway, clock, 2)  # the ticker keeps the ticks of its latest update only
    for _ in ib.loopUntil(lambda: ticks.tickByTicks and ticks.tickByTicks[-1] is not tick, 10):
        pass
    assert ticks.tickByTicks[-1] is not tick
    ib.cancelMktDepth(aapl)
    ib.cancelTickByTickData(aapl, "BidAsk")


def test_scanner_parameters_and_data(env):
    _, _, ib = env
    xml = ib.reqScannerParameters()
    assert "MOST_ACTIVE" in xml and "STK.US.MAJOR" in xml
    symbols = ("AAPL", "IBM", "MSFT", "GOOG", "FB")
    contracts = [Stock(s, "SMART", "USD") for s in symbols]
    ib.qualifyContracts(*contracts)
    tickers = ib.reqTickers(*contracts)
    change = {t.contract.symbol: (t.last - t.close) / t.close for t in tickers}
    sub = ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode="TOP_PERC_LOSE",
                              numberOfRows=5)
    rows = ib.reqScannerData(sub)
    assert [r.contractDetails.contract.symbol for r in rows] == sorted(symbols, key=lambda s: change[s])


def test_what_if_order_and_pnl(env):
    gateway, clock, ib = env
    aapl = Stock("AAPL", "SMART", "USD")
    ib.qualifyContracts(aapl)
    state = ib.whatIfOrder(aapl, MarketOrder("BUY", 10))
    price = ib.reqTickers(aapl)[0].last
    assert float(state.initMarginChange) == pytest.approx(10 * price * 0.5, abs=0.01)
    assert float(state.maintMarginChange) == pytest.approx(10 * price * 0.25, abs=0.01)
    assert not ib.positions()
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 10))
    for _ in ib.loopUntil(lambda: trade.isDone() and ib.portfolio(), 10):
        pass
    advance(gateway, clock, 30)
    account = ib.managedAccounts()[0]
    pnl = ib.reqPnL(account)
    single = ib.reqPnLSingle(account, "", aapl.conId)
    ib.reqAccountUpdates(account)  # fresh portfolio rows at the new prices
    item = ib.portfolio()[0]
    for _ in ib.loopUntil(lambda: pnl.unrealizedPnL == pytest.approx(item.unrealizedPNL, abs=0.01)
                          and single.position == 10, 10):
        pass  # PnL follows the prices as the gateway's clock moves
    assert pnl.unrealizedPnL == pytest.approx(item.unrealizedPNL, abs=0.01)
    assert pnl.dailyPnL == pytest.approx(pnl.unrealizedPnL + pnl.realizedPnL, abs=0.01)
    assert single.position == 10 and single.value == pytest.approx(item.marketValue, abs=0.01)
