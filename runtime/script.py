"""``run_algorithm``: a backtest from Python (a notebook, a script), zipline's way, returning the results table.

::

    import pandas as pd
    from runtime import run_algorithm
    from runtime.api import order_target_percent, record, symbol

    def initialize(context):
        context.asset = symbol("AAPL")

    def handle_data(context, data):
        order_target_percent(context.asset, 1.0)
        record(price=data.current(context.asset, "price"))

    perf = run_algorithm(start=pd.Timestamp("2012-01-03"), end=pd.Timestamp("2012-12-31"),
                         initialize=initialize, handle_data=handle_data, capital_base=100_000)
    perf.portfolio_value.plot()
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.errors import AlgorithmLoadError, ConfigError

#: zipline's bundle names that mean "the bundled daily bars" here
SAMPLE_BUNDLES = ("sample", "bundled", "quandl", "quantopian-quandl")


def _day(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"run_algorithm: {name} must be a date like '2012-01-03', got {value!r}") from None
    if ts is pd.NaT:
        raise ConfigError(f"run_algorithm: {name} must be a date like '2012-01-03', got {value!r}")
    return (ts.tz_convert(None) if ts.tzinfo is not None else ts).normalize()


def _check(func: Callable[..., Any] | None, name: str, nargs: int) -> None:
    if func is None:
        return
    if not callable(func):
        raise AlgorithmLoadError(f"run_algorithm: {name} must be a function, not {type(func).__name__}")
    try:
        inspect.signature(func).bind(*range(nargs))
    except TypeError:
        expected = "(context)" if nargs == 1 else "(context, perf)" if name == "analyze" else "(context, data)"
        raise AlgorithmLoadError(f"run_algorithm: {name} must take {nargs} argument(s): def {name}{expected}:") \
            from None
    except ValueError:  # a builtin without a signature: let the call tell
        pass


def run_algorithm(
    start: Any,
    end: Any,
    initialize: Callable[[Any], None],
    capital_base: float = 100_000.0,
    handle_data: Callable[[Any, Any], None] | None = None,
    before_trading_start: Callable[[Any, Any], None] | None = None,
    analyze: Callable[[Any, pd.DataFrame], None] | None = None,
    data_frequency: str = "daily",
    bundle: str | None = None,
    *,
    data: str | Path | None = None,
    seed: int = 7,
    output: str | Path | None = None,
    strict: bool = False,
    trading_calendar: str = "XNYS",
    before_trading_start_time: str = "08:45",
) -> pd.DataFrame:
    """Backtest the given functions from ``start`` to ``end`` and return the results table (zipline's ``perf``).

    The functions are plain Python functions (from a script, a module or a notebook cell); inside them the API is
    imported from :mod:`runtime.api` (``from runtime.api import order, symbol, record, schedule_function``), which
    is bound to this run while it lasts, in this thread only.

    Args:
        start, end: first and last session (dates; a tz-aware timestamp such as zipline's ``pd.Timestamp(...,
            tz="utc")`` is taken as its date). A range that reaches outside the data is clipped to it (warned).
        initialize: ``initialize(context)``; required.
        capital_base: starting cash.
        handle_data, before_trading_start: ``f(context, data)``; optional.
        analyze: ``analyze(context, perf)``, called with the results table before it is returned.
        data_frequency: ``"daily"`` or ``"minute"`` (minute bars are generated from the daily ones with ``seed``
            when the data has none).
        bundle: zipline's data choice: None or ``"sample"`` for the bundled daily bars, or a folder of bars (the
            same as ``data``).
        data: a folder of CSV/Parquet bars, one file per symbol (see the README's "Data").
        output: a folder to also write the result files into (results.csv, trades.csv, ...), as the command does.
        strict: stop at the algorithm's first exception and raise :class:`~runtime.errors.AlgorithmRaisedError`
            (its ``perf`` holds the sessions completed; ``analyze`` has run). By default, as ``ibalgo backtest``,
            an exception in ``handle_data`` or a scheduled function is logged with the file and line, and the run
            goes on (zipline would stop); the count is in ``perf.attrs["errors_in_algorithm"]``.
        trading_calendar: the exchange calendar's code.
        before_trading_start_time: exchange-local time of ``before_trading_start``.

    Returns:
        One row per session, indexed by the session's close (UTC): zipline's columns (``portfolio_value``,
        ``returns``, ``positions``, ``transactions``, ``orders``, the risk columns) and every ``record()``-ed name.

    Traps: ``start``/``end`` are sessions, not instants; history before ``start`` is available (the whole data is
    loaded), so a 50-day window works on the first day if the data reaches back.
    """
    from runtime import api as bound_api
    from runtime.algorithm.loader import UserFunctions
    from runtime.assembly.backtest import run_backtest
    from runtime.data.runs import load_daily_and_minute

    if data_frequency not in ("daily", "minute"):
        raise ConfigError(f"run_algorithm: data_frequency must be 'daily' or 'minute', got {data_frequency!r}")
    if bundle is not None and data is not None:
        raise ConfigError("run_algorithm: give bundle= or data=, not both")
    if bundle is not None and str(bundle).lower() not in SAMPLE_BUNDLES:
        if not Path(bundle).is_dir():
            raise ConfigError(f"run_algorithm: bundle {bundle!r} is neither 'sample' (the bundled daily bars) nor a "
                              "folder of bars")
        data = bundle
    if not capital_base > 0:
        raise ConfigError(f"run_algorithm: capital_base must be positive, got {capital_base!r}")
    if initialize is None:
        raise AlgorithmLoadError("run_algorithm: initialize is required: def initialize(context): ...")
    for func, name, nargs in ((initialize, "initialize", 1), (handle_data, "handle_data", 2),
                              (before_trading_start, "before_trading_start", 2), (analyze, "analyze", 2)):
        _check(func, name, nargs)
    path = getattr(getattr(initialize, "__code__", None), "co_filename", "<run_algorithm>")
    functions = UserFunctions(path=path, initialize=initialize, handle_data=handle_data,
                              before_trading_start=before_trading_start, analyze=analyze)
    s, e = _day(start, "start"), _day(end, "end")
    daily, minute, s, e = load_daily_and_minute(None if data is None else str(data), data_frequency, s, e,
                                                seed=seed, calendar_name=trading_calendar)
    with bound_api.binding() as slot:
        result = run_backtest(path, daily=daily, minute=minute, start=s, end=e, capital=float(capital_base),
                              frequency=data_frequency, output=None if output is None else Path(output),
                              strict=strict, before_trading_start=before_trading_start_time,
                              on_engine=lambda engine: slot.bind(engine.api), functions=functions)
    perf = result.perf
    perf.attrs["errors_in_algorithm"] = result.engine.error_count
    perf.attrs["stopped"] = result.stopped
    return perf


__all__ = ["run_algorithm"]
