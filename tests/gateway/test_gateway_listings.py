"""Non-US listings at the simulated gateway: BP. on the LSE (GBP) and SAP on Xetra (IBIS, EUR), each on its
exchange's calendar from exchange_calendars; checked with ibapi and ib_async."""

from __future__ import annotations

import exchange_calendars as xcals
import pandas as pd
from ib_async import IB, Stock
from ibapi.contract import Contract
from support.gateway import clients, start_gateway

from runtime.engine.clocks import ReplayClock


def _listing(symbol: str, exchange: str, currency: str) -> Contract:
    c = Contract()
    c.symbol, c.secType, c.exchange, c.currency = symbol, "STK", exchange, currency
    return c


def test_lse_and_xetra_details_hours_and_daily_bars_follow_their_calendars():
    gateway, _ = start_gateway(ReplayClock(pd.Timestamp("2012-06-15 12:00", tz="Europe/London").value, speed=None))
    try:
        with clients(gateway.port, 41) as (c,):
            c.reqContractDetails(1, _listing("BP.", "LSE", "GBP"))
            (bp,) = (a[1] for a in c.wait("contractDetails", lambda r, d: r == 1))
            assert (bp.contract.currency, bp.contract.primaryExchange, bp.timeZoneId) == ("GBP", "LSE", "GB")
            assert "20120615:0800-20120615:1630" in bp.liquidHours  # London hours
            c.reqContractDetails(2, _listing("SAP", "IBIS", "EUR"))
            (sap,) = (a[1] for a in c.wait("contractDetails", lambda r, d: r == 2))
            assert (sap.contract.currency, sap.timeZoneId) == ("EUR", "MET")
            assert "20120615:0900-20120615:1730" in sap.liquidHours  # Frankfurt hours
            c.reqHistoricalData(3, _listing("BP.", "LSE", "GBP"), "", "2 W", "1 day", "TRADES", 1, 1, False, [])
            c.wait("historicalDataEnd", lambda r, *_: r == 3)
            dates = [a[1].date for a in c.named("historicalData", lambda r, b: r == 3)]
            london = xcals.get_calendar("XLON").sessions_in_range("2012-06-01", "2012-06-15")
            assert "20120604" not in dates and "20120605" not in dates  # the Diamond Jubilee holidays
            assert dates[-len(london):] == [f"{d:%Y%m%d}" for d in london]
            c.reqContractDetails(4, _listing("BP.", "LSE", "USD"))
            assert c.wait("error", lambda r, code, text: r == 4 and code == 200)
    finally:
        gateway.stop()


def test_ib_async_qualifies_and_quotes_the_listings():
    gateway, _ = start_gateway()
    ib = IB()
    try:
        ib.connect("127.0.0.1", gateway.port, clientId=42, timeout=15)
        bp, sap = Stock("BP.", "LSE", "GBP"), Stock("SAP", "SMART", "EUR")
        assert ib.qualifyContracts(bp, sap) == [bp, sap] and bp.conId != sap.conId
        (ticker,) = ib.reqTickers(sap)
        assert ticker.bid < ticker.ask and ticker.last > 0
        bars = ib.reqHistoricalData(sap, "", "5 D", "1 day", "TRADES", True)
        frankfurt = xcals.get_calendar("XETR").sessions_window(pd.Timestamp("2012-06-01"), -5)
        assert [b.date for b in bars] == [d.date() for d in frankfurt]
    finally:
        ib.disconnect()
        gateway.stop()
