"""Trading options at the simulated gateway, checked with ibapi and ib_async over loopback: fills at the model quote
(buys at the ask, sells at the bid), IB's option commissions, positions, portfolio and P&L with multiplier 100, the
option margin rule in what-if answers, expiration (exercise, assignment, worthless expiry) and exerciseOptions."""

from __future__ import annotations

import pandas as pd
import pytest
from ib_async import IB, MarketOrder, Option
from ibapi.contract import Contract
from support.gateway import advance, clients, order, start_gateway, stock

from runtime.engine.clocks import ReplayClock

ACCOUNT = "DU1234567"
#: Thursday 2012-07-19, the day before July's monthly expiration
EVE = pd.Timestamp("2012-07-19 10:35", tz="America/New_York").value


def _opt(strike: float, right: str, expiry: str = "20120720") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency, c.multiplier = "AAPL", "OPT", "SMART", "USD", "100"
    c.lastTradeDateOrContractMonth, c.strike, c.right = expiry, strike, right
    return c


def _quote(c, req_id: int, contract: Contract) -> dict[int, float]:
    c.reqMktData(req_id, contract, "", True, False, [])
    c.wait("tickSnapshotEnd", lambda r: r == req_id)
    return {t: p for r, t, p, *_ in c.named("tickPrice", lambda r, *_: r == req_id)}


def _commission(price: float, contracts: int) -> float:
    """IB's fixed US option commission as published: by premium per contract, USD 1.00 minimum per order."""
    rate = 0.65 if price >= 0.10 else 0.50 if price >= 0.05 else 0.25
    return max(rate * contracts, 1.0)


def _cash(c) -> float:
    c.reqAccountSummary(900 + len(c.named("accountSummaryEnd")), "All", "TotalCashValue")
    c.wait("accountSummaryEnd", count=len(c.named("accountSummaryEnd")) + 1)
    return float([a for a in c.named("accountSummary") if a[2] == "TotalCashValue"][-1][3])


def _strikes(c, req_id: int, right: str, expiry: str = "20120720") -> list[float]:
    q = _opt(0.0, right, expiry)
    c.reqContractDetails(req_id, q)
    c.wait("contractDetailsEnd", lambda r: r == req_id)
    return sorted(a[1].contract.strike for a in c.named("contractDetails", lambda r, *_: r == req_id))


def test_option_orders_fill_at_the_quote_with_ib_commissions_and_follow_in_the_account():
    gateway, clock = start_gateway()
    try:
        with clients(gateway.port, 91) as (c,):
            spot = _quote(c, 1, stock())[4]
            strikes = _strikes(c, 2, "C")
            call = _opt(min(strikes, key=lambda k: abs(k - spot)), "C")
            q = _quote(c, 3, call)
            cash0 = _cash(c)
            c.placeOrder(10, call, order("BUY", 2))
            ex = c.wait("execDetails", lambda r, k, e: e.orderId == 10)[0][2]
            fee = c.wait("commissionReport")[0][0].commission
            assert ex.price == pytest.approx(q[2]) and ex.shares == 2  # at the ask
            assert fee == pytest.approx(_commission(q[2], 2))
            assert _cash(c) == pytest.approx(cash0 - 2 * 100 * q[2] - fee, abs=0.01)  # multiplier 100
            c.reqPositions()
            c.wait("positionEnd")
            (pos,) = [a for a in c.named("position") if a[1].secType == "OPT"]
            assert pos[1].conId and pos[1].strike == call.strike and pos[1].right == "C" and pos[1].multiplier == "100"
            assert pos[2] == 2 and pos[3] == pytest.approx(q[2] * 100 + fee / 2)  # avgCost per contract
            c.reqAccountUpdates(True, "")
            c.wait("accountDownloadEnd")
            row = [a for a in c.named("updatePortfolio") if a[0].secType == "OPT"][-1]
            assert row[1] == 2 and row[3] == pytest.approx(2 * 100 * row[2])  # market value = 2 x 100 x price
            c.reqPnLSingle(4, ACCOUNT, "", pos[1].conId)
            single = c.wait("pnlSingle", lambda r, *_: r == 4)[0]
            assert single[1] == 2 and single[5] == pytest.approx(row[3], abs=0.01)
            # a sell limit above the bid waits; made marketable it fills at the bid, not at its limit
            c.placeOrder(11, call, order("SELL", 2, "LMT", round(q[2] * 2, 1)))
            advance(gateway, clock, 5)
            assert not c.named("execDetails", lambda r, k, e: e.orderId == 11)
            q2 = _quote(c, 5, call)
            c.placeOrder(11, call, order("SELL", 2, "LMT", 1.0))
            sold = c.wait("execDetails", lambda r, k, e: e.orderId == 11)[0][2]
            assert sold.price == pytest.approx(q2[1]) and sold.side == "SLD"
            # a far out-of-the-money call: the cheapest premium rate, the minimum per order
            cheap = _opt(max(strikes), "C")
            ask = _quote(c, 6, cheap)[2]
            assert ask < q[2]
            c.placeOrder(12, cheap, order("BUY", 1))
            c.wait("execDetails", lambda r, k, e: e.orderId == 12)
            c.placeOrder(13, cheap, order("BUY", 10))
            c.wait("execDetails", lambda r, k, e: e.orderId == 13)
            fees = [a[0].commission for a in c.wait("commissionReport", count=4)]
            assert fees[2] == pytest.approx(1.0) and fees[3] == pytest.approx(_commission(ask, 10))
    finally:
        gateway.stop()


def test_what_if_applies_the_option_margin_rule():
    gateway, _ = start_gateway()
    try:
        with clients(gateway.port, 92) as (c,):
            spot = _quote(c, 1, stock())[4]
            strikes = _strikes(c, 2, "P")
            otm = max(k for k in strikes if k < spot - 10)
            put = _opt(otm, "P")
            last = _quote(c, 3, put)[4]
            c.placeOrder(20, put, order("SELL", 3, whatIf=True))
            state = c.wait("openOrder", lambda oid, *_: oid == 20)[0][3]
            per_share = last + max(0.20 * spot - (spot - otm), 0.10 * otm)  # Reg T's uncovered put
            assert float(state.initMarginChange) == pytest.approx(3 * 100 * per_share, abs=0.05)
            assert float(state.maintMarginChange) == pytest.approx(float(state.initMarginChange), abs=0.01)
            c.placeOrder(21, put, order("BUY", 3, whatIf=True))
            state = c.wait("openOrder", lambda oid, *_: oid == 21)[0][3]
            assert float(state.initMarginChange) == pytest.approx(3 * 100 * last, abs=0.05)  # the premium
            assert not c.named("execDetails")
    finally:
        gateway.stop()


def test_expiration_exercises_assigns_and_expires_by_the_penny_rule():
    gateway, clock = start_gateway(ReplayClock(EVE, speed=None))
    try:
        with clients(gateway.port, 93) as (c,):
            spot = _quote(c, 1, stock())[4]
            calls, puts = _strikes(c, 2, "C"), _strikes(c, 3, "P")
            itm_call = max(k for k in calls if k < spot - 20)
            otm_call = min(k for k in calls if k > spot + 30)
            itm_put = min(k for k in puts if k > spot + 20)
            c.placeOrder(30, _opt(itm_call, "C"), order("BUY", 2))
            c.placeOrder(31, _opt(otm_call, "C"), order("BUY", 1))
            c.placeOrder(32, _opt(itm_put, "P"), order("SELL", 1))
            c.wait("commissionReport", count=3)
            cash = _cash(c)
            c.clear()
            advance(gateway, clock, 60 * 30)  # past 16:00 New York on the expiration day
            reports = c.wait("execDetails", count=5)
            legs = sorted((k.secType, k.strike, e.side, e.shares, e.price, e.orderRef) for _, k, e in reports)
            assert legs == sorted([
                ("OPT", itm_call, "SLD", 2.0, 0.0, "exercise"), ("STK", 0.0, "BOT", 200.0, itm_call, "exercise"),
                ("OPT", otm_call, "SLD", 1.0, 0.0, "expired"),
                ("OPT", itm_put, "BOT", 1.0, 0.0, "assignment"), ("STK", 0.0, "BOT", 100.0, itm_put, "assignment"),
            ])
            assert all(a[0].commission == 0 for a in c.wait("commissionReport", count=5))
            assert all(e.time.startswith("20120720 16:00:00") for _, _, e in reports)
            assert _cash(c) == pytest.approx(cash - 200 * itm_call - 100 * itm_put, abs=0.01)
            c.reqPositions()
            c.wait("positionEnd")
            held = {(a[1].secType, a[1].strike): a[2] for a in c.named("position") if a[2]}
            assert held == {("STK", 0.0): 300.0}
            c.reqContractDetails(4, _opt(itm_call, "C"))
            assert c.wait("error", lambda r, code, text: r == 4 and code == 200)  # expired contracts are gone
            expired = Contract()
            expired.conId = next(k.conId for _, k, _ in reports if k.secType == "OPT")
            expired.exchange = "SMART"
            c.placeOrder(33, expired, order("BUY", 1))
            assert c.wait("error", lambda r, code, text: r == 33 and code == 201 and "expired" in text)
    finally:
        gateway.stop()


def test_exercise_options_early_and_lapse_at_expiry():
    gateway, clock = start_gateway(ReplayClock(EVE, speed=None))
    try:
        with clients(gateway.port, 94) as (c,):
            spot = _quote(c, 1, stock())[4]
            calls = _strikes(c, 2, "C")
            itm = [k for k in calls if k < spot - 20]
            early, lapsed = _opt(itm[-1], "C"), _opt(itm[-2], "C")
            c.placeOrder(40, early, order("BUY", 3))
            c.placeOrder(41, lapsed, order("BUY", 1))
            c.wait("commissionReport", count=2)
            cash = _cash(c)
            c.clear()
            c.exerciseOptions(5, early, 1, 5, ACCOUNT, 0)  # more than held
            assert c.wait("error", lambda r, code, text: r == 5 and code == 321)
            c.exerciseOptions(6, early, 1, 2, ACCOUNT, 0)
            reports = c.wait("execDetails", count=2)
            assert sorted((k.secType, e.side, e.shares, e.price) for _, k, e in reports) == [
                ("OPT", "SLD", 2.0, 0.0), ("STK", "BOT", 200.0, early.strike)]
            assert _cash(c) == pytest.approx(cash - 200 * early.strike, abs=0.01)
            c.exerciseOptions(7, lapsed, 2, 1, ACCOUNT, 1)  # let it lapse although in the money
            c.clear()
            advance(gateway, clock, 60 * 30)
            reports = c.wait("execDetails", count=2)  # the rest of `early` exercised, `lapsed` expired
            legs = sorted((k.strike, k.secType, e.shares, e.orderRef) for _, k, e in reports)
            assert (lapsed.strike, "OPT", 1.0, "expired") in legs
            assert (early.strike, "OPT", 1.0, "exercise") in legs
            assert not [1 for _, k, e in reports if k.secType == "STK" and e.price == lapsed.strike]
    finally:
        gateway.stop()


def test_option_trading_with_ib_async():
    gateway, _ = start_gateway()
    ib = IB()
    try:
        ib.connect("127.0.0.1", gateway.port, clientId=95, timeout=15)
        details = ib.reqContractDetails(Option("AAPL", "20120720", right="P", exchange="SMART"))
        put = details[len(details) // 2].contract
        ticker = ib.reqMktData(put, "", True, False)
        ib.sleep(0.3)
        trade = ib.placeOrder(put, MarketOrder("BUY", 4))
        for _ in range(50):
            if trade.isDone():
                break
            ib.sleep(0.1)
        assert trade.orderStatus.status == "Filled" and trade.fills[0].execution.price == pytest.approx(ticker.ask)
        assert trade.fills[0].commissionReport.commission == pytest.approx(_commission(ticker.ask, 4))
        ib.sleep(0.3)
        (pos,) = [p for p in ib.positions() if p.contract.secType == "OPT"]
        assert pos.position == 4 and pos.contract.conId == put.conId
        (item,) = [p for p in ib.portfolio() if p.contract.secType == "OPT"]
        assert item.marketValue == pytest.approx(4 * 100 * item.marketPrice)
    finally:
        ib.disconnect()
        gateway.stop()


def test_option_positions_and_orders_survive_a_restart(tmp_path):
    state = tmp_path / "gw.json"
    gateway, clock = start_gateway(state_file=str(state))
    try:
        with clients(gateway.port, 96) as (c,):
            spot = _quote(c, 1, stock())[4]
            strikes = _strikes(c, 2, "C")
            call = _opt(min(strikes, key=lambda k: abs(k - spot)), "C")
            c.placeOrder(50, call, order("BUY", 3))
            c.placeOrder(51, call, order("SELL", 3, "LMT", 999.0, tif="GTC"))
            c.wait("orderStatus", lambda oid, st, *a: oid == 51 and st == "Submitted")
            con_id = c.named("execDetails")[0][1].conId
    finally:
        gateway.stop()
    gateway, _ = start_gateway(clock=clock, state_file=str(state))
    try:
        with clients(gateway.port, 96) as (c,):
            c.reqPositions()
            c.wait("positionEnd")
            assert [(k.conId, k.strike, p) for _, k, p, _ in c.named("position")] == [(con_id, call.strike, 3)]
            c.reqOpenOrders()
            c.wait("openOrderEnd")
            assert [(a[0], a[1].conId) for a in c.named("openOrder")] == [(51, con_id)]
    finally:
        gateway.stop()
