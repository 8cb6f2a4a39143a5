"""Factors: terms with numeric (float64) values per asset and day, and the operations on them.

Arithmetic (``+ - * / ** %``, unary ``-``, ``log()``, ``sqrt()``, ``abs()``...) with numbers and factors gives
factors; comparisons (``< <= > >= !=``, ``eq``) give filters; ``rank``, ``zscore``, ``demean``, ``winsorize``
(optionally grouped by a classifier and restricted by a mask), ``top``, ``bottom``, ``percentile_between``,
``quantiles``, ``isnan``/``notnan``/``isfinite`` follow zipline's semantics: a ``mask`` is applied before ranking or
normalising (masked-out assets neither get a value nor count), NaN never gets a rank, and ties in the default
'ordinal' rank go to the asset with the lower sid.
"""

from __future__ import annotations

import math
import warnings
from numbers import Number
from typing import TYPE_CHECKING, Any

import numpy as np

from runtime.pipeline.errors import PipelineError
from runtime.pipeline.mixins import WindowedMixin
from runtime.pipeline.term import FLOAT, INT, OBJECT, ComputableTerm, NotSpecified, Term

if TYPE_CHECKING:
    from runtime.pipeline.engine import Workspace

_BINOPS: dict[str, Any] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "**": np.power, "%": np.fmod,
}
_COMPARISONS: dict[str, Any] = {
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "!=": np.not_equal,
    "==": np.equal,
}
_MATH = {
    "log": np.log, "log10": np.log10, "log1p": np.log1p, "exp": np.exp, "expm1": np.expm1, "sqrt": np.sqrt,
    "abs": np.abs, "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "arcsinh": np.arcsinh,
    "arccosh": np.arccosh, "arctanh": np.arctanh,
}
RANK_METHODS = frozenset({"average", "min", "max", "dense", "ordinal"})


class _Quiet:
    def __enter__(self) -> None:
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        self._e = np.errstate(all="ignore")
        self._e.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._e.__exit__(*exc)
        self._w.__exit__(*exc)


quiet = _Quiet


def _operand(value: Any, who: str) -> Any:
    if isinstance(value, Term):
        return value
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, Number | np.number):
        return float(value)  # type: ignore[arg-type]
    raise PipelineError(f"{who}: cannot combine a factor with {value!r} (use numbers or other factors)")


class Factor(ComputableTerm):
    """A term with a float64 value per asset and day."""

    dtype = FLOAT
    window_safe = False

    # ------------------------------------------------------------------------------------------ arithmetic
    def _binop(self, op: str, other: Any, reflected: bool = False) -> Factor:
        other = _operand(other, f"factor {op}")
        if isinstance(other, Term) and other.dtype != FLOAT:
            raise PipelineError(f"arithmetic ({op}) works between float factors only, not with {other!r}")
        left, right = (other, self) if reflected else (self, other)
        return BinaryFactor(op, left, right)

    def __add__(self, other: Any) -> Factor:
        return self._binop("+", other)

    def __radd__(self, other: Any) -> Factor:
        return self._binop("+", other, True)

    def __sub__(self, other: Any) -> Factor:
        return self._binop("-", other)

    def __rsub__(self, other: Any) -> Factor:
        return self._binop("-", other, True)

    def __mul__(self, other: Any) -> Factor:
        return self._binop("*", other)

    def __rmul__(self, other: Any) -> Factor:
        return self._binop("*", other, True)

    def __truediv__(self, other: Any) -> Factor:
        return self._binop("/", other)

    def __rtruediv__(self, other: Any) -> Factor:
        return self._binop("/", other, True)

    def __pow__(self, other: Any) -> Factor:
        return self._binop("**", other)

    def __rpow__(self, other: Any) -> Factor:
        return self._binop("**", other, True)

    def __mod__(self, other: Any) -> Factor:
        return self._binop("%", other)

    def __rmod__(self, other: Any) -> Factor:
        return self._binop("%", other, True)

    def __neg__(self) -> Factor:
        return MathFactor("neg", self)

    def __abs__(self) -> Factor:
        return MathFactor("abs", self)

    def _compare(self, op: str, other: Any) -> Any:
        from runtime.pipeline.filters import ComparisonFilter

        other = _operand(other, f"factor {op}")
        if isinstance(other, Term) and other.dtype != self.dtype:
            raise PipelineError(f"comparisons ({op}) work between factors of the same dtype only")
        return ComparisonFilter(op, self, other)

    def __lt__(self, other: Any) -> Any:
        return self._compare("<", other)

    def __le__(self, other: Any) -> Any:
        return self._compare("<=", other)

    def __gt__(self, other: Any) -> Any:
        return self._compare(">", other)

    def __ge__(self, other: Any) -> Any:
        return self._compare(">=", other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self._compare("!=", other)

    __hash__ = ComputableTerm.__hash__

    def eq(self, other: Any) -> Any:
        """A filter: True where the factor equals ``other`` (``==`` keeps Python's identity meaning)."""
        return self._compare("==", other)

    # ------------------------------------------------------------------------------------ normalisations
    def demean(self, mask: Any = NotSpecified, groupby: Any = NotSpecified) -> Factor:
        """Subtract the mean across assets (per group with ``groupby``), among assets passing ``mask``."""
        return GroupedRowTransform("demean", (), self, groupby, mask, window_safe=self.window_safe)

    def zscore(self, mask: Any = NotSpecified, groupby: Any = NotSpecified) -> Factor:
        """(value - mean) / standard deviation (ddof 0) across assets (per group), among assets passing
        ``mask``."""
        return GroupedRowTransform("zscore", (), self, groupby, mask, window_safe=True)

    def rank(self, method: str = "ordinal", ascending: bool = True, mask: Any = NotSpecified,
             groupby: Any = NotSpecified) -> Factor:
        """Rank across assets each day (1 = smallest with ``ascending``). NaN and masked-out assets get NaN and
        are not counted. ``method`` as scipy.stats.rankdata; 'ordinal' (default) breaks ties by sid."""
        if method not in RANK_METHODS:
            raise PipelineError(f"unknown rank method {method!r}: use one of {sorted(RANK_METHODS)}")
        if groupby is NotSpecified:
            return Rank(self, method, ascending, mask)
        return GroupedRowTransform("rank", (method, ascending), self, groupby, mask, window_safe=True)

    def winsorize(self, min_percentile: float, max_percentile: float, mask: Any = NotSpecified,
                  groupby: Any = NotSpecified) -> Factor:
        """Clip values below/above the given percentiles (0..1) of each day's values to those percentiles."""
        if not 0.0 <= min_percentile < max_percentile <= 1.0:
            raise PipelineError(f"winsorize needs 0 <= min_percentile < max_percentile <= 1, got "
                                f"{min_percentile}, {max_percentile}")
        return GroupedRowTransform("winsorize", (min_percentile, max_percentile), self, groupby, mask,
                                   window_safe=self.window_safe)

    def quantiles(self, bins: int, mask: Any = NotSpecified) -> Any:
        """A classifier: 0..bins-1 by equal-count buckets of each day's values (pandas.qcut); -1 where missing."""
        from runtime.pipeline.classifiers import Quantiles

        if mask is NotSpecified:
            mask = self.mask
        return Quantiles(inputs=(self,), bins=bins, mask=mask)

    def quartiles(self, mask: Any = NotSpecified) -> Any:
        return self.quantiles(4, mask)

    def quintiles(self, mask: Any = NotSpecified) -> Any:
        return self.quantiles(5, mask)

    def deciles(self, mask: Any = NotSpecified) -> Any:
        return self.quantiles(10, mask)

    def top(self, N: int, mask: Any = NotSpecified, groupby: Any = NotSpecified) -> Any:
        """A filter: the N assets with the highest values each day (per group), ties to the lower sid."""
        if N == 1:
            from runtime.pipeline.filters import MaximumFilter

            return MaximumFilter(self, groupby, mask)
        return self.rank(ascending=False, mask=mask, groupby=groupby) <= N

    def bottom(self, N: int, mask: Any = NotSpecified, groupby: Any = NotSpecified) -> Any:
        """A filter: the N assets with the lowest values each day (per group), ties to the lower sid."""
        return self.rank(ascending=True, mask=mask, groupby=groupby) <= N

    def percentile_between(self, min_percentile: float, max_percentile: float, mask: Any = NotSpecified) -> Any:
        """A filter: values between the day's ``min_percentile`` and ``max_percentile`` (0..100), inclusive."""
        from runtime.pipeline.filters import PercentileFilter

        return PercentileFilter(self, min_percentile, max_percentile, mask)

    def isnan(self) -> Any:
        """A filter: True where the value is NaN (for existing assets)."""
        return self != self

    def notnan(self) -> Any:
        """A filter: True where the value is not NaN."""
        return ~self.isnan()

    def notnull(self) -> Any:
        return self.notnan()

    def isnull(self) -> Any:
        return self.isnan()

    def isfinite(self) -> Any:
        """A filter: True where the value is finite (not NaN, not +-inf)."""
        return (self > -math.inf) & (self < math.inf)

    def clip(self, min_bound: float, max_bound: float, mask: Any = NotSpecified) -> Factor:
        """Values limited to [min_bound, max_bound]."""
        return Clip(inputs=[self], min_bound=min_bound, max_bound=max_bound)

    def fillna(self, fill_value: float) -> Factor:
        """NaN replaced by ``fill_value``."""
        return FillNaFactor(self, float(fill_value))

    def pearsonr(self, target: Term, correlation_length: int, mask: Any = NotSpecified) -> Factor:
        from runtime.pipeline.builtin_factors import RollingPearson

        return RollingPearson(self, target, correlation_length, mask)

    def spearmanr(self, target: Term, correlation_length: int, mask: Any = NotSpecified) -> Factor:
        from runtime.pipeline.builtin_factors import RollingSpearman

        return RollingSpearman(self, target, correlation_length, mask)

    def linear_regression(self, target: Term, regression_length: int, mask: Any = NotSpecified) -> Factor:
        from runtime.pipeline.builtin_factors import RollingLinearRegression

        return RollingLinearRegression(self, target, regression_length, mask)


def _math_method(name: str) -> Any:
    def method(self: Factor) -> Factor:
        return MathFactor(name, self)

    method.__name__ = name
    method.__doc__ = f"numpy.{name} of the factor's values."
    return method


for _name in _MATH:
    if _name != "abs":
        setattr(Factor, _name, _math_method(_name))
Factor.abs = _math_method("abs")  # type: ignore[attr-defined]


class BinaryFactor(Factor):
    """``left op right`` for factors and numbers."""

    window_length = 0

    def __init__(self, op: str, left: Any, right: Any) -> None:
        self._op = op
        self._operands = (left, right)
        terms = [t for t in (left, right) if isinstance(t, Term)]
        super().__init__(inputs=terms, window_length=0,
                         window_safe=all(getattr(t, "window_safe", False) for t in terms))

    def _extra_identity(self) -> tuple:
        return (self._op, tuple(o.key if isinstance(o, Term) else o for o in self._operands))

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        a, b = (ws.values(o, lo, hi) if isinstance(o, Term) else o for o in self._operands)
        with quiet():
            return _BINOPS[self._op](a, b).astype(FLOAT, copy=False)

    def __repr__(self) -> str:
        return f"({self._operands[0]!r} {self._op} {self._operands[1]!r})"


class MathFactor(Factor):
    """A numpy function (or negation) applied to a factor."""

    window_length = 0

    def __init__(self, func: str, term: Term) -> None:
        self._func = func
        super().__init__(inputs=[term], window_length=0, window_safe=getattr(term, "window_safe", False))

    def _extra_identity(self) -> tuple:
        return (self._func,)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        x = ws.values(self.inputs[0], lo, hi)
        with quiet():
            return np.negative(x) if self._func == "neg" else _MATH[self._func](x)


class FillNaFactor(Factor):
    window_length = 0

    def __init__(self, term: Term, value: float) -> None:
        self._value = value
        super().__init__(inputs=[term], window_length=0, window_safe=getattr(term, "window_safe", False))

    def _extra_identity(self) -> tuple:
        return (self._value,)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        x = ws.values(self.inputs[0], lo, hi)
        return np.where(np.isnan(x), self._value, x)


def rank_rows(data: np.ndarray, missing: np.ndarray, method: str, ascending: bool) -> np.ndarray:
    """Row-wise ranks of ``data`` ignoring ``missing`` entries (which get NaN): zipline's masked rank.

    'ordinal' is a stable sort (ties to the lower column); other methods are scipy.stats.rankdata's over the
    entries that are not missing.
    """
    x = np.where(missing, np.nan, data.astype(FLOAT, copy=False))
    if not ascending:
        x = -x
    n, m = x.shape
    if method == "ordinal":
        order = np.argsort(x, axis=1, kind="stable")
        out = np.empty((n, m), dtype=FLOAT)
        np.put_along_axis(out, order, np.broadcast_to(np.arange(1, m + 1, dtype=FLOAT), (n, m)), axis=1)
    else:
        from scipy.stats import rankdata

        out = np.full((n, m), np.nan)
        for i in range(n):
            ok = ~np.isnan(x[i])
            if ok.any():
                out[i, ok] = rankdata(x[i, ok], method=method)
    out[missing | np.isnan(x)] = np.nan
    return out


class Rank(Factor):
    """A factor's rank across assets each day (see :meth:`Factor.rank`)."""

    window_length = 0
    window_safe = True

    def __init__(self, factor: Term, method: str = "ordinal", ascending: bool = True, mask: Any = NotSpecified):
        self._method = method
        self._ascending = ascending
        super().__init__(inputs=(factor,), window_length=0, mask=mask)

    def _extra_identity(self) -> tuple:
        return (self._method, self._ascending)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        data = ws.values(self.inputs[0], lo, hi)
        mask = ws.values(self.mask, lo, hi)
        missing = ~mask | _is_missing(data, self.inputs[0].missing_value)
        return rank_rows(data, missing, self._method, self._ascending)


def _is_missing(data: np.ndarray, missing_value: Any) -> np.ndarray:
    if data.dtype == FLOAT:
        return np.isnan(data)
    if data.dtype == OBJECT:
        return np.array([v is None or v == missing_value for v in data.ravel()]).reshape(data.shape)
    return data == missing_value


def _demean(row: np.ndarray) -> np.ndarray:
    return row - np.nanmean(row)


def _zscore(row: np.ndarray) -> np.ndarray:
    return (row - np.nanmean(row)) / np.nanstd(row)


def _winsorize(row: np.ndarray, lo_pct: float, hi_pct: float) -> np.ndarray:
    a = row.copy()
    nan_count = int(np.isnan(row).sum())
    nonnan = a.size - nan_count
    idx = a.argsort()
    if lo_pct > 0:
        cut = int(lo_pct * nonnan)
        if cut < a.size:
            a[idx[:cut]] = a[idx[cut]]
    if hi_pct < 1:
        cut = math.ceil(nonnan * hi_pct)
        if 0 < cut < nonnan:
            end = -nan_count if nan_count else None
            a[idx[cut:end]] = a[idx[cut - 1]]
    return a


def _rank_group(row: np.ndarray, method: str, ascending: bool) -> np.ndarray:
    return rank_rows(row[None, :], np.isnan(row)[None, :], method, ascending)[0]


_TRANSFORMS = {"demean": _demean, "zscore": _zscore, "winsorize": _winsorize, "rank": _rank_group}


class GroupedRowTransform(Factor):
    """demean / zscore / winsorize / grouped rank of a factor, per day and per group, among masked-in assets."""

    window_length = 0

    def __init__(self, transform: str, args: tuple, factor: Term, groupby: Any, mask: Any,
                 window_safe: bool = False) -> None:
        from runtime.pipeline.classifiers import Classifier, Everything

        if not isinstance(factor, Factor) or factor.dtype != FLOAT:
            raise PipelineError(f"{transform}() works on float factors only")
        mask = factor.mask if mask is NotSpecified else mask & factor.mask
        if groupby is NotSpecified:
            groupby = Everything(mask=mask)
        elif not isinstance(groupby, Classifier):
            raise PipelineError(f"{transform}(groupby=...) needs a Classifier (e.g. Sector()), not {groupby!r}")
        self._transform = transform
        self._args = args
        super().__init__(inputs=(factor, groupby), window_length=0, mask=mask, window_safe=window_safe)

    def _extra_identity(self) -> tuple:
        return (self._transform, self._args)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        data = ws.values(self.inputs[0], lo, hi)
        labels, null = self.inputs[1].integral(ws.values(self.inputs[1], lo, hi))
        mask = ws.values(self.mask, lo, hi)
        labels = np.where(mask, labels, null)
        out = np.full(data.shape, np.nan)
        valid = labels != null
        with quiet():
            if self._transform in ("demean", "zscore") and type(self.inputs[1]).__name__ == "Everything":
                x = np.where(valid, data, np.nan)
                mean = np.nanmean(x, axis=1, keepdims=True)
                res = x - mean
                if self._transform == "zscore":
                    res = res / np.nanstd(x, axis=1, keepdims=True)
                out = np.where(valid, res, np.nan)
                return out
            func = _TRANSFORMS[self._transform]
            for i in range(data.shape[0]):
                row_labels = labels[i]
                for g in np.unique(row_labels[valid[i]]):
                    locs = row_labels == g
                    out[i, locs] = func(data[i, locs], *self._args)
        return out


class CustomFactor(WindowedMixin, Factor):
    """A user factor: subclass it, set ``inputs``, ``window_length`` (and optionally ``params``, ``outputs``,
    ``mask``, ``dtype``, ``window_safe``) and define ``compute(self, today, assets, out, *inputs)``.

    ``compute`` is called once per session with ``today`` (the session, a pandas Timestamp), ``assets`` (the sids of
    the assets passing the mask), ``out`` (write the results there: ``out[:] = ...``, or ``out.<name>[:] = ...``
    with several outputs) and one array of shape (window_length, len(assets)) per input, oldest row first, whose last
    row is the previous session's close. Values are NaN where an asset had no data (not listed yet).
    """

    dtype = FLOAT

    def __getattribute__(self, name: str) -> Any:
        outputs = object.__getattribute__(self, "__dict__").get("outputs", NotSpecified)
        if outputs is not NotSpecified and name in outputs:
            return RecarrayField(self, name)
        return object.__getattribute__(self, name)

    def __iter__(self) -> Any:
        if self.outputs is NotSpecified:
            raise PipelineError(f"{type(self).__name__} does not have multiple outputs")
        return (RecarrayField(self, name) for name in self.outputs)

    def _validate(self) -> None:
        super()._validate()
        if not self.windowed:
            raise PipelineError(f"{type(self).__name__} needs a positive window_length")
        if self.dtype not in (FLOAT, INT):
            raise PipelineError(f"{type(self).__name__}: a CustomFactor's dtype must be float64 (did you mean "
                                "CustomFilter or CustomClassifier?)")


class RecarrayField(Factor):
    """One named output of a multi-output CustomFactor."""

    window_length = 0

    def __init__(self, factor: CustomFactor, attribute: str) -> None:
        self._attribute = attribute
        super().__init__(inputs=[factor], window_length=0, mask=factor.mask, dtype=factor.dtype,
                         missing_value=factor.missing_value, window_safe=factor.window_safe)

    def _extra_identity(self) -> tuple:
        return (self._attribute,)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        return np.asarray(ws.values(self.inputs[0], lo, hi)[self._attribute])

    def __repr__(self) -> str:
        return f"{self.inputs[0]!r}.{self._attribute}"


class Latest(CustomFactor):
    """The latest value of a data column (``USEquityPricing.close.latest``): the previous session's value."""

    window_length = 1
    _vectorised = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        return windows[0][:, -1, :]

    def __repr__(self) -> str:
        return f"{self.inputs[0]!r}.latest"


class Clip(CustomFactor):
    """Values limited to [min_bound, max_bound]."""

    window_length = 1
    params = ("min_bound", "max_bound")
    window_safe = True
    _vectorised = True

    def _compute_windows(self, windows: list[np.ndarray], min_bound: float, max_bound: float) -> np.ndarray:
        return np.clip(windows[0][:, -1, :], min_bound, max_bound)



def __getattr__(name: str) -> Any:
    """The built-in factors are importable from here too (``from runtime.pipeline.factors import RSI``)."""
    from runtime.pipeline import builtin_factors

    if not name.startswith("_") and hasattr(builtin_factors, name):
        return getattr(builtin_factors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
