"""A sweep's files: the rows as a table (``sweep.csv``, ``sweep.parquet``), the walk-forward windows, ``sweep.json``
and the page (``sweep.html``, :mod:`runtime.report.sweep`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.sweep.grid import ParamGrid
from runtime.sweep.worker import RunRow


def jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


_PHASE_ORDER = {"": 0, "train": 0, "test": 1}


def rows_frame(rows: Sequence[RunRow]) -> pd.DataFrame:
    ordered = sorted(rows, key=lambda r: (r.window if r.window is not None else -1, _PHASE_ORDER[r.phase], r.index))
    return pd.DataFrame([r.record() for r in ordered])


def walk_table(windows: list[tuple[int, int, int, int]], cal: Any, chosen: Mapping[int, RunRow | None],
                rows: Sequence[RunRow], grid: ParamGrid, metric: str) -> pd.DataFrame:
    tests = {r.window: r for r in rows if r.phase == "test"}
    out = []
    for w, (ta, tb, ca, cb) in enumerate(windows):
        best, test = chosen.get(w), tests.get(w)
        record: dict[str, Any] = {
            "window": w, "train_start": str(cal.session_label(ta).date()),
            "train_end": str(cal.session_label(tb).date()), "test_start": str(cal.session_label(ca).date()),
            "test_end": str(cal.session_label(cb).date()),
        }
        record.update({name: (best.params.get(name) if best else None) for name in grid.names})
        record[f"train_{metric}"] = getattr(best, metric) if best else math.nan
        for name in ("total_return", "sharpe", "max_drawdown", "trades"):
            record[name] = getattr(test, name) if test else (0 if name == "trades" else math.nan)
        record["error"] = test.error if test else "no training run finished"
        out.append(record)
    return pd.DataFrame(out)


def _write_parquet(frame: pd.DataFrame, path: Path) -> Path | None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    clean = frame.copy()
    for col in clean.columns:
        if clean[col].dtype == object and len({type(v) for v in clean[col] if v is not None}) > 1:
            clean[col] = clean[col].map(lambda v: None if v is None else str(v))
    clean.to_parquet(path, index=False)
    return path


def write_sweep_files(out: Path, rows: pd.DataFrame, walk: pd.DataFrame | None, meta: dict[str, Any]) -> list[Path]:
    """``sweep.csv``, ``sweep.parquet`` (pyarrow installed), ``walk_forward.csv``/``.parquet``, ``sweep.json`` and
    ``sweep.html`` into ``out``; returns the paths written."""
    from runtime.report.sweep import write_sweep_report

    out.mkdir(parents=True, exist_ok=True)
    files = [out / "sweep.csv"]
    rows.to_csv(files[0], index=False)
    parquet = _write_parquet(rows, out / "sweep.parquet")
    if parquet is not None:
        files.append(parquet)
    if walk is not None:
        files.append(out / "walk_forward.csv")
        walk.to_csv(files[-1], index=False)
        if parquet is not None:
            files.append(_write_parquet(walk, out / "walk_forward.parquet") or out / "walk_forward.parquet")
    meta = {**meta, "parquet": parquet is not None}
    (out / "sweep.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    files.append(out / "sweep.json")
    files.append(write_sweep_report(out))
    return files
