"""Filters: boolean terms (True/False per asset and day), used as a pipeline's screen and as masks.

``a & b``, ``a | b`` and ``~a`` combine filters (the result is False for assets that do not exist that day, as in
zipline); ``StaticAssets``/``StaticSids`` pick fixed assets; ``All``, ``Any``, ``AtLeastN`` look at a filter's
window; ``f.if_else(x, y)`` chooses between two terms; ``f.downsample('month_start')`` holds a monthly value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from runtime.pipeline.errors import PipelineError
from runtime.pipeline.mixins import IfElse, WindowedMixin
from runtime.pipeline.term import BOOL, FLOAT, OBJECT, ComputableTerm, NotSpecified, Term

if TYPE_CHECKING:
    from runtime.pipeline.engine import Workspace

_OPS = {"&": np.logical_and, "|": np.logical_or}


class Filter(ComputableTerm):
    """A term with a boolean value per asset and day."""

    dtype = BOOL
    window_safe = True

    def _bool_op(self, op: str, other: Any) -> Filter:
        if isinstance(other, bool | int) and not isinstance(other, Term):
            other = bool(other)
        elif not isinstance(other, Term) or other.dtype != BOOL:
            raise PipelineError(f"filter {op} needs another Filter, not {other!r}")
        return BoolOpFilter(op, self, other)

    def __and__(self, other: Any) -> Filter:
        return self._bool_op("&", other)

    def __rand__(self, other: Any) -> Filter:
        return self._bool_op("&", other)

    def __or__(self, other: Any) -> Filter:
        return self._bool_op("|", other)

    def __ror__(self, other: Any) -> Filter:
        return self._bool_op("|", other)

    def __invert__(self) -> Filter:
        return NotFilter(self)

    def if_else(self, if_true: Term, if_false: Term) -> Term:
        """``if_true``'s values where this filter is True, else ``if_false``'s (both of the same kind and dtype)."""
        from runtime.pipeline.classifiers import Classifier
        from runtime.pipeline.factors import Factor

        for base, name in ((Factor, "IfElseFactor"), (Filter, "IfElseFilter"), (Classifier, "IfElseClassifier")):
            if isinstance(if_true, base):
                if not isinstance(if_false, base):
                    raise PipelineError("if_else needs two terms of the same kind (two factors, two filters or two "
                                        f"classifiers), got {if_true!r} and {if_false!r}")
                if if_true.dtype != if_false.dtype:
                    raise PipelineError(f"if_else needs terms of the same dtype, got {if_true.dtype} and "
                                        f"{if_false.dtype}")
                kind = type(name, (IfElse, base), {})
                return kind(inputs=[self, if_true, if_false], window_length=0, dtype=if_true.dtype,
                            missing_value=if_true.missing_value,
                            window_safe=self.window_safe and if_true.window_safe and if_false.window_safe)
        raise PipelineError(f"if_else needs factors, filters or classifiers, not {if_true!r}")


class AssetExists(Filter):
    """The root mask: True where the asset has data before the session (listed, not yet delisted).

    An asset exists on session D when its first bar is before D and its last bar is on or after the session
    before D, or it is still trading at the end of the data (zipline's lifetimes with ``include_start_date=False``).
    """

    _instance: AssetExists | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> AssetExists:
        if cls._instance is None:
            inst = super().__new__(cls)
            inst.inputs = ()
            inst.outputs = NotSpecified
            inst.window_length = 0
            inst.dtype = BOOL
            inst.missing_value = False
            inst.ndim = 2
            inst.window_safe = True
            inst.params = {}
            inst.mask = inst
            cls._instance = inst
        return cls._instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def dependencies(self) -> list[Term]:
        return []

    def _identity(self) -> tuple:
        return ("AssetExists",)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        return ws.exists(lo, hi)

    def __repr__(self) -> str:
        return "AssetExists()"


class _BinaryFilter(Filter):
    """``left op right`` where either side may be a term or a constant."""

    window_length = 0

    def __init__(self, op: str, left: Term, right: Any) -> None:
        self._op = op
        self._operands = (left, right)
        super().__init__(inputs=[t for t in (left, right) if isinstance(t, Term)], window_length=0)

    def _extra_identity(self) -> tuple:
        return (self._op, tuple(o.key if isinstance(o, Term) else o for o in self._operands))

    def _operand_values(self, ws: Workspace, lo: int, hi: int) -> tuple[Any, Any]:
        a, b = (ws.values(o, lo, hi) if isinstance(o, Term) else o for o in self._operands)
        return a, b

    def __repr__(self) -> str:
        return f"({self._operands[0]!r} {self._op} {self._operands[1]!r})"


class BoolOpFilter(_BinaryFilter):
    """``filter & filter``, ``filter | filter``."""

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        a, b = self._operand_values(ws, lo, hi)
        return _OPS[self._op](a, b) & ws.values(self.mask, lo, hi)


class NotFilter(Filter):
    window_length = 0

    def __init__(self, term: Term) -> None:
        super().__init__(inputs=[term], window_length=0)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        return ~ws.values(self.inputs[0], lo, hi) & ws.values(self.mask, lo, hi)

    def __repr__(self) -> str:
        return f"~{self.inputs[0]!r}"


class ComparisonFilter(_BinaryFilter):
    """``factor op other``: False where either side is NaN or the asset does not exist."""

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        from runtime.pipeline.factors import _COMPARISONS, quiet

        a, b = self._operand_values(ws, lo, hi)
        with quiet():
            return _COMPARISONS[self._op](a, b) & ws.values(self.mask, lo, hi)


class NullFilter(Filter):
    """True where a term's value is missing (NaN / -1 / None)."""

    window_length = 0

    def __init__(self, term: Term, negate: bool = False) -> None:
        self._negate = negate
        super().__init__(inputs=[term], window_length=0)

    def _extra_identity(self) -> tuple:
        return (self._negate,)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        from runtime.pipeline.factors import _is_missing

        missing = _is_missing(ws.values(self.inputs[0], lo, hi), self.inputs[0].missing_value)
        return ~missing if self._negate else missing


class PercentileFilter(Filter):
    """Values between the day's ``min_percentile`` and ``max_percentile`` (0..100) of the masked-in values."""

    window_length = 0

    def __init__(self, factor: Term, min_percentile: float, max_percentile: float, mask: Any = NotSpecified):
        if not 0.0 <= min_percentile < max_percentile <= 100.0:
            raise PipelineError(f"percentile_between needs 0 <= min < max <= 100, got {min_percentile}, "
                                f"{max_percentile}")
        self._bounds = (float(min_percentile), float(max_percentile))
        super().__init__(inputs=[factor], window_length=0, mask=mask)

    def _extra_identity(self) -> tuple:
        return self._bounds

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        from runtime.pipeline.factors import quiet

        data = ws.values(self.inputs[0], lo, hi).astype(FLOAT, copy=True)
        data[~ws.values(self.mask, lo, hi)] = np.nan
        with quiet():
            lower = np.nanpercentile(data, self._bounds[0], axis=1, keepdims=True)
            upper = np.nanpercentile(data, self._bounds[1], axis=1, keepdims=True)
            return (lower <= data) & (data <= upper)


class MaximumFilter(Filter):
    """``factor.top(1)``: the asset with the highest value each day (per group); the lower sid wins a tie."""

    window_length = 0

    def __init__(self, factor: Term, groupby: Any, mask: Any) -> None:
        from runtime.pipeline.classifiers import Everything

        if groupby is NotSpecified:
            groupby = Everything()
        super().__init__(inputs=[factor, groupby], window_length=0, mask=mask)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        from runtime.pipeline.factors import _is_missing

        data = ws.values(self.inputs[0], lo, hi)
        labels, null = self.inputs[1].integral(ws.values(self.inputs[1], lo, hi))
        ok = ws.values(self.mask, lo, hi) & (labels != null) & ~_is_missing(data, self.inputs[0].missing_value)
        out = np.zeros(data.shape, dtype=bool)
        x = np.where(ok, data, -np.inf).astype(FLOAT)
        for g in np.unique(labels[ok]):
            in_g = ok & (labels == g)
            xg = np.where(in_g, x, -np.inf)
            best = np.argmax(xg, axis=1)
            rows = np.flatnonzero(in_g.any(axis=1))
            out[rows, best[rows]] = True
        return out


class StaticSids(Filter):
    """True for the assets with the given sids (and existing that day)."""

    window_length = 0

    def __init__(self, sids: Any) -> None:
        self._sids = frozenset(int(s) for s in sids)
        super().__init__(inputs=(), window_length=0)

    def _extra_identity(self) -> tuple:
        return (self._sids,)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        mine = np.isin(ws.sids, np.fromiter(self._sids, dtype=np.int64, count=len(self._sids)))
        return np.broadcast_to(mine, (hi - lo, ws.n_assets)) & ws.values(self.mask, lo, hi)


class StaticAssets(StaticSids):
    """True for the given assets (and existing that day): ``StaticAssets(symbols('AAPL', 'MSFT'))``."""

    def __init__(self, assets: Any) -> None:
        super().__init__(a.sid for a in assets)


class SingleAsset(Filter):
    """True for one asset on every day (zipline's ``SingleAsset``, used for a beta's target)."""

    window_length = 0

    def __init__(self, asset: Any) -> None:
        self._asset = asset
        super().__init__(inputs=(), window_length=0)

    def _extra_identity(self) -> tuple:
        return (self._asset.sid,)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        out = np.zeros((hi - lo, ws.n_assets), dtype=bool)
        out[:, ws.column_of(self._asset)] = True
        return out


class CustomFilter(WindowedMixin, Filter):
    """A user filter: like CustomFactor, with ``out`` a boolean array."""

    def _validate(self) -> None:
        super()._validate()
        if not self.windowed:
            raise PipelineError(f"{type(self).__name__} needs a positive window_length")


class LatestFilter(CustomFilter):
    """The latest value of a bool data column."""

    window_length = 1
    _vectorised = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        return windows[0][:, -1, :].astype(bool)


def _check_bool_input(term: Any, inputs: Any) -> None:
    ins = inputs if inputs is not NotSpecified else getattr(type(term), "inputs", ())
    for t in ins or ():
        if not isinstance(t, Filter):
            raise PipelineError(f"{type(term).__name__} takes a Filter as its input, not {t!r}")


class All(CustomFilter):
    """True where the input filter was True on every day of the window."""

    window_safe = True
    _vectorised = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        return windows[0].sum(axis=1) == self.window_length


class Any_(CustomFilter):
    """True where the input filter was True on at least one day of the window."""

    _vectorised = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        return windows[0].sum(axis=1) > 0


Any_.__name__ = Any_.__qualname__ = "Any"


class AtLeastN(CustomFilter):
    """True where the input filter was True on at least ``N`` days of the window."""

    params = ("N",)
    _vectorised = True

    def _compute_windows(self, windows: list[np.ndarray], N: int) -> np.ndarray:
        return windows[0].sum(axis=1) >= N


class AllPresent(CustomFilter):
    """True where the input has no missing value in the window."""

    _vectorised = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        w = windows[0]
        if w.dtype == FLOAT:
            return ~np.isnan(w).any(axis=1)
        if w.dtype == OBJECT:
            return ~(w == None).any(axis=1)  # noqa: E711
        return ~(w == self.inputs[0].missing_value).any(axis=1)


class ArrayPredicate(Filter):
    """A filter from a function of a term's values (classifier ``element_of``, ``startswith``...)."""

    window_length = 0

    def __init__(self, term: Term, op: Any, opargs: tuple) -> None:
        self._op = op
        self._opargs = opargs
        super().__init__(inputs=[term], window_length=0, mask=term.mask)

    def _extra_identity(self) -> tuple:
        return (self._op, self._opargs)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        return self._op(ws.values(self.inputs[0], lo, hi), *self._opargs) & ws.values(self.mask, lo, hi)
