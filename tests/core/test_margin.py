"""The margin rule (runtime/core/margin.py): Reg T style rates on notional, available funds, IB's refusal."""

from __future__ import annotations

import pytest

from runtime.core import margin
from runtime.core.margin import Holding, MarginCheck
from runtime.errors import ConfigError


def test_requirements_by_security_type() -> None:
    req = margin.requirements([Holding("STK", 10_000.0), Holding("STK", -4_000.0), Holding("FUT", 100_000.0),
                               Holding("CASH", 50_000.0)])
    assert req.gross == pytest.approx(164_000.0)
    assert req.initial == pytest.approx(0.5 * 14_000 + 0.06 * 100_000 + 0.03 * 50_000)
    assert req.maintenance == pytest.approx(0.25 * 14_000 + 0.05 * 100_000 + 0.025 * 50_000)


@pytest.mark.parametrize(("position", "quantity", "need"), [
    (0, 100, 0.5 * 100 * 50.0),     # a new long
    (0, -100, 0.5 * 100 * 50.0),    # a new short needs the same
    (100, -100, 0.0),               # closing needs nothing
    (100, -150, 0.0),               # through zero to a smaller short: the requirement falls
    (100, -300, 0.5 * 100 * 50.0),  # through zero to a larger short: what it grows by
    (-100, 50, 0.0),                # covering half a short
])
def test_an_order_needs_the_margin_of_what_it_adds(position: int, quantity: int, need: float) -> None:
    assert margin.order_margin("STK", position, quantity, 50.0) == pytest.approx(need)


def test_multiplier_counts() -> None:
    assert margin.order_margin("FUT", 0, 1, 5_000.0, 50.0) == pytest.approx(0.06 * 250_000)


def test_refusal_says_what_ib_says() -> None:
    assert margin.refusal(10_000.0, 5_000.0) is None
    assert margin.refusal(10_000.0, 10_000.0) is None
    assert margin.refusal(10_000.0, 0.0) is None
    text = margin.refusal(1_000.0, 5_000.5)
    assert text is not None and text.startswith("Order rejected - reason:YOUR ORDER IS NOT ACCEPTED")
    assert "AVAILABLE FUNDS [1000.00 USD]" in text and "INITIAL MARGIN [5000.50 USD]" in text


@pytest.mark.parametrize(("value", "check"), [
    ("regt", MarginCheck.REG_T), ("IB", MarginCheck.REG_T), (True, MarginCheck.REG_T),
    ("none", MarginCheck.NONE), ("zipline", MarginCheck.NONE), (False, MarginCheck.NONE),
])
def test_the_setting(value: object, check: MarginCheck) -> None:
    assert MarginCheck.parse(value) is check


def test_a_wrong_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"'regt'.*'none'"):
        MarginCheck.parse("maybe")
