"""Objectives and constraints of Quantopian's Optimize API, as plain values.

Every constraint turns, for a given universe of assets, into :class:`Parts`: per-asset bounds
(``lo <= w[i] <= hi``), linear rows (``lo <= a @ w <= hi``) and 1-norm limits (``sum |w - c| <= limit``). The solver
(:mod:`runtime.optimize.solve`) builds its problem from those parts, and the same parts check a given portfolio (the
infeasibility report names the constraints a portfolio breaks). Weights are fractions of the portfolio value,
positive long and negative short. Nothing here places orders or reads the clock.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from runtime.optimize.errors import BadOptimizationInput

INF = math.inf


def as_series(values: object, what: str) -> pd.Series:
    """A float Series from a Series or dict (asset -> value), checked for NaN and infinities."""
    if isinstance(values, pd.Series):
        series = values
    elif isinstance(values, Mapping):
        series = pd.Series(dict(values), dtype=float)
    else:
        raise BadOptimizationInput(f"{what} must be a pandas Series or a dict of asset -> value, got "
                                   f"{type(values).__name__}")
    try:
        series = series.astype(float)
    except (TypeError, ValueError):
        raise BadOptimizationInput(f"{what} must hold numbers") from None
    bad = series[~np.isfinite(series.to_numpy())]
    if len(bad):
        names = ", ".join(str(a) for a in list(bad.index)[:5])
        raise BadOptimizationInput(f"{what} has NaN or infinite values (for {names}{', ...' if len(bad) > 5 else ''}):"
                                   " drop them first, e.g. weights.dropna()")
    if not series.index.is_unique:
        raise BadOptimizationInput(f"{what} names an asset more than once")
    return series


def asset_list(asset_or_assets: object) -> list[Hashable]:
    if isinstance(asset_or_assets, (str, bytes)) or not isinstance(asset_or_assets, Iterable):
        return [asset_or_assets]  # type: ignore[list-item]
    if isinstance(asset_or_assets, pd.Series):
        return list(asset_or_assets.index) if asset_or_assets.dtype == bool else list(asset_or_assets)
    return list(asset_or_assets)


def number(value: object, what: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadOptimizationInput(f"{what} must be a number, got {value!r}") from None
    if math.isnan(out):
        raise BadOptimizationInput(f"{what} must be a number, got NaN")
    return out


def check_min_max(lo: float, hi: float, what: str) -> None:
    if lo > hi:
        raise BadOptimizationInput(f"{what}: the minimum ({lo}) is above the maximum ({hi})")


# ---------------------------------------------------------------------------------------------------- universe
@dataclass(frozen=True)
class Universe:
    """The assets of one optimization (in a fixed order) and their current weights."""

    assets: tuple[Hashable, ...]
    current: np.ndarray

    @classmethod
    def build(cls, assets: Iterable[Hashable], current: pd.Series) -> Universe:
        ordered = list(dict.fromkeys([*assets, *current.index[current.to_numpy() != 0]]))
        cur = current.reindex(ordered).fillna(0.0).to_numpy(dtype=float)
        return cls(tuple(ordered), cur)

    @property
    def n(self) -> int:
        return len(self.assets)

    def index_of(self) -> dict[Hashable, int]:
        return {a: i for i, a in enumerate(self.assets)}

    def positions(self, assets: Iterable[Hashable]) -> np.ndarray:
        where = self.index_of()
        return np.array([where[a] for a in assets if a in where], dtype=np.int64)

    def vector(self, values: pd.Series, default: float = 0.0) -> np.ndarray:
        """``values`` (asset -> number) laid out in universe order; assets it lacks get ``default``."""
        return values.reindex(list(self.assets)).fillna(default).to_numpy(dtype=float)


@dataclass
class Parts:
    """What one constraint requires of the weight vector ``w`` of a universe."""

    lower: np.ndarray
    upper: np.ndarray
    rows: list[tuple[str, np.ndarray, float, float]] = field(default_factory=list)  # label, a, lo, hi
    norms: list[tuple[str, np.ndarray, float]] = field(default_factory=list)  # label, center, limit

    @classmethod
    def empty(cls, n: int) -> Parts:
        return cls(np.full(n, -INF), np.full(n, INF))

    def violations(self, w: np.ndarray, universe: Universe, tol: float = 1e-7) -> list[str]:
        """Human-readable descriptions of how ``w`` breaks these requirements (empty: it satisfies them)."""
        out: list[str] = []
        for i in np.flatnonzero(w < self.lower - tol)[:3]:
            out.append(f"the weight of {universe.assets[i]} ({w[i]:.6g}) would be below its minimum "
                       f"({self.lower[i]:.6g})")
        for i in np.flatnonzero(w > self.upper + tol)[:3]:
            out.append(f"the weight of {universe.assets[i]} ({w[i]:.6g}) would be above its maximum "
                       f"({self.upper[i]:.6g})")
        for label, a, lo, hi in self.rows:
            value = float(a @ w)
            if value < lo - tol:
                out.append(f"{label} ({value:.6g}) would be below its minimum ({lo:.6g})")
            elif value > hi + tol:
                out.append(f"{label} ({value:.6g}) would be above its maximum ({hi:.6g})")
        for label, center, limit in self.norms:
            value = float(np.abs(w - center).sum())
            if value > limit + tol:
                out.append(f"{label} ({value:.6g}) would be above its maximum ({limit:.6g})")
        return out


# --------------------------------------------------------------------------------------------------- objectives
class Objective:
    """Base class of objectives: what the optimizer maximizes or minimizes."""

    def weights_vector(self, universe: Universe) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def named_assets(self) -> list[Hashable]:  # pragma: no cover - abstract
        raise NotImplementedError


class TargetWeights(Objective):
    """Objective that minimizes the distance (sum of squared differences) from already-computed target weights.

    ``weights``: Series or dict asset -> target weight (fraction of the portfolio value; negative is short). Assets
    held now but absent from ``weights`` are targeted at 0 (they are sold). If the targets satisfy every constraint
    (always, with no constraints) the result is exactly the targets; otherwise it is the closest portfolio that
    satisfies them. NaN weights are an error: drop them first.
    """

    def __init__(self, weights: pd.Series | Mapping[Any, float]) -> None:
        self.weights = as_series(weights, "TargetWeights(weights)")

    def named_assets(self) -> list[Hashable]:
        return list(self.weights.index)

    def weights_vector(self, universe: Universe) -> np.ndarray:
        return universe.vector(self.weights)

    def __repr__(self) -> str:
        return f"TargetWeights({len(self.weights)} assets)"


class MaximizeAlpha(Objective):
    """Objective that maximizes ``weights.dot(alphas)``.

    ``alphas``: Series or dict asset -> alpha (proportional to each asset's expected return). Only the ordering and
    relative size matter. Trap (as on Quantopian): without a :class:`MaxGrossExposure` constraint the objective is
    unbounded (:class:`UnboundedObjective`), and without a :class:`PositionConcentration` constraint all capital goes
    into the single asset with the largest |alpha|.
    """

    def __init__(self, alphas: pd.Series | Mapping[Any, float]) -> None:
        self.alphas = as_series(alphas, "MaximizeAlpha(alphas)")

    def named_assets(self) -> list[Hashable]:
        return list(self.alphas.index)

    def weights_vector(self, universe: Universe) -> np.ndarray:
        return universe.vector(self.alphas)

    def __repr__(self) -> str:
        return f"MaximizeAlpha({len(self.alphas)} assets)"


# -------------------------------------------------------------------------------------------------- constraints
class Constraint:
    """Base class of constraints: conditions every candidate portfolio must satisfy."""

    #: assets the constraint puts into the optimization's universe (e.g. a Frozen position)
    def named_assets(self) -> list[Hashable]:
        return []

    def constraint_parts(self, universe: Universe) -> Parts:  # pragma: no cover - abstract
        raise NotImplementedError
