"""Data sets: named columns a pipeline loads (prices from the run's bar store, other data from tables).

``class MyData(DataSet): value = Column(float)`` declares a data set; ``MyData.value`` is a :class:`BoundColumn`, a
term other terms take as an input, and ``MyData.value.latest`` is its most recent value as a factor (a filter for
bool columns, a classifier for int/str columns). ``EquityPricing`` (alias ``USEquityPricing``) holds the daily
open/high/low/close/volume of the run's bar store, adjusted for splits and dividends as of the day computed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from runtime.pipeline.errors import PipelineError
from runtime.pipeline.term import BOOL, FLOAT, INT, OBJECT, LoadableTerm, NotSpecified, default_missing


def _as_dtype(dtype: Any) -> np.dtype:
    if dtype in (str, "str", object, "object", "category"):
        return OBJECT
    try:
        return np.dtype(dtype)
    except TypeError:
        raise PipelineError(f"Column(dtype) must be float, int, bool or str, not {dtype!r}") from None


class Column:
    """A column declaration in a :class:`DataSet` body: ``Column(float)``, ``Column(dtype=bool)``, ``Column(str)``.

    ``missing_value`` defaults to NaN for float, False for bool, -1 for int and None for str.
    """

    def __init__(self, dtype: Any = float, missing_value: Any = NotSpecified, doc: str | None = None,
                 metadata: dict | None = None, currency_aware: bool = False) -> None:
        self.dtype = _as_dtype(dtype)
        if self.dtype not in (FLOAT, BOOL, INT, OBJECT) and self.dtype.kind != "M":
            raise PipelineError(f"Column dtype {self.dtype} is not supported: use float, int, bool or str")
        self.missing_value = default_missing(self.dtype) if missing_value is NotSpecified else missing_value
        self.doc = doc
        self.metadata = metadata or {}

    def bind(self, dataset: type[DataSet], name: str) -> BoundColumn:
        return BoundColumn(dataset, name, self.dtype, self.missing_value, self.doc)


class BoundColumn(LoadableTerm):
    """A column of a data set: an input of windowed terms; ``.latest`` gives its last value as a term."""

    window_safe = True
    window_length = 0

    def __init__(self, dataset: type[DataSet], name: str, dtype: np.dtype, missing_value: Any,
                 doc: str | None = None) -> None:
        self.dataset = dataset
        self.name = name
        self.dtype = dtype
        self.missing_value = missing_value
        self.doc = doc
        self.inputs = ()
        self.mask = NotSpecified

    def _identity(self) -> tuple:
        return (self.dataset.qualname(), self.name)

    @property
    def qualname(self) -> str:
        return f"{self.dataset.qualname()}.{self.name}"

    @property
    def latest(self) -> Any:
        """The column's most recent value (as of the previous session's close) as a Factor, Filter or
        Classifier, by the column's dtype."""
        if self.dtype == FLOAT:
            from runtime.pipeline.factors import Latest

            return Latest(inputs=[self], dtype=self.dtype, missing_value=self.missing_value)
        if self.dtype == BOOL:
            from runtime.pipeline.filters import LatestFilter

            return LatestFilter(inputs=[self])
        from runtime.pipeline.classifiers import LatestClassifier

        return LatestClassifier(inputs=[self], dtype=self.dtype, missing_value=self.missing_value)

    def fx(self, currency: str) -> BoundColumn:
        """Currency conversion is not offered: the column is returned as it is."""
        return self

    def __repr__(self) -> str:
        return f"{self.qualname}::{self.dtype}"


class DataSet:
    """Base of data sets. Subclass it and declare :class:`Column` attributes; read them as ``MyData.col``.

    A DataSet other than ``EquityPricing`` is loaded from a point-in-time table (the ``FUNDAMENTALS_FILE`` setting,
    ``--fundamentals FILE``): its columns are looked up in the table by name.
    """

    _columns: ClassVar[dict[str, BoundColumn]] = {}
    _loader: str = "table"
    #: how the data set is named in messages and graph keys (class name unless set)
    dataset_name: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        columns: dict[str, BoundColumn] = {}
        for base in reversed(cls.__mro__[1:]):
            columns.update(getattr(base, "_columns", {}))
        for name, value in list(vars(cls).items()):
            if isinstance(value, Column):
                columns[name] = value.bind(cls, name)
        for name, bound in list(columns.items()):
            if bound.dataset is not cls:
                columns[name] = BoundColumn(cls, name, bound.dtype, bound.missing_value, bound.doc)
            setattr(cls, name, columns[name])
        cls._columns = columns

    @classmethod
    def qualname(cls) -> str:
        return cls.dataset_name or f"{cls.__module__}.{cls.__qualname__}"

    @classmethod
    def columns(cls) -> frozenset[BoundColumn]:
        """All bound columns of the data set."""
        return frozenset(cls._columns.values())

    @classmethod
    def get_column(cls, name: str) -> BoundColumn:
        try:
            return cls._columns[name]
        except KeyError:
            raise AttributeError(f"{cls.__name__} has no column {name!r}; its columns are "
                                 f"{sorted(cls._columns)}") from None


class EquityPricing(DataSet):
    """Daily open, high, low, close and volume of the run's bar store, split- and dividend-adjusted as of the
    session being computed (volume adjusted for splits). ``USEquityPricing`` is the same data set."""

    _loader = "pricing"
    dataset_name = "EquityPricing"
    open = Column(float)
    high = Column(float)
    low = Column(float)
    close = Column(float)
    volume = Column(float)


USEquityPricing = EquityPricing
