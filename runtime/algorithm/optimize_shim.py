"""The ``quantopian.optimize`` (and ``quantopian.optimize.experimental``) modules an algorithm file imports.

They hold :mod:`runtime.optimize`'s objectives, constraints and errors; ``calculate_optimal_portfolio`` and
``run_optimization`` are bound to the algorithm, so their ``current_portfolio`` defaults to the algorithm's holdings
(as on Quantopian).
"""

from __future__ import annotations

import types
from typing import Any

import runtime.optimize as pure

#: names Quantopian had in quantopian.optimize.experimental that need its risk model data
_RISK_MODEL_HINT = (
    "RiskModelExposure needs Quantopian's risk model loadings, which this runtime does not have: build your own "
    "factor loadings (a DataFrame, assets x factors) and use opt.FactorExposure(loadings, min_exposures, "
    "max_exposures) instead"
)


class _Unavailable:
    """Stands for a Quantopian optimize name this runtime does not offer: calling it says what to use instead."""

    def __init__(self, name: str, hint: str) -> None:
        self._name, self._hint = name, hint

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise pure.BadOptimizationInput(f"{self._name}: {self._hint}")

    def __repr__(self) -> str:
        return f"<unsupported {self._name}>"


def optimize_modules(namespace: dict[str, Any]) -> dict[str, types.ModuleType]:
    """``quantopian.optimize`` and ``quantopian.optimize.experimental`` for the algorithm whose API namespace is
    ``namespace``."""
    api = getattr(namespace.get("order_optimal_portfolio"), "__self__", None)
    names: dict[str, Any] = {name: getattr(pure, name) for name in pure.__all__}
    if api is not None:
        names["calculate_optimal_portfolio"] = api.calculate_optimal_portfolio
        names["run_optimization"] = api.run_optimization
        names["order_optimal_portfolio"] = api.order_optimal_portfolio
    names["RiskModelExposure"] = _Unavailable("RiskModelExposure", _RISK_MODEL_HINT)
    experimental = types.ModuleType("quantopian.optimize.experimental")
    experimental.__dict__.update({k: names[k] for k in ("MaxTurnover", "RiskModelExposure", "FactorExposure")})
    optimize = types.ModuleType("quantopian.optimize")
    optimize.__dict__.update(names)
    optimize.__dict__["experimental"] = experimental
    optimize.__all__ = sorted(names)  # type: ignore[attr-defined]
    experimental.__all__ = ["MaxTurnover", "RiskModelExposure", "FactorExposure"]  # type: ignore[attr-defined]
    return {"quantopian.optimize": optimize, "quantopian.optimize.experimental": experimental}
