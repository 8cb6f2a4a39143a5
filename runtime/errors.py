"""Typed errors. Each one says what went wrong and what to do about it.

Errors caused by the algorithm's code carry the algorithm file and line (see :func:`user_location`), so the message
points at the user's code, never only at the runtime's internals.
"""

from __future__ import annotations

import traceback
from types import TracebackType


class IbAlgoError(Exception):
    """Base of every error the runtime raises on purpose."""


class ConfigError(IbAlgoError):
    """A setting or command-line option is wrong."""


class AlgorithmLoadError(IbAlgoError):
    """The algorithm file cannot be loaded (missing, syntax error, no initialize, wrong signature...)."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(where + message)


class AlgorithmRaisedError(AlgorithmLoadError):
    """``strict``: the algorithm raised, so the run stopped after writing its results; ``result`` is what the run
    produced (a BacktestResult or LiveResult) and ``perf`` its results table of the sessions completed."""

    def __init__(self, message: str, result: object = None) -> None:
        self.result = result
        super().__init__(message)

    @property
    def perf(self) -> object:
        return getattr(self.result, "perf", None)


class AlgorithmApiError(IbAlgoError):
    """The algorithm called the API wrongly (bad arguments, wrong phase). Raised into the algorithm."""


class BadOrderError(AlgorithmApiError, ValueError):
    """An order's arguments are invalid (amount, prices, style)."""


class PhaseError(AlgorithmApiError):
    """An API function was called where it is not allowed (e.g. ``order`` inside ``initialize``)."""


class TradingControlViolation(AlgorithmApiError):
    """An order would break a trading control set with ``set_max_order_size`` and friends."""


class ControlSettingError(AlgorithmApiError, ValueError):
    """A trading or account control was set with a wrong argument (``set_long_only(on_error='fial')``,
    ``set_max_leverage(-1)``)."""


class ScheduleError(AlgorithmApiError, ValueError):
    """``schedule_function`` was given a wrong rule, offset or calendar."""


class HistoryError(AlgorithmApiError, ValueError):
    """``data.history`` / ``data.current`` was asked for something it cannot give."""


class ContractNotInDataError(AlgorithmApiError, LookupError):
    """``superSymbol(...)`` in a backtest named a contract the loaded data does not hold."""


class OrderNotFoundError(AlgorithmApiError, LookupError):
    """An order id that is not an order of this run (e.g. ``get_order_status('123')``)."""


class NotAvailableError(AlgorithmApiError, NotImplementedError):
    """An IBridgePy function this version does not offer; the message says what to use instead."""


class LegacyApiError(AlgorithmApiError):
    """A Quantopian-era or Python 2 form this runtime does not run (``set_universe``, ``xrange``...); the message
    names today's form."""


class LegacyAttributeError(LegacyApiError, AttributeError):
    """An attribute that Quantopian-era code used and that no longer exists (``.ix``, ``.iteritems()``); the message
    names today's form. An AttributeError, so ``hasattr`` answers False."""


class UnsupportedNameError(AlgorithmApiError, ImportError):
    """A ``quantopian``/``zipline`` name (or one pandas removed) that the runtime does not offer, imported or read by
    an algorithm file; the message names it and says what to use."""


class NotConnectedError(IbAlgoError):
    """The broker connection is down; the request was not sent (nothing was queued silently)."""


def user_location(tb: TracebackType | None, algo_path: str) -> tuple[int | None, str | None]:
    """The innermost line of the algorithm file in a traceback, and that line's source text."""
    line: int | None = None
    text: str | None = None
    for frame in traceback.extract_tb(tb):
        if frame.filename == algo_path:
            line, text = frame.lineno, frame.line
    return line, text


def describe_user_exception(exc: BaseException, algo_path: str) -> str:
    """One readable paragraph about an exception raised by algorithm code: file:line, the code, the error.

    Frames inside the runtime are left out; the algorithm's own frames are kept.
    """
    line, text = user_location(exc.__traceback__, algo_path)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == algo_path]
    where = f"{algo_path}:{line}" if line else algo_path
    parts = [f"{where}: {type(exc).__name__}: {exc}"]
    if text:
        parts.append(f"    {text}")
    if len(frames) > 1:
        chain = " <- ".join(f"{f.name}:{f.lineno}" for f in reversed(frames))
        parts.append(f"    (call chain in the algorithm: {chain})")
    return "\n".join(parts)
