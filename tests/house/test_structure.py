"""The structure of runtime/, read from its source: no import cycle, no import up a layer (the layers are in
tests/house/structure.py and in the README's architecture section), no reaching into another module's private
attributes, no module over 450 lines without its reason written at its top.

``KNOWN`` lists what is left of each kind, by name; an entry that no longer happens fails too, so the list can
only shrink.
"""

from __future__ import annotations

import pytest
from house import structure

#: What is left to untangle, each entry as `python tests/house/structure.py` prints it.
KNOWN: dict[str, set[str]] = {
    "cycle": {
        'runtime.pipeline.builtin_factors <-> runtime.pipeline.classifiers <-> runtime.pipeline.data <-> runtime.pipeline.factors <-> runtime.pipeline.filters <-> runtime.pipeline.mixins <-> runtime.pipeline.term',  # noqa: E501
    },
    "upward": set(),
    "private": {
        'runtime/gateway/state.py: exchange._expiry',
        'runtime/gateway/state.py: exchange._fed_until',
        'runtime/gateway/state.py: exchange._session_close_after',
        'runtime/gateway/state.py: exchange._working_order',
        'runtime/live/broker.py: IBBroker._handlers',
        'runtime/live/session.py: ledger._positions',
    },
    "long": {
        'runtime/brokers/ib/broker.py',
        'runtime/cli.py',
        'runtime/core/ib_mapping.py',
        'runtime/core/rules.py',
        'runtime/gateway/exchange.py',
        'runtime/gateway/gateway.py',
        'runtime/gateway/session.py',
        'runtime/live/session.py',
        'runtime/pipeline/builtin_factors.py',
        'runtime/pipeline/factors.py',
    },
}


@pytest.mark.parametrize("kind", ["cycle", "upward", "private", "long"])
def test_structure(kind: str) -> None:
    now = structure.report()[kind]
    new = now - KNOWN[kind]
    gone = KNOWN[kind] - now
    assert not new, f"new {kind} problems in runtime/: {sorted(new)}"
    assert not gone, f"fixed {kind} entries still listed in KNOWN (remove them): {sorted(gone)}"


def test_every_unit_has_a_layer() -> None:
    units = {structure.unit(m) for m in structure.modules()}
    for u in units:
        structure.layer_of(u)  # raises KeyError naming the unit


def test_the_checks_see_what_they_look_for(tmp_path, monkeypatch) -> None:
    """The checker finds a planted cycle, an upward import, a private access and a long module."""
    pkg = tmp_path / "runtime"
    (pkg / "core").mkdir(parents=True)
    (pkg / "engine").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    (pkg / "engine" / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text("from runtime.engine import b\n")
    (pkg / "engine" / "b.py").write_text("from runtime.core import a\n\n\ndef f(x):\n    return x._hidden\n")
    (pkg / "core" / "long.py").write_text("x = 1\n" * 500)
    monkeypatch.setattr(structure, "ROOT", tmp_path)
    monkeypatch.setattr(structure, "RUNTIME", pkg)
    assert structure.cycles() == [["runtime.core.a", "runtime.engine.b"]]
    assert [(i.source, i.target) for i in structure.upward_imports()] == [("runtime.core.a", "runtime.engine.b")]
    assert [p.text for p in structure.private_accesses()] == ["x._hidden"]
    assert structure.long_modules() == [("runtime/core/long.py", 500)]
