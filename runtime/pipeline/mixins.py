"""Shared machinery of computed terms: windowed user terms (``compute`` once per day), slices of one asset,
downsampled terms and ``if_else``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runtime.pipeline.errors import PipelineError
from runtime.pipeline.term import OBJECT, ComputableTerm, NotSpecified, Term

if TYPE_CHECKING:
    from runtime.pipeline.engine import Workspace


def allocate(term: ComputableTerm, shape: tuple[int, ...]) -> np.ndarray:
    """An output array filled with the term's missing value (a record array for multiple outputs)."""
    if term.outputs is not NotSpecified:
        out = np.recarray(shape, formats=[term.dtype.str] * len(term.outputs), names=list(term.outputs))
        for name in term.outputs:
            out[name] = term.missing_value
        return out
    return np.full(shape, term.missing_value, dtype=term.dtype)


class WindowedMixin:
    """Computes a windowed term block by block.

    A built-in term overrides :meth:`_compute_windows` (vectorised over the dates of a block: windows have shape
    (n_dates, window_length, n_assets)); a user's CustomFactor/CustomFilter/CustomClassifier defines
    ``compute(self, today, assets, out, *inputs, **params)``, called once per date with the 2-D windows of the
    assets passing the mask, exactly as zipline calls it.
    """

    #: built-ins set this: their _compute_windows handles all assets; the mask is applied afterwards
    _vectorised = False

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        raise NotImplementedError

    def compute(self, today: Any, assets: Any, out: Any, *inputs: Any, **params: Any) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must define compute(self, today, assets, out, *inputs) to be used in a pipeline"
        )

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        term: Any = self
        mask = ws.values(term.mask, lo, hi)
        n = hi - lo
        shape = (n, 1) if term.ndim == 1 else (n, ws.n_assets)
        out = allocate(term, shape)
        if self._vectorised:
            for b0, b1, windows in ws.window_blocks(term, lo, hi):
                res = self._compute_windows(windows, **term.params)
                if term.outputs is not NotSpecified:
                    for name in term.outputs:
                        out[name][b0 - lo:b1 - lo] = res[name]
                else:
                    out[b0 - lo:b1 - lo] = res
            if term.ndim == 1:
                return out
            if term.outputs is not NotSpecified:
                for name in term.outputs:
                    out[name][~mask] = term.missing_value
                return out
            return term.apply_mask_and_fill(out, mask)
        sids = pd.Index(ws.sids)
        dates = ws.dates
        compute = self.compute
        params = term.params
        for b0, b1, windows in ws.window_blocks(term, lo, hi):
            for d in range(b1 - b0):
                i = b0 - lo + d
                row_mask = mask[i]
                inputs = [w[d] if w.shape[2] == 1 else w[d][:, row_mask] for w in windows]
                if term.ndim == 1:
                    out_row = out[i]
                    compute(dates(b0 + d), sids[row_mask], out_row, *inputs, **params)
                    continue
                out_row = out[i][row_mask]
                compute(dates(b0 + d), sids[row_mask], out_row, *inputs, **params)
                out[i][row_mask] = out_row
        return out


class Slice(ComputableTerm):
    """``term[asset]``: one asset's column of a term, shape (n_dates, 1), used as an input to another term
    (e.g. ``Returns(window_length=2)[symbol('SPY')]`` for a beta)."""

    window_length = 0
    ndim = 1

    def __init__(self, term: Term, asset: Any) -> None:
        self._asset = asset
        super().__init__(inputs=[term], window_length=0, mask=getattr(term, "mask", NotSpecified),
                         dtype=term.dtype, missing_value=term.missing_value, ndim=1,
                         window_safe=getattr(term, "window_safe", False))

    def _extra_identity(self) -> tuple:
        return (self._asset.sid,)

    @property
    def asset(self) -> Any:
        return self._asset

    def _validate(self) -> None:
        pass

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        col = ws.column_of(self._asset)
        return ws.values(self.inputs[0], lo, hi)[:, [col]]

    def __repr__(self) -> str:
        return f"{self.inputs[0]!r}[{self._asset!r}]"


_PERIODS = ("year_start", "quarter_start", "month_start", "week_start")


def period_labels(sessions: np.ndarray, frequency: str) -> np.ndarray:
    """An integer label per session that changes exactly when a new year/quarter/month/week starts."""
    days = sessions.astype("datetime64[D]")
    if frequency == "year_start":
        return days.astype("datetime64[Y]").astype(np.int64)
    months = days.astype("datetime64[M]").astype(np.int64)
    if frequency == "month_start":
        return months
    if frequency == "quarter_start":
        return months // 3
    if frequency == "week_start":
        return (days.astype(np.int64) + 3) // 7  # weeks Monday..Sunday (1970-01-01 was a Thursday)
    raise PipelineError(f"downsample frequency must be one of {_PERIODS}, not {frequency!r}")


class Downsampled(ComputableTerm):
    """A term computed on the first session of each period and held until the next period starts."""

    window_length = 0

    @classmethod
    def wrap(cls, term: Term, frequency: str) -> Term:
        if frequency not in _PERIODS:
            raise PipelineError(f"downsample frequency must be one of {_PERIODS}, not {frequency!r}")
        from runtime.pipeline.classifiers import Classifier
        from runtime.pipeline.factors import Factor
        from runtime.pipeline.filters import Filter

        for base, name in ((Factor, "DownsampledFactor"), (Filter, "DownsampledFilter"),
                           (Classifier, "DownsampledClassifier")):
            if isinstance(term, base):
                kind = type(name, (Downsampled, base), {})
                return kind(term, frequency)
        raise PipelineError(f"{term!r} cannot be downsampled")

    def __init__(self, term: Term, frequency: str) -> None:
        self._wrapped = term
        self._frequency = frequency
        super().__init__(inputs=(), outputs=term.outputs, window_length=0, mask=term.mask, dtype=term.dtype,
                         missing_value=term.missing_value, ndim=term.ndim, window_safe=False)

    def dependencies(self) -> list[Term]:
        return []

    def _extra_identity(self) -> tuple:
        return (self._wrapped.key, self._frequency)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        first = ws.period_starts(self._frequency, lo, hi)  # for each date row, the row its period started on
        values = ws.subcompute(self._wrapped, int(first[0]), hi)
        return values[first - first[0]]


class IfElse(ComputableTerm):
    """``condition.if_else(if_true, if_false)``: values of ``if_true`` where the condition holds, else
    ``if_false``."""

    window_length = 0

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        cond, a, b = (ws.values(t, lo, hi) for t in self.inputs)
        if self.dtype == OBJECT:
            return np.where(cond, a.astype(object), b.astype(object))
        return np.where(cond, a, b)
