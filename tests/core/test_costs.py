"""zipline's cost models: slippage price and size, commission arithmetic (pure: runtime.core.costs)."""

from __future__ import annotations

import pytest

from runtime.core.assets import Asset
from runtime.core.costs import (
    LIQUIDITY_EXCEEDED,
    FixedBasisPointsSlippage,
    FixedSlippage,
    NoCommission,
    NoSlippage,
    PerDollar,
    PerShare,
    PerTrade,
    SlipResult,
    VolumeShareSlippage,
)
from runtime.core.matching import BarQuote, MatchingEngine, WorkingOrder

ASSET = Asset(sid=7, symbol="XYZ")


class _Order:
    """The three fields a commission model reads."""

    def __init__(self, amount: int, filled: int = 0, commission: float = 0.0) -> None:
        self.amount, self.filled, self.commission = amount, filled, commission


def test_fixed_basis_points_defaults_are_zipline_defaults() -> None:
    model = FixedBasisPointsSlippage()
    assert (model.basis_points, model.volume_limit) == (5.0, 0.1)
    assert isinstance(PerShare(), PerShare) and PerShare().cost_per_share == 0.001
    assert PerShare().min_trade_cost == 0.0


@pytest.mark.parametrize(("direction", "expected"), [(1, 100.05), (-1, 99.95)])
def test_fixed_basis_points_price(direction: int, expected: float) -> None:
    result = FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1).fill(direction, 10 * direction, 100.0, 1e6, 0)
    assert isinstance(result, SlipResult)
    assert result.price == pytest.approx(expected)
    assert result.shares == 10


def test_fixed_basis_points_volume_limit() -> None:
    model = FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1)
    assert model.fill(1, 500, 10.0, 1234, 0).shares == 123  # int(0.1 * 1234)
    assert model.fill(1, 500, 10.0, 1234, 100).shares == 23  # what other orders left in this bar
    assert model.fill(1, 500, 10.0, 1234, 123) == LIQUIDITY_EXCEEDED
    assert model.fill(-1, -50, 10.0, 1234, 0).shares == 50


def test_volume_share_slippage_arithmetic() -> None:
    model = VolumeShareSlippage(volume_limit=0.025, price_impact=0.1)
    result = model.fill(1, 100, 50.0, 10_000, 0)
    # 100 of 10,000 shares = 1% of volume: impact = 0.01 ** 2 * 0.1 * 50
    assert result.shares == 100
    assert result.price == pytest.approx(50.0 + 0.01**2 * 0.1 * 50.0)
    capped = model.fill(-1, -1000, 50.0, 10_000, 0)
    assert capped.shares == 250  # 2.5% of the bar's volume
    assert capped.price == pytest.approx(50.0 - 0.025**2 * 0.1 * 50.0)
    assert model.fill(1, 10, 50.0, 10_000, 250) == LIQUIDITY_EXCEEDED


def test_fixed_and_no_slippage_fill_everything() -> None:
    assert FixedSlippage(spread=0.1).fill(1, 10**6, 20.0, 1, 0) == SlipResult(20.05, 10**6)
    assert FixedSlippage(spread=0.1).fill(-1, -5, 20.0, 1, 0) == SlipResult(19.95, 5)
    assert NoSlippage().fill(1, 7, 20.0, 1, 0) == SlipResult(20.0, 7)


def test_per_share_with_minimum_across_partial_fills() -> None:
    model = PerShare(cost=0.001, min_trade_cost=1.0)
    order = _Order(3000)
    charged = []
    for shares in (500, 500, 2000):
        c = model.calculate(order, 10.0, shares)
        charged.append(c)
        order.filled += shares
        order.commission += c
    # first fill pays the minimum; the second adds nothing (1.0 total still covers it); the third tops up to 3.0
    assert charged == pytest.approx([1.0, 0.0, 2.0])
    assert order.commission == pytest.approx(3000 * 0.001)


def test_per_share_without_minimum_is_linear() -> None:
    order = _Order(-100)
    assert PerShare().calculate(order, 10.0, -100) == pytest.approx(0.1)


def test_per_trade_once_per_order_and_per_dollar() -> None:
    model = PerTrade(cost=5.0)
    order = _Order(100)
    assert model.calculate(order, 10.0, 40) == 5.0
    order.filled, order.commission = 40, 5.0
    assert model.calculate(order, 10.0, 60) == 0.0
    assert PerDollar(cost=0.0015).calculate(_Order(10), 20.0, -10) == pytest.approx(0.3)
    assert NoCommission().calculate(_Order(10), 20.0, 10) == 0.0


def test_per_share_minimum_charged_once_through_the_matcher() -> None:
    """Partial fills of one order in three bars: the minimum is charged once, then per share."""
    engine = MatchingEngine(FixedBasisPointsSlippage(basis_points=0, volume_limit=0.1), PerShare(0.001, 1.0))
    engine.submit(WorkingOrder(id="a", asset=ASSET, amount=2500, created_ns=0))
    fills = []
    for t in (1, 2, 3):
        fills += engine.on_bar(ASSET, BarQuote(10.0, 10_000, t))
    assert [f.amount for f in fills] == [1000, 1000, 500]
    assert [f.commission for f in fills] == pytest.approx([1.0, 1.0, 0.5])
    assert fills[-1].order_done
