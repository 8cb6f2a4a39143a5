"""Shared fixtures (helpers live in :mod:`algo_harness`)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from algo_harness import run_algo
from hypothesis import settings

# CI runs the same examples every time (a failure there is reproducible); locally hypothesis explores freely.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def algo_runner(tmp_path: Path):
    """``algo_runner(source, **kwargs)``: :func:`algo_harness.run_algo` bound to this test's ``tmp_path``."""
    return functools.partial(run_algo, tmp_path)
