"""Quantopian's Optimize API as pure functions: objectives and constraints in, target weights out.

``import quantopian.optimize as opt`` in an algorithm file gives these names (``calculate_optimal_portfolio``
there defaults ``current_portfolio`` to the algorithm's holdings); ``order_optimal_portfolio`` lives in the algorithm
API, which turns the weights into ``order_target_percent`` orders. Nothing here imports the engine.
"""

from runtime.optimize.constraints import (
    Basket,
    CannotHold,
    DollarNeutral,
    FactorExposure,
    FixedWeight,
    Frozen,
    LongOnly,
    MaxGrossExposure,
    MaxTurnover,
    NetExposure,
    NetGroupExposure,
    Pair,
    PositionConcentration,
    ReduceOnly,
    ShortOnly,
)
from runtime.optimize.errors import (
    BadOptimizationInput,
    InfeasibleConstraints,
    OptimizationError,
    OptimizationFailed,
    SolverNotInstalled,
    UnboundedObjective,
)
from runtime.optimize.model import (
    Constraint,
    MaximizeAlpha,
    Objective,
    TargetWeights,
)
from runtime.optimize.solve import OptimizationResult, calculate_optimal_portfolio, run_optimization

__all__ = [
    "BadOptimizationInput", "Basket", "CannotHold", "Constraint", "DollarNeutral", "FactorExposure", "FixedWeight",
    "Frozen", "InfeasibleConstraints", "LongOnly", "MaxGrossExposure", "MaxTurnover", "MaximizeAlpha", "NetExposure",
    "NetGroupExposure", "Objective", "OptimizationError", "OptimizationFailed", "OptimizationResult", "Pair",
    "PositionConcentration", "ReduceOnly", "ShortOnly", "SolverNotInstalled", "TargetWeights", "UnboundedObjective",
    "calculate_optimal_portfolio", "run_optimization",
]
