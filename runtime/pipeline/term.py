"""Terms: the nodes of a pipeline's dependency graph.

A term is computed over a range of *date rows* (session offsets of the run's daily store) for every asset at once,
as a float/bool/int array of shape (n_dates, n_assets). A term with a ``window_length`` sees, for each date, windows
of shape (window_length, n_assets) of its inputs; the engine hands them over as blocks of shape
(n_dates, window_length, n_assets), so built-in terms are vectorised over dates and assets alike, and a user's
``CustomFactor.compute`` is called once per date with the 2-D window (as in zipline).

Semantics follow zipline's pipeline: the value of a term on session D uses data through the close of the session
before D; the default ``mask`` of every computed term is :class:`AssetExists` (the asset has data before D);
masked-out entries hold the term's ``missing_value`` (NaN for factors, False for filters, -1/None for classifiers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from runtime.pipeline.errors import NonWindowSafeInput, PipelineError

if TYPE_CHECKING:
    from runtime.pipeline.engine import Workspace

FLOAT = np.dtype("float64")
BOOL = np.dtype("bool")
INT = np.dtype("int64")
OBJECT = np.dtype("O")


class _NotSpecified:
    """The marker for "argument not given" (zipline's ``NotSpecified``)."""

    _instance: _NotSpecified | None = None

    def __new__(cls) -> _NotSpecified:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NotSpecified"

    def __bool__(self) -> bool:
        return False


NotSpecified = _NotSpecified()


def default_missing(dtype: np.dtype) -> Any:
    """The missing value zipline uses for a dtype: NaN, False, -1 or None."""
    if dtype == FLOAT:
        return np.nan
    if dtype == BOOL:
        return False
    if dtype == INT:
        return -1
    if dtype.kind == "M":
        return np.datetime64("NaT")
    return None


def _identity_part(value: Any) -> Any:
    if isinstance(value, Term):
        return value.key
    if isinstance(value, list | tuple):
        return tuple(_identity_part(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _identity_part(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return frozenset(value)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    return value


class Term:
    """Base of every pipeline node (data columns, factors, filters, classifiers)."""

    dtype: np.dtype = FLOAT
    missing_value: Any = NotSpecified
    window_length: int = 0
    inputs: Any = ()
    outputs: Any = NotSpecified
    mask: Any = NotSpecified
    params: Any = ()
    window_safe: bool = False
    ndim: int = 2

    _key: Any = None

    @property
    def key(self) -> Any:
        """A hashable identity: two terms with the same key compute the same values (computed once per run)."""
        if self._key is None:
            try:
                ident = (type(self), self._identity())
                hash(ident)
            except TypeError:
                ident = (type(self), id(self))
            self._key = ident
        return self._key

    def _identity(self) -> tuple:
        return (id(self),)

    @property
    def windowed(self) -> bool:
        """Whether this term reads windows (window_length > 0) of its inputs."""
        return bool(self.window_length) and self.window_length is not NotSpecified

    def dependencies(self) -> list[Term]:
        """The terms this one reads (its inputs and its mask)."""
        deps = [t for t in self.inputs if isinstance(t, Term)]
        if isinstance(self.mask, Term):
            deps.append(self.mask)
        return deps

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LoadableTerm(Term):
    """A term whose values come from a loader (a bound data column), not from a computation."""


class ComputableTerm(Term):
    """A term computed from other terms.

    Constructor arguments (each also settable as a class attribute, which is the default): ``inputs``,
    ``outputs``, ``window_length``, ``mask``, ``dtype``, ``missing_value``, ``ndim``, ``window_safe`` and the
    term's ``params`` by name.
    """

    def __init__(
        self,
        inputs: Any = NotSpecified,
        outputs: Any = NotSpecified,
        window_length: Any = NotSpecified,
        mask: Any = NotSpecified,
        dtype: Any = NotSpecified,
        missing_value: Any = NotSpecified,
        ndim: Any = NotSpecified,
        window_safe: Any = NotSpecified,
        **kwargs: Any,
    ) -> None:
        cls = type(self)
        self.inputs = tuple(cls.inputs if inputs is NotSpecified else inputs or ())
        self.outputs = cls.outputs if outputs is NotSpecified else outputs
        if self.outputs is not NotSpecified:
            self.outputs = tuple(self.outputs)
        wl = cls.window_length if window_length is NotSpecified else window_length
        self.window_length = wl
        self.dtype = np.dtype(cls.dtype if dtype is NotSpecified else dtype)
        mv = cls.missing_value if missing_value is NotSpecified else missing_value
        self.missing_value = default_missing(self.dtype) if mv is NotSpecified else mv
        self.ndim = cls.ndim if ndim is NotSpecified else ndim
        self.window_safe = cls.window_safe if window_safe is NotSpecified else window_safe
        self.params = self._resolve_params(kwargs)
        m = cls.mask if mask is NotSpecified else mask
        if m is NotSpecified or m is None:
            from runtime.pipeline.filters import AssetExists

            m = AssetExists()
        self.mask = m
        self._validate()

    def _resolve_params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        declared = type(self).params
        if isinstance(declared, dict):
            params = dict(declared)
        else:
            params = {}
            declared = tuple(declared or ())
        names = set(params) | set(declared)
        unexpected = set(kwargs) - names
        if unexpected:
            raise PipelineError(
                f"{type(self).__name__}() got unexpected argument(s) {sorted(unexpected)}; its parameters are "
                f"{sorted(names) or 'none'} (plus inputs, outputs, window_length, mask, dtype, missing_value)"
            )
        params.update(kwargs)
        missing = [n for n in names if n not in params]
        if missing:
            raise PipelineError(f"{type(self).__name__}() needs the parameter(s) {sorted(missing)}")
        return params

    def _validate(self) -> None:
        if self.window_length is NotSpecified or self.window_length is None:
            raise PipelineError(
                f"{type(self).__name__} needs a window_length: pass window_length=N or set it on the class"
            )
        if not isinstance(self.window_length, int | np.integer) or self.window_length < 0:
            raise PipelineError(f"{type(self).__name__}: window_length must be a non-negative integer, "
                                f"not {self.window_length!r}")
        for t in self.inputs:
            if not isinstance(t, Term):
                raise PipelineError(
                    f"{type(self).__name__}: inputs must be pipeline terms such as USEquityPricing.close, "
                    f"not {t!r}"
                )
            if self.windowed and isinstance(t, ComputableTerm) and not t.window_safe and self.window_length > 1:
                raise NonWindowSafeInput(
                    f"{type(self).__name__} cannot take {t!r} as a windowed input: its values depend on the day "
                    "they are seen from (not window-safe); use a window-safe term such as Returns, a rank or "
                    "a zscore, or window_length=1"
                )
        if not isinstance(self.mask, Term) or self.mask.dtype != BOOL:
            raise PipelineError(f"{type(self).__name__}: mask must be a Filter, not {self.mask!r}")

    def _identity(self) -> tuple:
        return (
            _identity_part(self.inputs), self.outputs, self.window_length, self.dtype.str,
            _identity_part(self.missing_value) if not _is_nan(self.missing_value) else "nan",
            self.mask.key if isinstance(self.mask, Term) and self.mask is not self else None,
            _identity_part(self.params), self.ndim, self._extra_identity(),
        )

    def _extra_identity(self) -> tuple:
        return ()

    # ------------------------------------------------------------------------------------------ computing
    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        """Values for date rows ``lo..hi-1``: an array of shape (hi - lo, n_assets) (or (hi - lo, 1) for ndim 1)."""
        raise NotImplementedError

    def apply_mask_and_fill(self, out: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if out.ndim == 2 and out.shape[1] == mask.shape[1]:
            if self.dtype == OBJECT:
                out = out.astype(object)
            out[~mask] = self.missing_value
        return out

    # ---------------------------------------------------------------------------------------- operations
    def __getitem__(self, key: Any) -> Term:
        from runtime.core.assets import Asset

        if isinstance(key, Asset):
            return make_slice(self, key)
        raise PipelineError(f"a term can be indexed by an asset only (e.g. returns[symbol('SPY')]), not {key!r}")

    def downsample(self, frequency: str) -> Term:
        """The term computed on the first session of each period ('year_start', 'quarter_start',
        'month_start', 'week_start') and held for the rest of the period (zipline's ``downsample``)."""
        from runtime.pipeline.mixins import Downsampled

        return Downsampled.wrap(self, frequency)

    def alias(self, name: str) -> Term:
        """The same term (zipline uses aliases for naming in graphs only)."""
        return self


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def make_slice(term: Term, asset: Any) -> Term:
    """``term[asset]``: the term's column for one asset (ndim 1), as an input to another term."""
    from runtime.pipeline.mixins import Slice

    return Slice(term, asset)
