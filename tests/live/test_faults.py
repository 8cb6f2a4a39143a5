"""A short fault campaign (bench/faults.py): kill -9 of the runtime and of the gateway (``--state``) at random moments
and a socket fuzz, on loopback with real processes, the real ibapi client and the real journal. Nothing may be
duplicated, lost, left open as a phantom or missing, and the gateway must serve a fresh client after each fuzz
batch."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import faults  # bench/faults.py


def _clean(counts: faults.Counts) -> None:
    assert counts.failed_restarts == 0
    assert counts.checks >= 1
    assert (counts.duplicates, counts.lost, counts.phantoms, counts.missing_fills, counts.mismatches) == (0,) * 5


@pytest.mark.slow
def test_runtime_kills_leave_nothing_duplicated_lost_or_open(tmp_path: Path) -> None:
    _clean(faults.runtime_kills(tmp_path, 1, random.Random(1), (1.0, 4.0)))


def test_gateway_kill_and_restart_with_state(tmp_path: Path) -> None:
    _clean(faults.gateway_kills(tmp_path, 1, random.Random(2), (1.0, 3.0)))


def test_socket_fuzz_does_not_take_the_gateway_down(tmp_path: Path) -> None:
    result = faults.fuzz(tmp_path, 4_000, random.Random(3), batch=2_000)
    assert result.inputs == 4_000 and not result.crashed and result.unserved == 0
