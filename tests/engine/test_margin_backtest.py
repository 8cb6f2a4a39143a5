"""A backtest refuses what the account cannot margin, as the simulated gateway and IB do (error 201), unless the
margin check is off (zipline's behaviour); the same file gets the same refusals in a paper run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support.algo import run_data, write_algo

from runtime.assembly.backtest import run_backtest
from runtime.core.margin import MarginCheck
from runtime.core.orders import OrderStatus

HUGE = '''
def initialize(context):
    context.asset = symbol("AAPL")
    context.done = False


def handle_data(context, data):
    if not context.done:
        context.huge = order(context.asset, 10**12)
        context.fine = order(context.asset, 100)
        context.done = True
'''

LEVERAGE = '''
def initialize(context):
    context.asset = symbol("AAPL")
    context.day = 0


def handle_data(context, data):
    context.day += 1
    if context.day == 1:
        order_target_percent(context.asset, 1.9)   # needs 95% of the equity: accepted
    elif context.day == 3:
        order_target_percent(context.asset, 2.5)   # the extra 0.6 needs 30%, with 5% left: refused
'''


def _run(tmp_path: Path, source: str, check: MarginCheck, start: str = "2012-01-03", end: str = "2012-01-10"):
    daily, minute, s, e = run_data("daily", start, end)
    return run_backtest(write_algo(tmp_path, source), daily=daily, minute=minute, start=s, end=e,
                        capital=100_000.0, margin_check=check)


def test_an_order_beyond_the_funds_is_refused_with_ibs_words(tmp_path: Path) -> None:
    result = _run(tmp_path, HUGE, MarginCheck.REG_T)
    ctx = result.engine.context
    huge, fine = result.engine.orders[ctx.huge], result.engine.orders[ctx.fine]
    assert huge.status is OrderStatus.REJECTED and huge.filled == 0
    assert "YOUR ORDER IS NOT ACCEPTED" in huge.reason and "INITIAL MARGIN" in huge.reason
    assert fine.status is OrderStatus.FILLED and fine.filled == 100
    assert result.engine.ledger.amount(huge.asset.sid) == 100


def test_without_the_check_it_fills_as_zipline_does(tmp_path: Path) -> None:
    result = _run(tmp_path, HUGE, MarginCheck.NONE)
    huge = result.engine.orders[result.engine.context.huge]
    # zipline's volume slippage fills 2.5% of each bar's volume: the order stays open, filling day after day
    assert huge.status is OrderStatus.OPEN and huge.filled > 1_000_000


def test_leverage_up_to_the_rule_and_not_beyond(tmp_path: Path) -> None:
    result = _run(tmp_path, LEVERAGE, MarginCheck.REG_T)
    statuses = [r.status for r in result.engine.orders.values()]
    assert statuses == [OrderStatus.FILLED, OrderStatus.REJECTED]
    assert result.perf["gross_leverage"].max() < 2.0


@pytest.mark.socket
@pytest.mark.slow
def test_a_paper_run_refuses_the_same_orders(tmp_path: Path) -> None:
    from runtime.live.paper import run_algorithm

    algo = write_algo(tmp_path, HUGE)
    backtest = _run(tmp_path, HUGE, MarginCheck.REG_T)
    paper = run_algorithm(str(algo), output=tmp_path / "paper",
                          replay=(pd.Timestamp("2012-01-03"), pd.Timestamp("2012-01-10")))
    want = [(r.amount, r.status) for r in backtest.engine.orders.values()]
    got = [(r.amount, r.status) for r in paper.engine.orders.values()]
    assert got == want == [(10**12, OrderStatus.REJECTED), (100, OrderStatus.FILLED)]
