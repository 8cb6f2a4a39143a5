"""IB's option, scanner and what-if messages read into the runtime's values (ibapi's own objects)."""

from __future__ import annotations

import math

import pytest
from ibapi.order import Order
from ibapi.order_state import OrderState

from runtime.algorithm.instruments_api import option_asset
from runtime.brokers.ib.instruments import (
    chain_frame,
    ib_number,
    option_contract,
    option_params,
    option_value,
    scanner_subscription,
    what_if_copy,
    what_if_from_state,
)
from runtime.core import margin


def test_option_params_become_the_chain_frame():
    rows = [option_params("SMART", 265598, "AAPL", "100", {"20240119", "20240112"}, [190.0, 185.0]),
            option_params("CBOE", 265598, "AAPL", "100", ["20240119"], [185.0])]
    frame = chain_frame(rows, "aapl")
    assert len(frame) == 2 * 2 * 2
    assert list(frame["expiry"].unique()) == ["20240112", "20240119"]
    assert frame.iloc[0]["localSymbol"] == "AAPL  240112C00185000"
    assert set(frame["exchange"]) == {"SMART"}


def test_tick_option_computation_unset_markers_are_nan():
    v = option_value(0.25, 0.55, 3.2, 0.04, 0.12, -0.05, 187.0)
    assert (v.implied_vol, v.delta, v.price, v.und_price) == (0.25, 0.55, 3.2, 187.0)
    blank = option_value(-1, -2, 1.7976931348623157e308, None, "", -1, 187.0)
    assert all(math.isnan(x) for x in (blank.implied_vol, blank.delta, blank.price, blank.gamma, blank.vega))
    assert ib_number("1.7976931348623157E308") != ib_number("1.7976931348623157E308")  # NaN


def test_option_contract_and_scanner_subscription():
    c = option_contract(option_asset("AAPL", "20240119", 190, "C"))
    assert (c.secType, c.symbol, c.lastTradeDateOrContractMonth, c.strike, c.right, c.multiplier) == (
        "OPT", "AAPL", "20240119", 190.0, "C", "100")
    s = scanner_subscription("top_perc_gain", 10, abovePrice=5)
    assert (s.scanCode, s.numberOfRows, s.abovePrice, s.instrument) == ("TOP_PERC_GAIN", 10, 5.0, "STK")


def test_what_if_order_state_round_trip():
    order = Order()
    order.action, order.totalQuantity, order.orderType = "BUY", 100, "MKT"
    probe = what_if_copy(order)
    assert probe.whatIf and not order.whatIf
    expected = margin.what_if(100_000.0, [], "STK", 0, 100, 150.0, commission=1.0)
    state = OrderState()
    for name, value in expected.ib_fields().items():
        setattr(state, name, value)
    got = what_if_from_state(state)
    assert got.init_margin_after == pytest.approx(expected.init_margin_after)
    assert got.equity_with_loan_change == pytest.approx(-1.0)
    assert got.accepted and got.commission == 1.0
