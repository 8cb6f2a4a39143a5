"""Quantopian-era algorithm files (tests/corpus/quantopian): each either runs to the end with no algorithm error,
or stops with the runtime's own message (the file's first line says which: ``# expect: TEXT|TEXT``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.algo import run_algo

from runtime.errors import AlgorithmLoadError
from runtime.port import port_source

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "quantopian"
FILES = sorted(CORPUS.glob("*.py"))


def _expected(path: Path) -> list[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    return first.removeprefix("# expect:").strip().split("|") if first.startswith("# expect:") else []


def test_the_corpus_covers_both_outcomes() -> None:
    assert len([p for p in FILES if _expected(p)]) >= 10 and len([p for p in FILES if not _expected(p)]) >= 4


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_corpus_file(tmp_path: Path, path: Path) -> None:
    expected = _expected(path)
    source = path.read_text(encoding="utf-8")
    if "# port" in source:  # a Python 2 file: it runs once converted by `ibalgo port`
        with pytest.raises(AlgorithmLoadError, match="ibalgo port"):
            run_algo(tmp_path, path, start="2011-03-01", end="2011-03-04")
        ported = port_source(source)
        assert ported.compiles, ported.error
        path = tmp_path / path.name
        path.write_text(ported.source, encoding="utf-8")
    if not expected:
        result = run_algo(tmp_path, path, start="2011-03-01", end="2011-06-30", strict=True)
        assert result.engine.error_count == 0
        return
    with pytest.raises(AlgorithmLoadError) as info:
        run_algo(tmp_path, path, start="2011-03-01", end="2011-04-29", strict=True)
    message = str(info.value)
    for text in expected:
        assert text in message, message
    assert "unknown location" not in message and "Traceback" not in message
