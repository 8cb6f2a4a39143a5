"""The constraints of Quantopian's Optimize API (each turns into :class:`~runtime.optimize.model.Parts` for a
universe); the objectives, the universe and the parts are in :mod:`runtime.optimize.model`."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from runtime.optimize.errors import BadOptimizationInput
from runtime.optimize.model import INF, Constraint, Parts, Universe, as_series, asset_list, check_min_max, number


class MaxGrossExposure(Constraint):
    """The sum of the absolute weights is at most ``max`` (1.0: no leverage)."""

    def __init__(self, max: float) -> None:
        self.max = number(max, "MaxGrossExposure(max)")
        if self.max < 0:
            raise BadOptimizationInput(f"MaxGrossExposure(max) must be >= 0, got {self.max}")

    def constraint_parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        parts.norms.append(("gross exposure", np.zeros(universe.n), self.max))
        return parts

    def __repr__(self) -> str:
        return f"MaxGrossExposure({self.max})"


class NetExposure(Constraint):
    """The sum of the weights (longs minus shorts) is between ``min`` and ``max``."""

    def __init__(self, min: float, max: float) -> None:
        self.min = number(min, "NetExposure(min)")
        self.max = number(max, "NetExposure(max)")
        check_min_max(self.min, self.max, "NetExposure")

    def constraint_parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        parts.rows.append(("net exposure", np.ones(universe.n), self.min, self.max))
        return parts

    def __repr__(self) -> str:
        return f"NetExposure(min={self.min}, max={self.max})"


class DollarNeutral(NetExposure):
    """Long and short exposures are equal: the net exposure is within ``tolerance`` of 0 (default 0.0001)."""

    def __init__(self, tolerance: float = 0.0001) -> None:
        self.tolerance = number(tolerance, "DollarNeutral(tolerance)")
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
        self.min_weights = as_series(min_weights, "PositionConcentration(min_weights)")
        self.max_weights = as_series(max_weights, "PositionConcentration(max_weights)")
        self.default_min_weight = number(default_min_weight, "PositionConcentration(default_min_weight)")
        self.default_max_weight = number(default_max_weight, "PositionConcentration(default_max_weight)")
        check_min_max(self.default_min_weight, self.default_max_weight, "PositionConcentration defaults")

    @classmethod
    def with_equal_bounds(cls, min: float, max: float, etf_lookthru: Any = None) -> PositionConcentration:
        """Every asset's weight between ``min`` and ``max`` (e.g. ``with_equal_bounds(-0.05, 0.05)``)."""
        lo, hi = number(min, "with_equal_bounds(min)"), number(max, "with_equal_bounds(max)")
        check_min_max(lo, hi, "PositionConcentration.with_equal_bounds")
        return cls(pd.Series(dtype=float), pd.Series(dtype=float), lo, hi)

    def constraint_parts(self, universe: Universe) -> Parts:
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
        self.min_exposures = as_series(min_exposures, "FactorExposure(min_exposures)")
        self.max_exposures = as_series(max_exposures, "FactorExposure(max_exposures)")
        unknown = (set(self.min_exposures.index) | set(self.max_exposures.index)) - set(loadings.columns)
        if unknown:
            raise BadOptimizationInput("FactorExposure bounds name factors the loadings lack: "
                                       f"{sorted(map(str, unknown))}")

    def constraint_parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        table = self.loadings.reindex(list(universe.assets)).fillna(0.0)
        for factor in self.loadings.columns:
            lo = float(self.min_exposures.get(factor, -INF))
            hi = float(self.max_exposures.get(factor, INF))
            check_min_max(lo, hi, f"FactorExposure for {factor!r}")
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
        self.min_weights = as_series(min_weights, "NetGroupExposure(min_weights)")
        self.max_weights = as_series(max_weights, "NetGroupExposure(max_weights)")

    @classmethod
    def with_equal_bounds(cls, labels: pd.Series | Mapping[Any, Any], min: float, max: float,
                          etf_lookthru: Any = None) -> NetGroupExposure:
        """Every group's net weight between ``min`` and ``max``."""
        lo, hi = number(min, "with_equal_bounds(min)"), number(max, "with_equal_bounds(max)")
        check_min_max(lo, hi, "NetGroupExposure.with_equal_bounds")
        series = labels if isinstance(labels, pd.Series) else pd.Series(dict(labels), dtype=object)
        groups = list(dict.fromkeys(series.dropna()))
        return cls(series, pd.Series(lo, index=groups, dtype=float), pd.Series(hi, index=groups, dtype=float))

    def constraint_parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        labels = self.labels.reindex(list(universe.assets))
        for group in dict.fromkeys([*self.min_weights.index, *self.max_weights.index]):
            lo = float(self.min_weights.get(group, -INF))
            hi = float(self.max_weights.get(group, INF))
            check_min_max(lo, hi, f"NetGroupExposure for group {group!r}")
            parts.rows.append((f"net exposure to group {group!r}", (labels == group).to_numpy(dtype=float), lo, hi))
        return parts

    def __repr__(self) -> str:
        return f"NetGroupExposure({len(self.min_weights)} minimums, {len(self.max_weights)} maximums)"


class MaxTurnover(Constraint):
    """The sum of the absolute weight changes from the current portfolio is at most ``max_turnover``."""

    def __init__(self, max_turnover: float) -> None:
        self.max_turnover = number(max_turnover, "MaxTurnover(max_turnover)")
        if self.max_turnover < 0:
            raise BadOptimizationInput(f"MaxTurnover(max_turnover) must be >= 0, got {self.max_turnover}")

    def constraint_parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        parts.norms.append(("turnover", universe.current.copy(), self.max_turnover))
        return parts

    def __repr__(self) -> str:
        return f"MaxTurnover({self.max_turnover})"


class _PerAsset(Constraint):
    """A constraint on the weights of named assets."""

    _name = ""

    def __init__(self, asset_or_assets: Any, max_error_display: int = 10) -> None:
        self.assets = asset_list(asset_or_assets)
        self.max_error_display = max_error_display

    def _bounds(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def constraint_parts(self, universe: Universe) -> Parts:
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

    def named_assets(self) -> list[Hashable]:
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
        return np.zeros_like(current), np.full_like(current, INF)


class ShortOnly(_PerAsset):
    """These assets cannot be long (weight <= 0)."""

    _name = "ShortOnly"

    def _bounds(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.full_like(current, -INF), np.zeros_like(current)


class ReduceOnly(_PerAsset):
    """These assets' positions can only shrink toward 0 (never grow, never flip sides)."""

    _name = "ReduceOnly"

    def _bounds(self, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.minimum(current, 0.0), np.maximum(current, 0.0)


class FixedWeight(Constraint):
    """``asset`` must end with exactly ``weight``."""

    def __init__(self, asset: Any, weight: float) -> None:
        self.asset = asset
        self.weight = number(weight, "FixedWeight(weight)")

    def named_assets(self) -> list[Hashable]:
        return [self.asset]

    def constraint_parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        idx = universe.positions([self.asset])
        parts.lower[idx] = parts.upper[idx] = self.weight
        return parts

    def __repr__(self) -> str:
        return f"FixedWeight({self.asset}, {self.weight})"


class Basket(Constraint):
    """The net weight of ``assets`` together is between ``min_net_exposure`` and ``max_net_exposure``."""

    def __init__(self, assets: Iterable[Any], min_net_exposure: float, max_net_exposure: float) -> None:
        self.assets = asset_list(assets)
        self.min_net_exposure = number(min_net_exposure, "Basket(min_net_exposure)")
        self.max_net_exposure = number(max_net_exposure, "Basket(max_net_exposure)")
        check_min_max(self.min_net_exposure, self.max_net_exposure, "Basket")

    def named_assets(self) -> list[Hashable]:
        return list(self.assets)

    def constraint_parts(self, universe: Universe) -> Parts:
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
        self.hedge_ratio = number(hedge_ratio, "Pair(hedge_ratio)")
        self.tolerance = number(tolerance, "Pair(tolerance)")
        if self.hedge_ratio <= 0 or self.tolerance < 0:
            raise BadOptimizationInput("Pair needs hedge_ratio > 0 and tolerance >= 0")

    def named_assets(self) -> list[Hashable]:
        return [self.long, self.short]

    def constraint_parts(self, universe: Universe) -> Parts:
        parts = Parts.empty(universe.n)
        (i,), (j,) = universe.positions([self.long]), universe.positions([self.short])
        parts.lower[i], parts.upper[j] = 0.0, 0.0
        a = np.zeros(universe.n)
        a[i], a[j] = 1.0, self.hedge_ratio
        parts.rows.append((f"hedged net weight of {self.long}/{self.short}", a, -self.tolerance, self.tolerance))
        return parts

    def __repr__(self) -> str:
        return f"Pair({self.long}, {self.short}, hedge_ratio={self.hedge_ratio})"
