"""The ledger: cost basis, splits, dividends, and the accounting identity after every fill."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.core.assets import Asset
from runtime.core.ledger import Ledger, Position
from runtime.core.matching import Fill

A = Asset(sid=1, symbol="AAA")
B = Asset(sid=2, symbol="BBB")
FUT = Asset(sid=3, symbol="ES", multiplier=50.0)


def fill(asset: Asset, amount: int, price: float, commission: float = 0.0, t: int = 1) -> Fill:
    return Fill("o", asset, amount, price, commission, t, amount, price, True)


@pytest.mark.parametrize(
    ("trades", "amount", "cost_basis"),
    [
        ([(100, 10.0)], 100, 10.0),
        ([(100, 10.0), (100, 12.0)], 200, 11.0),  # adding averages
        ([(100, 10.0), (100, 12.0), (-50, 15.0)], 150, 11.0),  # reducing keeps the basis
        ([(100, 10.0), (-300, 14.0)], -200, 14.0),  # flipping resets to the fill price
        ([(-100, 20.0), (-100, 10.0)], -200, 15.0),  # adding to a short averages
        ([(-100, 20.0), (50, 10.0)], -50, 20.0),  # covering part of a short keeps the basis
        ([(-100, 20.0), (150, 10.0)], 50, 10.0),
        ([(100, 10.0), (-100, 11.0)], 0, None),  # closed: the position disappears
    ],
)
def test_cost_basis_rules(trades: list[tuple[int, float]], amount: int, cost_basis: float | None) -> None:
    ledger = Ledger(1e6)
    for qty, price in trades:
        ledger.apply_fill(fill(A, qty, price))
    pos = ledger.positions()[A]
    assert pos.amount == amount
    if cost_basis is None:
        assert A not in ledger.positions() and pos == Position(A)
    else:
        assert pos.cost_basis == pytest.approx(cost_basis)


def test_commission_is_folded_into_the_cost_basis_and_taken_from_cash() -> None:
    ledger = Ledger(10_000.0)
    txn = ledger.apply_fill(fill(A, 100, 10.0, commission=1.0))
    assert ledger.positions()[A].cost_basis == pytest.approx(10.01)
    assert ledger.cash == pytest.approx(10_000 - 1_000 - 1)
    assert (txn.amount, txn.price, txn.commission) == (100, 10.0, 1.0)
    ledger.apply_fill(fill(A, -40, 12.0, commission=1.0))
    assert ledger.positions()[A].cost_basis == pytest.approx((10.01 * 60 + 1.0) / 60)
    assert ledger.capital_used == pytest.approx(-1_000 + 480)


def test_multiplier_scales_cash_and_value() -> None:
    ledger = Ledger(100_000.0)
    ledger.apply_fill(fill(FUT, 2, 4000.0))
    assert ledger.cash == pytest.approx(100_000 - 2 * 4000 * 50)
    ledger.mark(FUT.sid, 4010.0, 2)
    assert ledger.portfolio_value == pytest.approx(100_000 + 2 * 10 * 50)


def test_split_multiplies_amount_divides_prices() -> None:
    ledger = Ledger(10_000.0)
    ledger.apply_fill(fill(A, 100, 50.0))
    ledger.mark(A.sid, 60.0, 2)
    before = ledger.portfolio_value
    assert ledger.apply_split(A.sid, 2.0, 3) == 0.0
    pos = ledger.positions()[A]
    assert (pos.amount, pos.cost_basis, pos.last_sale_price) == (200, 25.0, 30.0)
    assert ledger.portfolio_value == pytest.approx(before)


def test_split_pays_fractional_shares_in_cash() -> None:
    ledger = Ledger(10_000.0)
    ledger.apply_fill(fill(A, 101, 30.0))
    cash = ledger.cash
    payout = ledger.apply_split(A.sid, 1.5, 2)  # 3-for-2: 151.5 shares
    assert ledger.amount(A.sid) == 151
    assert payout == pytest.approx(0.5 * 20.0)
    assert ledger.cash == pytest.approx(cash + payout)
    assert ledger.portfolio_value == pytest.approx(10_000.0)
    assert ledger.apply_split(B.sid, 2.0, 3) == 0.0  # not held: nothing happens


def test_dividends_credit_longs_and_debit_shorts() -> None:
    ledger = Ledger(10_000.0)
    ledger.apply_fill(fill(A, 100, 10.0))
    ledger.apply_fill(fill(B, -50, 20.0))
    assert ledger.apply_dividend(A.sid, 0.5) == pytest.approx(50.0)
    assert ledger.apply_dividend(B.sid, 0.5) == pytest.approx(-25.0)
    assert ledger.apply_dividend(99, 1.0) == 0.0
    assert ledger.cash == pytest.approx(10_000 - 1_000 + 1_000 + 50 - 25)


def test_missing_asset_gives_an_empty_position_and_is_not_inserted() -> None:
    positions = Ledger(1.0).positions()
    pos = positions[A]
    assert (pos.amount, pos.cost_basis, pos.last_sale_price) == (0, 0.0, 0.0)
    assert A not in positions and len(positions) == 0


def test_account_and_portfolio_views() -> None:
    ledger = Ledger(10_000.0)
    ledger.apply_fill(fill(A, 100, 10.0))
    ledger.apply_fill(fill(B, -100, 20.0))
    portfolio, account = ledger.portfolio(), ledger.account()
    assert portfolio.positions_value == pytest.approx(1_000 - 2_000)
    assert portfolio.portfolio_value == pytest.approx(10_000)
    assert account.leverage == pytest.approx(3_000 / 10_000)
    assert account.net_leverage == pytest.approx(-1_000 / 10_000)
    assert account.net_liquidation == pytest.approx(10_000)
    weights = portfolio.current_portfolio_weights
    assert weights[A] == pytest.approx(0.1) and weights[B] == pytest.approx(-0.2)


def test_starting_cash_must_be_valid() -> None:
    with pytest.raises(ValueError):
        Ledger(-1.0)
    with pytest.raises(ValueError):
        Ledger(math.nan)


_trade = st.tuples(
    st.sampled_from([A, B, FUT]),
    st.integers(min_value=-500, max_value=500).filter(bool),
    st.floats(min_value=0.5, max_value=500.0, allow_nan=False),
    st.floats(min_value=0.0, max_value=5.0, allow_nan=False),
    st.floats(min_value=0.5, max_value=500.0, allow_nan=False),  # a later mark price
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_trade, min_size=1, max_size=40))
def test_cash_plus_positions_value_equals_portfolio_value_after_every_fill(trades) -> None:
    """Checked against an independent model of the account, after every fill and every mark."""
    ledger = Ledger(1_000_000.0)
    cash = 1_000_000.0
    amounts: dict[Asset, int] = {}
    last: dict[Asset, float] = {}
    commissions = 0.0

    def check() -> None:
        value = sum(amounts[a] * last[a] * a.multiplier for a in amounts if amounts[a])
        portfolio = ledger.portfolio()
        assert ledger.cash == pytest.approx(cash)
        assert portfolio.positions_value == pytest.approx(value, abs=1e-6)
        assert portfolio.cash + portfolio.positions_value == pytest.approx(portfolio.portfolio_value)
        assert portfolio.portfolio_value == pytest.approx(cash + value)
        assert portfolio.pnl == pytest.approx(cash + value - 1_000_000.0, abs=1e-6)
        held = {a: n for a, n in amounts.items() if n}
        assert {a: p.amount for a, p in portfolio.positions.items()} == held
        assert sum(p.amount * p.last_sale_price * a.multiplier for a, p in portfolio.positions.items()) == (
            pytest.approx(value, abs=1e-6)
        )

    for t, (asset, qty, price, commission, mark) in enumerate(trades, start=1):
        ledger.apply_fill(fill(asset, qty, price, commission, t))
        cash -= qty * price * asset.multiplier + commission
        commissions += commission
        amounts[asset] = amounts.get(asset, 0) + qty
        last[asset] = price
        check()
        ledger.mark(asset.sid, mark, t)
        if amounts[asset]:
            last[asset] = mark
        check()
    assert ledger.capital_used == pytest.approx(cash - 1_000_000.0 + commissions)


RANDOM_TRADER = """
import random

def initialize(context):
    context.rng = random.Random(SEED)
    context.assets = symbols("AAPL", "IBM", "MSFT", "GOOG")
    context.checks = 0

def handle_data(context, data):
    p = context.portfolio
    held = sum(pos.amount * pos.last_sale_price for pos in p.positions.values())
    marked = sum(pos.amount * data.current(a, "price") for a, pos in p.positions.items())
    assert abs(p.cash + held - p.portfolio_value) < 1e-6 * max(1.0, abs(p.portfolio_value))
    assert abs(held - marked) < 1e-6 * max(1.0, abs(held))
    context.checks += 1
    for asset in context.assets:
        if data.can_trade(asset) and context.rng.random() < 0.3:
            order(asset, context.rng.randint(-300, 300))
"""


@settings(max_examples=4, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_identity_holds_through_the_engine_across_a_split(tmp_path_factory, seed: int) -> None:
    """Random long and short orders through real backtests (AAPL splits 2:1 on 2005-02-28)."""
    from support.algo import run_algo

    result = run_algo(tmp_path_factory.mktemp("random"), RANDOM_TRADER.replace("SEED", str(seed)),
                      start="2005-02-01", end="2005-03-31")
    assert result.engine.context.checks == len(result.perf)
    perf = result.perf
    positions_value = perf["positions"].map(lambda ps: sum(p["amount"] * p["last_sale_price"] for p in ps))
    assert ((perf["ending_cash"] + positions_value - perf["portfolio_value"]).abs() < 1e-6).all()
    assert (perf["ending_value"] - positions_value).abs().max() < 1e-6


def test_position_values_are_the_marked_positions_in_one_flat_list() -> None:
    ledger = Ledger(100_000.0)
    ledger.apply_fill(fill(A, 100, 10.0))
    ledger.apply_fill(fill(B, -20, 50.0))
    ledger.defer_mark(lambda: ledger.mark_many([A.sid, B.sid], [11.0, 49.0], 5))
    assert ledger.position_values() == [A.sid, 100, 10.0, 11.0, B.sid, -20, 50.0, 49.0]
    assert ledger.held_assets() == {A.sid: A, B.sid: B}
    assert set(ledger.held_sid_set()) == {A.sid, B.sid}
    assert [row[0] for row in ledger.position_items()] == [A.sid, B.sid]
