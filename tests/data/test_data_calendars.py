"""Calendars built from exchange_calendars and cached on disk (runtime.data.calendars); the core calendar is pure."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import runtime.core.calendar as core_calendar
from runtime.data import calendars


def test_a_calendar_comes_back_from_the_disk_cache_equal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IBALGO_CACHE_DIR", str(tmp_path))
    built = calendars._build_cached("XNYS", "2012-01-01", "2012-12-31")
    (cached,) = (tmp_path / "calendars").glob("XNYS-*.npz")
    again = calendars._load_cached(cached, "XNYS")
    assert again is not None
    for name in ("sessions", "opens", "closes", "early_close"):
        assert np.array_equal(getattr(built, name), getattr(again, name))
    assert again.tz == built.tz == "America/New_York"
    assert again.date_bounds() == built.date_bounds()
    assert len(again.session_minutes(0)) == 390
    assert int(again.early_close.sum()) == 3  # 2012-07-03, 2012-11-23, 2012-12-24


def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IBALGO_CACHE_DIR", str(tmp_path))
    calendars._build_cached("XNYS", "2013-01-01", "2013-03-31")
    (cached,) = (tmp_path / "calendars").glob("XNYS-*.npz")
    cached.write_bytes(b"not an npz file")
    assert calendars._load_cached(cached, "XNYS") is None
    assert len(calendars._build_cached("XNYS", "2013-01-01", "2013-03-31")) == 60


def test_the_core_calendar_does_no_io_and_reads_no_clock() -> None:
    tree = ast.parse(Path(core_calendar.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"os", "pathlib", "datetime", "time", "hashlib", "exchange_calendars"}
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not names & {"today", "now", "open", "savez", "load"}
