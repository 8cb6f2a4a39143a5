"""Loading an algorithm file: a fresh namespace with the API injected, zipline/Quantopian imports served by shims.

``from zipline.api import order_target, symbol``, ``from zipline.finance import commission, slippage`` and
``import quantopian.algorithm as algo`` work without zipline installed. The shims answer only imports made by the
algorithm file itself (through that file's own ``__import__``); nothing is put into ``sys.modules``, so a real
zipline package elsewhere in the process is untouched.
"""

from __future__ import annotations

import builtins
import inspect
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.algorithm.libraries import MissingLibraryError, missing_library
from runtime.algorithm.optimize_shim import optimize_modules
from runtime.engine.engine import UserFunctions
from runtime.errors import AlgorithmLoadError, user_location

#: lifecycle functions: name -> (required, number of positional arguments)
LIFECYCLE = {
    "initialize": (True, 1),
    "handle_data": (False, 2),
    "before_trading_start": (False, 2),
    "analyze": (False, 2),
}

_UNSUPPORTED = {
    "quantopian.research": "quantopian.research is a notebook API and is not available in algorithms",
}


def _module(name: str, attrs: dict[str, Any]) -> types.ModuleType:
    mod = types.ModuleType(name)
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


def _make_import(shims: dict[str, types.ModuleType]) -> Callable[..., Any]:
    real_import = builtins.__import__

    def algo_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level == 0:
            for prefix, why in _UNSUPPORTED.items():
                if name == prefix or name.startswith(prefix + "."):
                    raise ImportError(f"{name}: {why}")
            if name in shims:
                return shims[name] if fromlist else shims[name.split(".")[0]]
            top = name.split(".")[0]
            if top in ("zipline", "quantopian"):
                raise ImportError(
                    f"{name} is not provided by this runtime; the supported imports are: "
                    + ", ".join(sorted(shims))
                )
        try:
            return real_import(name, globals, locals, fromlist, level)
        except ModuleNotFoundError as exc:
            ours = missing_library(exc, name)
            if ours is None:
                raise
            raise ours from None

    return algo_import


def _check_signature(func: Callable[..., Any], name: str, nargs: int, path: str) -> None:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*range(nargs))
    except TypeError:
        expected = {1: "(context)", 2: "(context, data)"}[nargs]
        if name == "analyze":
            expected = "(context, perf)"
        line = getattr(getattr(func, "__code__", None), "co_firstlineno", None)
        raise AlgorithmLoadError(
            f"{name}{sig} has the wrong signature: define it as def {name}{expected}:", path, line
        ) from None


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
        raise AlgorithmLoadError(detail, resolved, exc.lineno) from None
    shims = build_shims(namespace)
    algo_builtins = dict(vars(builtins))
    algo_builtins["__import__"] = _make_import(shims)
    module_globals: dict[str, Any] = dict(namespace)
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
        _check_signature(func, name, nargs, resolved)
        functions[name] = func
    return UserFunctions(
        path=resolved,
        initialize=functions["initialize"],  # type: ignore[arg-type]
        handle_data=functions["handle_data"],
        before_trading_start=functions["before_trading_start"],
        analyze=functions["analyze"],
        namespace=module_globals,
    )
