"""Reading a settings file (``settings.py``, an IBridgePy ``RUN_ME.py``) without executing it.

A settings file is a list of assignments. It is parsed with :mod:`ast` and only its top-level assignments are
evaluated, by a small evaluator that knows literals and a few harmless spellings IBridgePy's files use:

- literals: numbers, strings, ``True``/``False``/``None``, lists, tuples, sets and dicts of them, ``-1``,
  arithmetic on numbers (``100_000 * 2``), names assigned earlier in the same file;
- ``pytz.timezone('US/Eastern')`` (and ``timezone(...)``, ``ZoneInfo(...)``): the time zone's name;
- ``dt.date(2020, 5, 7)`` / ``datetime.date(...)`` / ``datetime.datetime(...)``: the date;
- ``Name.MEMBER`` where ``Name`` was imported (IBridgePy's ``TraderRunMode.REGULAR``, ``MarketName.NYSE``,
  ``LogLevel.INFO``): the member's name as a string, ``'REGULAR'``.

Imports are recorded (their names become known to the evaluator) but never run; a bare call (IBridgePy's
``run_me(fileName, globals())``), an ``if __name__ == '__main__':`` block, function and class definitions are
skipped. Anything else (a loop, a ``with``, a call the evaluator does not know) is a
:class:`~runtime.errors.ConfigError` naming the file and line, so a settings file can never run code.
"""

from __future__ import annotations

import ast
import datetime as _dt
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import ConfigError


@dataclass(frozen=True)
class Assignment:
    """One top-level ``NAME = value`` of a settings file, with the value read (or the node, when ``lazy``)."""

    name: str
    value: Any
    line: int


class Unevaluated:
    """A value the reader did not evaluate (it is only evaluated when a setting that uses it asks for it)."""

    def __init__(self, node: ast.AST, where: str) -> None:
        self.node = node
        self.where = where

    def __repr__(self) -> str:
        return f"<not evaluated: {ast.unparse(self.node)} at {self.where}>"


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_TZ_CALLS = ("pytz.timezone", "timezone", "ZoneInfo", "zoneinfo.ZoneInfo", "tz.gettz", "gettz")
_DATE_CALLS = {"date": _dt.date, "datetime": _dt.datetime}


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


class _Evaluator:
    """Evaluates the expressions the module docstring lists; raises ConfigError for anything else."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.names: dict[str, Any] = {}
        self.imported: set[str] = set()

    def where(self, node: ast.AST) -> str:
        return f"{self.path}:{getattr(node, 'lineno', '?')}"

    def fail(self, node: ast.AST, what: str) -> ConfigError:
        return ConfigError(f"{self.where(node)}: {what}: settings are read, not run, so only literal values "
                           f"(numbers, strings, lists, dicts, True/False/None) can be used; got "
                           f"{ast.unparse(node)!r}")

    def eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [self.eval(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items) if isinstance(node, ast.Tuple) else set(items)
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    raise self.fail(v, "a ** expansion in a dict")
                out[self.eval(k)] = Unevaluated(v, self.where(v))
            return out
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.eval(node.operand)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(node, "a sign on something that is not a number")
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = self.eval(node.left), self.eval(node.right)
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
            strings = isinstance(node.op, ast.Add) and all(isinstance(v, str) for v in (left, right))
            if not (numbers or strings):
                raise self.fail(node, "arithmetic on something that is not a number")
            try:
                return _BINOPS[type(node.op)](left, right)
            except ArithmeticError as exc:
                raise self.fail(node, str(exc)) from None
        if isinstance(node, ast.Name):
            if node.id in self.names:
                return self.resolve(self.names[node.id])
            raise self.fail(node, f"{node.id!r} is not a value assigned earlier in this file")
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            head = dotted.split(".")[0] if dotted else None
            if head in self.imported:  # an IBridgePy constant such as TraderRunMode.REGULAR: its member's name
                return node.attr
            raise self.fail(node, "an attribute of something that was not imported")
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, "an expression that cannot be read without running it")

    def call(self, node: ast.Call) -> Any:
        name = _dotted(node.func) or ""
        if node.keywords and name not in ("date", "datetime") and not name.endswith((".date", ".datetime")):
            raise self.fail(node, "a call with keyword arguments")
        args = [self.eval(a) for a in node.args]
        if name in _TZ_CALLS and len(args) == 1 and isinstance(args[0], str):
            return args[0]
        last = name.rsplit(".", 1)[-1]
        if last in _DATE_CALLS and (name == last or name.split(".")[0] in self.imported):
            try:
                kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg}
                return _DATE_CALLS[last](*args, **kwargs)
            except (TypeError, ValueError) as exc:
                raise self.fail(node, f"not a date ({exc})") from None
        raise self.fail(node, f"a call of {name or 'a function'}()")

    def resolve(self, value: Any) -> Any:
        """A value with every :class:`Unevaluated` part (dict entries) evaluated."""
        if isinstance(value, Unevaluated):
            return self.resolve(self.eval(value.node))
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value


@dataclass
class SettingsFile:
    """A settings file's top-level assignments, in file order; dict values are evaluated entry by entry on request
    (:meth:`value`), so an entry ibalgo does not use (IBridgePy's ``simulateCommission`` lambda) is never read."""

    path: Path
    assignments: list[Assignment]
    evaluator: _Evaluator

    def value(self, raw: Any) -> Any:
        """``raw`` (an assignment's value or a dict entry) fully evaluated; ConfigError naming file:line if it
        cannot be read without running code."""
        return self.evaluator.resolve(raw)

    def where(self, raw: Any, default_line: int) -> str:
        """``file:line`` of a value (a dict entry's own line when it has one)."""
        if isinstance(raw, Unevaluated):
            return raw.where
        return f"{self.path}:{default_line}"


def _is_main_guard(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def read_settings_file(path: Path) -> SettingsFile:
    """Parse ``path`` and read its top-level assignments (see the module docstring); never executes it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid Python: {exc.msg}") from None
    ev = _Evaluator(path)
    out: list[Assignment] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                ev.imported.add((alias.asname or alias.name).split(".")[0])
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
            continue
        if isinstance(node, ast.Expr):  # a docstring, or IBridgePy's run_me(...) call: not run
            continue
        if isinstance(node, ast.If) and _is_main_guard(node):
            continue
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            raise ConfigError(f"{path}:{node.lineno}: settings are read, not run: only assignments such as "
                              f"CAPITAL = 100000 are allowed here, got {ast.unparse(node).splitlines()[0]!r}")
        raw = ev.eval(value)
        for target in targets:
            if not isinstance(target, ast.Name):
                raise ConfigError(f"{path}:{node.lineno}: assign to a plain name (e.g. CAPITAL = 100000), got "
                                  f"{ast.unparse(target)!r}")
            ev.names[target.id] = raw
            out.append(Assignment(target.id, raw, node.lineno))
    return SettingsFile(path, out, ev)
