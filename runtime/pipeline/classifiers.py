"""Classifiers: terms with a group label per asset and day (int64 with -1 for missing, or text with None).

They group ``rank``/``zscore``/``demean``/``winsorize``/``top``/``bottom`` (``groupby=``) and give filters with
``eq``, ``!=``, ``isnull``, ``notnull``, ``element_of``, ``startswith``... ``factor.quantiles(n)`` is one.
"""

from __future__ import annotations

from numbers import Number
from typing import TYPE_CHECKING, Any

import numpy as np

from runtime.pipeline.errors import PipelineError
from runtime.pipeline.filters import ArrayPredicate, NullFilter
from runtime.pipeline.mixins import WindowedMixin
from runtime.pipeline.term import FLOAT, INT, OBJECT, ComputableTerm

if TYPE_CHECKING:
    from runtime.pipeline.engine import Workspace


def _eq(values: np.ndarray, other: Any) -> np.ndarray:
    return values == other


def _ne_present(values: np.ndarray, other: Any, missing: Any) -> np.ndarray:
    return (values != other) & ~_missing(values, missing)


def _missing(values: np.ndarray, missing: Any) -> np.ndarray:
    if values.dtype == OBJECT:
        return np.frompyfunc(lambda v: v is None or v == missing, 1, 1)(values).astype(bool)
    return values == missing


def _element_of(values: np.ndarray, choices: frozenset) -> np.ndarray:
    if values.dtype == OBJECT:
        return np.frompyfunc(lambda v: v in choices, 1, 1)(values).astype(bool)
    return np.isin(values, np.array(sorted(choices)))


def _str_test(method: str) -> Any:
    def test(values: np.ndarray, arg: Any) -> np.ndarray:
        import re

        if method == "matches":
            rx = re.compile(arg)
            return np.frompyfunc(lambda v: isinstance(v, str) and rx.match(v) is not None, 1, 1)(values).astype(bool)
        if method == "has_substring":
            return np.frompyfunc(lambda v: isinstance(v, str) and arg in v, 1, 1)(values).astype(bool)
        return np.frompyfunc(lambda v: isinstance(v, str) and getattr(v, method)(arg), 1, 1)(values).astype(bool)

    test.__name__ = method
    return test


class Classifier(ComputableTerm):
    """A term with a categorical label per asset and day."""

    dtype = INT
    window_safe = False

    def _check_value(self, other: Any, what: str) -> None:
        if self.dtype == INT and not (isinstance(other, Number | np.integer) and not isinstance(other, bool)):
            raise PipelineError(f"{what}: an int classifier compares with integers, not {other!r}")
        if self.dtype == OBJECT and not isinstance(other, str | bytes):
            raise PipelineError(f"{what}: a text classifier compares with strings, not {other!r}")

    def eq(self, other: Any) -> Any:
        """A filter: True where the label equals ``other``."""
        self._check_value(other, "eq")
        if other == self.missing_value:
            raise PipelineError(f"comparing a classifier with its missing value {other!r}: use isnull() instead")
        return ArrayPredicate(self, _eq, (other,))

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        self._check_value(other, "!=")
        return ArrayPredicate(self, _ne_present, (other, self.missing_value))

    __hash__ = ComputableTerm.__hash__

    def isnull(self) -> Any:
        """A filter: True where the label is missing."""
        return NullFilter(self)

    def notnull(self) -> Any:
        """A filter: True where the label is present."""
        return NullFilter(self, negate=True)

    def element_of(self, choices: Any) -> Any:
        """A filter: True where the label is one of ``choices``."""
        try:
            choices = frozenset(choices)
        except TypeError:
            raise PipelineError(f"element_of needs an iterable of labels, not {choices!r}") from None
        if self.missing_value in choices:
            raise PipelineError(f"element_of choices include the missing value {self.missing_value!r}: use "
                                "isnull() for that")
        for c in choices:
            self._check_value(c, "element_of")
        return ArrayPredicate(self, _element_of, (choices,))

    def startswith(self, prefix: str) -> Any:
        return ArrayPredicate(self, _str_test("startswith"), (prefix,))

    def endswith(self, suffix: str) -> Any:
        return ArrayPredicate(self, _str_test("endswith"), (suffix,))

    def has_substring(self, substring: str) -> Any:
        return ArrayPredicate(self, _str_test("has_substring"), (substring,))

    def matches(self, pattern: str) -> Any:
        return ArrayPredicate(self, _str_test("matches"), (pattern,))

    def integral(self, values: np.ndarray) -> tuple[np.ndarray, Any]:
        """Integer group labels for ``values`` and the label that means "missing"."""
        if values.dtype == OBJECT:
            flat = values.ravel()
            present = np.array([v is not None and v == v for v in flat], dtype=bool)
            codes = np.full(flat.shape, -1, dtype=np.int64)
            if present.any():
                _, inv = np.unique(flat[present].astype(str), return_inverse=True)
                codes[present] = inv
            return codes.reshape(values.shape), -1
        return values.astype(np.int64, copy=False), self.missing_value

    def peer_count(self, mask: Any = None) -> Any:
        """A factor: how many assets share each asset's label that day."""
        from runtime.pipeline.builtin_factors import PeerCount

        return PeerCount(inputs=[self], **({} if mask is None else {"mask": mask}))


class Everything(Classifier):
    """One group holding every asset passing the mask (label 0; -1 elsewhere)."""

    window_length = 0
    inputs = ()
    missing_value = -1

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        return np.where(ws.values(self.mask, lo, hi), 0, -1).astype(np.int64)


class Quantiles(Classifier):
    """0..bins-1 by equal-count buckets of each day's masked-in values (as pandas.qcut labels); -1 missing."""

    window_length = 0
    params = ("bins",)
    missing_value = -1

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        from runtime.pipeline.factors import quiet

        bins = int(self.params["bins"])
        data = np.where(ws.values(self.mask, lo, hi), ws.values(self.inputs[0], lo, hi), np.nan).astype(FLOAT)
        with quiet():
            edges = np.nanquantile(data, np.linspace(0, 1, bins + 1), axis=1)  # (bins + 1, n_dates)
        labels = np.zeros(data.shape, dtype=np.int64)
        for j in range(1, bins):
            labels += data > edges[j][:, None]
        labels[np.isnan(data)] = -1
        return labels


class CustomClassifier(WindowedMixin, Classifier):
    """A user classifier: like CustomFactor, with an int64 (or text) ``out``."""

    def _validate(self) -> None:
        super()._validate()
        if not self.windowed:
            raise PipelineError(f"{type(self).__name__} needs a positive window_length")


class LatestClassifier(CustomClassifier):
    """The latest value of an int or text data column."""

    window_length = 1
    _vectorised = True

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        return windows[0][:, -1, :]


class Relabel(Classifier):
    """A text classifier's labels mapped through a function."""

    window_length = 0

    def __init__(self, term: Classifier, relabeler: Any) -> None:
        self._relabeler = relabeler
        super().__init__(inputs=[term], window_length=0, mask=term.mask, dtype=term.dtype,
                         missing_value=term.missing_value)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        values = ws.values(self.inputs[0], lo, hi)
        return np.frompyfunc(lambda v: v if v is None else self._relabeler(v), 1, 1)(values)


Classifier.relabel = lambda self, relabeler: Relabel(self, relabeler)  # type: ignore[attr-defined]
