"""The pipeline engine: computes a pipeline's terms over a chunk of sessions, vectorised over dates and assets.

For a chunk of sessions ``lo..hi-1`` (date rows: session offsets of the daily store) the engine works out, from
the dependency graph, how many extra earlier rows each term needs (a windowed term needs window_length - 1 more
rows of a computed input), then computes every term once over its range, each as an array
(n_dates, n_assets). Windowed terms read their inputs as blocks of windows (n_dates, window_length, n_assets) of
bounded size, so memory grows with assets x window, not with assets x history. The result of a session does not
depend on the chunk it was computed in: a backtest (chunks of many sessions) and a live run (one session at a
time) give the same figures.

Assets are the columns of the store, ordered by sid (zipline's order, which decides ordinal-rank ties).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from runtime.data.store import BarArrays
from runtime.pipeline.errors import FundamentalsNotConfigured, PipelineError
from runtime.pipeline.loaders import PricingLoader, TableLoader, _sliding, missing_table_message
from runtime.pipeline.mixins import period_labels
from runtime.pipeline.term import BOOL, OBJECT, LoadableTerm, NotSpecified, Term

log = logging.getLogger("ibalgo.pipeline")

#: the largest window block (floats) a windowed term reads at once
WINDOW_BUDGET = 4_000_000


def plan_extra_rows(roots: list[Term]) -> dict[Any, int]:
    """For every computed term reachable from ``roots``: how many rows before the chunk it must be computed for."""
    extra: dict[Any, int] = {}
    stack: list[tuple[Term, int]] = [(t, 0) for t in roots]
    while stack:
        term, need = stack.pop()
        if isinstance(term, LoadableTerm):
            continue
        key = term.key
        if extra.get(key, -1) >= need:
            continue
        extra[key] = need
        add = term.window_length - 1 if term.windowed else 0
        for dep in term.inputs:
            if isinstance(dep, Term):
                stack.append((dep, need + max(add, 0)))
        if isinstance(term.mask, Term) and term.mask is not term:
            stack.append((term.mask, need))
    return extra


class Workspace:
    """The values of one computation: each term computed once over its rows, shared by the terms reading it."""

    def __init__(self, engine: PipelineEngine, lo: int, hi: int, roots: list[Term]) -> None:
        self.engine = engine
        self.lo, self.hi = lo, hi
        self.extra = plan_extra_rows(roots)
        self.cache: dict[Any, tuple[int, np.ndarray]] = {}
        self.n_assets = engine.n_assets
        self.sids = engine.sids

    def values(self, term: Term, a: int, b: int) -> np.ndarray:
        """``term``'s values for date rows a..b-1."""
        if isinstance(term, LoadableTerm):
            raise PipelineError(f"{term!r} is a data column: use {getattr(term, 'name', 'column')}.latest or "
                                "pass it as an input of a factor")
        key = term.key
        hit = self.cache.get(key)
        if hit is None or a < hit[0] or b > hit[0] + len(hit[1]):
            start = min(a, self.lo - self.extra.get(key, 0))
            stop = max(b, self.hi)
            arr = term.compute_term(self, start, stop)
            if arr.ndim == 2 and arr.shape[0] != stop - start:
                raise PipelineError(f"{term!r} computed {arr.shape[0]} rows instead of {stop - start}")
            hit = (start, arr)
            self.cache[key] = hit
        s, arr = hit
        return arr[a - s:b - s]

    def window(self, term: Term, b0: int, b1: int, length: int) -> np.ndarray:
        """Windows (b1 - b0, length, n or 1) of an input for date rows b0..b1-1."""
        if isinstance(term, LoadableTerm):
            return self.engine.loader_for(term).windows(term, b0, b1, length)
        return _sliding(self.values(term, b0 - length + 1, b1), length)

    def window_blocks(self, term: Term, lo: int, hi: int) -> Iterator[tuple[int, int, list[np.ndarray]]]:
        """Blocks of dates with the windows of each of ``term``'s inputs."""
        length = int(term.window_length)
        per_date = max(1, length * self.n_assets * max(1, len(term.inputs)))
        step = max(1, WINDOW_BUDGET // per_date)
        for b0 in range(lo, hi, step):
            b1 = min(hi, b0 + step)
            yield b0, b1, [self.window(t, b0, b1, length) for t in term.inputs]

    def exists(self, lo: int, hi: int) -> np.ndarray:
        return self.engine.exists(lo, hi)

    def dates(self, row: int) -> pd.Timestamp:
        return self.engine.session_of_row(row)

    def column_of(self, asset: Any) -> int:
        return self.engine.column_of(asset)

    def period_starts(self, frequency: str, lo: int, hi: int) -> np.ndarray:
        return self.engine.period_starts(frequency, lo, hi)

    def subcompute(self, term: Term, a: int, b: int) -> np.ndarray:
        """``term`` computed in a workspace of its own over rows a..b-1 (for downsampled terms)."""
        return Workspace(self.engine, a, b, [term]).values(term, a, b)


@dataclass
class ChunkResult:
    """The computed columns of a pipeline over date rows lo..hi-1, and the rows passing its screen."""

    engine: PipelineEngine
    lo: int
    hi: int
    names: list[str]
    columns: dict[str, np.ndarray]
    screen: np.ndarray

    def frame(self, row: int) -> pd.DataFrame:
        """The output for one session: indexed by asset, one column per pipeline column, screened rows only."""
        i = row - self.lo
        keep = np.flatnonzero(self.screen[i])
        index = pd.Index([self.engine.assets[j] for j in keep], dtype=object)
        data = {name: _column_values(self.columns[name][i, keep]) for name in self.names}
        return pd.DataFrame(data, index=index, columns=self.names)

    def long_frame(self) -> pd.DataFrame:
        """All sessions as one frame indexed by (date, asset), like zipline's ``run_pipeline``."""
        rows, cols = np.nonzero(self.screen)
        dates = pd.DatetimeIndex([self.engine.session_of_row(self.lo + int(r)) for r in range(self.hi - self.lo)])
        index = pd.MultiIndex.from_arrays(
            [dates[rows], pd.Index([self.engine.assets[j] for j in cols], dtype=object)], names=["date", "asset"]
        )
        data = {name: _column_values(self.columns[name][rows, cols]) for name in self.names}
        return pd.DataFrame(data, index=index, columns=self.names)


def _column_values(values: np.ndarray) -> Any:
    if values.dtype == OBJECT:
        return pd.Categorical(values)
    return values


class PipelineEngine:
    """Computes pipelines over a daily bar store (the run's assets) and, optionally, a point-in-time table."""

    def __init__(self, bars: BarArrays, table: TableLoader | None = None, table_path: str | None = None) -> None:
        if bars.frequency != "daily":
            raise PipelineError("a pipeline needs daily bars")
        self.bars = bars
        sids = np.array([a.sid for a in bars.assets], dtype=np.int64)
        self.order = np.argsort(sids, kind="stable")
        self.sids = sids[self.order]
        self.assets = tuple(bars.assets[i] for i in self.order)
        self.n_assets = len(self.assets)
        self._col = {int(s): i for i, s in enumerate(self.sids)}
        self.calendar = bars.calendar
        self.pricing = PricingLoader(bars, self.order)
        self.table = table
        self.table_path = table_path
        traded = ~np.isnan(bars.close[:, self.order]) if bars.n_rows else np.zeros((0, self.n_assets), bool)
        any_trade = traded.any(axis=0)
        n = bars.n_rows
        first = np.where(any_trade, np.argmax(traded, axis=0), np.iinfo(np.int64).max // 2)
        last = np.where(any_trade, n - 1 - np.argmax(traded[::-1], axis=0), -1)
        self.first_row = first.astype(np.int64)
        #: an asset still trading at the end of the data stays listed after it (a live run's next sessions)
        self.last_row = np.where(last == n - 1, np.iinfo(np.int64).max // 2, last + 1).astype(np.int64)
        self._period_cache: dict[str, np.ndarray] = {}
        self.warned_early = False
        self._noted: set[str] = set()

    def note_universe(self, name: str, rule: str) -> None:
        """Log once per engine (one per run) which rule a named universe applies and over how many assets."""
        if name not in self._noted:
            self._noted.add(name)
            log.info("pipeline universe %s over the run's %d assets: %s", name, self.n_assets, rule)

    @classmethod
    def for_store(cls, bars: BarArrays, table_path: str | None = None) -> PipelineEngine:
        """An engine over ``bars``, with the point-in-time table at ``table_path`` if given."""
        engine = cls(bars)
        if table_path:
            sessions = bars.calendar.sessions[bars.first_session:]
            symbols = [a.symbol.upper() for a in engine.assets]
            engine.table = TableLoader.from_file(table_path, symbols, sessions)
            engine.table_path = str(table_path)
        return engine

    # ------------------------------------------------------------------------------------------- lookups
    def loader_for(self, column: Any) -> Any:
        if getattr(column.dataset, "_loader", "table") == "pricing":
            return self.pricing
        if self.table is None:
            raise FundamentalsNotConfigured(missing_table_message(column.qualname))
        return self.table

    def column_of(self, asset: Any) -> int:
        sid = asset if isinstance(asset, int | np.integer) else asset.sid
        try:
            return self._col[int(sid)]
        except KeyError:
            raise PipelineError(f"{asset!r} is not in the pipeline's universe (the run's {self.n_assets} assets)"
                                ) from None

    def exists(self, lo: int, hi: int) -> np.ndarray:
        """AssetExists for date rows lo..hi-1: first bar before the session, last bar on/after the one before."""
        rows = np.arange(lo, hi, dtype=np.int64)[:, None]
        return (self.first_row[None, :] < rows) & (rows <= self.last_row[None, :])

    def row_of_session(self, session: Any) -> int:
        """The date row of a session label (may be past the store's last row in a live run)."""
        ts = pd.Timestamp(session)
        if ts.tzinfo is not None:
            ts = ts.tz_convert(None)
        return int(self.calendar.session_index_on_or_before(ts.normalize())) - self.bars.first_session

    def session_of_row(self, row: int) -> pd.Timestamp:
        return pd.Timestamp(self.calendar.sessions[self.bars.first_session + row])

    def period_starts(self, frequency: str, lo: int, hi: int) -> np.ndarray:
        """For date rows lo..hi-1: the date row of the first session of their year/quarter/month/week."""
        starts = self._period_cache.get(frequency)
        if starts is None:
            labels = period_labels(self.calendar.sessions, frequency)
            change = np.r_[True, labels[1:] != labels[:-1]]
            starts = np.maximum.accumulate(np.where(change, np.arange(len(labels)), 0))
            self._period_cache[frequency] = starts
        idx = np.arange(lo, hi) + self.bars.first_session
        return starts[idx] - self.bars.first_session

    # ------------------------------------------------------------------------------------------- compute
    def compute_chunk(self, pipeline: Any, lo: int, hi: int) -> ChunkResult:
        """Compute ``pipeline`` for date rows lo..hi-1."""
        from runtime.pipeline.filters import AssetExists

        columns = dict(pipeline.columns)
        screen = pipeline.screen if pipeline.screen is not None else AssetExists()
        roots = [*columns.values(), screen]
        ws = Workspace(self, lo, hi, roots)
        if not self.warned_early and lo - max(ws.extra.values(), default=0) - _max_window(roots) < 0:
            self.warned_early = True
            log.warning("pipeline windows for %s reach before the first session of the data (%s): those rows are "
                        "NaN", self.session_of_row(lo).date(), self.bars.start.date())
        values = {name: np.asarray(ws.values(term, lo, hi)) for name, term in columns.items()}
        screened = ws.values(screen, lo, hi)
        if screened.dtype != BOOL:
            raise PipelineError("a pipeline's screen must be a Filter")
        return ChunkResult(self, lo, hi, list(columns), values, screened & self.exists(lo, hi))


def _max_window(roots: list[Term]) -> int:
    best, seen, stack = 0, set(), list(roots)
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        best = max(best, int(t.window_length or 0) if t.window_length is not NotSpecified else 0)
        stack.extend(d for d in t.dependencies() if d is not t)
    return best
