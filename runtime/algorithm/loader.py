"""Loading an algorithm file: a fresh namespace with the API injected, zipline/Quantopian imports served by shims.

``from zipline.api import order_target, symbol``, ``from zipline.finance import commission, slippage`` and
``import quantopian.algorithm as algo`` work without zipline installed. The shims answer only imports made by the
algorithm file itself (through that file's own ``__import__``); nothing is put into ``sys.modules``, so a real
zipline package elsewhere in the process is untouched.

Every name of a shim module that the runtime does not offer raises :class:`~runtime.errors.UnsupportedNameError`
naming it (``from zipline.finance.blotter import Blotter``, ``from quantopian.algorithm import attach_pipeline``),
and so does every other ``zipline``/``quantopian`` module path: never Python's
``cannot import name ... (unknown location)``. ``import pandas`` gives the real pandas with a message for what it
removed since Quantopian (``pd.rolling_mean``, ``pd.stats``); a Python 2 file fails with a message naming
``ibalgo port``; Quantopian-era names without an import (``set_universe``, ``xrange``...) raise a message naming
today's form (see :mod:`runtime.algorithm.legacy`).
"""

from __future__ import annotations

import builtins
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.algorithm import legacy
from runtime.algorithm.libraries import MissingLibraryError, missing_library
from runtime.algorithm.optimize_shim import optimize_modules
from runtime.errors import AlgorithmLoadError, UnsupportedNameError, user_location


@dataclass
class UserFunctions:
    """The algorithm's lifecycle functions (missing optional ones are None) and the namespace they run in."""

    path: str
    initialize: Callable[..., Any]
    handle_data: Callable[..., Any] | None = None
    before_trading_start: Callable[..., Any] | None = None
    analyze: Callable[..., Any] | None = None
    namespace: dict[str, Any] = field(default_factory=dict)


#: lifecycle functions: name -> (required, number of positional arguments)
LIFECYCLE = {
    "initialize": (True, 1),
    "handle_data": (False, 2),
    "before_trading_start": (False, 2),
    "analyze": (False, 2),
}

_UNSUPPORTED = {
    "quantopian.research": "quantopian.research is Quantopian's notebook API (get_pricing, symbols, run_pipeline in "
    "a notebook): in an algorithm use data.history(...) and symbol(...)",
    "quantopian.interactive": "quantopian.interactive held Quantopian's hosted data sets, which are not available: "
    "read your own data with pandas in initialize",
    "zipline.data.bundles": "bundles are zipline's data store: this runtime reads the data given with --data "
    "(see the README's data section)",
}

#: names of zipline/quantopian modules that the runtime does not offer -> what to write instead
_KNOWN_MISSING: dict[str, dict[str, str]] = {
    "zipline": {
        "TradingAlgorithm": "run the file with 'ibalgo backtest FILE' (or run_algorithm) instead of building a "
                            "TradingAlgorithm",
        "run_algorithm": "run the file with 'ibalgo backtest FILE --start ... --end ...'",
    },
    "zipline.api": {
        "continuous_future": legacy.UNSUPPORTED_NAMES["continuous_future"],
        "set_universe": legacy.UNSUPPORTED_NAMES["set_universe"],
        "get_fundamentals": legacy.UNSUPPORTED_NAMES["get_fundamentals"],
    },
    "zipline.finance.slippage": {
        "VolatilityVolumeShare": "use VolumeShareSlippage(volume_limit=..., price_impact=...) or "
                                 "FixedBasisPointsSlippage",
        "MarketImpactBase": "subclass SlippageModel and define process_order-like logic in fill()",
        "EquitySlippageModel": "subclass slippage.SlippageModel",
        "FutureSlippageModel": "subclass slippage.SlippageModel",
    },
    "zipline.finance.commission": {
        "PerFutureTrade": "use commission.PerContract(cost=..., exchange_fee=...)",
        "EquityCommissionModel": "subclass commission.CommissionModel",
        "FutureCommissionModel": "subclass commission.CommissionModel",
    },
    "zipline.assets": {
        "Future": "futures are assets of secType 'FUT' here: superSymbol(secType='FUT', ...) returns one; compare "
                  "asset.sec_type instead of isinstance(asset, Future)",
        "ContinuousFuture": legacy.UNSUPPORTED_NAMES["continuous_future"],
        "AssetFinder": "look assets up with symbol(), symbols() and sid()",
    },
    "zipline.utils.tradingcalendar": {
        "*": "zipline.utils.tradingcalendar was removed from zipline (2016): use the trading calendar through "
             "get_datetime(), schedule_function(..., date_rules..., time_rules...) or "
             "exchange_calendars.get_calendar('XNYS').sessions_in_range(start, end)",
    },
    "zipline.utils.factory": {"*": "zipline's test factories are not available: load data with --data"},
    "zipline.finance.blotter": {"*": "the blotter is internal: place orders with order(...) and read them with "
                                     "get_open_orders()/get_order(id)"},
    "zipline.finance.trading": {"*": "TradingEnvironment/SimulationParameters are internal: set the dates and "
                                     "capital on the command line (--start, --end, --capital)"},
}

_KNOWN_MISSING["quantopian.algorithm"] = _KNOWN_MISSING["zipline.api"]

#: zipline and quantopian modules that exist only to answer with the messages above (and their parents)
_MESSAGE_ONLY = ("zipline.utils.tradingcalendar", "zipline.utils.factory", "zipline.finance.blotter",
                 "zipline.finance.trading")


class _ShimModule(types.ModuleType):
    """A zipline/quantopian shim module: its names, and for any other name an :class:`UnsupportedNameError`."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        known = _KNOWN_MISSING.get(self.__name__, {})
        why = known.get(name) or known.get("*")
        if why is None:
            offered = ", ".join(sorted(k for k in self.__dict__ if not k.startswith("_"))) or "nothing"
            why = f"this runtime does not offer it; {self.__name__} here has: {offered}"
        raise UnsupportedNameError(f"{self.__name__}.{name} is not supported: {why}")


def _module(name: str, attrs: dict[str, Any]) -> types.ModuleType:
    mod = _ShimModule(name)
    mod.__dict__.update(attrs)
    mod.__all__ = [k for k in attrs if not k.startswith("_")]  # type: ignore[attr-defined]
    return mod


def build_shims(namespace: dict[str, Any]) -> dict[str, types.ModuleType]:
    """The fake ``zipline`` and ``quantopian`` module trees, filled from the algorithm's API namespace."""
    api_names = {k: v for k, v in namespace.items() if not k.startswith("_")}
    commission = namespace["commission"]
    slippage = namespace["slippage"]
    finance_commission = _module("zipline.finance.commission", dict(vars(commission)))
    finance_slippage = _module("zipline.finance.slippage", dict(vars(slippage)))
    execution = _module(
        "zipline.finance.execution",
        {k: namespace[k] for k in ("MarketOrder", "LimitOrder", "StopOrder", "StopLimitOrder")},
    )
    cancel = _module("zipline.finance.cancel_policy", {"EODCancel": namespace["EODCancel"],
                                                        "NeverCancel": namespace["NeverCancel"]})
    finance = _module(
        "zipline.finance",
        {"commission": finance_commission, "slippage": finance_slippage, "execution": execution,
         "cancel_policy": cancel},
    )
    events = _module("zipline.utils.events", {k: namespace[k] for k in ("date_rules", "time_rules")})
    calendar_utils = _module("zipline.utils.calendar_utils", {"calendars": namespace["calendars"]})
    utils = _module("zipline.utils", {"events": events, "calendar_utils": calendar_utils})
    zapi = _module("zipline.api", api_names)
    zipline = _module("zipline", {"api": zapi, "finance": finance, "utils": utils})
    qalgo = _module("quantopian.algorithm", api_names)
    optimize = optimize_modules(namespace)
    quantopian = _module("quantopian", {"algorithm": qalgo, "optimize": optimize["quantopian.optimize"]})
    shims = {
        **optimize,
        "zipline": zipline, "zipline.api": zapi, "zipline.finance": finance,
        "zipline.finance.commission": finance_commission, "zipline.finance.slippage": finance_slippage,
        "zipline.finance.execution": execution, "zipline.finance.cancel_policy": cancel,
        "zipline.utils": utils, "zipline.utils.events": events, "zipline.utils.calendar_utils": calendar_utils,
        "quantopian": quantopian, "quantopian.algorithm": qalgo,
    }
    _add_pipeline_shims(shims, namespace)
    _add_legacy_shims(shims, namespace)
    return shims


def _add_pipeline_shims(shims: dict[str, types.ModuleType], namespace: dict[str, Any]) -> None:
    """The quantopian.pipeline and zipline.pipeline trees, fundamentals bound to the run's point-in-time table."""
    from runtime.pipeline.shims import build_pipeline_modules

    attach = namespace.get("attach_pipeline")
    host = getattr(attach, "__self__", None)
    host = getattr(host, "pipelines", None)
    pipeline_modules = build_pipeline_modules(host.table if host is not None else None)
    for name, mod in pipeline_modules.items():
        shims[name] = mod
        parent, _, leaf = name.rpartition(".")
        if parent in shims:
            setattr(shims[parent], leaf, mod)


def _add_legacy_shims(shims: dict[str, types.ModuleType], namespace: dict[str, Any]) -> None:
    """The older zipline module paths Quantopian-era files import (zipline.protocol, zipline.assets,
    zipline.utils.tradingcalendar...), each a submodule of its parent shim."""
    from runtime.algorithm.bardata import BarData
    from runtime.core.ledger import Portfolio, Position, Positions
    from runtime.core.styles import ExecutionStyle

    shims["zipline.finance.execution"].__dict__["ExecutionStyle"] = ExecutionStyle
    extra = {
        "zipline.protocol": {"BarData": BarData, "Portfolio": Portfolio, "Positions": Positions,
                             "Position": Position},
        "zipline.assets": {"Asset": namespace["Asset"], "Equity": namespace["Equity"]},
        "zipline.errors": {},
        **{name: {} for name in _MESSAGE_ONLY},
    }
    for name, attrs in extra.items():
        mod = shims[name] = _module(name, attrs)
        parent, _, leaf = name.rpartition(".")
        shims[parent].__dict__[leaf] = mod


def _make_import(shims: dict[str, types.ModuleType]) -> Callable[..., Any]:
    real_import = builtins.__import__

    def algo_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level == 0:
            for prefix, why in _UNSUPPORTED.items():
                if name == prefix or name.startswith(prefix + "."):
                    raise UnsupportedNameError(f"{name}: {why}")
            if name in shims:
                return shims[name] if fromlist else shims[name.split(".")[0]]
            top = name.split(".")[0]
            if top in ("zipline", "quantopian"):
                raise UnsupportedNameError(
                    f"{name} is not supported: this runtime does not offer that module; the zipline/quantopian "
                    "modules it offers are: " + ", ".join(sorted(shims))
                )
            if top == "pandas":
                why = legacy.removed_pandas_module(name)
                if why is not None:
                    raise UnsupportedNameError(f"{name}: {why}")
                module = real_import(name, globals, locals, fromlist, level)
                return legacy.pandas_for_algorithm() if module.__name__ == "pandas" else module
        try:
            return real_import(name, globals, locals, fromlist, level)
        except ModuleNotFoundError as exc:
            ours = missing_library(exc, name)
            if ours is None:
                raise
            raise ours from None

    return algo_import


def _check_signature(func: Callable[..., Any], name: str, nargs: int, path: str) -> Callable[..., Any]:
    """``func`` if it takes the lifecycle arguments; Quantopian's one-argument ``before_trading_start(context)``
    wrapped to take ``(context, data)``; else a load error naming the signature to write."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return func
    try:
        sig.bind(*range(nargs))
    except TypeError:
        if name == "before_trading_start" and _binds(sig, 1):
            return _context_only(func)
        expected = {1: "(context)", 2: "(context, data)"}[nargs]
        if name == "analyze":
            expected = "(context, perf)"
        line = getattr(getattr(func, "__code__", None), "co_firstlineno", None)
        raise AlgorithmLoadError(
            f"{name}{sig} has the wrong signature: define it as def {name}{expected}:", path, line
        ) from None
    return func


def _binds(sig: inspect.Signature, nargs: int) -> bool:
    try:
        sig.bind(*range(nargs))
    except TypeError:
        return False
    return True


def _context_only(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func(context)`` callable as ``func(context, data)`` (Quantopian accepted both forms)."""

    def call(context: Any, data: Any) -> Any:
        return func(context)

    call.__name__ = getattr(func, "__name__", "before_trading_start")
    call.__wrapped__ = func  # type: ignore[attr-defined]
    return call


def check_algorithm_file(path: str | Path, origin: str = "") -> Path:
    """``path`` as a Path if it is a file, else an AlgorithmLoadError with a hint (a missing ``.py``, a file of that
    name in ``user_algos/``); ``origin`` says where the name came from (e.g. "ALGORITHM in ./settings.py")."""
    p = Path(path)
    if not p.is_file():
        hint = ""
        if p.suffix != ".py" and p.with_suffix(".py").is_file():
            hint = f" (did you mean {p.with_suffix('.py')}?)"
        elif not p.is_absolute() and (Path("user_algos") / p.name).is_file():
            hint = f" (did you mean user_algos/{p.name}?)"
        raise AlgorithmLoadError(f"algorithm file not found: {p}{f' ({origin})' if origin else ''}{hint}")
    return p


def load_algorithm(path: str | Path, namespace: dict[str, Any]) -> UserFunctions:
    """Execute the algorithm file in a fresh namespace pre-filled with ``namespace``; return its functions.

    Errors (missing file, syntax error, exception at import time, no ``initialize``, a wrong signature) become
    one :class:`AlgorithmLoadError` naming the file and line.
    """
    p = check_algorithm_file(path)
    resolved = str(p.resolve())
    try:
        source = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AlgorithmLoadError(f"cannot read the algorithm file: {exc}", resolved) from exc
    try:
        code = compile(source, resolved, "exec")
    except SyntaxError as exc:
        detail = f"syntax error: {exc.msg}"
        if exc.text:
            detail += f"\n    {exc.text.rstrip()}"
            if exc.offset:
                detail += "\n    " + " " * (exc.offset - 1) + "^"
        if legacy.python2_hint(source, exc):
            new = p.with_name(p.stem + "_py3.py")
            detail += ("\nThis looks like a Python 2 file (Quantopian ran Python 2 until 2017); "
                       + legacy.PORT_HINT.format(path=p, new=new))
        raise AlgorithmLoadError(detail, resolved, exc.lineno) from None
    shims = build_shims(namespace)
    algo_builtins = dict(vars(builtins))
    algo_builtins["__import__"] = _make_import(shims)
    module_globals: dict[str, Any] = legacy.placeholders(namespace)
    module_globals.update(namespace)
    module_globals.update({"__name__": "__algorithm__", "__file__": resolved, "__builtins__": algo_builtins})
    try:
        exec(code, module_globals)
    except MissingLibraryError as exc:
        raise AlgorithmLoadError(str(exc), resolved, user_location(exc.__traceback__, resolved)[0]) from None
    except Exception as exc:
        line, text = user_location(exc.__traceback__, resolved)
        message = f"the file raised while loading: {type(exc).__name__}: {exc}"
        if text:
            message += f"\n    {text}"
        raise AlgorithmLoadError(message, resolved, line) from None
    functions: dict[str, Callable[..., Any] | None] = {}
    for name, (required, nargs) in LIFECYCLE.items():
        func = module_globals.get(name)
        if func is namespace.get(name):
            func = None
        if func is None:
            if required:
                raise AlgorithmLoadError(
                    "no initialize(context) function: every algorithm must define one, e.g.\n"
                    "    def initialize(context):\n        context.asset = symbol('AAPL')",
                    resolved,
                )
            functions[name] = None
            continue
        if not callable(func):
            raise AlgorithmLoadError(f"{name} must be a function, not {type(func).__name__}", resolved)
        functions[name] = _check_signature(func, name, nargs, resolved)
    return UserFunctions(
        path=resolved,
        initialize=functions["initialize"],  # type: ignore[arg-type]
        handle_data=functions["handle_data"],
        before_trading_start=functions["before_trading_start"],
        analyze=functions["analyze"],
        namespace=module_globals,
    )
