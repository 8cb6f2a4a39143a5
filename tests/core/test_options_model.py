"""Black-Scholes, implied volatility, the volatility rule, the option chain on the exchange calendar, exercise."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.core.options import (
    DEFAULT_VOL,
    Right,
    SessionCalendar,
    black_scholes,
    exercised_at_expiry,
    expiries,
    historical_volatility,
    implied_volatility,
    monthly_expiry,
    option_chain,
    price_bounds,
    settle_at_expiry,
    strikes_around,
    year_fraction,
)
from runtime.data.calendars import get_calendar


@pytest.fixture(scope="module")
def nyse() -> SessionCalendar:
    return SessionCalendar(get_calendar("XNYS").sessions)


def test_black_scholes_textbook_vectors():
    # Hull's example: S=42, K=40, r=10%, sigma=20%, T=0.5 -> call 4.76, put 0.81
    assert black_scholes("C", 42, 40, 0.5, 0.2, 0.1).price == pytest.approx(4.759, abs=1e-3)
    assert black_scholes("P", 42, 40, 0.5, 0.2, 0.1).price == pytest.approx(0.8086, abs=1e-3)
    # S=K=100, r=5%, sigma=20%, T=1: call 10.4506, delta 0.6368, gamma 0.018762, vega 37.524/100, theta -6.414/365
    v = black_scholes(Right.CALL, 100, 100, 1.0, 0.2, 0.05)
    assert v.price == pytest.approx(10.450584, abs=1e-6)
    assert v.delta == pytest.approx(0.636831, abs=1e-6)
    assert v.gamma == pytest.approx(0.018762, abs=1e-6)
    assert v.vega == pytest.approx(0.375240, abs=1e-6)
    assert v.theta == pytest.approx(-6.414028 / 365, abs=1e-6)
    p = black_scholes("P", 100, 100, 1.0, 0.2, 0.05)
    assert p.price == pytest.approx(5.573526, abs=1e-6)
    assert p.delta == pytest.approx(v.delta - 1, abs=1e-12)


@given(
    spot=st.floats(5, 500), moneyness=st.floats(0.6, 1.6), t=st.floats(0.01, 2.0), vol=st.floats(0.05, 1.5),
    rate=st.floats(0, 0.08), q=st.floats(0, 0.04),
)
def test_put_call_parity(spot, moneyness, t, vol, rate, q):
    k = spot * moneyness
    c = black_scholes("C", spot, k, t, vol, rate, q).price
    p = black_scholes("P", spot, k, t, vol, rate, q).price
    assert c - p == pytest.approx(spot * math.exp(-q * t) - k * math.exp(-rate * t), abs=1e-8 * spot)


@given(spot=st.floats(20, 400), moneyness=st.floats(0.7, 1.3), t=st.floats(0.02, 2.0), vol=st.floats(0.05, 1.5),
       right=st.sampled_from(["C", "P"]))  # fmt: skip
def test_implied_vol_round_trip(spot, moneyness, t, vol, right):
    k = spot * moneyness
    price = black_scholes(right, spot, k, t, vol, 0.01).price
    lo, _ = price_bounds(right, spot, k, t, 0.01)
    if price - lo < 1e-7 * spot:  # no time value left to invert
        return
    iv = implied_volatility(price, right, spot, k, t, 0.01)
    assert black_scholes(right, spot, k, t, iv, 0.01).price == pytest.approx(price, abs=1e-7 * spot)


def test_implied_vol_rejects_prices_outside_bounds():
    with pytest.raises(ValueError, match="no-arbitrage"):
        implied_volatility(0.5, "C", 100, 90, 0.5)  # below intrinsic 10
    with pytest.raises(ValueError, match="no-arbitrage"):
        implied_volatility(120, "C", 100, 90, 0.5)  # above the spot


def test_expiry_greeks_are_limits():
    v = black_scholes("C", 105, 100, 0.0, 0.3)
    assert (v.price, v.delta, v.gamma) == (5.0, 1.0, 0.0)
    assert black_scholes("P", 105, 100, 0.0, 0.3).price == 0.0


def test_historical_volatility_rule():
    rng = np.random.default_rng(7)
    returns = rng.normal(0, 0.02, 300)
    closes = 100 * np.exp(np.cumsum(returns))
    expected = np.std(np.diff(np.log(closes[-31:])), ddof=1) * math.sqrt(252)
    assert historical_volatility(closes) == pytest.approx(expected)
    assert historical_volatility(closes[:4]) == DEFAULT_VOL
    assert historical_volatility(np.full(40, 50.0)) == 0.05  # clipped to the floor


def test_monthly_expiry_moves_before_exchange_holidays(nyse):
    assert monthly_expiry(2025, 4, nyse) == pd.Timestamp("2025-04-17")  # Good Friday 2025-04-18
    assert monthly_expiry(2022, 4, nyse) == pd.Timestamp("2022-04-14")  # Good Friday 2022-04-15
    assert monthly_expiry(2026, 6, nyse) == pd.Timestamp("2026-06-18")  # Juneteenth on the third Friday
    assert monthly_expiry(2024, 1, nyse) == pd.Timestamp("2024-01-19")


def test_expiries_include_weeklies_and_skip_holidays(nyse):
    got = expiries("2025-04-01", nyse)
    assert pd.Timestamp("2025-04-18") not in got
    assert got[:4] == [pd.Timestamp(d) for d in ("2025-04-04", "2025-04-11", "2025-04-17", "2025-04-25")]
    assert pd.Timestamp("2025-05-16") in got and pd.Timestamp("2025-06-20") in got
    assert all(nyse.is_session(d) for d in got)


def test_chain_strikes_and_contracts(nyse):
    chain = option_chain("aapl", 187.3, "2024-01-02", nyse, each_side=3)
    assert chain.strikes == (170.0, 175.0, 180.0, 185.0, 190.0, 195.0, 200.0)
    assert chain.expiries[0] == "20240105"
    frame = chain.frame()
    assert len(frame) == len(chain.expiries) * 7 * 2
    assert set(frame["right"]) == {"C", "P"} and set(frame["multiplier"]) == {"100"}
    assert frame.iloc[0]["localSymbol"] == "AAPL  240105C00170000"
    assert strikes_around(12.0, 2) == [7.5, 10.0, 12.5, 15.0, 17.5]
    assert strikes_around(512.0, 1) == [500.0, 510.0, 520.0]


def test_exercise_by_exception():
    assert exercised_at_expiry("C", 100, 100.01)
    assert not exercised_at_expiry("C", 100, 100.005)
    assert exercised_at_expiry("P", 100, 99.99)
    assert not exercised_at_expiry("P", 100, 100.0)
    long_call = settle_at_expiry("C", 100, 2, 110)
    assert (long_call.shares, long_call.cash) == (200, -20_000.0)
    short_put = settle_at_expiry("P", 50, -1, 45)
    assert (short_put.shares, short_put.cash) == (100, -5_000.0)
    assert not settle_at_expiry("P", 50, -1, 55).exercised


def test_year_fraction_to_the_close_of_expiry():
    now = pd.Timestamp("2024-01-19 14:30", tz="UTC")  # 09:30 New York
    assert year_fraction(now, "20240119") == pytest.approx(6.5 / 24 / 365)
    assert year_fraction(pd.Timestamp("2024-01-20", tz="UTC"), "20240119") == 0.0
