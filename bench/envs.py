"""The peers' virtual environments under bench/.envs/, created and filled with pip from PyPI on first use.

A peer that cannot be installed is reported with pip's last lines and skipped; nothing is ever faked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENVS = HERE / ".envs"

# name -> (pip requirements, module whose version is reported). Pinned so that a fresh clone measures the same.
PEERS: dict[str, tuple[tuple[str, ...], str]] = {
    "backtrader": (("backtrader==1.9.78.123", "pandas"), "backtrader"),
    "zipline-reloaded": (("zipline-reloaded==3.2.1",), "zipline"),
}


@dataclass
class Peer:
    """One installed (or failed) peer environment."""

    name: str
    python: Path | None
    version: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.python is not None and self.error is None


def _python_of(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_peer(name: str, log: Callable[[str], None]) -> Peer:
    """The peer's environment, created and installed when missing or when its requirements changed."""
    requirements, module = PEERS[name]
    folder = ENVS / name
    python = _python_of(folder)
    stamp = folder / "bench-installed.json"
    wanted = {"requirements": list(requirements)}
    if not (python.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted):
        log(f"installing {name} into {folder.relative_to(HERE.parent)} ({' '.join(requirements)}) ...")
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(folder)
        except (OSError, subprocess.CalledProcessError) as exc:
            return Peer(name, None, None, f"cannot create a virtual environment: {exc}")
        proc = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                               *requirements], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            return Peer(name, None, None, f"pip install failed: {tail}")
        stamp.write_text(json.dumps(wanted))
    check = f"import {module}, importlib.metadata as m; print(m.version({requirements[0].split('==')[0]!r}))"
    proc = subprocess.run([str(python), "-c", check], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return Peer(name, None, None, f"installed but not importable: {proc.stderr.strip().splitlines()[-1:]}")
    return Peer(name, python, proc.stdout.strip())
