"""Order amount and price rounding, styles and their resolution (pure: runtime.core.orders and runtime.core.styles)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.core.orders import OrderStatus, TimeInForce, asymmetric_round_price, round_amount
from runtime.core.styles import LimitOrder, MarketOrder, StopLimitOrder, StopOrder, TrailStopOrder, resolve_style
from runtime.errors import BadOrderError


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (3.99995, 4),
        (5.5, 5),
        (-5.5, -5),
        (0.4, 0),
        (-0.4, 0),
        (4.00004, 4),
        (-3.99995, -4),
        (3.9998, 3),  # 2e-4 away from 4: truncated
        (10, 10),
        (0.99999, 1),
        (1e6 + 0.5, 1_000_000),
    ],
)
def test_amount_rounding_table(amount: float, expected: int) -> None:
    assert round_amount(amount) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_amount_must_be_finite(bad: float) -> None:
    with pytest.raises(BadOrderError):
        round_amount(bad)


@given(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False))
def test_amount_rounding_never_rounds_away_from_zero_by_more_than_epsilon(amount: float) -> None:
    shares = round_amount(amount)
    assert abs(shares) <= abs(amount) + 1e-4
    assert abs(shares - amount) < 1.0
    if shares:
        assert (shares > 0) == (amount > 0)


@pytest.mark.parametrize(
    ("style", "is_buy", "limit", "stop"),
    [
        (LimitOrder(1.2345), True, 1.23, None),  # buy limit rounds down (in the buyer's favour)
        (LimitOrder(1.2345), False, 1.24, None),  # sell limit rounds up
        (StopOrder(1.2345), True, None, 1.24),  # buy stop rounds up (triggers no earlier)
        (StopOrder(1.2345), False, None, 1.23),  # sell stop rounds down
        (StopLimitOrder(1.2345, 1.2345), True, 1.23, 1.24),
        (StopLimitOrder(1.2345, 1.2345), False, 1.24, 1.23),
        (LimitOrder(1.2396), True, 1.24, None),  # within 5% of a tick of the upper neighbour
        (LimitOrder(1.2304), False, 1.23, None),  # within 5% of a tick of the lower neighbour
        (LimitOrder(10.0), True, 10.0, None),
        (LimitOrder(10.0), False, 10.0, None),
        (MarketOrder(), True, None, None),
    ],
)
def test_price_rounding_table(style, is_buy: bool, limit: float | None, stop: float | None) -> None:
    assert style.limit_for(is_buy, 0.01) == limit
    assert style.stop_for(is_buy, 0.01) == stop


@given(st.floats(min_value=0.01, max_value=100_000, allow_nan=False), st.booleans())
def test_rounded_prices_are_on_the_tick_and_within_one_tick(price: float, down: bool) -> None:
    rounded = asymmetric_round_price(price, down, 0.01)
    assert abs(rounded - price) <= 0.01 + 1e-9
    assert abs(rounded * 100 - round(rounded * 100)) < 1e-6


def test_price_rounding_other_tick_sizes() -> None:
    assert asymmetric_round_price(1.2345, True, 0.05) == 1.2
    assert asymmetric_round_price(1.2345, False, 0.05) == 1.25
    assert asymmetric_round_price(0.0, True) == 0.0


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "abc"])
def test_prices_must_be_finite_and_non_negative(bad: object) -> None:
    with pytest.raises(BadOrderError):
        LimitOrder(bad)  # type: ignore[arg-type]
    with pytest.raises(BadOrderError):
        StopOrder(bad)  # type: ignore[arg-type]


def test_resolve_style_shorthands() -> None:
    assert resolve_style(None, None, None) == MarketOrder()
    assert resolve_style(10.0, None, None) == LimitOrder(10.0)
    assert resolve_style(None, 9.0, None) == StopOrder(9.0)
    assert resolve_style(10.0, 9.0, None) == StopLimitOrder(limit_price=10.0, stop_price=9.0)
    style = LimitOrder(5.0)
    assert resolve_style(None, None, style) is style


def test_resolve_style_errors() -> None:
    with pytest.raises(BadOrderError, match="not both"):
        resolve_style(10.0, None, LimitOrder(10.0))
    with pytest.raises(BadOrderError, match="not both"):
        resolve_style(None, 9.0, MarketOrder())
    with pytest.raises(BadOrderError, match="parentheses"):
        resolve_style(None, None, MarketOrder)  # type: ignore[arg-type]
    with pytest.raises(BadOrderError, match="order style"):
        resolve_style(None, None, "limit")  # type: ignore[arg-type]


def test_time_in_force_spellings() -> None:
    assert LimitOrder(1.0, tif="day").time_in_force is TimeInForce.DAY
    assert MarketOrder(tif="IOC").time_in_force is TimeInForce.IOC
    assert MarketOrder().time_in_force is None
    with pytest.raises(BadOrderError, match="time in force"):
        MarketOrder(tif="FOK")


def test_trail_stop_needs_exactly_one_trail() -> None:
    with pytest.raises(BadOrderError):
        TrailStopOrder()
    with pytest.raises(BadOrderError):
        TrailStopOrder(trailing_amount=1.0, trailing_percent=1.0)
    assert TrailStopOrder(trailing_percent=2.0).trail_from(50.0) == pytest.approx(1.0)


def test_order_status_values_are_zipline_numbers() -> None:
    assert [int(s) for s in OrderStatus] == [0, 1, 2, 3, 4]
    assert [s.name for s in OrderStatus] == ["OPEN", "FILLED", "CANCELLED", "REJECTED", "HELD"]
    assert OrderStatus.HELD.is_open and OrderStatus.OPEN.is_open and not OrderStatus.FILLED.is_open
