"""``sweep.html``: the page of a parameter sweep, from the files ``ibalgo sweep`` wrote (``sweep.csv``,
``sweep.json``, ``walk_forward.csv``).

Heatmaps of the ranking figure over two parameters (with more than two swept parameters, each cell is the best
over the others), the figure against a lone parameter, the best runs, the runs that failed and, for a walk-forward,
the windows with their out-of-sample figures. The same page renderer as ``report.html`` draws it (plotly.js inlined:
one file that opens offline).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runtime.report import figures
from runtime.report.page import report_html

#: at most this many parameter pairs get a heatmap (with --heatmap A,B: that one pair)
MAX_HEATMAPS = 6

_LABELS = {"sharpe": "Sharpe ratio", "sortino": "Sortino ratio", "total_return": "total return",
           "annual_return": "annual return", "max_drawdown": "max drawdown"}
_PERCENT = {"total_return", "annual_return", "max_drawdown"}


def _value(metric: str, v: Any) -> float | None:
    if v is None or not math.isfinite(float(v)):
        return None
    return round(float(v) * (100 if metric in _PERCENT else 1), 6)


def _fmt(metric: str, v: Any) -> str:
    x = _value(metric, v)
    return "n/a" if x is None else (f"{x:,.2f}%" if metric in _PERCENT else f"{x:,.3f}")


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {"margin": {"l": 70, "r": 20, "t": 40, "b": 50}, "height": 380, "template": None, "hovermode": "closest",
            "paper_bgcolor": "white", "plot_bgcolor": "#fafafa", "title": {"text": title, "font": {"size": 14}},
            **extra}


def _sorted_values(series: pd.Series) -> list[Any]:
    values = list(dict.fromkeys(series.tolist()))
    try:
        return sorted(values)
    except TypeError:
        return values


def heatmap(rows: pd.DataFrame, x: str, y: str, metric: str, note: str = "") -> dict[str, Any]:
    """A chart spec: ``metric`` (the best over any other parameter) for each (x, y) pair of values."""
    finished = rows[rows["sessions"] > 0]
    xs, ys = _sorted_values(rows[x]), _sorted_values(rows[y])
    best = finished.groupby([x, y], sort=False)[metric].max() if len(finished) else pd.Series(dtype=float)
    z = [[_value(metric, best.get((xv, yv))) for xv in xs] for yv in ys]
    text = [["" if v is None else (f"{v:.1f}" if metric in _PERCENT else f"{v:.2f}") for v in row] for row in z]
    found = [v for row in z for v in row if v is not None]
    trace: dict[str, Any] = {
        "type": "heatmap", "x": [str(v) for v in xs], "y": [str(v) for v in ys], "z": z, "text": text,
        "texttemplate": "%{text}" if len(xs) * len(ys) <= 400 else "", "colorscale": figures.HEATMAP_COLORS,
        "hovertemplate": f"{x}=%{{x}} {y}=%{{y}}: %{{z:.3f}}{'%' if metric in _PERCENT else ''}<extra></extra>",
        "colorbar": {"title": {"text": _LABELS[metric]}},
    }
    if found and metric in ("total_return", "annual_return", "sharpe", "sortino") and min(found) < 0 < max(found):
        trace["zmid"] = 0
    title = f"{_LABELS[metric]} by {x} and {y}{note}"
    return {"id": f"heatmap-{x}-{y}", "title": title, "figure": {"data": [trace], "layout": _layout(
        title, xaxis={"type": "category", "title": {"text": x}}, yaxis={"type": "category", "title": {"text": y}},
        height=max(300, 120 + 26 * len(ys)))}}


def line(rows: pd.DataFrame, x: str, metric: str, note: str = "") -> dict[str, Any]:
    """A chart spec: ``metric`` against the values of one parameter (the best over any other)."""
    finished = rows[rows["sessions"] > 0]
    xs = _sorted_values(rows[x])
    best = finished.groupby(x, sort=False)[metric].max() if len(finished) else pd.Series(dtype=float)
    title = f"{_LABELS[metric]} by {x}{note}"
    trace = {"type": "scatter", "mode": "lines+markers", "x": [str(v) for v in xs],
             "y": [_value(metric, best.get(v)) for v in xs], "name": metric}
    return {"id": f"line-{x}", "title": title, "figure": {"data": [trace], "layout": _layout(
        title, xaxis={"type": "category", "title": {"text": x}},
        yaxis={"ticksuffix": "%" if metric in _PERCENT else ""})}}


def _pairs(names: list[str], rows: pd.DataFrame, chosen: list[str] | None) -> list[tuple[str, str]]:
    if chosen:
        return [(chosen[0], chosen[1])]
    varied = [n for n in names if rows[n].nunique(dropna=False) > 1] or names
    return list(itertools.combinations(varied, 2))[:MAX_HEATMAPS]


def sweep_snapshot(folder: Path) -> dict[str, Any]:
    """The page's snapshot (see :mod:`runtime.report.page`) of the sweep whose files are in ``folder``."""
    folder = Path(folder)
    rows = pd.read_csv(folder / "sweep.csv", dtype={"error": str})
    rows["error"] = rows["error"].fillna("")
    meta = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    names: list[str] = list(meta["params"])
    metric: str = meta["metric"]
    walk = meta.get("walk_forward")
    wf = pd.read_csv(folder / "walk_forward.csv") if walk and (folder / "walk_forward.csv").is_file() else None
    train = rows
    note = ""
    if walk:  # the in-sample figure of each combination: its mean over the training windows
        finished_train = rows[(rows["phase"] == "train") & (rows["sessions"] > 0)]
        train = finished_train.groupby(names, as_index=False, dropna=False)[[metric]].mean()
        train["sessions"] = 1
        note = f" (in-sample, mean over the {len(wf) if wf is not None else 0} training windows)"
    charts: list[dict[str, Any]] = []
    if len(names) == 1:
        charts.append(line(train, names[0], metric, note))
    for x, y in _pairs(names, train, meta.get("heatmap")):
        charts.append(heatmap(train, x, y, metric, note))
    if wf is not None and len(wf):
        records = wf.to_dict("records")
        labels = [f"{r['test_start']}..{r['test_end']}" for r in records]
        chosen = [", ".join(f"{n}={r.get(n)}" for n in names) for r in records]
        charts.append({"id": "walk-forward", "title": "Out-of-sample total return per test window (%)", "figure": {
            "data": [{"type": "bar", "x": labels, "y": [_value("total_return", v) for v in wf["total_return"]],
                      "text": chosen, "hovertemplate": "%{x}: %{y:.2f}% (%{text})<extra></extra>",
                      "marker": {"color": "#1f77b4"}}],
            "layout": _layout("Out-of-sample total return per test window (%)", xaxis={"type": "category"},
                              yaxis={"ticksuffix": "%"})}})
    finished = rows[rows["sessions"] > 0]
    failed = rows[rows["sessions"] == 0]
    raised = rows[(rows["errors"] > 0) | (rows["error"] != "")]
    summary = [["algorithm", str(meta.get("algorithm", ""))],
               ["period", f"{meta.get('start')} .. {meta.get('end')}"],
               ["parameters", "; ".join(f"{n}: {', '.join(map(str, meta['grid'][n]))}" for n in names)],
               ["runs", f"{len(rows)} on {meta.get('workers', '?')} workers"],
               ["finished", str(len(finished))], ["did not finish", str(len(failed))],
               ["algorithm raised in", f"{len(raised)} runs"], ["ranked by", _LABELS[metric]]]
    if "run_seconds" in rows and len(rows):
        summary.append(["run time (median)", f"{float(rows['run_seconds'].median()):.2f} s"])
    best = meta.get("best")
    if best:
        summary.append(["best run", f"{best['run']}: {_LABELS[metric]} {_fmt(metric, best.get(metric))}"])
    if wf is not None and len(wf):
        oos = wf["total_return"].astype(float)
        compounded = float(np.prod(1 + oos.dropna())) - 1 if oos.notna().any() else math.nan
        summary += [["walk-forward", f"train {walk['train']} / test {walk['test']} sessions, {len(wf)} windows"],
                    ["out-of-sample return (compounded)", _fmt("total_return", compounded)],
                    ["out-of-sample Sharpe (mean)", _fmt("sharpe", wf["sharpe"].astype(float).mean())]]
    ranked = finished.sort_values(metric, ascending=False, kind="stable", na_position="last")
    shown_cols = ["run", *names, "total_return", "sharpe", "sortino", "max_drawdown", "trades", "errors",
                  "run_seconds"]
    tables = []
    if wf is not None:
        tables.append(figures.table("walk", "Walk-forward windows (test = out of sample)", wf, newest_first=False))
    tables.append(figures.table("best", f"Runs by {_LABELS[metric]}, best first",
                                ranked[[c for c in shown_cols if c in ranked.columns]], newest_first=False))
    tables.append(figures.table("errors", "Runs whose algorithm raised or that did not finish",
                                raised[[c for c in ("run", *names, "errors", "error") if c in raised.columns]],
                                newest_first=False))
    name = Path(str(meta.get("algorithm", "sweep"))).name
    kind = "walk-forward" if walk else "sweep"
    return {
        "title": f"ibalgo {kind}: {name}", "version": 1,
        "subtitle": f"{kind} of {meta.get('algorithm')} ({meta.get('frequency', 'daily')} bars) over "
                    f"{', '.join(names)}; {meta.get('start')} .. {meta.get('end')}",
        "summary": summary, "charts": charts, "tables": tables, "tables_first": False,
    }


def write_sweep_report(folder: Path) -> Path:
    """Write ``sweep.html`` (one self-contained file) into ``folder`` from its sweep files; returns its path."""
    path = Path(folder) / "sweep.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(report_html(sweep_snapshot(Path(folder))), encoding="utf-8")
    tmp.replace(path)
    return path
