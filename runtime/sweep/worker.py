"""One run of a sweep, as a Dask worker executes it: a backtest of one parameter combination -> one row.

What every run of a sweep shares (:class:`SweepInputs`: the algorithm's text, the bars, the run options) is sent
to the workers once and kept there; each task (:class:`RunTask`) carries only its parameters and sessions. A run
never raises: an algorithm that fails to load, raises in ``initialize`` or (with ``strict``) in ``handle_data``
gives a row whose ``error`` names the file and line; an exception the run survives is counted in ``errors`` and the
first one is kept in ``error``. Only losing the worker itself ends a task, and Dask runs it again elsewhere.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.data.benchmark import BenchmarkChoice
from runtime.data.store import BarArrays


@dataclass(frozen=True)
class SweepInputs:
    """What all runs of a sweep share; scattered to the workers once."""

    algorithm: str
    source: str
    daily: BarArrays
    minute: BarArrays | None
    frequency: str = "daily"
    capital: float = 100_000.0
    strict: bool = False
    benchmark: BenchmarkChoice = field(default_factory=BenchmarkChoice)
    before_trading_start: str = "08:45"
    fundamentals: str | None = None
    ibridgepy: Any = None
    #: parameters every run gets (PARAMS in settings.py), under the combination's own
    base_params: dict[str, Any] = field(default_factory=dict)
    #: "regt" (refuse orders the account cannot margin) or "none", as ``ibalgo backtest --margin-check``
    margin_check: str = "regt"


@dataclass(frozen=True)
class RunTask:
    """One run: its name, its position in the sweep, its parameters, its sessions and, with ``--keep-runs``, the
    folder its own results go to."""

    run: str
    index: int
    params: dict[str, Any]
    start: pd.Timestamp
    end: pd.Timestamp
    output: str | None = None
    #: walk-forward: the window's number and "train" or "test" (None and "" in a plain sweep)
    window: int | None = None
    phase: str = ""


#: the figures of a row, in the order of the CSV's columns
METRICS = ("total_return", "annual_return", "annual_volatility", "sharpe", "sortino", "max_drawdown",
           "ending_value", "trades", "orders", "sessions")


@dataclass(frozen=True)
class RunRow:
    """The result of one run: its parameters, its figures (NaN when it did not finish), its errors, its time."""

    run: str
    index: int
    params: dict[str, Any]
    start: str
    end: str
    total_return: float = math.nan
    annual_return: float = math.nan
    annual_volatility: float = math.nan
    sharpe: float = math.nan
    sortino: float = math.nan
    max_drawdown: float = math.nan
    ending_value: float = math.nan
    trades: int = 0
    orders: int = 0
    sessions: int = 0
    #: exceptions the algorithm raised (the run went on past them, unless ``strict``)
    errors: int = 0
    #: the first error (file:line: type: message), or why the run could not finish; "" when none
    error: str = ""
    run_seconds: float = 0.0
    #: which worker ran it (host:pid)
    worker: str = ""
    window: int | None = None
    phase: str = ""

    @property
    def ok(self) -> bool:
        """The run finished (its figures are there), whether or not the algorithm raised on the way."""
        return self.sessions > 0

    def record(self) -> dict[str, Any]:
        """The row as a flat dict: ``run``, one column per parameter, the figures, errors, time, worker."""
        out: dict[str, Any] = {"run": self.run, **self.params, "start": self.start, "end": self.end}
        out.update({name: getattr(self, name) for name in METRICS})
        out.update(errors=self.errors, error=self.error, run_seconds=self.run_seconds, worker=self.worker)
        if self.phase:
            out.update(window=self.window, phase=self.phase)
        return out


class _FirstErrors(logging.Handler):
    """Keeps the first error the algorithm logger reports from one thread (a worker may run several runs at once
    on several threads)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.thread = threading.get_ident()
        self.first: str = ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread or self.first:
            return
        lines = record.getMessage().splitlines()
        self.first = f"{lines[1].strip()} ({lines[0].rstrip(':')})" if len(lines) > 1 else lines[0] if lines else ""


_files_lock = threading.Lock()
_quiet_done = False


def _algorithm_file(inputs: SweepInputs) -> str:
    """The algorithm's path on this worker: the given path when it holds the same text, else a copy of the text in
    a temporary folder (a worker on another machine)."""
    path = Path(inputs.algorithm)
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == inputs.source:
            return str(path)
    except (OSError, UnicodeDecodeError):
        pass
    digest = hashlib.sha256(inputs.source.encode("utf-8")).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"ibalgo-sweep-{digest}"
    copy = folder / path.name
    with _files_lock:
        if not copy.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = copy.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(inputs.source, encoding="utf-8")
            tmp.replace(copy)
    return str(copy)


def _quiet_worker_logs() -> None:
    """In a worker process of its own, the runtime's log lines (orders, data warnings) are not printed: the rows
    carry the errors. A worker thread in the calling process (an in-process cluster) leaves logging alone."""
    global _quiet_done
    if _quiet_done:
        return
    _quiet_done = True
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        logging.getLogger("ibalgo").propagate = False


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    at = f" at {Path(last.filename).name}:{last.lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{at}"


def run_one(inputs: SweepInputs, task: RunTask) -> RunRow:
    """Backtest ``inputs``' algorithm with ``task``'s parameters over its sessions; never raises (see the module's
    docstring)."""
    from runtime.assembly.backtest import run_backtest
    from runtime.core.margin import MarginCheck
    from runtime.errors import AlgorithmLoadError, AlgorithmRaisedError, IbAlgoError

    _quiet_worker_logs()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    base = {"run": task.run, "index": task.index, "params": dict(task.params), "start": str(task.start.date()),
            "end": str(task.end.date()), "worker": worker, "window": task.window, "phase": task.phase}
    capture = _FirstErrors()
    algo_log = logging.getLogger("ibalgo.algo")
    algo_log.addHandler(capture)
    started = time.perf_counter()
    try:
        path = _algorithm_file(inputs)
        result = run_backtest(
            path, daily=inputs.daily, minute=inputs.minute, start=task.start, end=task.end, capital=inputs.capital,
            frequency=inputs.frequency, output=Path(task.output) if task.output else None, strict=inputs.strict,
            before_trading_start=inputs.before_trading_start, fundamentals=inputs.fundamentals,
            ibridgepy=inputs.ibridgepy, benchmark=inputs.benchmark, params={**inputs.base_params, **task.params},
            margin_check=MarginCheck.parse(inputs.margin_check),
        )
    except AlgorithmRaisedError as exc:  # strict: the first exception stopped the run
        errors = getattr(getattr(exc.result, "engine", None), "error_count", 1)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]  # "stopped (... raised):", where
        first = f"{lines[1]} ({lines[0].rstrip(':')})" if len(lines) > 1 else " ".join(lines)
        return RunRow(**base, errors=errors, error=capture.first or first, run_seconds=time.perf_counter() - started)
    except (AlgorithmLoadError, IbAlgoError) as exc:  # the file does not load, initialize raised, bad options
        return RunRow(**base, error=" ".join(str(exc).split()), run_seconds=time.perf_counter() - started)
    except Exception as exc:  # a failure of the run itself: reported in its row, the sweep goes on
        return RunRow(**base, error=_where(exc), run_seconds=time.perf_counter() - started)
    finally:
        algo_log.removeHandler(capture)
    s = result.summary
    return RunRow(
        **base, total_return=s.total_return, annual_return=s.annual_return, annual_volatility=s.annual_volatility,
        sharpe=s.sharpe, sortino=s.sortino, max_drawdown=s.max_drawdown, ending_value=s.ending_value,
        trades=int(s.trades), orders=int(s.orders), sessions=int(s.sessions), errors=result.engine.error_count,
        error=capture.first, run_seconds=time.perf_counter() - started,
    )
