"""An algorithm's parameters: ``context.params['fast']`` and ``get_parameter('fast', 20)``.

A run's parameters come from ``PARAMS = {...}`` in settings.py, ``--param NAME=VALUE`` on ``ibalgo backtest``, or
one combination of an ``ibalgo sweep``. The algorithm reads them without knowing which:

    FAST = get_parameter("fast", 20)          # at the top of the file, or in initialize

    def initialize(context):
        context.slow = context.params.get("slow", 50)

``context.params`` is a read-only mapping (a missing name raises :class:`ParameterError` listing the names given);
``get_parameter(name, default)`` returns the default when the run was not given that name, so the same file runs
unchanged with and without parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from runtime.errors import AlgorithmApiError

_REQUIRED = object()


class ParameterError(AlgorithmApiError, KeyError):
    """A parameter the algorithm asked for without a default was not given to the run."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


class Parameters(Mapping[str, Any]):
    """The parameters of one run: a read-only mapping of name -> value (``context.params``)."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        values = dict(values or {})
        for name in values:
            if not isinstance(name, str) or not name:
                raise AlgorithmApiError(f"parameter names must be non-empty strings, got {name!r}")
        self._values = values

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise ParameterError(self._missing(name)) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Parameters({self._values!r})"

    def _missing(self, name: str) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self._values.items()) or "none"
        return (f"no parameter {name!r} was given to this run (parameters given: {given}): give it with "
                f"--param {name}=VALUE or PARAMS = {{{name!r}: ...}} in settings.py, or read it with a default: "
                f"get_parameter({name!r}, DEFAULT)")

    def get_parameter(self, name: str, default: Any = _REQUIRED) -> Any:
        """The run's value of parameter ``name``, else ``default``; without a default a missing name raises
        :class:`ParameterError` naming the parameters that were given."""
        if name in self._values:
            return self._values[name]
        if default is _REQUIRED:
            raise ParameterError(self._missing(name))
        return default

    def as_dict(self) -> dict[str, Any]:
        """A plain dict copy of the parameters."""
        return dict(self._values)


#: the parameters of a run that was given none (every get_parameter returns its default)
NO_PARAMETERS = Parameters()


def bind_parameters(context: Any, namespace: dict[str, Any], values: Mapping[str, Any] | None) -> Parameters:
    """Give a run its parameters: ``context.params`` and the namespace's ``get_parameter`` read ``values``
    (a run given none keeps :data:`NO_PARAMETERS`, which the context and namespace have from the start)."""
    params = values if isinstance(values, Parameters) else Parameters(values)
    if not params:
        return NO_PARAMETERS
    context.use_parameters(params)
    namespace["get_parameter"] = params.get_parameter
    return params
