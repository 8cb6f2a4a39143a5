"""The errors an optimization raises: Quantopian's names, derived from the runtime's error classes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.errors import AlgorithmApiError


class OptimizationError(AlgorithmApiError):
    """Base of the errors ``calculate_optimal_portfolio`` / ``order_optimal_portfolio`` raise."""


class BadOptimizationInput(OptimizationError, ValueError):
    """An objective or constraint was built from unusable values (NaN weights, min above max, wrong types)."""


class InfeasibleConstraints(OptimizationError):
    """No portfolio satisfies all the constraints together. ``constraints`` holds the ones that conflict (a set
    that stays infeasible when any other constraint is removed)."""

    def __init__(self, message: str, constraints: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.constraints = list(constraints)


class UnboundedObjective(OptimizationError):
    """The objective can grow without limit under the constraints (MaximizeAlpha without MaxGrossExposure)."""


class OptimizationFailed(OptimizationError):
    """The solver stopped without an answer (numerical trouble): the message gives its status."""


class SolverNotInstalled(OptimizationError, ImportError):
    """The solver library (cvxpy) is not installed."""
