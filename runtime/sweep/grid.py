"""Parameter grids: ``--param fast=10,20,30 --param slow=50:200:25`` -> every combination, in a fixed order.

Pure: no I/O. A value list is ``NAME=V1,V2,...``; a range is ``NAME=START:STOP:STEP`` (STOP included when the
steps land on it, ``NAME=START:STOP`` steps by 1). Values are read as ``int``, ``float``, ``True``/``False``
(``true``/``false``), ``None`` or, failing those, the text itself. A single ``NAME=VALUE`` (``ibalgo backtest
--param``) is read the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from runtime.errors import ConfigError

#: a grid larger than this is refused (a typo in a range should not queue millions of backtests)
MAX_COMBINATIONS = 100_000

#: column names of a sweep's rows, which a parameter may not take
RESERVED = frozenset({
    "run", "start", "end", "total_return", "annual_return", "annual_volatility", "sharpe", "sortino", "max_drawdown",
    "ending_value", "trades", "orders", "sessions", "errors", "error", "run_seconds", "worker", "window", "phase",
})


class GridError(ConfigError):
    """A ``--param`` specification cannot be read; the message shows the text and the accepted forms."""


def parse_value(text: str) -> Any:
    """``'10'`` -> 10, ``'0.5'`` -> 0.5, ``'true'`` -> True, ``'none'`` -> None, anything else -> the text."""
    word = text.strip()
    low = word.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    try:
        return int(word)
    except ValueError:
        pass
    try:
        return float(word)
    except ValueError:
        return word


def _name_and_rest(spec: str, option: str) -> tuple[str, str]:
    name, sep, rest = str(spec).partition("=")
    name = name.strip()
    if not sep or not name:
        raise GridError(f"{option} {spec!r}: give NAME=VALUE (for a sweep NAME=V1,V2,... or NAME=START:STOP:STEP), "
                        "e.g. --param fast=10,20,30 --param slow=50:200:25")
    if name in RESERVED:
        raise GridError(f"{option} {spec!r}: {name!r} names a column of the sweep's results; call the parameter "
                        "something else")
    return name, rest


def parse_assignment(spec: str) -> tuple[str, Any]:
    """``'fast=10'`` -> ``('fast', 10)`` (``ibalgo backtest --param``)."""
    name, rest = _name_and_rest(spec, "--param")
    if not rest.strip():
        raise GridError(f"--param {spec!r}: no value after '='")
    return name, parse_value(rest)


def _decimal(text: str, spec: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise GridError(f"--param {spec!r}: a range START:STOP:STEP takes numbers, got {text.strip()!r}") from None
    if not value.is_finite():
        raise GridError(f"--param {spec!r}: a range takes finite numbers, got {text.strip()!r}")
    return value


def parse_range(spec: str, text: str) -> tuple[Any, ...]:
    """``'50:200:25'`` -> (50, 75, ..., 200); STOP is included when the steps land on it; integers stay ints."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise GridError(f"--param {spec!r}: a range is START:STOP or START:STOP:STEP")
    start, stop = _decimal(parts[0], spec), _decimal(parts[1], spec)
    step = _decimal(parts[2], spec) if len(parts) == 3 else Decimal(1)
    if step <= 0:
        raise GridError(f"--param {spec!r}: the step must be positive, got {step}")
    if stop < start:
        raise GridError(f"--param {spec!r}: the range's stop {stop} is below its start {start}")
    count = int((stop - start) / step) + 1
    if count > MAX_COMBINATIONS:
        raise GridError(f"--param {spec!r}: {count} values; a sweep takes at most {MAX_COMBINATIONS} combinations")
    integral = all(d == d.to_integral_value() for d in (start, step))
    values = [start + i * step for i in range(count)]
    return tuple(int(v) if integral else float(v) for v in values)


def parse_axis(spec: str) -> tuple[str, tuple[Any, ...]]:
    """``'fast=10,20,30'`` -> ('fast', (10, 20, 30)); ``'slow=50:200:25'`` -> ('slow', (50, 75, ..., 200))."""
    name, rest = _name_and_rest(spec, "--param")
    if not rest.strip():
        raise GridError(f"--param {spec!r}: no values after '='")
    if ":" in rest and "," not in rest:
        return name, parse_range(spec, rest)
    items = rest.split(",")
    if any(not item.strip() for item in items):
        raise GridError(f"--param {spec!r}: an empty value in the list")
    values = tuple(parse_value(item) for item in items)
    if len(set(map(repr, values))) != len(values):
        raise GridError(f"--param {spec!r}: a value is listed twice")
    return name, values


@dataclass(frozen=True)
class ParamGrid:
    """The swept parameters and their values; :meth:`combinations` is their product, the last name varying
    fastest."""

    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    @classmethod
    def parse(cls, specs: Iterable[str] | Mapping[str, Any]) -> ParamGrid:
        """From ``--param`` texts (``['fast=10,20', 'slow=50:200:25']``) or a mapping of name -> values (a list,
        a single value, or a text in the ``--param`` forms)."""
        axes: list[tuple[str, tuple[Any, ...]]] = []
        if isinstance(specs, Mapping):
            for name, values in specs.items():
                if isinstance(values, str):
                    axes.append(parse_axis(f"{name}={values}"))
                elif isinstance(values, (Sequence, set, frozenset, range)):
                    _name_and_rest(f"{name}=", "params")
                    axes.append((str(name), tuple(sorted(values) if isinstance(values, (set, frozenset)) else values)))
                else:
                    _name_and_rest(f"{name}=", "params")
                    axes.append((str(name), (values,)))
        else:
            axes = [parse_axis(spec) for spec in specs]
        names = [name for name, _ in axes]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise GridError(f"--param {twice[0]} is given twice: list all its values in one --param "
                            f"({twice[0]}=V1,V2,...)")
        if not axes:
            raise GridError("a sweep needs at least one --param NAME=V1,V2,... (or NAME=START:STOP:STEP)")
        empty = [name for name, values in axes if not values]
        if empty:
            raise GridError(f"parameter {empty[0]!r} has no values")
        grid = cls(tuple(axes))
        if grid.size > MAX_COMBINATIONS:
            raise GridError(f"the parameters make {grid.size} combinations; a sweep takes at most "
                            f"{MAX_COMBINATIONS}: use fewer values or a coarser step")
        return grid

    @property
    def names(self) -> list[str]:
        """The parameter names, in the order given."""
        return [name for name, _ in self.axes]

    @property
    def size(self) -> int:
        """How many combinations the grid has."""
        n = 1
        for _, values in self.axes:
            n *= len(values)
        return n

    def combinations(self) -> list[dict[str, Any]]:
        """Every combination as a dict name -> value (the first parameter varies slowest)."""
        names = self.names
        return [dict(zip(names, combo)) for combo in itertools.product(*(values for _, values in self.axes))]
