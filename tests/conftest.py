"""Shared fixtures (helpers live in :mod:`support.algo`)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from hypothesis import settings
from support.algo import run_algo

# CI runs the same examples every time (a failure there is reproducible); locally hypothesis explores freely.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def algo_runner(tmp_path: Path):
    """``algo_runner(source, **kwargs)``: :func:`support.algo.run_algo` bound to this test's ``tmp_path``."""
    return functools.partial(run_algo, tmp_path)


#: Folders (under tests/) whose every test opens loopback sockets: the gateway, the IB adapter, paper/live runs.
#: Elsewhere a test that does carries ``@pytest.mark.socket`` itself.
SOCKET_FOLDERS = ("gateway", "brokers", "live")
SOCKET_FILES = ("test_support.py",)
#: Folders and files whose every test is slow (a process per test, zipline comparisons, heavy shared fixtures);
#: elsewhere a slow test carries ``@pytest.mark.slow`` itself.
SLOW_FOLDERS = ("cli", "oracle")
SLOW_FILES = ("algorithm/test_ibridgepy_files.py", "algorithm/test_quant_libraries.py", "report/test_report.py",
              "data/test_data_update.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests ``socket``/``slow`` by the tables above (the markers are described in pyproject.toml)."""
    tests = Path(__file__).resolve().parent
    for item in items:
        rel = item.path.resolve().relative_to(tests)
        if rel.parts[0] in SOCKET_FOLDERS or rel.as_posix() in SOCKET_FILES:
            item.add_marker(pytest.mark.socket)
        if rel.parts[0] in SLOW_FOLDERS or rel.as_posix() in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
