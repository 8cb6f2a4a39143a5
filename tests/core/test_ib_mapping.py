"""Pure IB tables and mappings (runtime.core.ib_mapping) and the client-version normalisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from runtime.brokers.ib.compat import FLAVOR, normalize_error, number
from runtime.core.assets import Asset, SecType
from runtime.core.ib_mapping import (
    ErrorKind,
    account_from_tags,
    bar_seconds,
    contract_spec_for,
    default_ports_text,
    duration_for_bars,
    duration_for_sessions,
    end_labels_daily,
    end_labels_intraday,
    error_info,
    ib_end_time,
    normalize_bar_size,
    order_ref,
    order_spec_for,
    order_status_from_ib,
    parse_duration,
    parse_ib_string,
    parse_ib_time,
    parse_order_ref,
    super_symbol,
)
from runtime.core.orders import OrderKind, OrderStatus, TimeInForce


@pytest.mark.parametrize(("ib", "status"), [
    ("Submitted", OrderStatus.OPEN), ("PendingSubmit", OrderStatus.HELD), ("PendingCancel", OrderStatus.HELD),
    ("PreSubmitted", OrderStatus.HELD), ("Cancelled", OrderStatus.CANCELLED), ("ApiCancelled", OrderStatus.CANCELLED),
    ("Filled", OrderStatus.FILLED), ("Inactive", OrderStatus.REJECTED), ("Whatever", None),
])
def test_order_status_table(ib: str, status: OrderStatus | None) -> None:
    assert order_status_from_ib(ib) is status


@pytest.mark.parametrize(("code", "kind"), [
    (2104, ErrorKind.INFO), (2106, ErrorKind.INFO), (2158, ErrorKind.INFO), (326, ErrorKind.CONNECTION),
    (502, ErrorKind.CONNECTION), (1100, ErrorKind.CONNECTION), (200, ErrorKind.REQUEST), (162, ErrorKind.REQUEST),
    (201, ErrorKind.ORDER), (202, ErrorKind.ORDER), (10167, ErrorKind.WARNING), (399, ErrorKind.WARNING),
    (2199, ErrorKind.WARNING), (99999, ErrorKind.REQUEST),
])
def test_error_table(code: int, kind: ErrorKind) -> None:
    assert error_info(code).kind is kind


def test_error_advice_and_ports() -> None:
    assert "client id" in error_info(326).action
    text = default_ports_text()
    for port in ("7497", "7496", "4002", "4001"):
        assert port in text


def test_account_tags_to_zipline_fields() -> None:
    acct = account_from_tags({"NetLiquidation": 1000.0, "TotalCashValue": 400.0, "BuyingPower": 4000.0,
                              "GrossPositionValue": 600.0, "StockMarketValue": 600.0, "ReqTEquity": 1000.0,
                              "FullAvailableFunds": 900.0, "Cushion": 0.9, "DayTradesRemaining": 3.0})
    assert acct.net_liquidation == 1000.0 and acct.settled_cash == 400.0 and acct.buying_power == 4000.0
    assert acct.total_positions_value == 600.0 and acct.total_positions_exposure == 600.0
    assert acct.regt_equity == 1000.0 and acct.available_funds == 900.0 and acct.day_trades_remaining == 3.0
    assert acct.leverage == pytest.approx(0.6) and acct.net_leverage == pytest.approx(0.6)
    assert account_from_tags({"Leverage-S": 1.5, "NetLiquidation": 1.0}).leverage == 1.5


def test_contract_specs_from_assets_and_strings() -> None:
    aapl = Asset(24, "AAPL", primary_exchange="NASDAQ", con_id=265598)
    spec = contract_spec_for(aapl)
    assert (spec.sec_type, spec.symbol, spec.exchange, spec.primary_exchange, spec.con_id) == \
        ("STK", "AAPL", "SMART", "NASDAQ", 265598)
    eur = Asset(9, "EUR", exchange="IDEALPRO", primary_exchange="", sec_type=SecType.CASH, currency="USD")
    assert contract_spec_for(eur).exchange == "IDEALPRO"
    es = Asset(5, "ES", exchange="CME", sec_type=SecType.FUTURE, multiplier=50.0, expiry="202412")
    assert contract_spec_for(es).multiplier == "50" and contract_spec_for(es).expiry == "202412"
    assert parse_ib_string("CASH,EUR,USD") == parse_ib_string("EUR.USD")
    assert parse_ib_string("cash,eur,usd").exchange == "IDEALPRO"
    assert parse_ib_string("STK,AAPL,USD").exchange == "SMART"
    opt = parse_ib_string("OPT,AAPL,USD,20241220,200,C")
    assert (opt.expiry, opt.strike, opt.right) == ("20241220", 200.0, "C")
    with pytest.raises(ValueError, match="SECTYPE,SYMBOL,CURRENCY"):
        parse_ib_string("XYZ,AAPL")


def test_super_symbol() -> None:
    s = super_symbol(sec_type="fut", symbol="es", exchange="cme", expiry="202412")
    assert (s.sec_type, s.symbol, s.exchange, s.currency, s.expiry) == ("FUT", "ES", "CME", "USD", "202412")
    assert super_symbol(sec_type="CASH", symbol="EUR").exchange == "IDEALPRO"
    assert super_symbol(sec_type="OPT", symbol="AAPL", right="CALL", strike=150).right == "C"
    with pytest.raises(ValueError, match="secType"):
        super_symbol(symbol="AAPL")


def test_order_ref_round_trip() -> None:
    ref = order_ref("run7", "abc123")
    assert ref == "ibalgo:run7:abc123"
    assert parse_order_ref(ref) == ("run7", "abc123")
    assert parse_order_ref("someone else") is None and parse_order_ref("") is None
    with pytest.raises(ValueError):
        order_ref("a:b", "x")


@pytest.mark.parametrize(("kind", "limit", "stop", "extra", "expect"), [
    (OrderKind.MARKET, None, None, {}, dict(order_type="MKT", limit_price=None, aux_price=None)),
    (OrderKind.LIMIT, 10.5, None, {}, dict(order_type="LMT", limit_price=10.5)),
    (OrderKind.STOP, None, 9.0, {}, dict(order_type="STP", aux_price=9.0)),
    (OrderKind.STOP_LIMIT, 10.0, 9.5, {}, dict(order_type="STP LMT", limit_price=10.0, aux_price=9.5)),
    (OrderKind.TRAIL, None, None, {"trailing_amount": 1.5}, dict(order_type="TRAIL", aux_price=1.5)),
    (OrderKind.TRAIL, None, 90.0, {"trailing_percent": 2.0},
     dict(order_type="TRAIL", trailing_percent=2.0, trail_stop_price=90.0, aux_price=None)),
    (OrderKind.MARKET_ON_CLOSE, None, None, {}, dict(order_type="MOC", tif="DAY")),
    (OrderKind.LIMIT_ON_CLOSE, 11.0, None, {}, dict(order_type="LOC", limit_price=11.0, tif="DAY")),
])
def test_order_specs(kind: OrderKind, limit: float | None, stop: float | None, extra: dict, expect: dict) -> None:
    spec = order_spec_for(amount=-7, kind=kind, limit=limit, stop=stop, tif=TimeInForce.GTC, ref="r", **extra)
    assert spec.action == "SELL" and spec.quantity == 7.0 and spec.order_ref == "r"
    for k, v in expect.items():
        assert getattr(spec, k) == v, k


def test_order_spec_options_and_errors() -> None:
    spec = order_spec_for(amount=5, kind=OrderKind.LIMIT, limit=1.0, stop=None, tif=TimeInForce.IOC, ref="r",
                          outside_rth=True, oca_group="g1", account="DU1", transmit=False, parent_ib_id=42)
    assert (spec.tif, spec.outside_rth, spec.oca_group, spec.oca_type, spec.account, spec.transmit,
            spec.parent_ib_id) == ("IOC", True, "g1", 1, "DU1", False, 42)
    with pytest.raises(ValueError, match="limit"):
        order_spec_for(amount=5, kind=OrderKind.LIMIT, limit=None, stop=None, tif=TimeInForce.DAY, ref="r")
    with pytest.raises(ValueError, match="exactly one"):
        order_spec_for(amount=5, kind=OrderKind.TRAIL, limit=None, stop=None, tif=TimeInForce.DAY, ref="r")
    with pytest.raises(ValueError, match="non-zero"):
        order_spec_for(amount=0, kind=OrderKind.MARKET, limit=None, stop=None, tif=TimeInForce.DAY, ref="r")


def test_bar_sizes_and_durations() -> None:
    assert normalize_bar_size("1m") == "1 min" and normalize_bar_size("1D") == "1 day"
    assert bar_seconds("5 mins") == 300 and bar_seconds("1 hour") == 3600
    with pytest.raises(ValueError, match="bar size"):
        normalize_bar_size("7 mins")
    assert parse_duration("30 D") == (30, "D")
    with pytest.raises(ValueError):
        parse_duration("30 days")
    assert duration_for_sessions(5) == "17 D"
    assert duration_for_sessions(400).endswith(" Y")
    assert duration_for_bars(30, 60) == "1800 S"
    assert duration_for_bars(1000, 60).endswith(" D")


def test_ib_times() -> None:
    ny = pd.Timestamp("2012-11-14 10:16", tz="US/Eastern").value
    assert parse_ib_time("20121114 10:16:00 US/Eastern", "UTC") == ny
    assert parse_ib_time("20121114  10:16:00", "US/Eastern") == ny
    assert parse_ib_time(str(ny // 10**9), "UTC") == ny
    assert parse_ib_time("20121114-15:16:00", "US/Eastern") == ny
    assert ib_end_time(ny) == "20121114-15:16:00" and ib_end_time(None) == ""


def test_end_labels() -> None:
    close = pd.Timestamp("2012-11-14 16:00", tz="US/Eastern").value
    opens = pd.Timestamp("2012-11-14 09:30", tz="US/Eastern").value
    starts = np.array([opens, close - 60 * 10**9], dtype=np.int64)
    ends = end_labels_intraday(starts, 60, np.array([close], dtype=np.int64))
    assert list(ends) == [opens + 60 * 10**9, close]
    # an hour bar starting at 15:30 ends at the close, not at 16:30
    half = pd.Timestamp("2012-11-14 15:30", tz="US/Eastern").value
    assert end_labels_intraday(np.array([half]), 3600, np.array([close]))[0] == close
    sessions = np.array(["2012-11-14"], dtype="datetime64[ns]")
    assert end_labels_daily(["20121114"], sessions, np.array([close]))[0] == close


def test_compat_error_normalisation_and_numbers() -> None:
    assert normalize_error(-1, 2104, "farm ok") == normalize_error(-1, 0, 2104, "farm ok", "")
    e = normalize_error(7, 201, "rejected", '{"reason": 1}')
    assert (e.req_id, e.code, e.text, e.advanced_reject) == (7, 201, "rejected", '{"reason": 1}')
    assert number(1.7976931348623157e308) is None and number(2**31 - 1) is None and number("") is None
    from decimal import Decimal
    assert number(Decimal("12.5")) == 12.5 and number(Decimal(2**127 - 1)) is None
    assert FLAVOR.major in (9, 10)
