"""Conformance of the simulated gateway with the real ibapi client (EClient/EWrapper over loopback)."""

from __future__ import annotations

import itertools

import pytest
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from support.gateway import NS_MIN, Recorder, advance, clients, fx, order, start_gateway, stock

from runtime.gateway.market import NS_PER_SECOND
from runtime.gateway.universe import sample_universe


@pytest.fixture()
def gw():
    gateway, clock = start_gateway()
    yield gateway, clock
    gateway.stop()


@pytest.fixture(scope="module")
def shared():
    """One gateway for the read-only tests (contracts, market data, history)."""
    gateway, clock = start_gateway()
    yield gateway, clock
    gateway.stop()


# ---------------------------------------------------------------------------------------------------- connection
def test_handshake_accounts_ids_and_farm_notices(shared):
    gateway, _ = shared
    with clients(gateway.port, 11) as (c,):
        assert c.serverVersion() == 157
        assert c.wait("managedAccounts")[0] == ("DU1234567",)
        assert c.wait("nextValidId")[0][0] >= 1
        codes = {a[1] for a in c.wait("error", count=3)}
        assert {2104, 2106, 2158} <= codes
        names = [n for n, _ in c.events]
        assert names.index("managedAccounts") < names.index("nextValidId")


def test_duplicate_client_id_is_refused_with_326(shared):
    gateway, _ = shared
    with clients(gateway.port, 12) as (first,):
        second = Recorder().start(gateway.port, 12, wait_ready=False)
        try:
            assert second.wait("error", lambda i, code, text: code == 326)
            assert not second.named("nextValidId")
        finally:
            second.stop()
        first.reqCurrentTime()
        first.wait("currentTime")  # the first client is undisturbed


def test_several_clients_req_ids_and_current_time(shared):
    gateway, clock = shared
    with clients(gateway.port, 13, 14) as (a, b):
        a.reqIds(1)
        b.reqCurrentTime()
        assert len(a.wait("nextValidId", count=2)) == 2
        assert b.wait("currentTime")[0][0] == clock.now_ns() // 1_000_000_000


# ----------------------------------------------------------------------------------------------------- contracts
def test_contract_details_stock_fx_future_and_unknown(shared):
    gateway, _ = shared
    with clients(gateway.port, 15) as (c,):
        c.reqContractDetails(1, stock("AAPL"))
        c.wait("contractDetailsEnd", lambda r: r == 1)
        (_req, cd), = c.named("contractDetails", lambda r, d: r == 1)
        assert cd.contract.conId == 24 and cd.contract.primaryExchange == "NASDAQ"
        assert cd.contract.exchange == "SMART" and cd.minTick == 0.01
        assert cd.timeZoneId == "US/Eastern" and "20120601:0930-20120601:1600" in cd.liquidHours
        assert "20120602:CLOSED" in cd.tradingHours and cd.longName == "APPLE INC"
        c.reqContractDetails(2, fx())
        c.wait("contractDetailsEnd", lambda r: r == 2)
        (_, cd), = c.named("contractDetails", lambda r, d: r == 2)
        assert cd.contract.secType == "CASH" and cd.contract.localSymbol == "EUR.USD" and cd.minTick == 5e-05
        fut = Contract()
        fut.symbol, fut.secType, fut.exchange, fut.currency = "ES", "FUT", "GLOBEX", "USD"
        c.reqContractDetails(3, fut)
        c.wait("contractDetailsEnd", lambda r: r == 3)
        futs = c.named("contractDetails", lambda r, d: r == 3)
        assert len(futs) == 2 and all(d.contract.multiplier == "50" for _, d in futs)
        assert futs[0][1].contract.lastTradeDateOrContractMonth == "20120615"
        c.reqContractDetails(4, stock("APPL"))
        (_, code, text), = c.wait("error", lambda r, code, t: r == 4)
        assert code == 200 and "AAPL" in text


# --------------------------------------------------------------------------------------------------- market data
def _minute_close(symbol: str, end_ns: int) -> float:
    """The close of the sample's minute bar of ``symbol`` ending at ``end_ns``."""
    (series,) = [s for s in sample_universe(end_ns).market.all_series() if s.inst.symbol == symbol]
    bars = series.minutes_between(end_ns - NS_MIN, end_ns)
    assert len(bars) == 1
    return float(bars.close[0])


def test_snapshot_and_streaming_ticks(shared):
    gateway, clock = shared
    start = clock.now_ns()  # a minute boundary: the last price is the close of the minute that just ended
    with clients(gateway.port, 16) as (c,):
        c.reqMktData(1, stock("AAPL"), "", True, False, [])
        c.wait("tickSnapshotEnd", lambda r: r == 1)
        prices = {t: p for r, t, p, _ in c.named("tickPrice", lambda r, *a: r == 1)}
        assert {1, 2, 4, 6, 7, 9, 14} <= set(prices)
        assert prices[1] < prices[4] < prices[2]
        assert prices[4] == _minute_close("AAPL", start)
        assert c.named("tickString", lambda r, t, v: r == 1 and t == 45 and v == str(start // NS_PER_SECOND))
        assert c.named("tickSize", lambda r, t, s: r == 1 and t == 8)
        assert c.named("tickReqParams", lambda r, *a: r == 1)
        c.reqMktData(2, stock("IBM"), "", False, False, [])
        close = _minute_close("IBM", start)
        c.wait("tickPrice", lambda r, t, p, _: r == 2 and t == 4 and p == close)
        for step in (2, 1):  # the last price changes at 10:37 and changes back at 10:38
            advance(gateway, clock, step)
            now = clock.now_ns()
            close = _minute_close("IBM", now)
            c.wait("tickString", lambda r, t, v, now=now: r == 2 and t == 45 and v == str(now // NS_PER_SECOND))
            assert c.named("tickPrice", lambda r, t, *a: r == 2 and t == 4)[-1][2] == close
        c.cancelMktData(2)
        c.reqMarketDataType(3)
        c.reqMktData(3, fx(), "", False, False, [])
        c.wait("marketDataType", lambda r, t: r == 3 and t == 3)
        ticks = {t for r, t, *_ in c.wait("tickPrice", lambda r, *a: r == 3, count=2)}
        assert ticks <= {66, 67, 72, 73, 75, 76}


def test_historical_bars_sizes_durations_and_formats(shared):
    gateway, _ = shared
    with clients(gateway.port, 17) as (c,):
        cases = [
            (1, "1 D", "30 mins", "TRADES", 1), (2, "3600 S", "5 mins", "MIDPOINT", 2),
            (3, "1 Y", "1 day", "TRADES", 1),
            (4, "1800 S", "30 secs", "BID", 1), (5, "2 W", "1 hour", "ASK", 1), (6, "2 Y", "1 week", "TRADES", 1),
            (7, "2 Y", "1 month", "TRADES", 1), (8, "300 S", "1 secs", "TRADES", 1),
        ]
        for req_id, duration, size, what, fmt in cases:
            c.reqHistoricalData(req_id, stock("MSFT"), "", duration, size, what, 1, fmt, False, [])
        for req_id, *_ in cases:
            c.wait("historicalDataEnd", lambda r, *a, rid=req_id: r == rid)
        bars = {rid: [b for r, b in c.named("historicalData", lambda r, b, rid=rid: r == rid)] for rid, *_ in cases}
        assert len(bars[1]) == 3 and bars[1][0].date == "20120601  09:30:00"
        assert 12 <= len(bars[2]) <= 13 and bars[2][0].date.isdigit()
        assert 240 <= len(bars[3]) <= 254 and bars[3][-1].date == "20120601" and len(bars[3][-1].date) == 8
        assert len(bars[4]) == 60 and bars[4][0].volume == -1
        assert all(b.low <= b.open <= b.high and b.low <= b.close <= b.high for b in bars[3])
        assert 100 <= len(bars[6]) <= 106 and 23 <= len(bars[7]) <= 25
        assert len(bars[8]) == 300
        assert bars[1][-1].volume > 0 and bars[1][-1].barCount > 0


def test_historical_errors_unknown_contract_and_fx_trades(shared):
    gateway, _ = shared
    with clients(gateway.port, 18) as (c,):
        c.reqHistoricalData(1, stock("NOPE"), "", "1 D", "1 min", "TRADES", 1, 1, False, [])
        c.reqHistoricalData(2, fx(), "", "1 D", "1 min", "TRADES", 1, 1, False, [])
        c.reqHistoricalData(3, stock(), "", "1 D", "7 bananas", "TRADES", 1, 1, False, [])
        assert c.wait("error", lambda r, code, t: r == 1)[0][1] == 200
        assert c.wait("error", lambda r, code, t: r == 2)[0][1] == 162
        assert c.wait("error", lambda r, code, t: r == 3)[0][1] == 321


def test_keep_up_to_date_real_time_bars_and_head_timestamp(shared):
    gateway, clock = shared
    with clients(gateway.port, 19) as (c,):
        c.reqHistoricalData(1, stock("GOOG"), "", "1800 S", "1 min", "TRADES", 1, 1, True, [])
        c.wait("historicalDataEnd")
        c.reqRealTimeBars(2, stock("GOOG"), 5, "TRADES", True, [])
        c.reqHeadTimeStamp(3, stock("GOOG"), "TRADES", 1, 1)
        assert c.wait("headTimestamp")[0][1].startswith("20040819")
        advance(gateway, clock, 0.5)
        updates = c.wait("historicalDataUpdate", lambda r, b: r == 1)
        assert updates[-1][1].date.startswith("20120601  10:3")
        bars = c.wait("realtimeBar", lambda r, *a: r == 2, count=5)
        times = [b[1] for b in bars]
        assert all(t2 - t1 == 5 for t1, t2 in itertools.pairwise(times))
        c.cancelHistoricalData(1)
        c.cancelRealTimeBars(2)


# -------------------------------------------------------------------------------------------------------- orders
def _fill_sequence(c: Recorder, order_id: int) -> list[str]:
    wanted = {"openOrder", "orderStatus", "execDetails", "commissionReport"}
    out = []
    exec_ids = {a[2].execId for a in c.named("execDetails", lambda r, ct, e: e.orderId == order_id)}
    for name, args in c.events:
        if name not in wanted:
            continue
        if (name == "commissionReport" and args[0].execId in exec_ids) or (name != "commissionReport" and (
                args[0] == order_id or (name == "execDetails" and args[2].orderId == order_id))):
            out.append(name if name != "orderStatus" else f"orderStatus:{args[1]}")
    return out


def test_market_order_fill_sequence_positions_and_account(gw):
    gateway, _ = gw
    with clients(gateway.port, 1) as (c,):
        c.reqPositions()
        c.wait("positionEnd")
        c.reqAccountUpdates(True, "")
        c.wait("accountDownloadEnd")
        oid = c.wait("nextValidId")[-1][0]
        c.placeOrder(oid, stock("AAPL"), order("BUY", 100, orderRef="ref-1"))
        c.wait("orderStatus", lambda o, st, *a: o == oid and st == "Filled")
        assert _fill_sequence(c, oid) == ["openOrder", "orderStatus:Submitted", "execDetails", "commissionReport",
                                          "openOrder", "orderStatus:Filled"]
        (req, _contract, ex), = c.named("execDetails")
        assert req == -1 and ex.side == "BOT" and ex.shares == 100 and ex.cumQty == 100 and ex.orderRef == "ref-1"
        assert c.named("openOrder")[0][2].orderRef == "ref-1"
        pos = c.wait("position", lambda acct, ct, p, cost: p == 100)
        assert pos[0][1].conId == 24 and pos[0][3] > ex.price  # avgCost includes the commission
        c.wait("updatePortfolio", lambda ct, p, *a: p == 100)
        c.wait("updateAccountValue", lambda k, v, *a: k == "TotalCashValue" and float(v) < 1_000_000)
        cash = [float(v) for k, v, cur, a in c.named("updateAccountValue") if k == "TotalCashValue"]
        assert cash[0] == 1_000_000 and cash[-1] < 1_000_000 - 100 * ex.price



def test_account_values_after_a_burst_of_fills_are_coalesced_and_end_current(gw):
    """Positions go out with every fill; account values at most every account_update_interval_s, the last push
    carrying the values after the last fill."""
    gateway, _ = gw
    with clients(gateway.port, 1) as (c,):
        c.reqAccountUpdates(True, "")
        c.wait("accountDownloadEnd")
        oid = c.wait("nextValidId")[-1][0]
        for i in range(20):
            c.placeOrder(oid + i, stock("AAPL"), order("BUY", 1))
        c.wait("updatePortfolio", lambda ct, p, *a: p == 20)
        executions = c.wait("execDetails", count=20)
        commissions = c.wait("commissionReport", count=20)
        spent = sum(e.shares * e.price for _, _, e in executions) + sum(r.commission for (r,) in commissions)
        expected = f"{1_000_000 - spent:.2f}"
        c.wait("updateAccountValue", lambda k, v, *a: k == "TotalCashValue" and v == expected)
        pushes = [v for k, v, cur, a in c.named("updateAccountValue") if k == "TotalCashValue"]
        assert len(pushes) < 20 and pushes[-1] == expected
        assert [p for _, p, *_ in c.named("updatePortfolio")] == list(range(1, 21))

def test_limit_order_rests_then_cancel_and_cancel_errors(gw):
    gateway, _ = gw
    with clients(gateway.port, 1) as (c,):
        c.placeOrder(10, stock("AAPL"), order("BUY", 10, "LMT", lmt=400.0))
        c.wait("orderStatus", lambda oid, st, *a: oid == 10 and st == "Submitted")
        c.reqOpenOrders()
        c.wait("openOrderEnd")
        assert [a[0] for a in c.named("openOrder")] == [10, 10]
        c.cancelOrder(10)
        c.wait("orderStatus", lambda oid, st, *a: oid == 10 and st == "Cancelled")
        assert c.wait("error", lambda r, code, t: r == 10)[0][1] == 202
        c.cancelOrder(10)
        c.cancelOrder(77)
        assert c.wait("error", lambda r, code, t: r == 10 and code == 10148)
        assert c.wait("error", lambda r, code, t: r == 77 and code == 10147)
        c.reqCompletedOrders(False)
        c.wait("completedOrdersEnd")
        (_, o, st), = c.named("completedOrder")
        assert st.status == "Cancelled" and o.permId > 0


def test_rejections_duplicate_tick_contract_funds(gw):
    gateway, _ = gw
    with clients(gateway.port, 1) as (c,):
        c.placeOrder(20, stock("AAPL"), order("BUY", 1))
        c.wait("orderStatus", lambda oid, st, *a: oid == 20 and st == "Filled")
        c.placeOrder(20, stock("AAPL"), order("BUY", 1))
        c.placeOrder(21, stock("AAPL"), order("BUY", 1, "LMT", lmt=500.005))
        c.placeOrder(22, stock("ZZZZ"), order("BUY", 1))
        c.placeOrder(23, stock("AAPL"), order("BUY", 100_000))
        for oid, code in ((20, 103), (21, 110), (22, 200), (23, 201)):
            assert c.wait("error", lambda r, cd, t, o=oid: r == o)[0][1] == code


def test_stop_trail_moc_and_day_expiry_follow_the_clock(gw):
    gateway, clock = gw
    with clients(gateway.port, 1) as (c,):
        c.placeOrder(30, stock("AAPL"), order("BUY", 10, "STP", aux=560.0))  # already above: triggers at once
        c.placeOrder(31, stock("AAPL"), order("SELL", 10, "TRAIL", aux=0.5))
        c.placeOrder(32, stock("IBM"), order("BUY", 10, "MOC"))
        c.placeOrder(33, stock("MSFT"), order("BUY", 10, "LMT", lmt=20.0))  # far below: expires at the close
        c.placeOrder(34, stock("MSFT"), order("BUY", 10, "LMT", lmt=20.0, tif="GTC"))
        c.wait("orderStatus", lambda oid, st, *a: oid == 30 and st == "Filled")
        c.wait("orderStatus", lambda oid, st, *a: oid == 34 and st == "Submitted")
        advance(gateway, clock, 60 * 6)  # past the 16:00 close
        c.wait("orderStatus", lambda oid, st, *a: oid == 31 and st == "Filled")
        c.wait("orderStatus", lambda oid, st, *a: oid == 32 and st == "Filled")
        c.wait("orderStatus", lambda oid, st, *a: oid == 33 and st == "Cancelled")
        moc = c.named("execDetails", lambda r, ct, e: e.orderId == 32)[0][2]
        assert moc.time.startswith("20120601 16:00:00")
        assert not c.named("orderStatus", lambda oid, st, *a: oid == 34 and st == "Cancelled")


def test_bracket_and_oca(gw):
    gateway, _clock = gw
    with clients(gateway.port, 1) as (c,):
        parent = order("BUY", 10, "LMT", lmt=600.0, transmit=False)
        take = order("SELL", 10, "LMT", lmt=800.0, parentId=40, transmit=False)
        stop = order("SELL", 10, "STP", aux=300.0, parentId=40, transmit=True)
        c.placeOrder(40, stock("AAPL"), parent)
        c.placeOrder(41, stock("AAPL"), take)
        c.placeOrder(42, stock("AAPL"), stop)
        c.wait("orderStatus", lambda oid, st, *a: oid == 40 and st == "Filled")
        c.wait("orderStatus", lambda oid, st, *a: oid == 41 and st == "Submitted")
        assert c.named("orderStatus", lambda oid, st, *a: oid == 41)[0][1] == "PreSubmitted"
        assert c.named("openOrder", lambda oid, ct, o, s: oid == 42)[0][2].parentId == 40
        c.cancelOrder(40)
        c.wait("error", lambda r, code, t: r == 40 and code == 10148)
        a = order("BUY", 5, "LMT", lmt=600.0, ocaGroup="g1", ocaType=1)
        b = order("BUY", 5, "LMT", lmt=1.0, ocaGroup="g1", ocaType=1)
        c.placeOrder(51, stock("IBM"), b)
        c.placeOrder(50, stock("IBM"), a)
        c.wait("orderStatus", lambda oid, st, *a: oid == 50 and st == "Filled")
        c.wait("orderStatus", lambda oid, st, *a: oid == 51 and st == "Cancelled")



def test_children_of_a_rejected_parent_are_cancelled_not_worked(gw):
    gateway, _clock = gw
    with clients(gateway.port, 1) as (c,):
        parent = order("BUY", 100_000, "LMT", lmt=600.0, transmit=False)  # ~60 M: more than the account has
        take = order("SELL", 100, "LMT", lmt=500.0, parentId=70, transmit=False)  # marketable if it worked alone
        stop = order("SELL", 100, "STP", aux=800.0, parentId=70, transmit=True)
        c.placeOrder(70, stock("AAPL"), parent)
        c.placeOrder(71, stock("AAPL"), take)
        c.placeOrder(72, stock("AAPL"), stop)
        c.wait("orderStatus", lambda oid, st, *a: oid == 70 and st == "Inactive")
        for child in (71, 72):
            c.wait("orderStatus", lambda oid, st, *a, child=child: oid == child and st == "Cancelled")
            assert c.wait("error", lambda r, code, t, child=child: r == child)[0][1] == 202
        assert not c.named("execDetails", lambda r, ct, e: e.orderId in (70, 71, 72))

def test_partial_fills_when_volume_is_short_and_modify(gw):
    gateway, clock = gw
    with clients(gateway.port, 1) as (c,):
        c.placeOrder(60, stock("GOOG"), order("BUY", 1500, "MKT"))
        first = c.wait("execDetails", lambda r, ct, e: e.orderId == 60)[0][2]
        assert first.shares < 1500
        c.wait("orderStatus", lambda oid, st, f, rem, *a: oid == 60 and st == "Submitted" and f > 0 and rem > 0)
        advance(gateway, clock, 30)
        c.wait("orderStatus", lambda oid, st, *a: oid == 60 and st == "Filled")
        execs = c.named("execDetails", lambda r, ct, e: e.orderId == 60)
        assert sum(e.shares for _, _, e in execs) == 1500 and execs[-1][2].cumQty == 1500
        c.placeOrder(61, stock("AAPL"), order("BUY", 10, "LMT", lmt=400.0))
        c.wait("orderStatus", lambda oid, st, *a: oid == 61 and st == "Submitted")
        c.placeOrder(61, stock("AAPL"), order("BUY", 10, "LMT", lmt=700.0))  # modify: now marketable
        c.wait("orderStatus", lambda oid, st, *a: oid == 61 and st == "Filled")
        assert c.named("openOrder", lambda oid, ct, o, s: oid == 61)[1][2].lmtPrice == 700.0


def test_executions_filter_accounts_summary_and_reconnect_keeps_state(gw):
    gateway, _ = gw
    with clients(gateway.port, 3) as (c,):
        c.placeOrder(70, stock("AAPL"), order("BUY", 5))
        c.placeOrder(71, fx(), order("BUY", 20000))
        c.wait("orderStatus", lambda oid, st, *a: oid == 71 and st == "Filled")
    with clients(gateway.port, 3) as (c,):  # same client id again, after a disconnect
        f = ExecutionFilter()
        f.secType = "CASH"
        c.reqExecutions(5, f)
        c.wait("execDetailsEnd")
        (_, ct, ex), = c.named("execDetails")
        assert ct.secType == "CASH" and ex.shares == 20000 and ex.orderId == 71
        c.reqExecutions(6, ExecutionFilter())
        c.wait("execDetailsEnd", lambda r: r == 6)
        assert len(c.named("execDetails", lambda r, *a: r == 6)) == 2
        assert len(c.named("commissionReport")) == 3
        c.reqPositions()
        c.wait("positionEnd")
        assert {(ct.symbol, p) for _, ct, p, _ in c.named("position")} == {("AAPL", 5), ("EUR", 20000)}
        c.reqAccountSummary(7, "All", "NetLiquidation,TotalCashValue,BuyingPower")
        c.wait("accountSummaryEnd")
        assert {t for _, _, t, _, _ in c.named("accountSummary")} == {"NetLiquidation", "TotalCashValue",
                                                                     "BuyingPower"}
        c.reqAccountUpdatesMulti(8, "DU1234567", "", True)
        c.wait("accountUpdateMultiEnd")
        c.reqCompletedOrders(True)
        c.wait("completedOrdersEnd")
        assert len(c.named("completedOrder")) == 2


def test_state_file_survives_a_gateway_restart(tmp_path):
    state = tmp_path / "gw.json"
    gateway, clock = start_gateway(state_file=str(state))
    try:
        with clients(gateway.port, 1) as (c,):
            c.placeOrder(80, stock("AAPL"), order("BUY", 7))
            c.placeOrder(81, stock("AAPL"), order("SELL", 7, "LMT", lmt=900.0, tif="GTC"))
            c.wait("orderStatus", lambda oid, st, *a: oid == 81 and st == "Submitted")
    finally:
        gateway.stop()
    gateway, _ = start_gateway(clock=clock, state_file=str(state))
    try:
        with clients(gateway.port, 1) as (c,):
            assert c.wait("nextValidId")[0][0] == 82
            c.reqPositions()
            c.wait("positionEnd")
            assert [(ct.symbol, p) for _, ct, p, _ in c.named("position")] == [("AAPL", 7)]
            c.reqOpenOrders()
            c.wait("openOrderEnd")
            assert [a[0] for a in c.named("openOrder")] == [81]
            c.cancelOrder(81)
            c.wait("orderStatus", lambda oid, st, *a: oid == 81 and st == "Cancelled")
    finally:
        gateway.stop()


def test_minutes_advance_with_the_clock(shared):
    gateway, clock = shared
    start = clock.now_ns()
    advance(gateway, clock, 1)
    assert clock.now_ns() - start == NS_MIN
