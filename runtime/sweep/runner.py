"""Running a sweep on Dask distributed: the grid's runs as tasks, the rows as they come back, the files at the end.

The bars are loaded once, in the calling process, and scattered to every worker together with the algorithm's
text and the run options (:class:`~runtime.sweep.worker.SweepInputs`); each task then carries only its parameters
and sessions. Without a scheduler address a :class:`distributed.LocalCluster` of worker processes starts on this
machine (loopback only) and stops at the end; ``scheduler='tcp://HOST:8786'`` (or Dask's own
``scheduler-address`` setting) sends the same runs to a running cluster, whose workers need ibalgo installed.
A worker lost during the sweep has its runs started again on another worker by Dask (up to
``distributed.scheduler.allowed-failures`` times, then the row says the worker was lost).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.data.benchmark import BenchmarkChoice
from runtime.errors import ConfigError
from runtime.sweep.files import jsonable, rows_frame, walk_table, write_sweep_files
from runtime.sweep.grid import ParamGrid
from runtime.sweep.worker import RunRow, RunTask, SweepInputs, run_one

log = logging.getLogger("ibalgo.sweep")

#: the figures a sweep can rank its runs by (higher is better for each: max_drawdown is a negative fraction)
METRIC_CHOICES = ("sharpe", "sortino", "total_return", "annual_return", "max_drawdown")


class SweepError(ConfigError):
    """A sweep cannot start: Dask is missing, the scheduler cannot be reached, a bad option."""


@dataclass(frozen=True)
class WalkForward:
    """Walk-forward windows: optimise over ``train`` sessions, test the best parameters on the ``test`` sessions
    after them, then move on by ``test`` sessions."""

    train: int
    test: int

    @classmethod
    def parse(cls, text: str) -> WalkForward:
        """``'250:60'`` -> train 250 sessions, test 60."""
        train, sep, test = str(text).partition(":")
        try:
            out = cls(int(train), int(test))
        except ValueError:
            out = None
        if not sep or out is None or out.train < 2 or out.test < 1:
            raise SweepError(f"--walk-forward {text!r}: give TRAIN:TEST session counts, e.g. 250:60 (train on 250 "
                             "sessions, test on the next 60; TRAIN at least 2)")
        return out

    def windows(self, first: int, last: int) -> list[tuple[int, int, int, int]]:
        """(train first, train last, test first, test last) session indexes of every whole window in
        ``first..last``."""
        out = []
        k = first
        while k + self.train + self.test - 1 <= last:
            out.append((k, k + self.train - 1, k + self.train, k + self.train + self.test - 1))
            k += self.test
        return out


@dataclass
class SweepResult:
    """What a sweep produced."""

    #: one row per run (the CSV): ``run``, the parameters, start, end, the figures, errors, error, run_seconds,
    #: worker (and window, phase in a walk-forward)
    rows: pd.DataFrame
    grid: ParamGrid
    metric: str
    #: the best run's row by ``metric`` (a plain sweep), None when no run finished
    best: dict[str, Any] | None
    #: walk-forward: one row per window (its sessions, the parameters chosen on train, the test's figures)
    walk_forward: pd.DataFrame | None = None
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    workers: int = 0
    scheduler: str = ""

    @property
    def failed(self) -> int:
        """Runs that did not finish (no figures: the file did not load, initialize raised, strict, worker lost)."""
        return int((self.rows["sessions"] == 0).sum()) if len(self.rows) else 0

    @property
    def raised(self) -> int:
        """Runs in which the algorithm raised (finished or not)."""
        return int(((self.rows["errors"] > 0) | (self.rows["error"] != "")).sum()) if len(self.rows) else 0


def _require_dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise SweepError("ibalgo sweep runs its backtests on Dask distributed, which is not installed: "
                         "pip install 'ibalgo[sweep]' (or pip install 'dask[distributed]')") from None
    return distributed


@contextlib.contextmanager
def connect(scheduler: str | None = None, n_workers: int | None = None,
            threads_per_worker: int = 1) -> Iterator[Any]:
    """A Dask client: to ``scheduler`` (or Dask's ``scheduler-address`` setting) when given, else to a new
    LocalCluster of ``n_workers`` processes (default: one per CPU) on loopback, closed on exit."""
    distributed = _require_dask()
    import dask

    with _quiet_dask():
        address = scheduler or dask.config.get("scheduler-address", None)
        yield from _clients(distributed, address, n_workers, threads_per_worker)


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own INFO lines (workers starting, connections closing) are left out of the run's log: WARNING and
    above still show."""
    logger = logging.getLogger("distributed")
    level = logger.level
    if logger.getEffectiveLevel() < logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _clients(distributed: Any, address: str | None, n_workers: int | None, threads_per_worker: int) -> Iterator[Any]:
    if address:
        try:
            client = distributed.Client(address, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise SweepError(f"cannot reach the Dask scheduler at {address}: {exc} (is `dask scheduler` running "
                             "there, and the port open?)") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = int(n_workers if n_workers is not None else os.cpu_count() or 1)
    if n < 1 or threads_per_worker < 1:
        raise SweepError(f"--workers and --threads-per-worker must be at least 1, got {n} and {threads_per_worker}")
    cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                       silence_logs=logging.WARNING)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        nanny = logging.getLogger("distributed.nanny")
        level = nanny.level
        nanny.setLevel(logging.ERROR)  # a worker slow to exit is stopped: nothing of the sweep is lost then
        try:
            cluster.close()
        finally:
            nanny.setLevel(level)


def _warm_up() -> bool:
    """Import what a run needs (pandas, the engine, the metrics) in a worker before its first task."""
    import runtime.assembly.backtest  # noqa: F401

    return True


def _run_name(index: int, params: Mapping[str, Any], prefix: str = "") -> str:
    text = "-".join(f"{k}={v}" for k, v in params.items())
    text = re.sub(r"[^A-Za-z0-9._=-]+", "_", text)[:100]
    return f"{prefix}{index:04d}-{text}" if text else f"{prefix}{index:04d}"


def best_row(rows: Sequence[RunRow], metric: str) -> RunRow | None:
    """The finished run with the highest ``metric`` (the first in grid order on a tie), None if none has one."""
    best: RunRow | None = None
    for row in rows:
        value = getattr(row, metric)
        if not row.ok or value is None or not math.isfinite(value):
            continue
        if best is None or value > getattr(best, metric) or (value == getattr(best, metric) and row.index < best.index):
            best = row
    return best


def _lost_row(task: RunTask, exc: BaseException) -> RunRow:
    what = type(exc).__name__
    text = (f"the run's worker was lost too often ({what}: {exc}); see distributed.scheduler.allowed-failures"
            if what == "KilledWorker" else f"the task failed on the cluster ({what}: {exc})")
    return RunRow(run=task.run, index=task.index, params=dict(task.params), start=str(task.start.date()),
                  end=str(task.end.date()), error=" ".join(text.split()), window=task.window, phase=task.phase)


def run_sweep(
    algorithm: str | Path,
    params: ParamGrid | Mapping[str, Any] | Sequence[str],
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    capital: float = 100_000.0,
    frequency: str = "daily",
    data_dir: str | None = None,
    universe: str | None = None,
    seed: int = 7,
    calendar: str = "XNYS",
    benchmark: BenchmarkChoice | None = None,
    fundamentals: str | None = None,
    before_trading_start: str = "08:45",
    ibridgepy: Any = None,
    strict: bool = False,
    margin_check: str = "regt",
    base_params: Mapping[str, Any] | None = None,
    output: str | Path | None = None,
    keep_runs: bool = False,
    walk_forward: WalkForward | str | None = None,
    metric: str = "sharpe",
    heatmap: Sequence[str] | None = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    scheduler: str | None = None,
    client: Any = None,
    on_row: Callable[[RunRow, int, int], None] | None = None,
) -> SweepResult:
    """Backtest ``algorithm`` once per combination of ``params`` on Dask, and write the rows and the report.

    ``params``: a :class:`ParamGrid`, ``--param`` texts (``['fast=10,20,30', 'slow=50:200:25']``) or a mapping
    name -> values. Each run gets ``base_params`` (settings.py's PARAMS) with the combination's values over them,
    as ``context.params`` / ``get_parameter``. ``start``/``end``, ``capital``, ``frequency``, ``data_dir``,
    ``universe``, ``seed``, ``calendar``, ``benchmark``, ``fundamentals``, ``strict`` and ``margin_check`` mean
    what they mean for ``ibalgo backtest``.

    ``output`` (a folder) gets ``sweep.csv``, ``sweep.parquet`` (when pyarrow is installed), ``sweep.json`` and
    ``sweep.html`` (heatmaps of ``metric`` over two parameters: ``heatmap``, default every pair); ``keep_runs``
    also writes each run's own results folder under ``output/runs/`` (on a cluster, a path every worker can
    write). ``walk_forward`` (``WalkForward`` or ``'TRAIN:TEST'`` sessions): optimise by ``metric`` on each
    training window, test the best combination on the sessions after it; ``walk_forward.csv`` has one row per
    window.

    The cluster: ``client`` (a connected ``distributed.Client``, left open), else ``scheduler`` (an address such as
    ``tcp://HOST:8786``, or Dask's ``scheduler-address`` setting), else a LocalCluster of ``n_workers`` processes
    with ``threads_per_worker`` threads each. ``on_row(row, done, total)`` is called as each run comes back.

    On a LocalCluster the workers are new processes that import the calling module: from a script, call this under
    ``if __name__ == "__main__":``.
    """
    from runtime.algorithm.loader import check_algorithm_file
    from runtime.data.runs import load_daily_and_minute

    t0 = time.perf_counter()
    grid = params if isinstance(params, ParamGrid) else ParamGrid.parse(params)
    if metric not in METRIC_CHOICES:
        raise SweepError(f"--metric {metric!r}: choose one of {', '.join(METRIC_CHOICES)}")
    if heatmap is not None:
        unknown = [name for name in heatmap if name not in grid.names]
        if unknown or len(heatmap) != 2:
            raise SweepError(f"--heatmap takes two of the swept parameters ({', '.join(grid.names)}), got "
                             f"{','.join(heatmap)}")
    walk = WalkForward.parse(walk_forward) if isinstance(walk_forward, str) else walk_forward
    path = check_algorithm_file(algorithm).resolve()
    source = path.read_text(encoding="utf-8")
    start_ts = None if start is None else pd.Timestamp(start).normalize().tz_localize(None)
    end_ts = None if end is None else pd.Timestamp(end).normalize().tz_localize(None)
    daily, minute, s, e = load_daily_and_minute(data_dir, frequency, start_ts, end_ts, seed=seed,
                                                calendar_name=calendar, universe=universe)
    cal = daily.calendar
    first, last = cal.session_index_on_or_after(s), cal.session_index_on_or_before(e)
    if first > last:
        raise SweepError(f"no trading sessions between {s.date()} and {e.date()}")
    out = Path(output) if output is not None else None
    runs_dir = (out / "runs").resolve() if (out is not None and keep_runs) else None
    combos = grid.combinations()

    def task(index: int, combo: dict[str, Any], a: int, b: int, window: int | None = None, phase: str = "",
             prefix: str = "") -> RunTask:
        name = _run_name(index, combo, prefix)
        return RunTask(run=name, index=index, params=combo, start=cal.session_label(a), end=cal.session_label(b),
                       output=str(runs_dir / name) if runs_dir is not None else None, window=window, phase=phase)

    windows = walk.windows(first, last) if walk is not None else []
    if walk is not None and not windows:
        raise SweepError(f"--walk-forward {walk.train}:{walk.test}: the {last - first + 1} sessions "
                         f"{s.date()}..{e.date()} hold no whole window of {walk.train} + {walk.test} sessions")
    if walk is None:
        tasks = [task(i, combo, first, last) for i, combo in enumerate(combos)]
    else:
        tasks = [task(w * len(combos) + i, combo, ta, tb, w, "train", f"w{w:02d}-train-")
                 for w, (ta, tb, _, _) in enumerate(windows) for i, combo in enumerate(combos)]
    total = len(tasks) + len(windows)
    if dataclasses.is_dataclass(ibridgepy) and getattr(ibridgepy, "smtp_host", None):
        # no run of a sweep sends mail (send_email logs it), and the SMTP login is not sent to the workers
        ibridgepy = dataclasses.replace(ibridgepy, smtp_host=None, smtp_user=None, smtp_password=None)
    inputs = SweepInputs(
        algorithm=str(path), source=source, daily=daily, minute=minute, frequency=frequency, capital=float(capital),
        strict=bool(strict), benchmark=benchmark or BenchmarkChoice(), before_trading_start=before_trading_start,
        fundamentals=fundamentals, ibridgepy=ibridgepy, base_params=dict(base_params or {}),
        margin_check=str(margin_check),
    )
    t1 = time.perf_counter()
    timings: dict[str, float] = {"load": t1 - t0}
    with contextlib.ExitStack() as stack:
        if client is None:
            client = stack.enter_context(connect(scheduler, n_workers, threads_per_worker))
        distributed = _require_dask()
        t2 = time.perf_counter()
        timings["cluster"] = t2 - t1
        workers = len(client.scheduler_info().get("workers", {}))
        if workers == 0:
            client.wait_for_workers(1, timeout=60)
            workers = len(client.scheduler_info().get("workers", {}))
        client.run(_warm_up)  # every worker imports the runtime now, in parallel, not inside its first run
        t_warm = time.perf_counter()
        timings["warm_up"] = t_warm - t2
        shared = client.scatter(inputs, broadcast=True, hash=False)
        t3 = time.perf_counter()
        timings["scatter"] = t3 - t_warm
        token = uuid.uuid4().hex[:8]
        task_of: dict[str, RunTask] = {}

        def submit(t: RunTask) -> Any:
            future = client.submit(run_one, shared, t, key=f"ibalgo-run-{token}-{t.run}", pure=False)
            task_of[future.key] = t
            return future

        done: list[RunRow] = []
        pending = {w: len(combos) for w in range(len(windows))}
        trained: dict[int, list[RunRow]] = {w: [] for w in range(len(windows))}
        chosen: dict[int, RunRow | None] = {}
        completed = distributed.as_completed([submit(t) for t in tasks])
        for future in completed:
            t = task_of[future.key]
            try:
                row = future.result()
            except Exception as exc:  # the worker was lost too often, or the cluster failed the task
                row = _lost_row(t, exc)
            future.release()
            done.append(row)
            if on_row is not None:
                on_row(row, len(done), total)
            if row.phase == "train":
                w = int(row.window)  # type: ignore[arg-type]
                trained[w].append(row)
                pending[w] -= 1
                if pending[w] == 0:
                    best = chosen[w] = best_row(trained[w], metric)
                    if best is None:
                        total -= 1
                    else:
                        _, _, ta, tb = windows[w]
                        completed.add(submit(task(len(tasks) + w, best.params, ta, tb, w, "test", f"w{w:02d}-test-")))
        with contextlib.suppress(Exception):
            client.cancel(shared)
    t4 = time.perf_counter()
    timings["runs"] = t4 - t3
    rows = rows_frame(done)
    best = best_row(done, metric) if walk is None else None
    wf = walk_table(windows, cal, chosen, done, grid, metric) if walk is not None else None
    result = SweepResult(rows=rows, grid=grid, metric=metric, best=best.record() if best else None, walk_forward=wf,
                         timings=timings, workers=workers, scheduler=str(getattr(client, "scheduler", "") or ""))
    if out is not None:
        meta = {
            "algorithm": str(algorithm), "frequency": frequency, "capital": float(capital), "start": str(s.date()),
            "end": str(e.date()), "params": grid.names, "grid": {n: list(map(jsonable, v)) for n, v in grid.axes},
            "base_params": {k: jsonable(v) for k, v in (base_params or {}).items()}, "metric": metric,
            "heatmap": list(heatmap) if heatmap else None, "runs": len(done), "workers": workers,
            "walk_forward": None if walk is None else {"train": walk.train, "test": walk.test},
            "best": None if best is None else {k: jsonable(v) for k, v in best.record().items()},
            "failed": result.failed, "raised": result.raised,
        }
        result.files = write_sweep_files(out, rows, wf, meta)
    timings["total"] = time.perf_counter() - t0
    return result
