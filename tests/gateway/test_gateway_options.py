"""Option parameters and calculators at the simulated gateway, checked with ibapi and ib_async: the chain's
expirations against the exchange calendar, the calculators against each other and against put-call parity."""

from __future__ import annotations

import exchange_calendars as xcals
import pandas as pd
import pytest
from ib_async import IB, Option, Stock
from ibapi.contract import Contract
from support.gateway import clients, start_gateway


def _option(right: str, strike: float, expiry: str) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "AAPL", "OPT", "SMART", "USD"
    c.right, c.strike, c.lastTradeDateOrContractMonth, c.multiplier = right, strike, expiry, "100"
    return c


def test_chain_parameters_and_calculators_with_ibapi():
    gateway, _ = start_gateway()
    try:
        with clients(gateway.port, 61) as (c,):
            c.reqSecDefOptParams(1, "AAPL", "", "STK", 24)
            c.wait("securityDefinitionOptionParameterEnd", lambda r: r == 1)
            rows = c.named("securityDefinitionOptionParameter", lambda r, *_: r == 1)
            assert {a[1] for a in rows} >= {"SMART"} and all(a[2] == 24 and a[4] == "100" for a in rows)
            expiries, strikes = sorted(rows[0][5]), sorted(rows[0][6])
            sessions = set(xcals.get_calendar("XNYS").sessions_in_range("2012-06-01", "2012-12-31").strftime("%Y%m%d"))
            assert expiries and all(e in sessions and e >= "20120601" for e in expiries)
            assert "20120615" in expiries  # June's monthly expiration, the third Friday
            c.reqMktData(2, _stock(), "", True, False, [])
            c.wait("tickSnapshotEnd", lambda r: r == 2)
            last = next(a[2] for a in c.named("tickPrice", lambda r, t, *_: r == 2 and t == 4))
            assert min(strikes) < last < max(strikes) and {k % 10 for k in strikes} == {0}
            strike = min(strikes, key=lambda k: abs(k - last))
            c.calculateOptionPrice(3, _option("C", strike, "20120720"), 0.30, last, [])
            c.calculateOptionPrice(4, _option("P", strike, "20120720"), 0.30, last, [])
            call = c.wait("tickOptionComputation", lambda r, *_: r == 3)[0]
            put = c.wait("tickOptionComputation", lambda r, *_: r == 4)[0]
            assert call[3] == pytest.approx(0.30) and call[10] == pytest.approx(last)
            assert call[5] - put[5] == pytest.approx(last - strike, abs=1e-6)  # put-call parity at r = q = 0
            assert 0 < call[4] < 1 and -1 < put[4] < 0 and call[7] > 0 and call[8] > 0 and call[9] < 0  # greeks
            c.calculateImpliedVolatility(5, _option("C", strike, "20120720"), call[5], last, [])
            iv = c.wait("tickOptionComputation", lambda r, *_: r == 5)[0]
            assert iv[3] == pytest.approx(0.30, abs=1e-6) and iv[5] == pytest.approx(call[5])
            c.calculateImpliedVolatility(6, _option("C", strike, "20120720"), 10 * last, last, [])
            assert c.wait("error", lambda r, code, text: r == 6 and code == 321)
            c.reqSecDefOptParams(7, "EUR", "", "CASH", 0)
            assert c.wait("error", lambda r, code, text: r == 7 and code == 200)
    finally:
        gateway.stop()


def _stock() -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = "AAPL", "STK", "SMART", "USD"
    return c


def test_chain_and_calculators_with_ib_async():
    gateway, _ = start_gateway()
    ib = IB()
    try:
        ib.connect("127.0.0.1", gateway.port, clientId=62, timeout=15)
        aapl = Stock("AAPL", "SMART", "USD")
        ib.qualifyContracts(aapl)
        (chain, *_) = ib.reqSecDefOptParams("AAPL", "", "STK", aapl.conId)
        assert chain.multiplier == "100" and chain.tradingClass == "AAPL" and chain.strikes
        third_friday = pd.Timestamp("2012-07-20")
        assert "20120720" in chain.expirations and third_friday.day_name() == "Friday"
        spot = ib.reqTickers(aapl)[0].last
        strike = min(chain.strikes, key=lambda k: abs(k - spot))
        put = Option("AAPL", "20120720", strike, "P", "SMART", multiplier="100", currency="USD")
        priced = ib.calculateOptionPrice(put, 0.25, spot)
        back = ib.calculateImpliedVolatility(put, priced.optPrice, spot)
        assert priced.impliedVol == pytest.approx(0.25) and back.impliedVol == pytest.approx(0.25, abs=1e-6)
        assert -1 < priced.delta < 0 and priced.undPrice == pytest.approx(spot)
    finally:
        ib.disconnect()
        gateway.stop()
