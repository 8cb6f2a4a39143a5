"""order_optimal_portfolio in algorithms: orders are the target minus the holdings (zipline's rounding), the
portfolio ends where the optimizer put it, and a paper replay on the simulated gateway places the same orders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support.algo import run_algo

from runtime.errors import AlgorithmLoadError
from runtime.live.paper import run_algorithm

ALGO = Path(__file__).resolve().parents[1] / "quant_algos" / "optimize_long_short.py"


def _orders(perf: pd.DataFrame) -> list[tuple]:
    seen = {}
    for day in perf["orders"]:
        for o in day:
            seen[o["id"]] = (pd.Timestamp(o["created"]), o["sid"].symbol, o["amount"], o["filled"], o["status"])
    return sorted(seen.values())


def _trades(perf: pd.DataFrame) -> list[tuple]:
    return [(pd.Timestamp(t["dt"]), t["sid"].symbol if "sid" in t else t["symbol"], t["amount"], round(t["price"], 6))
            for day in perf["transactions"] for t in day]


@pytest.mark.slow
def test_long_short_optimize_backtest(tmp_path: Path) -> None:
    result = run_algo(tmp_path, ALGO, start="2011-01-03", end="2011-06-30", strict=True)
    context, perf = result.engine.context, result.perf
    assert context.rebalances == 26 and context.mismatches == []  # every order = target - holding, rounded
    assert context.infeasible_caught == context.rebalances
    assert (perf["gross"] <= 1.0 + 1e-6).all() and (perf["net"].abs() <= 1e-4 + 1e-7).all()
    assert len(_orders(perf)) >= 26
    # after the fills the book is long and short by about the same amount, within the concentration limit
    positions = perf["positions"].iloc[-1]
    values = {p["sid"].symbol: p["amount"] * p["last_sale_price"] for p in positions}
    pv = perf["portfolio_value"].iloc[-1]
    assert any(v > 0 for v in values.values()) and any(v < 0 for v in values.values())
    assert abs(sum(values.values())) / pv < 0.05 and max(abs(v) for v in values.values()) / pv < 0.33


@pytest.mark.socket
def test_paper_replay_places_the_same_orders(tmp_path: Path) -> None:
    start, end = "2011-01-03", "2011-03-31"
    backtest = run_algo(tmp_path, ALGO, start=start, end=end, strict=True)
    paper = run_algorithm(str(ALGO), frequency="daily", replay=(pd.Timestamp(start), pd.Timestamp(end)),
                          output=tmp_path / "paper", run_id="optimize-parity")
    assert paper.engine.error_count == 0 and paper.engine.context.mismatches == []
    assert _orders(paper.perf) and _orders(paper.perf) == _orders(backtest.perf)
    assert _trades(paper.perf) == _trades(backtest.perf)


def test_target_weights_sells_what_is_not_targeted(algo_runner) -> None:
    source = """
    import quantopian.optimize as opt
    from quantopian.algorithm import order_optimal_portfolio

    def initialize(context):
        context.day = 0

    def handle_data(context, data):
        context.day += 1
        if context.day == 1:
            order_optimal_portfolio(opt.TargetWeights({symbol("AAPL"): 0.5, symbol("IBM"): 0.3}), [])
        elif context.day == 3:
            context.weights = opt.calculate_optimal_portfolio(opt.TargetWeights({symbol("MSFT"): 0.4}), [])
            order_optimal_portfolio(opt.TargetWeights({symbol("MSFT"): 0.4}), [opt.MaxGrossExposure(1.0)])
    """
    result = algo_runner(source, start="2012-01-03", end="2012-01-10")
    assert result.engine.context.weights.to_dict() == {
        result.engine.api.symbol("MSFT"): 0.4, result.engine.api.symbol("AAPL"): 0.0,
        result.engine.api.symbol("IBM"): 0.0}
    held = {p["sid"].symbol for p in result.perf["positions"].iloc[-1]}
    assert held == {"MSFT"}


def test_order_optimal_portfolio_in_initialize_is_refused(algo_runner) -> None:
    source = """
    import quantopian.optimize as opt

    def initialize(context):
        order_optimal_portfolio(opt.TargetWeights({symbol("AAPL"): 0.5}), [])
    """
    with pytest.raises(AlgorithmLoadError, match="order_optimal_portfolio may only be called in"):
        algo_runner(source, start="2012-01-03", end="2012-01-05")


def test_every_quantopian_optimize_import_form(algo_runner) -> None:
    source = """
    import quantopian.optimize as opt
    import quantopian.optimize.experimental as experimental
    from quantopian.optimize import TargetWeights, MaxGrossExposure, UnboundedObjective
    from quantopian.optimize.experimental import MaxTurnover

    def initialize(context):
        context.same = (opt.TargetWeights is TargetWeights, experimental.MaxTurnover is MaxTurnover,
                        opt.experimental.MaxTurnover is MaxTurnover)
        context.risk = None
        try:
            experimental.RiskModelExposure(None)
        except Exception as exc:
            context.risk = str(exc)
    """
    result = algo_runner(source, start="2012-01-03", end="2012-01-05")
    assert result.engine.context.same == (True, True, True)
    assert "FactorExposure" in result.engine.context.risk


def test_an_unpriced_asset_orders_nothing(algo_runner) -> None:
    source = """
    import quantopian.optimize as opt

    def initialize(context):
        context.errors = []

    def handle_data(context, data):
        try:
            order_optimal_portfolio(opt.TargetWeights({symbol("AAPL"): 0.5, symbol("FB"): 0.3}), [])
        except Exception as exc:
            context.errors.append(str(exc))
    """
    result = algo_runner(source, start="2012-01-03", end="2012-01-05")  # FB is listed from 2012-05-18
    assert len(result.engine.context.errors) == 3 and "no price now for FB" in result.engine.context.errors[0]
    assert result.summary.orders == 0
