"""Solving an objective under constraints: weights out, or a typed error that names what is wrong.

The solver is cvxpy with its bundled Clarabel interior-point solver (an LP for :class:`MaximizeAlpha`, a QP for
:class:`TargetWeights`); cvxpy is imported on the first optimization only, so algorithms that never optimize do not
pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from runtime.optimize.errors import (
    BadOptimizationInput,
    InfeasibleConstraints,
    OptimizationError,
    OptimizationFailed,
    SolverNotInstalled,
    UnboundedObjective,
)
from runtime.optimize.model import Constraint, MaximizeAlpha, Objective, Parts, TargetWeights, Universe

#: a candidate portfolio may miss a constraint by this much (weights are fractions of the portfolio value)
TOLERANCE = 1e-7


def _cvxpy() -> Any:
    try:
        import cvxpy
    except ImportError:
        raise SolverNotInstalled(
            'quantopian.optimize needs the cvxpy package: pip install cvxpy (or pip install "ibalgo[optimize]", '
            'or "ibalgo[quant]" for all the libraries Quantopian provided)'
        ) from None
    return cvxpy


def _merged(parts: Sequence[Parts], n: int) -> Parts:
    out = Parts.empty(n)
    for p in parts:
        out.lower = np.maximum(out.lower, p.lower)
        out.upper = np.minimum(out.upper, p.upper)
        out.rows.extend(p.rows)
        out.norms.extend(p.norms)
    return out


def _cvx_constraints(cp: Any, w: Any, part: Parts) -> list[Any]:
    cons = []
    lo_mask, hi_mask = np.isfinite(part.lower), np.isfinite(part.upper)
    if lo_mask.any():
        cons.append(w[np.flatnonzero(lo_mask)] >= part.lower[lo_mask])
    if hi_mask.any():
        cons.append(w[np.flatnonzero(hi_mask)] <= part.upper[hi_mask])
    if part.rows:
        a = np.vstack([r[1] for r in part.rows])
        lo = np.array([r[2] for r in part.rows])
        hi = np.array([r[3] for r in part.rows])
        if np.isfinite(lo).any():
            cons.append(a[np.isfinite(lo)] @ w >= lo[np.isfinite(lo)])
        if np.isfinite(hi).any():
            cons.append(a[np.isfinite(hi)] @ w <= hi[np.isfinite(hi)])
    for _label, center, limit in part.norms:
        cons.append(cp.norm1(w - center) <= limit)
    return cons


def _solve(cp: Any, objective: Objective | None, universe: Universe, part: Parts) -> tuple[str, np.ndarray | None]:
    """Solve once: (cvxpy status, weights or None). ``objective=None`` asks only whether ``part`` is feasible."""
    n = universe.n
    w = cp.Variable(n)
    if isinstance(objective, TargetWeights):
        goal = cp.Minimize(cp.sum_squares(w - objective.weights_vector(universe)))
    elif isinstance(objective, MaximizeAlpha):
        goal = cp.Maximize(objective.weights_vector(universe) @ w)
    else:
        goal = cp.Minimize(0)
    problem = cp.Problem(goal, _cvx_constraints(cp, w, part))
    try:
        problem.solve(solver=cp.CLARABEL)
    except cp.error.SolverError as exc:
        return f"solver error: {exc}", None
    return str(problem.status), None if w.value is None else np.asarray(w.value, dtype=float)


def _clean(w: np.ndarray, part: Parts) -> np.ndarray:
    """Snap the interior-point solver's last digits: onto bounds it reached, and tiny weights to 0."""
    w = np.where(np.abs(w - part.lower) < TOLERANCE, part.lower, w)
    w = np.where(np.abs(w - part.upper) < TOLERANCE, part.upper, w)
    w = np.clip(w, part.lower, part.upper)
    return np.where(np.abs(w) < 1e-9, 0.0, w)


def _conflicting(cp: Any, universe: Universe, parts: list[Parts], constraints: list[Constraint]) -> list[Constraint]:
    """A smallest set of constraints that is infeasible together (drop each one that is not needed)."""
    keep = list(range(len(constraints)))
    for i in list(keep):
        trial = [k for k in keep if k != i]
        status, _ = _solve(cp, None, universe, _merged([parts[k] for k in trial], universe.n))
        if status.startswith("infeasible"):
            keep = trial
    return [constraints[k] for k in keep]


def _infeasible_message(universe: Universe, objective: Objective, constraints: list[Constraint],
                        parts: list[Parts], conflict: list[Constraint]) -> str:
    names = ", ".join(repr(c) for c in conflict)
    lines = [f"no portfolio satisfies all the constraints: {names} cannot hold together"
             if len(conflict) > 1 else f"no portfolio satisfies the constraint {names}"]
    checks: list[tuple[str, np.ndarray]] = [("the current portfolio", universe.current),
                                            ("the empty portfolio", np.zeros(universe.n))]
    if isinstance(objective, TargetWeights):
        checks.insert(0, ("the target portfolio", objective.weights_vector(universe)))
    for what, w in checks:
        broken = [f"{c!r}: {v[0]}" for c, p in zip(constraints, parts) for v in [p.violations(w, universe, TOLERANCE)]
                  if v]
        if broken:
            lines.append(f"  {what} would violate " + "; ".join(broken[:4]))
    return "\n".join(lines)


def _universe(objective: Objective, constraints: Sequence[Constraint], current: pd.Series) -> Universe:
    assets = list(objective.named_assets())
    for c in constraints:
        assets.extend(c.named_assets())
    return Universe.build(assets, current)


def _check_inputs(objective: object, constraints: object) -> list[Constraint]:
    if not isinstance(objective, Objective):
        raise BadOptimizationInput(f"the objective must be TargetWeights(...) or MaximizeAlpha(...), got {objective!r}")
    if isinstance(constraints, Constraint):
        constraints = [constraints]
    if not isinstance(constraints, Iterable):
        raise BadOptimizationInput(f"constraints must be a list of constraints, got {constraints!r}")
    out = list(constraints)
    for c in out:
        if isinstance(c, type) and issubclass(c, Constraint):
            raise BadOptimizationInput(f"{c.__name__} is a class: build the constraint, e.g. {c.__name__}(...)")
        if not isinstance(c, Constraint):
            raise BadOptimizationInput(f"{c!r} is not an optimize constraint (MaxGrossExposure(1.0), ...)")
    return out


def calculate_optimal_portfolio(objective: Objective, constraints: Sequence[Constraint] | Constraint,
                                current_portfolio: pd.Series | dict | None = None) -> pd.Series:
    """The weights (Series asset -> weight) that optimize ``objective`` under every one of ``constraints``.

    ``current_portfolio``: current weights (asset -> weight), used by :class:`Frozen`, :class:`MaxTurnover`,
    :class:`ReduceOnly` and to sell assets held but absent from the objective (None: nothing is held). The result
    covers the objective's assets and the held ones (0 for those to sell).

    Raises :class:`InfeasibleConstraints` (naming the constraints that conflict, and what the current, empty and
    target portfolios would break), :class:`UnboundedObjective` (e.g. MaximizeAlpha without MaxGrossExposure),
    :class:`OptimizationFailed` for a solver breakdown.
    """
    constraints = _check_inputs(objective, constraints)
    if current_portfolio is None:
        current = pd.Series(dtype=float)
    else:
        current = pd.Series(current_portfolio, dtype=float) if isinstance(current_portfolio, dict) \
            else current_portfolio.astype(float)
        current = current[current.to_numpy() != 0].dropna()
    universe = _universe(objective, constraints, current)
    index = pd.Index(list(universe.assets), dtype=object)
    if universe.n == 0:
        return pd.Series(dtype=float, index=index)
    parts = [c.constraint_parts(universe) for c in constraints]
    if isinstance(objective, TargetWeights):
        target = objective.weights_vector(universe)
        if not any(p.violations(target, universe, 0.0) for p in parts):
            return pd.Series(target, index=index)  # the targets themselves: exactly, as Quantopian returned them
    cp = _cvxpy()
    merged = _merged(parts, universe.n)
    status, w = _solve(cp, objective, universe, merged)
    if status in ("optimal", "optimal_inaccurate") and w is not None:
        return pd.Series(_clean(w, merged), index=index)
    if status.startswith("infeasible"):
        conflict = _conflicting(cp, universe, parts, constraints)
        raise InfeasibleConstraints(_infeasible_message(universe, objective, constraints, parts, conflict), conflict)
    if status.startswith("unbounded"):
        hint = " add a MaxGrossExposure constraint" if isinstance(objective, MaximizeAlpha) else ""
        raise UnboundedObjective(f"{objective!r} is unbounded under the constraints {constraints!r}:{hint}")
    raise OptimizationFailed(f"the solver stopped without an answer (status {status!r}) for {objective!r} under "
                             f"{constraints!r}")


@dataclass(frozen=True)
class OptimizationResult:
    """What :func:`run_optimization` found: ``new_weights`` (None when it failed), ``success``, ``status`` (the
    error's message on failure), the ``old_weights`` it started from, and the objective and constraints."""

    objective: Objective
    constraints: tuple[Constraint, ...]
    old_weights: pd.Series
    new_weights: pd.Series | None
    success: bool
    status: str
    error: OptimizationError | None = None

    def raise_for_status(self) -> None:
        """Raise the error the optimization failed with (InfeasibleConstraints, UnboundedObjective, ...)."""
        if self.error is not None:
            raise self.error


def run_optimization(objective: Objective, constraints: Sequence[Constraint] | Constraint,
                     current_portfolio: pd.Series | dict | None = None) -> OptimizationResult:
    """Quantopian's ``run_optimization``: like :func:`calculate_optimal_portfolio`, but a failed optimization is
    returned (``success=False``, ``status`` and ``raise_for_status()``) instead of raised. Bad input still raises."""
    listed = tuple(_check_inputs(objective, constraints))
    old = pd.Series(dtype=float) if current_portfolio is None else pd.Series(current_portfolio, dtype=float)
    try:
        weights = calculate_optimal_portfolio(objective, list(listed), current_portfolio)
    except (InfeasibleConstraints, UnboundedObjective, OptimizationFailed) as exc:
        return OptimizationResult(objective, listed, old, None, False, str(exc), exc)
    return OptimizationResult(objective, listed, old, weights, True, "optimal")
