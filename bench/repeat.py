"""Run a bench script's measurement in separate processes and take medians of its figures."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def in_processes(script: str, args: list[str], runs: int) -> list[dict[str, float]]:
    """Run ``script --single --out FILE *args`` ``runs`` times, each in a fresh process; the figures of each run."""
    out: list[dict[str, float]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "run.json"
            subprocess.run([sys.executable, script, "--single", "--out", str(target), *args], check=True, cwd=ROOT,
                           stdout=subprocess.DEVNULL)
            out.append(json.loads(target.read_text()))
    return out


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median of every numeric figure over the runs."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    return {k: float(statistics.median(r[k] for r in runs)) for k in keys}
