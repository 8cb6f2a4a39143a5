"""The algorithm's attached pipelines: ``attach_pipeline`` / ``pipeline_output`` and their computation per session.

A backtest computes each pipeline in chunks of sessions ahead (its data is all there); a live or paper run computes
one session at a time, before ``before_trading_start``, from a daily bar store holding the sessions before today.
Either way a session's output depends only on the bars before that session, so the figures are the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from runtime.algorithm.frames import for_algorithm
from runtime.data.store import BarArrays
from runtime.pipeline import CHUNK_SESSIONS
from runtime.pipeline.engine import ChunkResult, PipelineEngine
from runtime.pipeline.errors import NoSuchPipeline, PipelineError
from runtime.pipeline.loaders import TableLoader
from runtime.pipeline.pipeline import Pipeline

log = logging.getLogger("ibalgo.pipeline")


@dataclass
class Attached:
    """One attached pipeline and its computed chunk."""

    pipeline: Pipeline
    name: str
    chunk_size: int
    eager: bool
    chunk: ChunkResult | None = None
    frames: dict[int, pd.DataFrame] = field(default_factory=dict)
    failed_session: int | None = None


class PipelineHost:
    """Owns the pipeline engine of a run (over ``store()``, the run's daily bars) and the attached pipelines."""

    def __init__(self, store: Callable[[], BarArrays], *, live: bool = False) -> None:
        self._store = store
        self.live = live
        self.table_path: str | None = None
        self._engine: PipelineEngine | None = None
        self._table: TableLoader | None = None
        self.attached: dict[str, Attached] = {}
        self.last_session = -1
        #: live runs: the run's own asset for a store asset (subscribed through the broker on first use)
        self.asset_map: Callable[[Any], Any] | None = None
        self._mapped: dict[int, Any] = {}

    def configure(self, *, store: Callable[[], BarArrays] | None = None, table_path: str | None = None,
                  live: bool | None = None, asset_map: Callable[[Any], Any] | None = None) -> None:
        """Set where the bars (and the point-in-time table) come from; before the algorithm is loaded."""
        if store is not None:
            self._store = store
            self._engine = None
        if table_path is not None:
            self.table_path = table_path or None
            self._table = None
        if live is not None:
            self.live = live
        if asset_map is not None:
            self.asset_map = asset_map

    def reload_store(self, store: Callable[[], BarArrays]) -> None:
        """Read the bars from ``store()`` from now on (a live run's data folder got new sessions): the engine is
        rebuilt on next use and the computed outputs are dropped."""
        self.configure(store=store)
        for att in self.attached.values():
            att.chunk = None
            att.frames = {}

    @property
    def engine(self) -> PipelineEngine:
        if self._engine is None:
            t0 = time.perf_counter()
            self._engine = PipelineEngine(self._store(), self.table())
            log.info("pipeline engine over %d assets (%s), ready in %.2fs", self._engine.n_assets,
                     self._engine.bars, time.perf_counter() - t0)
        return self._engine

    def table(self) -> TableLoader | None:
        """The point-in-time table of the run (None without the setting)."""
        if self.table_path and self._table is None:
            bars = self._store()
            symbols = [a.symbol.upper() for a in PipelineEngine(bars).assets]
            self._table = TableLoader.from_file(self.table_path, symbols, bars.calendar.sessions[bars.first_session:])
            if self._table.unmatched:
                log.info("fundamentals table %s: %d symbols are not in the run's data and are ignored",
                         self.table_path, len(self._table.unmatched))
        return self._table

    # ---------------------------------------------------------------------------------------------- API
    def attach(self, pipeline: Pipeline, name: str, chunks: Any = None, eager: bool = True) -> Pipeline:
        if not isinstance(pipeline, Pipeline):
            raise PipelineError(f"attach_pipeline needs a Pipeline, not {pipeline!r}")
        if name in self.attached:
            raise PipelineError(f"a pipeline named {name!r} is already attached: use another name")
        size = CHUNK_SESSIONS
        if isinstance(chunks, int) and chunks > 0:
            size = chunks
        elif chunks is not None and not isinstance(chunks, int):
            try:
                size = max(1, int(next(iter(chunks))))
            except (TypeError, StopIteration, ValueError):
                raise PipelineError(f"attach_pipeline(chunks=...) must be an int or iterable of ints, not "
                                    f"{chunks!r}") from None
        self.attached[name] = Attached(pipeline, name, 1 if self.live else size, bool(eager))
        self.engine  # noqa: B018 (build it now so data errors surface in initialize)
        return pipeline

    def on_session_start(self, session: int, last_session: int) -> None:
        """Compute the eager pipelines for calendar session ``session`` (before before_trading_start)."""
        self.last_session = last_session
        for att in self.attached.values():
            if att.eager:
                self._ensure(att, session)

    def output(self, name: str, session: int) -> pd.DataFrame:
        """The output frame of pipeline ``name`` for calendar session ``session``."""
        att = self.attached.get(name)
        if att is None:
            known = ", ".join(repr(n) for n in self.attached) or "none"
            raise NoSuchPipeline(f"no pipeline named {name!r} is attached (attached: {known}); call "
                                 f"attach_pipeline(pipe, {name!r}) in initialize")
        if att.failed_session == session:
            raise PipelineError(f"pipeline {name!r} failed to compute for this session (the error is logged above)")
        frame = att.frames.get(session)
        if frame is None:
            self._ensure(att, session)
            engine = self.engine
            row = session - engine.bars.first_session
            frame = att.chunk.frame(row)  # type: ignore[union-attr]
            if self.asset_map is not None and len(frame):
                frame.index = pd.Index([self._live_asset(a) for a in frame.index], dtype=object)
            frame = for_algorithm(frame)  # Quantopian-era integer keys index by position, as in data.history
            att.frames = {session: frame}
        return frame

    def _live_asset(self, asset: Any) -> Any:
        mapped = self._mapped.get(asset.sid)
        if mapped is None:
            mapped = self.asset_map(asset)  # type: ignore[misc]
            self._mapped[asset.sid] = mapped
        return mapped

    def _ensure(self, att: Attached, session: int) -> None:
        engine = self.engine
        row = session - engine.bars.first_session
        if att.chunk is not None and att.chunk.lo <= row < att.chunk.hi:
            return
        last_row = max(row + 1, min(row + att.chunk_size, self.last_session - engine.bars.first_session + 1))
        t0 = time.perf_counter()
        try:
            att.chunk = engine.compute_chunk(att.pipeline, row, last_row)
        except Exception:
            att.failed_session = session
            att.chunk = None
            raise
        att.failed_session = None
        elapsed = time.perf_counter() - t0
        if self.live:
            log.info("pipeline %r for %s: %d assets, %d rows passed the screen, computed in %.3fs", att.name,
                     engine.session_of_row(row).date(), engine.n_assets, int(att.chunk.screen[0].sum()), elapsed)
        else:
            log.debug("pipeline %r: sessions %s..%s computed in %.3fs", att.name, engine.session_of_row(row).date(),
                      engine.session_of_row(last_row - 1).date(), elapsed)
