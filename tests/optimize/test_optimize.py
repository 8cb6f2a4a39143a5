"""quantopian.optimize as pure functions: small problems whose answers were worked out by hand, infeasible and
unbounded problems (with the constraints named), and bad input."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import runtime.optimize as opt

ALPHA = {"A": 3.0, "B": 2.0, "C": -1.0, "D": -4.0}
EQ30 = opt.PositionConcentration.with_equal_bounds(-0.3, 0.3)


# (objective, constraints, current portfolio, expected weights), each solved by hand:
CASES = [
    # no constraints: exactly the targets
    pytest.param(opt.TargetWeights({"A": 0.3, "B": -0.2}), [], None, {"A": 0.3, "B": -0.2}, id="targets-unconstrained"),
    # projection onto the gross-exposure ball: both shrink by 0.1
    pytest.param(opt.TargetWeights({"A": 0.6, "B": 0.6}), [opt.MaxGrossExposure(1.0)], None, {"A": 0.5, "B": 0.5},
                 id="gross-symmetric"),
    # soft threshold: 0.6 - l + 0.2 - l = 0.6 -> l = 0.1
    pytest.param(opt.TargetWeights({"A": 0.6, "B": 0.2}), [opt.MaxGrossExposure(0.6)], None, {"A": 0.5, "B": 0.1},
                 id="gross-soft-threshold"),
    # net exposure 1.0 -> 0.2: both move by 0.4
    pytest.param(opt.TargetWeights({"A": 0.5, "B": 0.5}), [opt.NetExposure(-0.2, 0.2)], None, {"A": 0.1, "B": 0.1},
                 id="net-exposure"),
    # a held asset absent from the targets is sold
    pytest.param(opt.TargetWeights({"A": 0.3}), [], {"B": 0.2}, {"A": 0.3, "B": 0.0}, id="sell-unlisted-holding"),
    pytest.param(opt.TargetWeights({"A": 0.3, "B": 0.3}), [opt.Frozen("B")], {"B": 0.1}, {"A": 0.3, "B": 0.1},
                 id="frozen"),
    pytest.param(opt.TargetWeights({"A": 0.3, "B": 0.3}), [opt.CannotHold(["A"])], None, {"A": 0.0, "B": 0.3},
                 id="cannot-hold"),
    pytest.param(opt.TargetWeights({"A": -0.3, "B": 0.3}), [opt.LongOnly("A")], None, {"A": 0.0, "B": 0.3},
                 id="long-only"),
    pytest.param(opt.TargetWeights({"A": -0.3, "B": 0.3}), [opt.ShortOnly(["B"])], None, {"A": -0.3, "B": 0.0},
                 id="short-only"),
    # turnover |a - 0.5| + |b| <= 0.5, minimize a^2 + (b - 0.5)^2: by symmetry a = b = 0.25
    pytest.param(opt.TargetWeights({"A": 0.0, "B": 0.5}), [opt.MaxTurnover(0.5)], {"A": 0.5}, {"A": 0.25, "B": 0.25},
                 id="max-turnover"),
    # group x = A + B capped at 0.4: A and B each give up 0.1; C untouched
    pytest.param(opt.TargetWeights({"A": 0.4, "B": 0.2, "C": 0.1}),
                 [opt.NetGroupExposure(pd.Series({"A": "x", "B": "x", "C": "y"}), {"x": -1.0}, {"x": 0.4})], None,
                 {"A": 0.3, "B": 0.1, "C": 0.1}, id="net-group-exposure"),
    pytest.param(opt.TargetWeights({"A": 0.4, "B": -0.4, "C": 0.1}),
                 [opt.NetGroupExposure.with_equal_bounds({"A": "x", "B": "x", "C": "y"}, 0.2, 0.3)], None,
                 {"A": 0.5, "B": -0.3, "C": 0.2}, id="net-group-equal-bounds"),
    # beta 1.0*a + 0.5*b <= 0.5 from (0.5, 0.5): w = t - (0.75 - 0.5) / 1.25 * (1, 0.5) = (0.3, 0.4)
    pytest.param(opt.TargetWeights({"A": 0.5, "B": 0.5}),
                 [opt.FactorExposure(pd.DataFrame({"beta": [1.0, 0.5]}, index=["A", "B"]), {"beta": -1.0},
                                     {"beta": 0.5})], None, {"A": 0.3, "B": 0.4}, id="factor-exposure"),
    pytest.param(opt.TargetWeights({"A": 0.5, "B": 0.5, "C": 0.5}),
                 [opt.PositionConcentration({"A": 0.0, "B": 0.0}, {"A": 0.2, "B": 0.4})], None,
                 {"A": 0.2, "B": 0.4, "C": 0.0}, id="concentration-defaults-to-zero"),
    pytest.param(opt.TargetWeights({"A": 0.5, "B": 0.1}), [opt.FixedWeight("A", 0.2)], None, {"A": 0.2, "B": 0.1},
                 id="fixed-weight"),
    # largest |alpha| first, each at the 0.3 cap, C gets the rest of the gross 1.0
    pytest.param(opt.MaximizeAlpha(ALPHA), [opt.MaxGrossExposure(1.0), EQ30], None,
                 {"A": 0.3, "B": 0.3, "C": -0.1, "D": -0.3}, id="alpha-gross-concentration"),
    # dollar neutral: 0.5 long (A 0.3, B 0.2), 0.5 short (D 0.3, C 0.2)
    pytest.param(opt.MaximizeAlpha(ALPHA), [opt.MaxGrossExposure(1.0), EQ30, opt.DollarNeutral(0.0)], None,
                 {"A": 0.3, "B": 0.2, "C": -0.2, "D": -0.3}, id="alpha-dollar-neutral"),
    # the default tolerance (net within 0.0001) is used: B (alpha 2) gains 0.00005 that C (alpha -1) gives up
    pytest.param(opt.MaximizeAlpha(ALPHA), [opt.MaxGrossExposure(1.0), EQ30, opt.DollarNeutral()], None,
                 {"A": 0.3, "B": 0.20005, "C": -0.19995, "D": -0.3}, id="alpha-dollar-neutral-tolerance"),
    # without a concentration limit everything goes into the largest |alpha|
    pytest.param(opt.MaximizeAlpha(ALPHA), [opt.MaxGrossExposure(1.0)], None, {"A": 0, "B": 0, "C": 0, "D": -1.0},
                 id="alpha-gross-only"),
    pytest.param(opt.MaximizeAlpha(ALPHA), [opt.MaxGrossExposure(1.0), EQ30, opt.LongOnly(["C", "D"])], None,
                 {"A": 0.3, "B": 0.3, "C": 0.0, "D": 0.0}, id="alpha-long-only"),
]


@pytest.mark.parametrize(("objective", "constraints", "current", "expected"), CASES)
def test_hand_solved_problems(objective, constraints, current, expected) -> None:
    weights = opt.calculate_optimal_portfolio(objective, constraints, current)
    assert sorted(weights.index) == sorted(expected)
    for asset, want in expected.items():
        assert weights[asset] == pytest.approx(want, abs=1e-6), asset


def test_feasible_targets_come_back_exactly() -> None:
    targets = pd.Series({"A": 0.123456789, "B": -0.2, "C": 0.05})
    weights = opt.calculate_optimal_portfolio(opt.TargetWeights(targets), [opt.MaxGrossExposure(1.0), EQ30])
    assert weights.to_dict() == targets.to_dict()  # no solver round-off


def test_conflicting_constraints_are_named() -> None:
    gross, net, long_only = opt.MaxGrossExposure(0.5), opt.NetExposure(0.8, 1.0), opt.LongOnly("A")
    with pytest.raises(opt.InfeasibleConstraints) as info:
        opt.calculate_optimal_portfolio(opt.MaximizeAlpha(ALPHA), [long_only, gross, net])
    assert info.value.constraints == [gross, net]  # LongOnly is not part of the conflict
    message = str(info.value)
    assert "MaxGrossExposure(0.5)" in message and "NetExposure(min=0.8, max=1.0)" in message
    assert "LongOnly" not in message.splitlines()[0]
    assert "the empty portfolio would violate NetExposure" in message


def test_infeasible_minimum_weights() -> None:
    bounds = opt.PositionConcentration.with_equal_bounds(0.3, 0.5)  # 4 assets x 0.3 = gross 1.2 at least
    with pytest.raises(opt.InfeasibleConstraints) as info:
        opt.calculate_optimal_portfolio(opt.TargetWeights({a: 0.25 for a in "ABCD"}), [opt.MaxGrossExposure(1.0),
                                                                                        bounds])
    assert len(info.value.constraints) == 2
    assert "the target portfolio would violate PositionConcentration" in str(info.value)


def test_one_constraint_against_another_on_one_asset() -> None:
    cannot, fixed = opt.CannotHold("A"), opt.FixedWeight("A", 0.1)
    with pytest.raises(opt.InfeasibleConstraints) as info:
        opt.calculate_optimal_portfolio(opt.TargetWeights({"A": 0.1, "B": 0.1}), [opt.MaxGrossExposure(1), cannot,
                                                                                   fixed])
    assert info.value.constraints == [cannot, fixed]


def test_maximize_alpha_without_gross_exposure_is_unbounded() -> None:
    with pytest.raises(opt.UnboundedObjective, match="MaxGrossExposure"):
        opt.calculate_optimal_portfolio(opt.MaximizeAlpha(ALPHA), [opt.DollarNeutral()])


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: opt.MaximizeAlpha({"A": math.nan, "B": 1.0}), "NaN"),
        (lambda: opt.TargetWeights([0.1, 0.2]), "Series or a dict"),
        (lambda: opt.NetExposure(0.5, 0.1), "minimum"),
        (lambda: opt.MaxGrossExposure(-1), ">= 0"),
        (lambda: opt.calculate_optimal_portfolio(opt.TargetWeights({"A": 1}), [opt.MaxGrossExposure]), "is a class"),
        (lambda: opt.calculate_optimal_portfolio({"A": 1}, []), "objective must be"),
        (lambda: opt.FactorExposure(pd.DataFrame({"f": [1.0]}, index=["A"]), {"g": 0}, {}), "lack"),
    ],
)
def test_bad_input_is_a_typed_error(build, match: str) -> None:
    with pytest.raises(opt.BadOptimizationInput, match=match):
        build()


def test_pure_module_has_no_engine_imports() -> None:
    import subprocess
    import sys

    code = ("import sys, runtime.optimize as o; o.calculate_optimal_portfolio(o.TargetWeights({'A': 1.0}), []); "
            "print(sorted(m for m in sys.modules if m.startswith('runtime.') "
            "and not m.startswith('runtime.optimize')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['runtime.errors', 'runtime.version']"


def test_run_optimization_returns_failures_instead_of_raising() -> None:
    ok = opt.run_optimization(opt.TargetWeights({"A": 0.6, "B": 0.6}), [opt.MaxGrossExposure(1.0)])
    assert ok.success and ok.new_weights["A"] == pytest.approx(0.5, abs=1e-6)
    ok.raise_for_status()
    bad = opt.run_optimization(opt.MaximizeAlpha(ALPHA), [opt.MaxGrossExposure(0.5), opt.NetExposure(0.8, 1.0)],
                               {"A": 0.1})
    assert not bad.success and bad.new_weights is None and "MaxGrossExposure(0.5)" in bad.status
    assert bad.old_weights.to_dict() == {"A": 0.1}
    with pytest.raises(opt.InfeasibleConstraints):
        bad.raise_for_status()
