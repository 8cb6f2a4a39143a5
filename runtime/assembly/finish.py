"""The end of every run, backtest or live: ``analyze``, the summary, the results files and the report, and the
log filter that stamps each line with the run's clock in the exchange's time zone."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.core.calendar import TradingCalendar
from runtime.core.metrics import Summary
from runtime.engine.engine import Engine
from runtime.engine.results import ResultsRecorder, write_results
from runtime.engine.state import Phase
from runtime.report import write_report


class ExchangeTimeFilter(logging.Filter):
    """Stamps log records with the run's clock in the exchange's time zone (``record.simtime``).

    ``now_ns`` reads the clock (the engine's simulation time in a backtest, the run's wall or replay clock live);
    a record that carries its own instant (an order's, a fill's) keeps it; before the clock has started (0) the
    stamp is None."""

    def __init__(self, now_ns: Callable[[], int], calendar: TradingCalendar) -> None:
        super().__init__()
        self.now_ns = now_ns
        self.calendar = calendar

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "simtime", None) is None:
            ns = self.now_ns()
            record.simtime = self.calendar.to_local(ns).strftime("%Y-%m-%d %H:%M:%S %Z") if ns else None
        return True


@contextmanager
def stamped_logs(stamp: logging.Filter, *loggers: logging.Logger) -> Iterator[None]:
    """Put ``stamp`` on every handler of the root logger and on ``loggers`` while the block runs."""
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(stamp)
    for logger in loggers:
        logger.addFilter(stamp)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(stamp)
        for handler in handlers:
            handler.removeFilter(stamp)


@dataclass
class Finished:
    """What the finish step produced: the results table, its summary, and the files written."""

    perf: pd.DataFrame
    summary: Summary
    files: list[Path] = field(default_factory=list)


def finish_run(
    engine: Engine,
    recorder: ResultsRecorder,
    calendar: TradingCalendar,
    *,
    output: Path | None,
    meta: Callable[[pd.DataFrame], dict[str, Any]],
    perf_pickle: Path | None = None,
    extra_files: Callable[[Path], list[Path]] | None = None,
) -> Finished:
    """End a run: the results table from ``recorder``, the algorithm's ``analyze(context, perf)`` (under the
    engine's error policy), the summary, then the files.

    ``perf_pickle`` writes only the results table there (zipline's ``-o FILE.pickle``); otherwise with ``output``
    the results files (``meta(perf)`` goes into ``summary.json``), then ``extra_files(output)`` (e.g. per-account
    files), then ``report.html``.
    """
    perf = recorder.frame(calendar)
    if engine.functions.analyze is not None:
        engine.call_user(Phase.ANALYZE, engine.functions.analyze, engine.context, perf)
    summary = recorder.summary(perf)
    files: list[Path] = []
    if perf_pickle is not None:
        Path(perf_pickle).parent.mkdir(parents=True, exist_ok=True)
        perf.to_pickle(perf_pickle)
        files = [Path(perf_pickle)]
    elif output is not None:
        files = write_results(perf, Path(output), summary, meta(perf))
        if extra_files is not None:
            files += extra_files(Path(output))
        files.append(write_report(Path(output)))
    return Finished(perf, summary, files)
