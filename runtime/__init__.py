"""ibalgo: run Quantopian-style algorithm files in backtests and on Interactive Brokers.

The package users import is ``runtime`` (the distribution is named ibalgo): ``from runtime import run_algorithm``
backtests plain Python functions and returns zipline's results table; :mod:`runtime.api` has the API names for them.
"""

from __future__ import annotations

from typing import Any

from runtime.version import __version__


def __getattr__(name: str) -> Any:
    if name == "run_algorithm":  # imported on first use: ``ibalgo --version`` stays fast
        from runtime.script import run_algorithm

        return run_algorithm
    raise AttributeError(f"module 'runtime' has no attribute {name!r}")


__all__ = ["__version__", "run_algorithm"]
