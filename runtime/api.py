"""zipline.api's names for a plain Python script or notebook: ``from runtime.api import order_target_percent, symbol``.

An algorithm *file* gets these names injected (and ``from zipline.api import ...`` in it is served by the loader's
shims). Functions written in an ordinary module and handed to :func:`runtime.run_algorithm` have no such namespace,
so they import the names from here instead. Each function here forwards to the algorithm that
:func:`~runtime.script.run_algorithm` is running *in the calling context*.

Why a binding at all: zipline's API functions are module-level functions called without any handle on the running
algorithm, so something must say which algorithm they mean. The binding is a :class:`contextvars.ContextVar` set
only while ``run_algorithm`` runs (a context manager resets it, also on errors): it is per thread (two threads
running two backtests each see their own), and outside a run every function raises
:class:`NoRunningAlgorithmError` instead of acting on a stale algorithm. The engine calls all algorithm code on the
thread that called ``run_algorithm``, so the binding is always visible where the functions run.

The classes and rule factories (``date_rules``, ``time_rules``, ``commission``, ``slippage``, order styles) need no
running algorithm and are the same objects an algorithm file sees.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from runtime.algorithm.api import AlgorithmAPI
from runtime.algorithm.models import EODCancel, NeverCancel, cancel_policy, commission, slippage
from runtime.core.assets import Asset, Equity
from runtime.core.orders import OrderStatus
from runtime.core.rules import calendars, date_rules, time_rules
from runtime.core.styles import (
    LimitOnCloseOrder,
    LimitOnOpenOrder,
    LimitOrder,
    MarketOnCloseOrder,
    MarketOrder,
    StopLimitOrder,
    StopOrder,
    TrailStopLimitOrder,
    TrailStopOrder,
)
from runtime.errors import AlgorithmApiError


class Binding:
    """The slot :func:`binding` sets for one run: the running algorithm's API once the engine exists."""

    def __init__(self) -> None:
        self.api: AlgorithmAPI | None = None

    def bind(self, api: AlgorithmAPI) -> None:
        self.api = api


_running: contextvars.ContextVar[Binding | None] = contextvars.ContextVar("ibalgo_running_algorithm", default=None)

#: the functions that act on the running algorithm (order, symbol, record, schedule_function, ...)
FUNCTION_NAMES = frozenset(n for n in AlgorithmAPI.exported_names if n not in ("portfolio", "account"))


class NoRunningAlgorithmError(AlgorithmApiError, RuntimeError):
    """A ``runtime.api`` function was called while no :func:`runtime.run_algorithm` runs in this thread."""


def running() -> AlgorithmAPI:
    """The API of the algorithm ``run_algorithm`` is running in this context (NoRunningAlgorithmError if none)."""
    slot = _running.get()
    if slot is None or slot.api is None:
        raise NoRunningAlgorithmError(
            "no algorithm is running: runtime.api functions work inside initialize/handle_data/... while "
            "runtime.run_algorithm(...) runs them (an algorithm file gets the names without importing them)")
    return slot.api


@contextmanager
def binding() -> Iterator[Binding]:
    """Bind the names of this module, in this thread, for the ``with`` block: to the API given to the yielded
    slot's :meth:`Binding.bind` (run_algorithm binds its engine's API before ``initialize`` runs)."""
    slot = Binding()
    token = _running.set(slot)
    try:
        yield slot
    finally:
        _running.reset(token)


def _forwarder(name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return running().exported(name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = AlgorithmAPI.function_doc(name)
    return call


class _Log:
    """``log.info(...)`` etc. of the running algorithm (its messages are stamped with the simulation time)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(running().log, name)


log = _Log()


def __getattr__(name: str) -> Callable[..., Any]:
    if name in FUNCTION_NAMES:
        func = _forwarder(name)
        globals()[name] = func
        return func
    names = ", ".join(sorted(FUNCTION_NAMES))
    raise AttributeError(f"runtime.api has no {name!r}; the algorithm functions are: {names}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | FUNCTION_NAMES)


__all__ = [
    *sorted(FUNCTION_NAMES), "log", "date_rules", "time_rules", "calendars", "commission", "slippage",
    "cancel_policy", "EODCancel", "NeverCancel", "MarketOrder", "LimitOrder", "StopOrder", "StopLimitOrder",
    "TrailStopOrder", "TrailStopLimitOrder", "MarketOnCloseOrder", "LimitOnCloseOrder", "LimitOnOpenOrder",
    "OrderStatus", "Asset", "Equity",
    "NoRunningAlgorithmError", "Binding", "binding", "running",
]
