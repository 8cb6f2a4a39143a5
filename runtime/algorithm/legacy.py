"""Quantopian-era and Python 2 forms found in public algorithm files: the ones that still work, and a clear message
naming today's form for the ones that do not.

- :data:`UNSUPPORTED_NAMES`: names a Quantopian algorithm could use without importing them (``set_universe``,
  ``batch_transform``, ``get_fundamentals``, Python 2's ``xrange``...). The loader puts a placeholder for each into
  the algorithm's namespace (unless the file defines or imports the name), so using one raises
  :class:`~runtime.errors.LegacyApiError` saying what to write instead, never a bare ``NameError``.
- :class:`LegacyBar`: ``data[asset].price``, ``.mavg(n)``, ``.returns()``... (the pre-2016 BarData), served from
  today's ``data.current`` / ``data.history``.
- :func:`pandas_for_algorithm`: the ``pandas`` module an algorithm file imports: the real one, with a message for
  what pandas removed (``pd.rolling_mean``, ``pd.stats``, ``pd.ewma``, ``pd.Panel``...).
- :func:`python2_hint`: whether a syntax error looks like Python 2 (print statements, ``except X, e``).
"""

from __future__ import annotations

import re
import types
from typing import Any, ClassVar

import pandas as pd

from runtime.errors import LegacyApiError, LegacyAttributeError, UnsupportedNameError

PORT_HINT = "convert the file with: ibalgo port {path} -o {new}"


class Unsupported:
    """A placeholder for a name the runtime knows but does not offer: calling it, reading an attribute of it or
    subclassing it raises :class:`LegacyApiError` with the message."""

    __slots__ = ("_message", "_name")

    def __init__(self, name: str, message: str) -> None:
        self._name = name
        self._message = message

    def _fail(self) -> LegacyApiError:
        return LegacyApiError(f"{self._name} is not supported: {self._message}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise self._fail()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise self._fail()

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        raise self._fail()

    def __repr__(self) -> str:
        return f"<not supported: {self._name}>"


_PIPELINE = ("a Pipeline universe: import it first, 'from quantopian.pipeline.filters import Q500US, Q1500US, "
             "QTradableStocksUS', and use it as a Pipeline screen (see the README's Pipeline section)")
_UNIVERSE = ("pick the assets yourself, e.g. context.assets = symbols('AAPL', 'MSFT', 'IBM') in initialize, and read "
             "their data with data.history(context.assets, 'price', bar_count, '1d')")

#: names used without an import in Quantopian-era files -> what to write instead
UNSUPPORTED_NAMES: dict[str, str] = {
    "set_universe": "Quantopian removed set_universe in 2015: " + _UNIVERSE,
    "batch_transform": "Quantopian removed @batch_transform in 2015: call data.history(assets, fields, bar_count, "
                       "'1d') inside handle_data (or a scheduled function) and compute on the DataFrame it returns",
    "DollarVolumeUniverse": "Quantopian removed the universe classes in 2015: " + _UNIVERSE,
    "get_fundamentals": "Morningstar fundamentals are not in the data: put the values you need in a CSV file and "
                        "read it with pandas in initialize",
    "update_universe": "Quantopian removed update_universe: " + _UNIVERSE,
    "fundamentals": "Morningstar fundamentals are not in the data: put the values you need in a CSV file and read "
                    "it with pandas in initialize",
    "query": "get_fundamentals(query(...)) is not supported: Morningstar fundamentals are not in the data",
    "continuous_future": "continuous futures are not supported: trade a contract the data holds, e.g. "
                         "superSymbol(secType='FUT', symbol='ES', exchange='CME', expiry='201212')",
    "sid_universe": _UNIVERSE,
    "universe": "Quantopian removed the universe module in 2015: " + _UNIVERSE,
    "get_open_positions": "use context.portfolio.positions (a mapping asset -> Position)",
    # Python 2 names
    "xrange": "it is Python 2: use range(...) (or convert the whole file with ibalgo port)",
    "unicode": "it is Python 2: use str(...) (or convert the whole file with ibalgo port)",
    "basestring": "it is Python 2: use str (or convert the whole file with ibalgo port)",
    "long": "it is Python 2: use int(...) (or convert the whole file with ibalgo port)",
    "raw_input": "it is Python 2: use input(...) (or convert the whole file with ibalgo port)",
    "reduce": "it is Python 2's builtin: add 'from functools import reduce'",
    "cmp": "it is Python 2: compare with (a > b) - (a < b)",
    "execfile": "it is Python 2: algorithm files cannot run other files",
    # pipeline names used without importing them (the import itself is answered by the pipeline modules)
    "Q500US": _PIPELINE,
    "Q1500US": _PIPELINE,
    "QTradableStocksUS": _PIPELINE,
    "morningstar": "Morningstar fundamentals are not in the data",
}


def placeholders(defined: dict[str, Any]) -> dict[str, Unsupported]:
    """The placeholders for :data:`UNSUPPORTED_NAMES` that ``defined`` (the namespace) does not already hold."""
    return {name: Unsupported(name, why) for name, why in UNSUPPORTED_NAMES.items() if name not in defined}


# ------------------------------------------------------------------------------------------------ data[asset]
class LegacyBar:
    """``data[asset]`` as in Quantopian before 2016: ``.price``, ``.open_price``, ``.close_price``, ``.high``,
    ``.low``, ``.volume``, ``.datetime``, ``.sid``, ``.mavg(days)``, ``.vwap(days)``, ``.stddev(days)``,
    ``.returns()``. Each reads today's API (``data.current`` / ``data.history`` with daily bars); new code should
    call those directly: ``data.current(asset, 'price')``,
    ``data.history(asset, 'price', days, '1d').mean()``."""

    __slots__ = ("_asset", "_data")

    _CURRENT: ClassVar[dict[str, str]] = {
        "price": "price", "close_price": "close", "open_price": "open", "high": "high", "low": "low",
        "volume": "volume", "close": "close", "open": "open",
    }

    def __init__(self, data: Any, asset: Any) -> None:
        self._data = data
        self._asset = asset

    def __getattr__(self, name: str) -> Any:
        field = LegacyBar._CURRENT.get(name)
        if field is None:
            raise LegacyAttributeError(
                f"data[asset].{name} is not an attribute of the old BarData: use data.current(asset, field) with a "
                "field in open, high, low, close, volume, price"
            )
        return self._data.current(self._asset, field)

    @property
    def sid(self) -> Any:
        return self._asset

    @property
    def datetime(self) -> pd.Timestamp:
        """The time of the asset's last trade (``data.current(asset, 'last_traded')``)."""
        return self._data.current(self._asset, "last_traded")

    def _prices(self, days: int) -> pd.Series:
        return self._data.history(self._asset, "price", int(days), "1d")

    def mavg(self, days: int) -> float:
        """Mean daily price over the last ``days`` sessions (today's bar included)."""
        return float(self._prices(days).mean())

    def stddev(self, days: int) -> float:
        """Standard deviation (ddof=1) of the daily price over the last ``days`` sessions."""
        return float(self._prices(days).std())

    def vwap(self, days: int) -> float:
        """Volume-weighted mean daily price over the last ``days`` sessions."""
        frame = self._data.history(self._asset, ["price", "volume"], int(days), "1d")
        volume = frame["volume"].to_numpy()
        total = volume.sum()
        return float((frame["price"].to_numpy() * volume).sum() / total) if total else float("nan")

    def returns(self) -> float:
        """Today's price against the previous session's close, minus 1."""
        prices = self._prices(2).to_numpy()
        return float(prices[-1] / prices[-2] - 1.0)

    def __repr__(self) -> str:
        return f"LegacyBar({self._asset})"


# ----------------------------------------------------------------------------------------------------- pandas
_PANDAS_REMOVED = {
    "stats": "pandas.stats was removed from pandas (0.23): use the methods, e.g. s.rolling(20).mean(), "
             "s.ewm(span=20).mean(), and statsmodels for regressions (statsmodels.api.OLS)",
    "ols": "pandas.ols was removed from pandas: use statsmodels.api.OLS(y, statsmodels.api.add_constant(x)).fit()",
    "Panel": "pandas.Panel was removed from pandas: use a DataFrame with a MultiIndex (data.history with several "
             "assets and fields gives one)",
    "TimeSeries": "pandas.TimeSeries was removed from pandas: use pd.Series",
    "ewma": "pd.ewma(s, span=n) was removed from pandas: use s.ewm(span=n).mean()",
    "ewmstd": "pd.ewmstd(s, span=n) was removed from pandas: use s.ewm(span=n).std()",
    "ewmvar": "pd.ewmvar was removed from pandas: use s.ewm(span=n).var()",
    "ewmcorr": "pd.ewmcorr was removed from pandas: use a.ewm(span=n).corr(b)",
    "expanding_mean": "pd.expanding_mean(s) was removed from pandas: use s.expanding().mean()",
    "expanding_std": "pd.expanding_std(s) was removed from pandas: use s.expanding().std()",
    "datetools": "pandas.datetools was removed from pandas: use pd.tseries.offsets / pd.DateOffset",
}
_ROLLING = {"mean", "std", "var", "sum", "min", "max", "median", "count", "skew", "kurt", "corr", "cov", "apply",
            "quantile"}
for _name in _ROLLING:
    _PANDAS_REMOVED[f"rolling_{_name}"] = (f"pd.rolling_{_name}(s, n) was removed from pandas: use "
                                           f"s.rolling(n).{_name}(...)")

_PANDAS_PROXY: types.ModuleType | None = None


def pandas_for_algorithm() -> types.ModuleType:
    """The module ``import pandas`` gives an algorithm file: the real pandas' names (the same objects), plus a
    :class:`LegacyApiError` naming today's form for names pandas removed since Quantopian's 0.18."""
    global _PANDAS_PROXY
    if _PANDAS_PROXY is None:
        proxy = types.ModuleType("pandas", pd.__doc__)

        def __getattr__(name: str) -> Any:
            why = _PANDAS_REMOVED.get(name)
            if why is not None:
                raise UnsupportedNameError(why)
            return getattr(pd, name)

        proxy.__dict__.update({k: v for k, v in vars(pd).items() if k not in ("__getattr__", "__name__")})
        proxy.__getattr__ = __getattr__  # type: ignore[method-assign]
        _PANDAS_PROXY = proxy
    return _PANDAS_PROXY


def removed_pandas_module(name: str) -> str | None:
    """The message for an import of a pandas module that no longer exists (``pandas.stats.moments``...)."""
    for prefix in ("pandas.stats", "pandas.datetools", "pandas.io.data", "pandas.tools.rplot"):
        if name == prefix or name.startswith(prefix + "."):
            return _PANDAS_REMOVED.get(prefix.split(".")[1], f"{prefix} was removed from pandas")
    return None


# ------------------------------------------------------------------------------------------------- Python 2
_PY2_MESSAGES = ("Missing parentheses in call to 'print'", "Missing parentheses in call to 'exec'",
                 "multiple exception types must be parenthesized", "leading zeros in decimal integer literals")
_PY2_LINES = re.compile(
    r"^\s*(print\s+[^(=\s]|print\s*$|print\s*>>|exec\s+['\"]|raise\s+\w+\s*,)|<>|\bur['\"]|`|\b\d+[lL]\b")


def python2_hint(source: str, exc: SyntaxError) -> bool:
    """Whether a syntax error is most likely a Python 2 file (print statements, ``except X, e:``, ``<>``...)."""
    msg = exc.msg or ""
    if any(m in msg for m in _PY2_MESSAGES):
        return True
    text = exc.text or ""
    return bool(_PY2_LINES.search(text) or re.search(r"except\s+[\w.]+\s*,\s*\w+\s*:", text))
