"""The margin rule shared by the backtester, the what-if helper and the simulated gateway."""

from __future__ import annotations

import pytest

from runtime.core.margin import Holding, Kind, account_state, requirement, what_if


def test_stock_requirements():
    assert requirement(Holding(Kind.STOCK, 100, 50.0)).initial == pytest.approx(2_500)
    assert requirement(Holding(Kind.STOCK, 100, 50.0)).maintenance == pytest.approx(1_250)
    short = requirement(Holding(Kind.STOCK, -100, 50.0))
    assert (short.initial, short.maintenance) == pytest.approx((2_500, 1_500))


def test_naked_short_option_rule():
    # short 1 call K=110, S=100, price 2: 2 + max(20 - 10, 10) = 12 per share -> 1200
    call = Holding(Kind.OPTION, -1, 2.0, 100, strike=110, right="C", und_price=100)
    assert requirement(call).initial == pytest.approx(1_200)
    # short 1 put K=95, S=100, price 1.5: 1.5 + max(20 - 5, 9.5) = 16.5 -> 1650
    put = Holding(Kind.OPTION, -1, 1.5, 100, strike=95, right="P", und_price=100)
    assert requirement(put).initial == pytest.approx(1_650)
    long_call = Holding(Kind.OPTION, 3, 2.0, 100, strike=110, right="C", und_price=100)
    assert requirement(long_call).initial == pytest.approx(600)


def test_fx_and_futures_rules():
    assert requirement(Holding(Kind.FX, 100_000, 1.1)).initial == pytest.approx(3_300)
    es = requirement(Holding(Kind.FUTURE, 2, 5_000.0, 50))
    assert (es.initial, es.maintenance) == pytest.approx((50_000, 40_000))


def test_what_if_fields_and_buying_power():
    cash = 100_000.0
    ok = what_if(cash, [], Holding(Kind.STOCK, 1_000, 150.0, key="AAPL"), commission=5.0)
    assert ok.accepted
    fields = ok.ib_fields()
    assert fields["initMarginBefore"] == "0.00"
    assert fields["initMarginAfter"] == "75000.00"
    assert fields["initMarginChange"] == "75000.00"
    assert fields["maintMarginAfter"] == "37500.00"
    assert fields["equityWithLoanBefore"] == "100000.00"
    assert fields["equityWithLoanAfter"] == "99995.00"
    assert fields["commission"] == 5.0
    too_big = what_if(cash, [], Holding(Kind.STOCK, 10**12, 150.0, key="AAPL"))
    assert not too_big.accepted
    assert "insufficient margin" in too_big.reason
    # twice the equity is the Reg T limit for stock
    assert what_if(cash, [], Holding(Kind.STOCK, 1_333, 150.0, key="AAPL")).accepted
    assert not what_if(cash, [], Holding(Kind.STOCK, 1_334, 150.0, key="AAPL")).accepted


def test_reducing_orders_are_accepted_even_when_under_margin():
    # an account already beyond its margin may still sell
    held = [Holding(Kind.STOCK, 2_000, 150.0, key="AAPL")]
    state = account_state(-200_000.0, held)
    assert state.available_funds < 0
    assert what_if(-200_000.0, held, Holding(Kind.STOCK, -500, 150.0, key="AAPL"), commission=1.0).accepted
    assert not what_if(-200_000.0, held, Holding(Kind.STOCK, 10, 150.0, key="AAPL")).accepted


def test_options_have_no_loan_value():
    held = [Holding(Kind.OPTION, 10, 5.0, 100, strike=100, right="C", und_price=100, key="X")]
    assert account_state(1_000.0, held).equity_with_loan == 1_000.0
