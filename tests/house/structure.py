"""Reads the import graph and the private-attribute accesses of ``runtime/`` from its source (no imports run).

Used by tests/house/test_structure.py; kept apart so that ``python tests/house/structure.py`` prints the report.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "runtime"

#: The layers of the runtime, lowest first. A module may import from its own unit (a package of ``runtime`` or a
#: top-level module) and from units in LOWER layers only; two units of one layer may not import each other.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "version"}),
    frozenset({"core"}),
    frozenset({"data", "optimize", "settings_reader", "report", "progress"}),
    frozenset({"pipeline", "brokers", "journal", "config"}),
    frozenset({"engine"}),
    frozenset({"algorithm", "gateway"}),
    frozenset({"assembly"}),
    frozenset({"live", "sweep", "port", "api"}),
    frozenset({"script"}),
    frozenset({"cli"}),
    frozenset({"__main__", "runtime"}),
)

#: Where reaching into another library's internals is allowed (each with its reason at the top of the file).
PRIVATE_ACCESS_FENCES: frozenset[str] = frozenset({"runtime/data/frames.py"})

#: Private names of the standard library and of libraries whose documented API uses a leading underscore.
ALLOWED_PRIVATE: frozenset[str] = frozenset({
    "_asdict", "_replace", "_fields", "_make", "_field_defaults",  # namedtuple's public API
    "_getframe", "_exit", "_current_frames",  # sys / os
    "_value2member_map_", "_member_map_", "_missing_", "_name_", "_value_", "_member_names_",  # enum
})


@dataclass(frozen=True)
class Import:
    """One import statement: the importing module, the imported module, and where."""

    source: str
    target: str
    line: int


@dataclass(frozen=True)
class PrivateAccess:
    """``obj._name`` where ``_name`` is not defined in the accessing module."""

    path: str
    line: int
    text: str


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(RUNTIME.rglob("*.py"))}


def _resolve(mods: dict[str, Path], name: str) -> str | None:
    """The longest prefix of ``name`` that is a module of runtime/ (``runtime.x.y.Name`` -> ``runtime.x.y``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in mods:
            return candidate
        parts.pop()
    return None


def _is_type_checking_block(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): imports for annotations only, never executed."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports() -> Iterator[Import]:
    """Every import of a runtime module by a runtime module, at module level and inside functions (not those under
    ``if TYPE_CHECKING:``, which never run)."""
    mods = modules()
    for source, path in mods.items():
        package = source if path.name == "__init__.py" else source.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {id(n) for block in ast.walk(tree) if _is_type_checking_block(block)
                       for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join([*base, node.module] if node.module else base)
                else:
                    module = node.module or ""
                # ``from pkg import submodule`` imports the submodule; ``from pkg import Name`` the package
                names = [f"{module}.{a.name}" for a in node.names]
            for name in names:
                target = _resolve(mods, name)
                if target is not None and target != source:
                    yield Import(source, target, node.lineno)


def unit(module: str) -> str:
    """The unit a module belongs to: ``runtime.core.ledger`` -> ``core``; ``runtime.cli`` -> ``cli``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "runtime"


def layer_of(name: str) -> int:
    for i, layer in enumerate(LAYERS):
        if name in layer:
            return i
    raise KeyError(f"runtime unit {name!r} is in no layer: add it to LAYERS in {__file__}")


def upward_imports() -> list[Import]:
    """Imports from a unit into a unit of the same or a higher layer."""
    bad = []
    for imp in imports():
        a, b = unit(imp.source), unit(imp.target)
        if a != b and layer_of(b) >= layer_of(a):
            bad.append(imp)
    return bad


def cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for imp in imports():
        graph[imp.source].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _defined_private_names(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, attributes it assigns on ``self``/``cls``, names, and
    parameters (a write to ``other._name`` defines nothing: it is the access this check looks for)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if n.startswith("_")}


def private_accesses() -> list[PrivateAccess]:
    """``obj._name`` (obj not ``self``/``cls``) where no ``_name`` is defined in the same module, or where ``obj`` is
    a name imported from another module (``OtherClass._name``)."""
    found = []
    for path in modules().values():
        rel = path.relative_to(ROOT).as_posix()
        if rel in PRIVATE_ACCESS_FENCES:
            continue
        source = path.read_text()
        tree = ast.parse(source, str(path))
        own = _defined_private_names(tree)
        imported = {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                    if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            attr = node.attr
            if not attr.startswith("_") or (attr.startswith("__") and attr.endswith("__")):
                continue
            of_import = isinstance(node.value, ast.Name) and node.value.id in imported
            if attr in ALLOWED_PRIVATE or (attr in own and not of_import):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            found.append(PrivateAccess(rel, node.lineno, ast.get_source_segment(source, node) or attr))
    return found


def long_modules(limit: int = 450) -> list[tuple[str, int]]:
    """Modules over ``limit`` lines that do not say in their docstring why they stay long (a paragraph starting
    "Why this module stays long")."""
    found = []
    for path in modules().values():
        text = path.read_text()
        n = text.count("\n")
        if n > limit and "Why this module stays long" not in text[:4000]:
            found.append((path.relative_to(ROOT).as_posix(), n))
    return found


def report() -> dict[str, set[str]]:
    """Everything the checks find, by kind, in the form of tests/house/test_structure.py's ``KNOWN``."""
    return {
        "cycle": {" <-> ".join(c) for c in cycles()},
        "upward": {f"{i.source} -> {i.target}" for i in upward_imports()},
        "private": {f"{p.path}: {p.text}" for p in private_accesses()},
        "long": {path for path, _ in long_modules()},
    }


if __name__ == "__main__":
    for kind, entries in report().items():
        for entry in sorted(entries):
            print(f"{kind}: {entry}")
