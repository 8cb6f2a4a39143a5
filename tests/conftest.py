"""Shared fixtures (helpers live in :mod:`algo_harness`)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from algo_harness import run_algo


@pytest.fixture
def algo_runner(tmp_path: Path):
    """``algo_runner(source, **kwargs)``: :func:`algo_harness.run_algo` bound to this test's ``tmp_path``."""
    return functools.partial(run_algo, tmp_path)
