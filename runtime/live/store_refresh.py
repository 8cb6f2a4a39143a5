"""A paper or live run keeps its Parquet daily bar folder current before each session (``ibalgo data update``'s
work, done by the run): :class:`StoreRefresh`.

A pipeline in a paper or live run computes over a daily bar folder (``--pipeline-data``, else ``--data``). Before
each session's pipeline (a session-start hook that runs before the pipelines' own), the run asks its broker
connection for the sessions missing from that folder (:func:`runtime.data.download.update_store`: only the missing
days, paced under IB's historical-data rules), reloads the folder when a file changed, and logs how many symbols
it covered and how long it took. It never stops the run: a failure is logged as a warning and the session's
pipeline computes over the folder as it is (the pipeline then warns that its data is stale:
:meth:`runtime.pipeline.engine.PipelineEngine.compute_chunk`).

Only a folder of Parquet files is kept current (the format ``update_store`` writes); a CSV folder or the bundled
data is left as it is. Each symbol's last bar is remembered between sessions, so a session whose folder is already
current costs no file read and no request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.core.calendar import TradingCalendar
from runtime.data.download import HistorySource, last_complete_session, read_symbol_file, update_store
from runtime.data.errors import DataError
from runtime.errors import IbAlgoError

log = logging.getLogger("ibalgo.data")


def parquet_symbols(folder: str | Path | None) -> list[str]:
    """The symbols of a folder's ``SYMBOL.parquet`` files (empty: no folder, or not a Parquet folder)."""
    if folder is None:
        return []
    path = Path(folder).expanduser()
    if not path.is_dir():
        return []
    return sorted(p.stem for p in path.glob("*.parquet") if p.is_file())


class StoreRefresh:
    """Session-start hook: bring ``folder`` up to the last closed session through ``source``, then ``reload()``.

    Args:
        folder: the run's Parquet daily bar folder.
        source: the run's connected IB adapter (contracts and paced history requests).
        calendar: the run's calendar.
        now_ns: the run's clock.
        reload: called after a file changed (the pipelines read the folder again).
    """

    def __init__(self, folder: str | Path, source: HistorySource, calendar: TradingCalendar,
                 now_ns: Callable[[], int], reload: Callable[[], None]) -> None:
        self.folder = Path(folder).expanduser()
        self.source = source
        self.calendar = calendar
        self.now_ns = now_ns
        self.reload = reload
        #: each symbol's last session in the folder (calendar index; -1: no readable file)
        self.last: dict[str, int] = {}
        self.updates = 0

    def _last_session(self, symbol: str) -> int:
        frame = read_symbol_file(self.folder / f"{symbol}.parquet")
        if frame is None or frame.empty:
            return -1
        return int(self.calendar.session_index_on_or_before(pd.Timestamp(frame["date"].iloc[-1])))

    def __call__(self, session: int, last_session: int) -> None:
        """Before session ``session``'s pipelines: download what the folder lacks (never raises)."""
        try:
            self.refresh()
        except Exception as exc:  # the run goes on with the folder as it is
            log.warning("could not bring the data folder %s up to date before %s (%s: %s); the pipelines compute "
                        "over the bars it has", self.folder, self.calendar.session_label(session).date(),
                        type(exc).__name__, exc)

    def refresh(self) -> Any:
        """One update of the symbols not yet at the last closed session; returns the UpdateResult (None: nothing
        was missing)."""
        if not self.last:
            self.last = {symbol: self._last_session(symbol) for symbol in parquet_symbols(self.folder)}
        try:
            k_end = last_complete_session(self.calendar, self.now_ns())
        except DataError:
            return None
        behind = [symbol for symbol, k in self.last.items() if k < k_end]
        if not behind:
            return None
        started = time.perf_counter()
        try:
            result = update_store(self.source, behind, self.folder, now_ns=self.now_ns(), calendar=self.calendar,
                                  progress=False)
        except (IbAlgoError, DataError, OSError) as exc:
            log.warning("data folder %s: %d of %d symbols lack bars up to %s and could not be updated (%s: %s); "
                        "the pipelines compute over the bars the folder has", self.folder, len(behind),
                        len(self.last), self.calendar.session_label(k_end).date(), type(exc).__name__, exc)
            return None
        changed = [s.symbol for s in result.symbols if s.new_rows > 0 or s.status in ("fresh", "refreshed")]
        for s in result.symbols:  # a failed symbol stays behind: asked again before the next session
            if s.status == "current":  # nothing newer at the source (a delisted symbol): not asked again today
                self.last[s.symbol] = k_end
            elif s.status != "failed":
                self.last[s.symbol] = self._last_session(s.symbol)
        self.updates += 1
        log.info("data folder kept current before the session: %d of %d symbols were behind; %s (%.1f s)",
                 len(behind), len(self.last), result.summary(), time.perf_counter() - started)
        if result.failed:
            log.warning("data folder %s: %d symbols could not be updated (first: %s: %s)", self.folder,
                        len(result.failed), result.failed[0].symbol, result.failed[0].message)
        if changed:
            self.reload()
        return result


def install_store_refresh(engine: Any, folder: str | Path | None, source: HistorySource, calendar: TradingCalendar,
                          now_ns: Callable[[], int], store: Callable[[], Callable[[], Any]]) -> StoreRefresh | None:
    """Keep ``folder`` current before each session of a paper or live run whose algorithm attaches a pipeline
    (a session-start hook ahead of the pipelines' own). ``store()`` makes a fresh loader of the folder's bars for
    the pipelines after an update. None (nothing installed) when ``folder`` holds no Parquet files."""
    if not parquet_symbols(folder):
        return None
    pipelines = engine.api.pipelines
    refresh = StoreRefresh(folder, source, calendar, now_ns,  # type: ignore[arg-type]
                           reload=lambda: pipelines.reload_store(store()))

    def before_session(session: int, last_session: int) -> None:
        if pipelines.attached:  # the folder is read only by pipelines
            refresh(session, last_session)

    engine.session_start_hooks.insert(0, before_session)
    return refresh
