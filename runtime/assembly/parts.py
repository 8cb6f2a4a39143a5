"""The pieces both modes assemble the same way: the algorithm API, ``context`` and ``data`` on an engine, and the
algorithm file loaded into the API's namespace."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runtime.algorithm.api import AlgorithmAPI
from runtime.algorithm.bardata import BarData
from runtime.algorithm.context import Context
from runtime.algorithm.loader import UserFunctions, load_algorithm
from runtime.algorithm.namespace import build_namespace
from runtime.engine.engine import Engine


def attach_api(engine: Engine) -> Engine:
    """Build the algorithm's API, ``context`` and ``data`` for ``engine`` and hand them to it; returns the engine."""
    api = AlgorithmAPI(engine)
    data = BarData(engine.portal, engine.clock, engine.frequency, api.resolve_asset, engine.is_restricted)
    engine.attach(api, Context(api), data)
    return engine


def load_into(engine: Engine, path: str | Path, params: Mapping[str, Any] | None = None) -> UserFunctions:
    """Load the algorithm file at ``path`` with the engine's API in its namespace and give its functions to the
    engine; returns them. ``params`` are the algorithm's parameters (``context.params``, ``get_parameter``)."""
    functions = load_algorithm(path, build_namespace(engine.api, params, engine.context))
    engine.load(functions)
    return functions
