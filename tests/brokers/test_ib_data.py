"""Contracts, account, positions, market data and history through the real ibapi client and the simulated
gateway."""

from __future__ import annotations

import itertools
import socket
import struct
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from support.gateway import ACCOUNT, START, EventLog, ScriptedServer, SimGateway, frame, read_hello, wait_until

from runtime.brokers.base import OrderRequest
from runtime.brokers.ib import ConnectionConfig, IBBroker
from runtime.brokers.ib.errors import AmbiguousContractError, ContractNotFoundError, HistoricalDataError
from runtime.brokers.ib.events import MarketDataDelayed
from runtime.core.assets import Asset, SecType
from runtime.core.ib_mapping import ContractSpec
from runtime.core.matching import Fill
from runtime.core.orders import OrderKind, TimeInForce
from runtime.data.calendars import get_calendar

_ids = itertools.count(30)


@pytest.fixture(scope="module")
def gw() -> Iterator[SimGateway]:
    g = SimGateway(step_s=1.0)  # one second of replay time per pump: the session lasts
    yield g
    g.stop()


@pytest.fixture
def broker(gw: SimGateway) -> Iterator[tuple[IBBroker, EventLog]]:
    log = EventLog()
    b = IBBroker(ConnectionConfig(port=gw.port, client_id=next(_ids), request_timeout_s=5.0), "runD", log.put,
                 clock=gw.clock.now_ns)
    b.connect()
    yield b, log
    b.disconnect()


def test_resolve_symbols_and_contracts(broker: tuple[IBBroker, EventLog]) -> None:
    b, _ = broker
    aapl = b.symbol("AAPL")
    assert (aapl.con_id, aapl.primary_exchange, aapl.tick_size, aapl.sec_type) == (24, "NASDAQ", 0.01, SecType.STOCK)
    n = b.contracts.requests
    assert b.symbol("STK,AAPL,USD") is aapl and b.symbol("AAPL") is aapl
    assert b.contracts.requests == n  # cached
    eur = b.symbol("CASH,EUR,USD")
    assert eur.sec_type is SecType.CASH and eur.currency == "USD" and eur.exchange == "IDEALPRO"
    assert b.symbol("EUR.USD") == eur
    # an asset from the bar store keeps its sid and gains IB's facts
    store_asset = Asset(24, "AAPL")
    merged = b.resolve_asset(store_asset)
    assert merged.sid == 24 and merged.con_id == 24 and merged.primary_exchange == "NASDAQ"


def test_unknown_and_ambiguous_contracts(broker: tuple[IBBroker, EventLog]) -> None:
    b, _ = broker
    with pytest.raises(ContractNotFoundError) as info:
        b.symbol("APPL")
    assert info.value.code == 200 and "APPL" in str(info.value)
    with pytest.raises(AmbiguousContractError) as amb:
        b.super_symbol(sec_type="FUT", symbol="ES", exchange="CME")
    assert len(amb.value.candidates) >= 2 and "expiry" in str(amb.value)
    expiry = amb.value.candidates[0].split()[2]
    es = b.super_symbol(sec_type="FUT", symbol="ES", exchange="CME", expiry=expiry)
    assert es.sec_type is SecType.FUTURE and es.multiplier == 50.0 and es.expiry.startswith(expiry[:6])
    chain = b.contract_details(ContractSpec("FUT", "ES", "USD", "CME"))
    assert len(chain) == len(amb.value.candidates)


def test_account_and_positions(broker: tuple[IBBroker, EventLog]) -> None:
    b, log = broker
    assert b.wait_account(5)
    acct = b.account_snapshot()
    assert acct.net_liquidation > 0 and acct.settled_cash > 0 and acct.buying_power > 0
    assert b.account_value("NetLiquidation") is not None and b.account_value("NoSuchTag") is None
    aapl = b.symbol("AAPL")
    b.place_order(OrderRequest("p1", aapl, 7, OrderKind.MARKET, None, None, TimeInForce.DAY, 0))
    fill = log.wait_for(lambda e: isinstance(e, Fill) and e.order_id == "p1")
    assert wait_until(lambda: any(p.amount == 7 for p in b.positions() if p.asset == aapl))
    (pos,) = [p for p in b.positions() if p.asset == aapl]
    assert pos.amount == 7 and pos.account == ACCOUNT
    assert pos.avg_cost == pytest.approx(fill.price + fill.commission / 7, rel=1e-6)
    b.place_order(OrderRequest("p2", aapl, -7, OrderKind.MARKET, None, None, TimeInForce.DAY, 0))
    log.wait_for(lambda e: isinstance(e, Fill) and e.order_id == "p2")


def test_streaming_quotes(broker: tuple[IBBroker, EventLog]) -> None:
    b, _ = broker
    aapl = b.symbol("AAPL")
    q = b.wait_for_quote(aapl, 5)
    assert q.price is not None and q.price > 0 and not q.delayed
    eur = b.symbol("CASH,EUR,USD")
    qe = b.wait_for_quote(eur, 5)
    assert qe.price is not None and 0.5 < qe.price < 2.0  # no trades: the mid
    b.unsubscribe(eur)
    assert b.quote(eur) is None


def test_history_end_labels_and_cache(broker: tuple[IBBroker, EventLog]) -> None:
    b, _ = broker
    cal = get_calendar("XNYS")
    aapl = b.symbol("AAPL")
    now = b.now_ns()
    daily = b.history_bars(aapl, "10 D", "1 day", as_of_ns=now)
    assert len(daily) >= 5
    assert set(daily.end_ns.tolist()) <= set(cal.closes.tolist())  # every daily bar ends at a session close
    assert np.all(np.diff(daily.end_ns) > 0) and daily.end_ns.dtype == np.int64
    n = b.history.requests
    again = b.history_bars(aapl, "10 D", "1 day", as_of_ns=now)
    assert again is daily and b.history.requests == n  # same bar: no request
    minute = b.history_bars(aapl, "1800 S", "1 min", as_of_ns=now)
    assert len(minute) > 0
    assert np.all(minute.end_ns % (60 * 10**9) == 0) and minute.end_ns[-1] <= b.now_ns()
    k = cal.session_of_instant(int(minute.end_ns[0]))
    assert k >= 0 and minute.end_ns[0] > cal.opens[k]  # END labels: the first bar ends after the open


def test_bar_arrays_for_the_live_portal(broker: tuple[IBBroker, EventLog]) -> None:
    b, _ = broker
    cal = get_calendar("XNYS")
    assets = [b.symbol("AAPL"), b.symbol("IBM")]
    now = b.now_ns()
    daily = b.daily_bar_arrays(assets, 20, cal, now)
    assert daily.n_sessions == 20 and daily.n_assets == 2 and daily.frequency == "daily"
    assert not np.isnan(daily.close[:-1]).any()
    minute = b.minute_bar_arrays(assets, cal, now)
    assert minute.frequency == "minute" and minute.n_sessions == 1
    assert minute.times[-1] <= now and minute.n_rows > 0
    assert not np.isnan(minute.close[: minute.n_rows - 1]).all()


def test_history_errors_are_typed(gw: SimGateway, broker: tuple[IBBroker, EventLog],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.brokers.ib import history

    monkeypatch.setattr(history, "PACING_RETRY_S", 0.1)
    b, _ = broker
    eur = b.symbol("CASH,EUR,USD")
    with pytest.raises(HistoricalDataError) as info:
        b.history_bars(eur, "1 D", "1 min", what_to_show="TRADES")
    assert info.value.code == 162  # no data: not retried
    assert b.history_bars(eur, "3600 S", "1 min", what_to_show="MIDPOINT").close.size > 0
    gw.thread.force_pacing_violation(2)  # a pacing violation again after the wait: raised
    with pytest.raises(HistoricalDataError, match="pacing"):
        b.history_bars(b.symbol("MSFT"), "2 D", "1 day")
    # one violation (the run before a quick restart asked the same): waited out once, then answered
    gw.thread.force_pacing_violation(1)
    before = b.history.requests
    assert b.history_bars(b.symbol("MSFT"), "3 D", "1 day").close.size > 0
    assert b.history.requests == before + 2


def test_start_time_is_inside_the_sample() -> None:
    assert pd.Timestamp(START, tz="UTC") < pd.Timestamp("2013-03-01", tz="UTC")


def test_falls_back_to_delayed_data_scripted_server() -> None:
    """SCRIPTED server (a test double, not the gateway, which never answers 354): the first reqMktData gets 354,
    the adapter asks for delayed data (reqMarketDataType 3) and subscribes again; delayed ticks then arrive."""
    requests: list[list[str]] = []

    def script(conn: socket.socket) -> None:
        read_hello(conn)
        conn.sendall(frame("157", "20121114 10:00:00 EST"))
        buf = b""
        md_type = 1
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                n = struct.unpack(">I", buf[:4])[0]
                fields = buf[4:4 + n].split(b"\0")[:-1]
                buf = buf[4 + n:]
                f = [x.decode() for x in fields]
                requests.append(f)
                msg = f[0]
                if msg == "71":
                    conn.sendall(frame("15", "1", "DU1") + frame("9", "1", "1"))
                elif msg == "6":
                    conn.sendall(frame("54", "1", "DU1"))
                elif msg == "16":
                    conn.sendall(frame("53", "1"))
                elif msg == "99":
                    conn.sendall(frame("102"))
                elif msg == "7":
                    conn.sendall(frame("55", "1", f[2]))
                elif msg == "61":
                    conn.sendall(frame("62", "1"))
                elif msg == "59":
                    md_type = int(f[2])
                elif msg == "1":
                    req_id = f[2]
                    if md_type == 1:
                        conn.sendall(frame("4", "2", req_id, "354", "Requested market data is not subscribed."))
                    else:
                        conn.sendall(frame("1", "6", req_id, "68", "123.45", "3", "0"))

    srv = ScriptedServer(script)
    log = EventLog()
    b = IBBroker(ConnectionConfig(port=srv.port, client_id=1, request_timeout_s=5.0), "runS", log.put)
    try:
        b.connect()
        asset = Asset(24, "AAPL", primary_exchange="NASDAQ", con_id=24)
        q = b.wait_for_quote(asset, 5)
        assert q.last == 123.45 and q.delayed
        warned = log.wait_for(lambda e: isinstance(e, MarketDataDelayed))
        assert warned.code == 354 and warned.asset == asset
        assert ["59", "1", "3"] in requests
        assert sum(1 for r in requests if r[0] == "1") == 2
    finally:
        b.disconnect()
        srv.close()
