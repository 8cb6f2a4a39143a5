"""Series and DataFrames handed to algorithms, with Quantopian's (pandas 0.18's) integer indexing.

Quantopian-era code indexes price windows by position: ``prices[-1]``, ``hist[-2]``, ``s[-20:]``. pandas 3 no
longer falls back to positions for an integer key on a DatetimeIndex (it raises ``KeyError: -1``) and pandas 2
warns. :class:`AlgoSeries` and :class:`AlgoFrame` restore the old rule for the objects the runtime gives to user
code, without changing pandas for anything else:

- ``s[i]`` / ``s[i] = v`` with an integer ``i`` on an index that does not hold integers (a DatetimeIndex, an index of
  assets or field names) is positional, as in pandas 0.18;
- ``s[a:b]`` with integer bounds is positional on such an index;
- ``df[...]`` is column access as always (``df[-20:]`` slices rows by position, as pandas always did), ``.loc`` and
  ``.iloc`` are unchanged;
- results of arithmetic and methods (``prices / prices[-2]``, ``.rolling(5).mean()``, ``.pct_change()``,
  ``df[asset]``, ``df.iloc[-1]``) are again these classes (pandas' ``_constructor`` machinery), so the rule carries
  through an algorithm's calculations.

Any code that hands frames to an algorithm should wrap them with :func:`for_algorithm` (or build them with these
classes directly).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from runtime.errors import LegacyAttributeError

#: inferred index types on which an integer key is a label, never a position (pandas' own rule)
_LABEL_TYPES = frozenset({"integer", "mixed-integer", "floating", "complex", "mixed-integer-float"})


#: pandas 0.18 names Quantopian-era code uses that pandas removed -> today's form
_REMOVED = {
    "ix": ".ix was removed from pandas: use .loc[...] for labels or .iloc[...] for positions",
    "iteritems": ".iteritems() was removed from pandas: use .items()",
    "as_matrix": ".as_matrix() was removed from pandas: use .to_numpy()",
    "sort": ".sort(...) was removed from pandas: use .sort_values(...) (or .sort_index())",
    "order": ".order() was removed from pandas: use .sort_values()",
    "valid": ".valid() was removed from pandas: use .dropna()",
    "get_value": ".get_value(row, col) was removed from pandas: use .at[row, col]",
    "set_value": ".set_value(row, col, v) was removed from pandas: use .at[row, col] = v",
    "irow": ".irow(i) was removed from pandas: use .iloc[i]",
    "icol": ".icol(i) was removed from pandas: use .iloc[:, i]",
    "convert_objects": ".convert_objects() was removed from pandas: use .infer_objects() or pd.to_numeric",
}


def _removed(obj: object, name: str) -> None:
    why = _REMOVED.get(name)
    if why is not None:
        raise LegacyAttributeError(why)


def _positional_index(index: pd.Index) -> bool:
    """Whether integer keys on ``index`` mean positions (the index cannot hold them as labels)."""
    if isinstance(index, pd.DatetimeIndex):
        return True
    if isinstance(index, pd.MultiIndex):
        return False
    return index.inferred_type not in _LABEL_TYPES


def _is_int(key: object) -> bool:
    return (type(key) is int or isinstance(key, (int, np.integer))) and not isinstance(key, (bool, np.bool_))


def _int_slice(key: slice) -> bool:
    bounds = (key.start, key.stop)
    return any(b is not None for b in bounds) and all(b is None or _is_int(b) for b in bounds) and (
        key.step is None or _is_int(key.step))


class AlgoSeries(pd.Series):
    """A pandas Series whose integer keys are positions on a datetime (or other non-integer) index."""

    @property
    def _constructor(self) -> type[AlgoSeries]:
        return AlgoSeries

    @property
    def _constructor_expanddim(self) -> type[AlgoFrame]:
        return AlgoFrame

    def __getitem__(self, key: Any) -> Any:
        if _is_int(key):
            if _positional_index(self.index):
                return self.iloc[key]
        elif type(key) is slice and _int_slice(key) and _positional_index(self.index):
            return self.iloc[key]
        return super().__getitem__(key)

    def __getattr__(self, name: str) -> Any:
        _removed(self, name)
        return super().__getattr__(name)

    def __setitem__(self, key: Any, value: Any) -> None:
        if (_is_int(key) or (type(key) is slice and _int_slice(key))) and _positional_index(self.index):
            self.iloc[key] = value
            return
        super().__setitem__(key, value)


class AlgoFrame(pd.DataFrame):
    """A pandas DataFrame whose columns, rows and results are :class:`AlgoSeries` / :class:`AlgoFrame`."""

    @property
    def _constructor(self) -> type[AlgoFrame]:
        return AlgoFrame

    @property
    def _constructor_sliced(self) -> type[AlgoSeries]:
        return AlgoSeries

    def __getattr__(self, name: str) -> Any:
        _removed(self, name)
        return super().__getattr__(name)


def for_algorithm(obj: Any) -> Any:
    """``obj`` as the algorithm should see it: a Series or DataFrame becomes an :class:`AlgoSeries` /
    :class:`AlgoFrame` sharing its data (no copy); anything else is returned unchanged."""
    if isinstance(obj, (AlgoSeries, AlgoFrame)):
        return obj
    if isinstance(obj, pd.DataFrame):
        return AlgoFrame(obj, copy=False)
    if isinstance(obj, pd.Series):
        return AlgoSeries(obj, copy=False)
    return obj
