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

_INF = math.inf


def _as_series(values: object, what: str) -> pd.Series:
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


def _assets(asset_or_assets: object) -> list[Hashable]:
    if isinstance(asset_or_assets, (str, bytes)) or not isinstance(asset_or_assets, Iterable):
        return [asset_or_assets]  # type: ignore[list-item]
    if isinstance(asset_or_assets, pd.Series):
        return list(asset_or_assets.index) if asset_or_assets.dtype == bool else list(asset_or_assets)
    return list(asset_or_assets)


def _number(value: object, what: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadOptimizationInput(f"{what} must be a number, got {value!r}") from None
    if math.isnan(out):
        raise BadOptimizationInput(f"{what} must be a number, got NaN")
    return out


def _min_max(lo: float, hi: float, what: str) -> None:
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
        return cls(np.full(n, -_INF), np.full(n, _INF))

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

    def _vector(self, universe: Universe) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _assets(self) -> list[Hashable]:  # pragma: no cover - abstract
        raise NotImplementedError


class TargetWeights(Objective):
    """Objective that minimizes the distance (sum of squared differences) from already-computed target weights.

    ``weights``: Series or dict asset -> target weight (fraction of the portfolio value; negative is short). Assets
    held now but absent from ``weights`` are targeted at 0 (they are sold). If the targets satisfy every constraint
    (always, with no constraints) the result is exactly the targets; otherwise it is the closest portfolio that
    satisfies them. NaN weights are an error: drop them first.
    """

    def __init__(self, weights: pd.Series | Mapping[Any, float]) -> None:
        self.weights = _as_series(weights, "TargetWeights(weights)")

    def _assets(self) -> list[Hashable]:
        return list(self.weights.index)

    def _vector(self, universe: Universe) -> np.ndarray:
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
        self.alphas = _as_series(alphas, "MaximizeAlpha(alphas)")

    def _assets(self) -> list[Hashable]:
        return list(self.alphas.index)

    def _vector(self, universe: Universe) -> np.ndarray:
        return universe.vector(self.alphas)

    def __repr__(self) -> str:
        return f"MaximizeAlpha({len(self.alphas)} assets)"


# -------------------------------------------------------------------------------------------------- constraints
class Constraint:
    """Base class of constraints: conditions every candidate portfolio must satisfy."""

    #: assets the constraint puts into the optimization's universe (e.g. a Frozen position)
    def _assets(self) -> list[Hashable]:
        return []

    def _parts(self, universe: Universe) -> Parts:  # pragma: no cover - abstract
        raise NotImplementedError


class MaxGrossExposure(Constraint):
    """The sum of the absolute weights is at most ``max`` (1.0: no leverage)."""

    def __init__(self, max: float) -> None:
        self.max = _number(max, "MaxGrossExposure(max)")
        if self.max < 0:
            raise BadOptimizationInput(f"MaxGrossExposure(max) must be >= 0, got {self.max}")

    def _parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        parts.norms.append(("gross exposure", np.zeros(universe.n), self.max))
        return parts

    def __repr__(self) -> str:
        return f"MaxGrossExposure({self.max})"


class NetExposure(Constraint):
    """The sum of the weights (longs minus shorts) is between ``min`` and ``max``."""

    def __init__(self, min: float, max: float) -> None:
        self.min = _number(min, "NetExposure(min)")
        self.max = _number(max, "NetExposure(max)")
        _min_max(self.min, self.max, "NetExposure")

    def _parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        parts.rows.append(("net exposure", np.ones(universe.n), self.min, self.max))
        return parts

    def __repr__(self) -> str:
        return f"NetExposure(min={self.min}, max={self.max})"


class DollarNeutral(NetExposure):
    """Long and short exposures are equal: the net exposure is within ``tolerance`` of 0 (default 0.0001)."""

    def __init__(self, tolerance: float = 0.0001) -> None:
        self.tolerance = _number(tolerance, "DollarNeutral(tolerance)")
        if self.tolerance < 0:
            raise BadOptimizationInput(f"DollarNeutral(tolerance) must be >= 0, got {self.tolerance}")
        super().__init__(-self.tolerance, self.tolerance)

    def __repr__(self) -> str:
        return f"DollarNeutral(tolerance={self.tolerance})"


class PositionConcentration(Constraint):
    """Each asset's weight is between its minimum and maximum.

    ``min_weights`` / ``max_weights``: Series or dict asset -> bound; assets of the optimization missing from them
    use ``default_min_weight`` / ``default_max_weight`` (both 0.0 by default: an asset not named cannot be held).
    A short position needs a negative minimum. ``etf_lookthru`` is accepted and ignored.
    """

    def __init__(self, min_weights: pd.Series | Mapping[Any, float], max_weights: pd.Series | Mapping[Any, float],
                 default_min_weight: float = 0.0, default_max_weight: float = 0.0, etf_lookthru: Any = None) -> None:
        self.min_weights = _as_series(min_weights, "PositionConcentration(min_weights)")
        self.max_weights = _as_series(max_weights, "PositionConcentration(max_weights)")
        self.default_min_weight = _number(default_min_weight, "PositionConcentration(default_min_weight)")
        self.default_max_weight = _number(default_max_weight, "PositionConcentration(default_max_weight)")
        _min_max(self.default_min_weight, self.default_max_weight, "PositionConcentration defaults")

    @classmethod
    def with_equal_bounds(cls, min: float, max: float, etf_lookthru: Any = None) -> PositionConcentration:
        """Every asset's weight between ``min`` and ``max`` (e.g. ``with_equal_bounds(-0.05, 0.05)``)."""
        lo, hi = _number(min, "with_equal_bounds(min)"), _number(max, "with_equal_bounds(max)")
        _min_max(lo, hi, "PositionConcentration.with_equal_bounds")
        return cls(pd.Series(dtype=float), pd.Series(dtype=float), lo, hi)

    def _parts(self, universe: Universe) -> Parts:
        lo = universe.vector(self.min_weights, self.default_min_weight)
        hi = universe.vector(self.max_weights, self.default_max_weight)
        return Parts(lo, hi)

    def __repr__(self) -> str:
        if not len(self.min_weights) and not len(self.max_weights):
            return f"PositionConcentration.with_equal_bounds({self.default_min_weight}, {self.default_max_weight})"
        return f"PositionConcentration({len(self.min_weights)} minimums, {len(self.max_weights)} maximums)"


class FactorExposure(Constraint):
    """The portfolio's exposure to each factor (``loadings.T @ weights``) is between its minimum and maximum.

    ``loadings``: DataFrame, one row per asset and one column per factor (assets it lacks load 0 on every factor);
    ``min_exposures`` / ``max_exposures``: Series or dict factor -> bound (a factor missing from one is unbounded on
    that side).
    """

    def __init__(self, loadings: pd.DataFrame, min_exposures: pd.Series | Mapping[Any, float],
                 max_exposures: pd.Series | Mapping[Any, float]) -> None:
        if not isinstance(loadings, pd.DataFrame):
            raise BadOptimizationInput("FactorExposure(loadings) must be a DataFrame (rows assets, columns factors)")
        if not np.isfinite(loadings.to_numpy(dtype=float)).all():
            raise BadOptimizationInput("FactorExposure(loadings) has NaN or infinite values: fill or drop them")
        self.loadings = loadings.astype(float)
        self.min_exposures = _as_series(min_exposures, "FactorExposure(min_exposures)")
        self.max_exposures = _as_series(max_exposures, "FactorExposure(max_exposures)")
        unknown = (set(self.min_exposures.index) | set(self.max_exposures.index)) - set(loadings.columns)
        if unknown:
            raise BadOptimizationInput("FactorExposure bounds name factors the loadings lack: "
                                       f"{sorted(map(str, unknown))}")

    def _parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        table = self.loadings.reindex(list(universe.assets)).fillna(0.0)
        for factor in self.loadings.columns:
            lo = float(self.min_exposures.get(factor, -_INF))
            hi = float(self.max_exposures.get(factor, _INF))
            _min_max(lo, hi, f"FactorExposure for {factor!r}")
            parts.rows.append((f"exposure to factor {factor!r}", table[factor].to_numpy(), lo, hi))
        return parts

    def __repr__(self) -> str:
        return f"FactorExposure({list(self.loadings.columns)})"


class NetGroupExposure(Constraint):
    """The net weight of each group of assets (``labels``: asset -> group) is between the group's minimum and
    maximum (``min_weights`` / ``max_weights``: group -> bound; a group missing from one is unbounded on that side)."""

    def __init__(self, labels: pd.Series | Mapping[Any, Any], min_weights: pd.Series | Mapping[Any, float],
                 max_weights: pd.Series | Mapping[Any, float], etf_lookthru: Any = None) -> None:
        self.labels = labels if isinstance(labels, pd.Series) else pd.Series(dict(labels), dtype=object)
        self.min_weights = _as_series(min_weights, "NetGroupExposure(min_weights)")
        self.max_weights = _as_series(max_weights, "NetGroupExposure(max_weights)")

    @classmethod
    def with_equal_bounds(cls, labels: pd.Series | Mapping[Any, Any], min: float, max: float,
                          etf_lookthru: Any = None) -> NetGroupExposure:
        """Every group's net weight between ``min`` and ``max``."""
        lo, hi = _number(min, "with_equal_bounds(min)"), _number(max, "with_equal_bounds(max)")
        _min_max(lo, hi, "NetGroupExposure.with_equal_bounds")
        series = labels if isinstance(labels, pd.Series) else pd.Series(dict(labels), dtype=object)
        groups = list(dict.fromkeys(series.dropna()))
        return cls(series, pd.Series(lo, index=groups, dtype=float), pd.Series(hi, index=groups, dtype=float))

    def _parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        labels = self.labels.reindex(list(universe.assets))
        for group in dict.fromkeys([*self.min_weights.index, *self.max_weights.index]):
            lo = float(self.min_weights.get(group, -_INF))
            hi = float(self.max_weights.get(group, _INF))
            _min_max(lo, hi, f"NetGroupExposure for group {group!r}")
            parts.rows.append((f"net exposure to group {group!r}", (labels == group).to_numpy(dtype=float), lo, hi))
        return parts

    def __repr__(self) -> str:
        return f"NetGroupExposure({len(self.min_weights)} minimums, {len(self.max_weights)} maximums)"


class MaxTurnover(Constraint):
    """The sum of the absolute weight changes from the current portfolio is at most ``max_turnover``."""

    def __init__(self, max_turnover: float) -> None:
        self.max_turnover = _number(max_turnover, "MaxTurnover(max_turnover)")
        if self.max_turnover < 0:
            raise BadOptimizationInput(f"MaxTurnover(max_turnover) must be >= 0, got {self.max_turnover}")

    def _parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        parts.norms.append(("turnover", universe.current.copy(), self.max_turnover))
        return parts

    def __repr__(self) -> str:
        return f"MaxTurnover({self.max_turnover})"


class _PerAsset(Constraint):
    """A constraint on the weights of named assets."""

    _name = ""

    def __init__(self, asset_or_assets: Any, max_error_display: int = 10) -> None:
        self.assets = _assets(asset_or_assets)
        self.max_error_display = max_error_display

    def _bounds(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        idx = universe.positions(self.assets)
        lo, hi = self._bounds(universe.current[idx])
        parts.lower[idx], parts.upper[idx] = lo, hi
        return parts

    def __repr__(self) -> str:
        shown = ", ".join(str(a) for a in self.assets[: self.max_error_display])
        more = ", ..." if len(self.assets) > self.max_error_display else ""
        return f"{self._name}([{shown}{more}])"


class Frozen(_PerAsset):
    """These assets' weights cannot change (they keep their current weight; 0 if not held)."""

    _name = "Frozen"

    def _assets(self) -> list[Hashable]:
        return list(self.assets)

    def _bounds(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return current, current


class CannotHold(_PerAsset):
    """These assets must end with weight 0."""

    _name = "CannotHold"

    def _bounds(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros_like(current), np.zeros_like(current)


class LongOnly(_PerAsset):
    """These assets cannot be short (weight >= 0)."""

    _name = "LongOnly"

    def _bounds(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros_like(current), np.full_like(current, _INF)


class ShortOnly(_PerAsset):
    """These assets cannot be long (weight <= 0)."""

    _name = "ShortOnly"

    def _bounds(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.full_like(current, -_INF), np.zeros_like(current)


class ReduceOnly(_PerAsset):
    """These assets' positions can only shrink toward 0 (never grow, never flip sides)."""

    _name = "ReduceOnly"

    def _bounds(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.minimum(current, 0.0), np.maximum(current, 0.0)


class FixedWeight(Constraint):
    """``asset`` must end with exactly ``weight``."""

    def __init__(self, asset: Any, weight: float) -> None:
        self.asset = asset
        self.weight = _number(weight, "FixedWeight(weight)")

    def _assets(self) -> list[Hashable]:
        return [self.asset]

    def _parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        idx = universe.positions([self.asset])
        parts.lower[idx] = parts.upper[idx] = self.weight
        return parts

    def __repr__(self) -> str:
        return f"FixedWeight({self.asset}, {self.weight})"


class Basket(Constraint):
    """The net weight of ``assets`` together is between ``min_net_exposure`` and ``max_net_exposure``."""

    def __init__(self, assets: Iterable[Any], min_net_exposure: float, max_net_exposure: float) -> None:
        self.assets = _assets(assets)
        self.min_net_exposure = _number(min_net_exposure, "Basket(min_net_exposure)")
        self.max_net_exposure = _number(max_net_exposure, "Basket(max_net_exposure)")
        _min_max(self.min_net_exposure, self.max_net_exposure, "Basket")

    def _assets(self) -> list[Hashable]:
        return list(self.assets)

    def _parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        a = np.zeros(universe.n)
        a[universe.positions(self.assets)] = 1.0
        parts.rows.append(("net exposure of the basket", a, self.min_net_exposure, self.max_net_exposure))
        return parts

    def __repr__(self) -> str:
        return f"Basket({len(self.assets)} assets, {self.min_net_exposure}, {self.max_net_exposure})"


class Pair(Constraint):
    """``long`` is held long and ``short`` short, with ``w[long] == -hedge_ratio * w[short]`` (within
    ``tolerance``)."""

    def __init__(self, long: Any, short: Any, hedge_ratio: float = 1.0, tolerance: float = 0.0) -> None:
        self.long, self.short = long, short
        self.hedge_ratio = _number(hedge_ratio, "Pair(hedge_ratio)")
        self.tolerance = _number(tolerance, "Pair(tolerance)")
        if self.hedge_ratio <= 0 or self.tolerance < 0:
            raise BadOptimizationInput("Pair needs hedge_ratio > 0 and tolerance >= 0")

    def _assets(self) -> list[Hashable]:
        return [self.long, self.short]

    def _parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        (i,), (j,) = universe.positions([self.long]), universe.positions([self.short])
        parts.lower[i], parts.upper[j] = 0.0, 0.0
        a = np.zeros(universe.n)
        a[i], a[j] = 1.0, self.hedge_ratio
        parts.rows.append((f"hedged net weight of {self.long}/{self.short}", a, -self.tolerance, self.tolerance))
        return parts

    def __repr__(self) -> str:
        return f"Pair({self.long}, {self.short}, hedge_ratio={self.hedge_ratio})"
