"""Option contracts and quotes at the simulated gateway, checked with ibapi and ib_async: reqContractDetails for
secType OPT (full, by conId, partial specs and no match) and reqMktData on an option (the model quote by the spread
rule and the tickOptionComputation stream of bid, ask, last and model)."""

from __future__ import annotations

import pytest
from ib_async import IB, Option
from ibapi import client as ibapi_client
from ibapi.contract import Contract
from support.gateway import advance, clients, start_gateway

from runtime.core import options as opt
from runtime.core.assets import stable_sid
from runtime.gateway.options import quote_prices


def _opt(expiry: str = "", strike: float = 0.0, right: str = "", symbol: str = "AAPL") -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "OPT", "SMART", "USD"
    c.lastTradeDateOrContractMonth, c.strike, c.right = expiry, strike, right
    return c


def test_contract_details_for_options_with_ibapi():
    gateway, _ = start_gateway()
    try:
        with clients(gateway.port, 81) as (c,):
            c.reqContractDetails(1, _opt("20120720"))
            c.wait("contractDetailsEnd", lambda r: r == 1)
            month = [a[1] for a in c.named("contractDetails", lambda r, *_: r == 1)]
            strikes = sorted({d.contract.strike for d in month})
            assert len(month) == 2 * len(strikes) >= 20  # every strike, calls and puts, of that expiry
            assert {d.contract.right for d in month} == {"C", "P"}
            d = next(d for d in month if d.contract.right == "C" and d.contract.strike == strikes[len(strikes) // 2])
            k = d.contract
            assert (k.secType, k.exchange, k.multiplier, k.tradingClass, k.lastTradeDateOrContractMonth) == (
                "OPT", "SMART", "100", "AAPL", "20120720")
            assert d.underConId == 24 and d.contractMonth == "201207" and d.minTick == 0.01 and d.marketRuleIds
            occ = f"AAPL  120720C{round(k.strike * 1000):08d}"
            assert k.localSymbol == occ and k.conId == stable_sid(occ, "OPT", "USD")  # stable for the contract
            c.reqContractDetails(2, _opt("20120720", k.strike, "CALL"))
            by_id = Contract()
            by_id.conId = k.conId
            c.reqContractDetails(4, by_id)
            for r in (2, 4):
                c.wait("contractDetailsEnd", lambda x, r=r: x == r)
                (one,) = [a[1] for a in c.named("contractDetails", lambda x, *_, r=r: x == r)]
                assert one.contract.conId == k.conId and one.contract.right == "C"
            c.reqContractDetails(5, _opt(strike=k.strike, right="P"))  # every expiry of one strike's puts
            c.wait("contractDetailsEnd", lambda r: r == 5)
            puts = [a[1].contract for a in c.named("contractDetails", lambda r, *_: r == 5)]
            expiries = sorted({p.lastTradeDateOrContractMonth for p in puts})
            assert len(puts) == len(expiries) >= 5 and "20120615" in expiries and all(p.right == "P" for p in puts)
            c.reqContractDetails(6, _opt("20120720", k.strike + 0.5, "C"))  # not a listed strike
            c.reqContractDetails(7, _opt("20120719", k.strike, "C"))  # not an expiration day
            c.reqContractDetails(8, _opt("20120720", 100.0, "C", symbol="EUR"))
            for r in (6, 7, 8):
                assert c.wait("error", lambda x, code, text, r=r: x == r and code == 200)
    finally:
        gateway.stop()


def test_a_kept_con_id_resolves_at_a_fresh_gateway():
    gateway, _ = start_gateway()
    try:
        with clients(gateway.port, 84) as (c,):
            c.reqContractDetails(1, _opt("20120720", right="C"))
            c.wait("contractDetailsEnd", lambda r: r == 1)
            strike = [a[1].contract.strike for a in c.named("contractDetails", lambda r, *_: r == 1)][5]
    finally:
        gateway.stop()
    gateway, _ = start_gateway()  # a new process would know nothing either: the conId alone must do
    try:
        with clients(gateway.port, 84) as (c,):
            by_id = Contract()
            by_id.conId = stable_sid(f"AAPL  120720C{round(strike * 1000):08d}", "OPT", "USD")
            c.reqContractDetails(2, by_id)
            c.wait("contractDetailsEnd", lambda r: r == 2)
            (d,) = [a[1] for a in c.named("contractDetails", lambda r, *_: r == 2)]
            assert (d.contract.strike, d.contract.right, d.contract.lastTradeDateOrContractMonth) == (
                strike, "C", "20120720")
            unknown = Contract()
            unknown.conId = 12345
            c.reqContractDetails(3, unknown)
            assert c.wait("error", lambda r, code, text: r == 3 and code == 200)
    finally:
        gateway.stop()


def test_option_quotes_and_greeks_stream_with_ibapi():
    gateway, clock = start_gateway()
    try:
        with clients(gateway.port, 82) as (c,):
            c.reqContractDetails(1, _opt("20120720", right="P"))
            c.wait("contractDetailsEnd", lambda r: r == 1)
            puts = [a[1].contract for a in c.named("contractDetails", lambda r, *_: r == 1)]
            put = puts[len(puts) // 2]
            c.reqMktData(2, put, "", False, False, [])
            comps = c.wait("tickOptionComputation", lambda r, *_: r == 2, count=4)
            prices = {t: p for r, t, p, *_ in c.named("tickPrice", lambda r, *_: r == 2)}
            bid, ask, last = prices[1], prices[2], prices[4]
            by_type = {a[1]: a for a in comps}
            assert set(by_type) == {10, 11, 12, 13}
            model = by_type[13]
            und = model[10]
            t = opt.year_fraction(clock.now_ns(), "20120720")
            assert model[5] > 0 and -1 < model[4] < 0 and model[7] > 0 and model[8] > 0 and model[9] < 0
            # the model price is Black-Scholes at the stated volatility; the quote is the spread rule around it
            value = opt.black_scholes("P", und, put.strike, t, model[3])
            assert model[5] == pytest.approx(value.price) and model[4] == pytest.approx(value.delta)
            half = max(0.01 if model[5] < 3 else 0.05, 0.01 * model[5])
            assert bid <= model[5] - half + 1e-9 and ask >= model[5] + half - 1e-9 and bid < last < ask
            for tick, price in ((10, bid), (11, ask), (12, last)):
                row = by_type[tick]
                assert row[5] == pytest.approx(price)
                assert opt.black_scholes("P", und, put.strike, t, row[3]).price == pytest.approx(price, abs=1e-6)
            assert by_type[10][3] < model[3] < by_type[11][3]  # implied vols of bid < model < ask
            n = len(c.named("tickOptionComputation", lambda r, *_: r == 2))
            advance(gateway, clock, 30)
            c.wait("tickOptionComputation", lambda r, *_: r == 2, count=n + 4)
            c.cancelMktData(2)
            c.reqMarketDataType(3)  # delayed data: the delayed computation tick types 80..83
            c.reqMktData(3, put, "", False, False, [])
            delayed = c.wait("tickOptionComputation", lambda r, *_: r == 3, count=4)
            assert {a[1] for a in delayed} == {80, 81, 82, 83}
    finally:
        gateway.stop()


def test_option_contract_and_greeks_with_ib_async():
    gateway, _ = start_gateway()
    ib = IB()
    try:
        ib.connect("127.0.0.1", gateway.port, clientId=83, timeout=15)
        details = ib.reqContractDetails(Option("AAPL", "20120720", exchange="SMART", currency="USD"))
        assert details and all(d.contract.multiplier == "100" and d.underConId == 24 for d in details)
        call = next(d.contract for d in details if d.contract.right == "C")
        (q,) = ib.qualifyContracts(Option("AAPL", "20120720", call.strike, "C", "SMART"))
        assert q.conId == call.conId
        ticker = ib.reqMktData(q, "", False, False)
        ib.sleep(0.5)
        assert ticker.modelGreeks is not None and ticker.bidGreeks is not None and ticker.askGreeks is not None
        assert 0 < ticker.modelGreeks.delta < 1 and ticker.bid < ticker.modelGreeks.optPrice < ticker.ask
        assert ticker.modelGreeks.undPrice > 0
    finally:
        ib.disconnect()
        gateway.stop()


@pytest.mark.parametrize(("model", "expected"), [
    (0.0, (0.0, 0.01, 0.0)),  # worthless: nothing bid, one tick offered
    (0.004, (0.0, 0.02, 0.01)),
    (0.5, (0.49, 0.51, 0.5)),  # one tick each side below $3
    (3.2, (3.15, 3.25, 3.2)),  # $0.05 ticks from $3
    (102.627, (101.6, 103.7, 102.65)),  # 1% of the price each side, rounded outwards to the tick
])
def test_the_spread_rule(model: float, expected: tuple[float, float, float]):
    assert quote_prices(model) == pytest.approx(expected)


def test_option_computations_in_the_layout_of_an_older_client(monkeypatch):
    """Below server version 156 tickOptionComputation has a version field and no tickAttrib (the ibapi decoder's
    condition): a client that negotiated 155 reads the same values as one at 157."""
    gateway, _ = start_gateway()
    try:
        put = _opt("20120720", 570.0, "P")
        seen = {}
        for version in (157, 155):
            monkeypatch.setattr(ibapi_client, "MAX_CLIENT_VER", version)
            with clients(gateway.port, 85) as (c,):
                assert c.serverVersion() == version
                c.reqMktData(1, put, "", True, False, [])
                rows = c.wait("tickOptionComputation", lambda r, *_: r == 1, count=4)
                seen[version] = sorted((a[1], round(a[3], 9), round(a[4], 9), a[5], a[10]) for a in rows)
        assert seen[155] == seen[157] and {r[0] for r in seen[155]} == {10, 11, 12, 13}
    finally:
        gateway.stop()
