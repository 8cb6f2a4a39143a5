"""Results people can look at: ``report.html`` from a run's output folder, and the live page of a run.

``write_report(folder)`` reads the files a backtest or a run wrote (``results.pkl``, ``summary.json``,
``trades.csv``, ``orders.csv``) and writes ``report.html`` next to them; ``ibalgo report FOLDER`` does the same for
an earlier run. The charts and tables come from :mod:`runtime.report.figures`, the page from
:mod:`runtime.report.page`; the live page (:mod:`runtime.report.dashboard`) draws the same charts while a run lasts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.errors import IbAlgoError
from runtime.report import figures
from runtime.report.page import report_html

__all__ = ["ReportError", "folder_snapshot", "write_report"]


class ReportError(IbAlgoError):
    """A report cannot be built (no results in the folder, unreadable files)."""


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def folder_snapshot(folder: Path) -> dict[str, Any]:
    """The report's snapshot (see :mod:`runtime.report.page`) of the results in ``folder``."""
    folder = Path(folder)
    pkl = folder / "results.pkl"
    if not pkl.is_file():
        raise ReportError(f"no results in {folder}/ (results.pkl is missing): give the --output folder of a "
                          "backtest or run")
    try:
        perf = pd.read_pickle(pkl)
    except Exception as exc:
        raise ReportError(f"{pkl}: cannot be read: {type(exc).__name__}: {exc}") from exc
    summary: dict[str, Any] = {}
    if (folder / "summary.json").is_file():
        summary = json.loads((folder / "summary.json").read_text())
    recorded = summary.get("recorded")
    algorithm = summary.get("algorithm", "")
    mode = summary.get("mode", "backtest")
    name = Path(algorithm).name if algorithm else folder.name
    subtitle = (f"{mode} of {algorithm} ({summary.get('frequency', 'daily')} bars), {summary.get('start', '-')} .. "
                f"{summary.get('end', '-')}; benchmark: {summary.get('benchmark') or 'none'}")
    tables = [figures.table("trades", "Trades (fills)", _read_csv(folder / "trades.csv")),
              figures.table("orders", "Orders (last state)", _read_csv(folder / "orders.csv"))]
    return {
        "title": f"ibalgo report: {name}", "subtitle": subtitle, "version": 1,
        "summary": figures.summary_rows(summary),
        "charts": figures.charts(perf, recorded),
        "tables": tables,
    }


def write_report(folder: Path) -> Path:
    """Write ``report.html`` (one self-contained file: charts, tables, summary) into ``folder``; returns its path."""
    path = Path(folder) / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(report_html(folder_snapshot(Path(folder))), encoding="utf-8")
    tmp.replace(path)
    return path
