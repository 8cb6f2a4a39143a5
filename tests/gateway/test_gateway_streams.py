"""Depth, tick-by-tick, scanners, what-if and PnL at the simulated gateway, checked with the real ibapi client.

Expected values are derived from what the same client sees elsewhere (snapshot quotes, portfolio rows, account
values), not from the gateway's code.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from ibapi.scanner import ScannerSubscription
from support.gateway import advance, clients, fx, order, raw_connect, read_frame, send_frame, start_gateway, stock

SYMBOLS = ("AAPL", "IBM", "MSFT", "GOOG", "FB")


@pytest.fixture()
def gw():
    gateway, clock = start_gateway()
    yield gateway, clock
    gateway.stop()


def _snapshot(c, req_id: int, contract) -> dict[int, float]:
    """tickType -> price of a snapshot (1 bid, 2 ask, 4 last, 9 close, 14 open)."""
    c.reqMktData(req_id, contract, "", True, False, [])
    c.wait("tickSnapshotEnd", lambda r: r == req_id)
    return {a[1]: a[2] for a in c.named("tickPrice", lambda r, *_: r == req_id)}


def test_depth_rows_follow_the_quote(gw):
    gateway, clock = gw
    with clients(gateway.port, 31) as (c,):
        quote = _snapshot(c, 1, stock())
        c.reqMktDepth(2, stock(), 5, False, [])
        rows = c.wait("updateMktDepth", lambda r, *_: r == 2, count=10)
        bids = sorted((a[1], a[4], a[5]) for a in rows if a[3] == 1)
        asks = sorted((a[1], a[4], a[5]) for a in rows if a[3] == 0)
        assert [r[0] for r in bids] == [0, 1, 2, 3, 4] and {a[2] for a in rows} == {0}  # five inserts a side
        assert bids[0][1] == pytest.approx(quote[1]) and asks[0][1] == pytest.approx(quote[2])
        assert all(b[1] > later[1] for b, later in pairwise(bids))  # deeper bids are lower
        assert all(a[1] < later[1] for a, later in pairwise(asks))
        assert all(b[2] < later[2] for b, later in pairwise(bids))  # and larger
        c.reqMktDepth(3, stock("MSFT"), 3, True, [])
        smart = c.wait("updateMktDepthL2", lambda r, *_: r == 3, count=6)
        assert all(a[7] for a in smart) and {a[2] for a in smart} >= {"NYSE", "ARCA", "BATS"}
        advance(gateway, clock, 3)
        updates = c.wait("updateMktDepth", lambda r, pos, op, *_: r == 2 and op == 1)
        assert updates
        c.cancelMktDepth(2, False)
        c.cancelMktDepth(3, True)


def test_tick_by_tick_last_bid_ask_and_midpoint(gw):
    gateway, clock = gw
    with clients(gateway.port, 32) as (c,):
        quote = _snapshot(c, 1, stock())
        c.reqTickByTickData(2, stock(), "BidAsk", 0, False)
        c.reqTickByTickData(3, stock(), "Last", 0, False)
        c.reqTickByTickData(4, fx(), "MidPoint", 0, False)
        ba = c.wait("tickByTickBidAsk", lambda r, *_: r == 2)[0]
        assert (ba[2], ba[3]) == (pytest.approx(quote[1]), pytest.approx(quote[2])) and ba[4] > 0 and ba[5] > 0
        last = c.wait("tickByTickAllLast", lambda r, *_: r == 3)[0]
        assert last[1] == 1 and last[3] == pytest.approx(quote[4]) and last[4] > 0 and last[6] == "NASDAQ"
        mid = c.wait("tickByTickMidPoint", lambda r, *_: r == 4)[0]
        fxq = _snapshot(c, 5, fx())
        assert mid[2] == pytest.approx((fxq[1] + fxq[2]) / 2)
        advance(gateway, clock, 2)
        assert len(c.wait("tickByTickAllLast", lambda r, *_: r == 3, count=2)) >= 2
        c.cancelTickByTickData(2)
        c.cancelTickByTickData(3)
        c.cancelTickByTickData(4)


def test_scanner_parameters_and_top_gainers_match_the_quotes(gw):
    gateway, _ = gw
    with clients(gateway.port, 33) as (c,):
        c.reqScannerParameters()
        xml = c.wait("scannerParameters")[0][0]
        assert "<scanCode>TOP_PERC_GAIN</scanCode>" in xml and "<scanCode>HOT_BY_VOLUME</scanCode>" in xml
        change = {}
        volume = {}
        for i, sym in enumerate(SYMBOLS):
            q = _snapshot(c, 10 + i, stock(sym))
            change[sym] = (q[4] - q[9]) / q[9]
            volume[sym] = [a[2] for a in c.named("tickSize", lambda r, t, *_, k=10 + i: r == k and t == 8)][-1]
        for req_id, code, expected in (
            (50, "TOP_PERC_GAIN", sorted(SYMBOLS, key=lambda s: -change[s])),
            (51, "TOP_PERC_LOSE", sorted(SYMBOLS, key=lambda s: change[s])),
            (52, "MOST_ACTIVE", sorted(SYMBOLS, key=lambda s: -volume[s])),
        ):
            sub = ScannerSubscription()
            sub.instrument, sub.locationCode, sub.scanCode, sub.numberOfRows = "STK", "STK.US.MAJOR", code, 3
            c.reqScannerSubscription(req_id, sub, [], [])
            c.wait("scannerDataEnd", lambda r, k=req_id: r == k)
            rows = c.named("scannerData", lambda r, *_, k=req_id: r == k)
            assert [a[2].contract.symbol for a in rows] == expected[:3], code
            assert [a[1] for a in rows] == [0, 1, 2]
            c.cancelScannerSubscription(req_id)
        sub = ScannerSubscription()
        sub.instrument, sub.locationCode, sub.scanCode = "STK", "STK.US.MAJOR", "NOT_A_SCAN"
        c.reqScannerSubscription(60, sub, [], [])
        assert c.wait("error", lambda r, code, text: r == 60 and code == 321 and "TOP_PERC_GAIN" in text)


def test_what_if_reports_margins_without_trading(gw):
    gateway, _ = gw
    with clients(gateway.port, 34) as (c,):
        c.reqAccountUpdates(True, "")
        c.wait("accountDownloadEnd")
        values = {a[0]: a[1] for a in c.named("updateAccountValue")}
        last = _snapshot(c, 1, stock())[4]
        c.placeOrder(100, stock(), order("BUY", 10, whatIf=True))
        state = c.wait("openOrder", lambda oid, *_: oid == 100)[0][3]
        assert float(state.initMarginChange) == pytest.approx(10 * last * 0.5, abs=0.01)
        assert float(state.maintMarginChange) == pytest.approx(10 * last * 0.25, abs=0.01)
        assert float(state.initMarginBefore) == pytest.approx(float(values["InitMarginReq"]), abs=0.01)
        assert float(state.equityWithLoanBefore) == pytest.approx(float(values["NetLiquidation"]), abs=0.01)
        assert float(state.initMarginAfter) == pytest.approx(float(state.initMarginBefore) +
                                                             float(state.initMarginChange), abs=0.01)
        assert state.commission > 0
        c.reqPositions()
        c.wait("positionEnd")
        assert not c.named("position") and not c.named("execDetails") and not c.named("orderStatus")


def test_pnl_and_pnl_single_agree_with_the_portfolio(gw):
    gateway, clock = gw
    with clients(gateway.port, 35) as (c,):
        c.placeOrder(200, stock(), order("BUY", 10))
        c.wait("execDetails")
        advance(gateway, clock, 30)
        c.reqAccountUpdates(True, "")
        c.wait("accountDownloadEnd")
        row = c.named("updatePortfolio")[-1]
        assert row[1] == 10
        c.reqPnL(1, "DU1234567", "")
        daily, unrealized, realized = c.wait("pnl", lambda r, *_: r == 1)[0][1:4]
        assert unrealized == pytest.approx(row[5], abs=0.01) and daily == pytest.approx(unrealized + realized)
        c.reqPnLSingle(2, "DU1234567", "", row[0].conId)
        single = c.wait("pnlSingle", lambda r, *_: r == 2)[0]
        assert single[1] == 10 and single[3] == pytest.approx(row[5], abs=0.01)
        assert single[5] == pytest.approx(row[3], abs=0.01)  # the position's value = the portfolio's
        c.cancelPnL(1)
        c.cancelPnLSingle(2)


def test_requests_newer_than_the_negotiated_version_are_refused(gw):
    gateway, _ = gw
    s = raw_connect(gateway.port, 36, versions="v100..120")
    try:
        send_frame(s, 97, 7, 0, "AAPL", "STK", "", "0", "", "", "SMART", "", "USD", "", "", "BidAsk", 0, 0)
        for _ in range(20):
            f = read_frame(s)
            if f[0] == "4" and f[2] == "7":
                assert f[3] == "321" and "140" in f[4]
                break
        else:
            raise AssertionError("no error for the tick-by-tick request")
    finally:
        s.close()
