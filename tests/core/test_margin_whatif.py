"""IB's what-if answer from the margin rule (the figures a whatIf order and the algorithms' check report)."""

from __future__ import annotations

import pytest

from runtime.core import margin
from runtime.core.margin import Holding


def test_what_if_fields_for_a_stock_buy():
    w = margin.what_if(100_000.0, [], "STK", 0, 1_000, 150.0, commission=5.0)
    assert w.accepted
    f = w.ib_fields()
    assert (f["initMarginBefore"], f["initMarginAfter"], f["initMarginChange"]) == ("0.00", "75000.00", "75000.00")
    assert f["maintMarginAfter"] == "37500.00"
    assert (f["equityWithLoanBefore"], f["equityWithLoanAfter"], f["equityWithLoanChange"]) == (
        "100000.00", "99995.00", "-5.00")
    assert f["commission"] == 5.0 and f["warningText"] == ""


def test_what_if_refuses_beyond_available_funds():
    held = [Holding("STK", 150_000.0)]  # 75,000 initial of 100,000 equity: 25,000 available
    assert margin.what_if(100_000.0, held, "STK", 1_000, 333, 150.0).accepted  # 24,975 more
    w = margin.what_if(100_000.0, held, "STK", 1_000, 334, 150.0)
    assert not w.accepted and "AVAILABLE FUNDS [25000.00 USD]" in w.warning
    assert margin.what_if(100_000.0, [], "STK", 0, 10**12, 150.0).warning
    # selling what is held needs no margin, whatever the funds
    assert margin.what_if(10.0, [Holding("STK", 150_000.0)], "STK", 1_000, -1_000, 150.0).accepted


def test_what_if_futures_and_fx_rates():
    es = margin.what_if(1_000_000.0, [], "FUT", 0, 2, 5_000.0, multiplier=50)
    assert es.init_margin_after == pytest.approx(0.06 * 500_000)
    fx = margin.what_if(1_000_000.0, [], "CASH", 0, 100_000, 1.1)
    assert fx.init_margin_after == pytest.approx(0.03 * 110_000)
