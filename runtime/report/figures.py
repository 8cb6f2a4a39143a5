"""The report's charts and tables, as plotly figure specifications (plain JSON-able dicts) built from a results table.

One builder serves both pages: ``report.html`` embeds the specs, the live page of a run fetches them as JSON while the
run lasts; plotly.js draws them in the browser (zoom, hover, legend toggles). Rolling and aggregate figures follow
empyrical's definitions (the library zipline's metrics use; :mod:`runtime.core.metrics` computes them, checked
against empyrical in the tests): 126-session (six-month) windows, as pyfolio's tear sheets.

The input is a results table with plain values (``runtime.engine.results.plain_perf``: positions' ``sid`` is a
symbol), as ``results.pkl`` holds it.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from runtime.core import metrics

#: sessions in the rolling windows (six months, pyfolio's choice)
ROLLING_WINDOW = 126
#: at most this many rows of a table are sent to the page (the newest ones); the CSV files hold all
TABLE_ROWS = 2000

HEATMAP_COLORS = [[0.0, "#d73027"], [0.5, "#ffffbf"], [1.0, "#1a9850"]]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 40}, "height": 320, "hovermode": "x unified",
    "legend": {"orientation": "h", "y": 1.12}, "template": None, "uirevision": "keep",
    "paper_bgcolor": "white", "plot_bgcolor": "#fafafa",
}


#: significant digits kept in chart values (relative to each series' largest value: more than a chart shows)
CHART_DIGITS = 7


def _num(values: Any) -> list[float | None]:
    """JSON numbers rounded to :data:`CHART_DIGITS` significant digits of the series' largest value, at most 10
    decimals (None for NaN/inf: a gap in the line)."""
    arr = np.asarray(values, dtype=float)
    finite = np.isfinite(arr)
    if not finite.any():
        return [None] * len(arr)
    scale = float(np.max(np.abs(arr[finite])))
    decimals = 10 if scale == 0 else int(min(10, max(0, CHART_DIGITS - 1 - math.floor(math.log10(scale)))))
    rounded = np.round(arr, decimals).tolist()
    return rounded if finite.all() else [v if ok else None for v, ok in zip(rounded, finite.tolist())]


def _dates(index: pd.Index) -> list[str]:
    idx = pd.DatetimeIndex(index)
    return [d.strftime("%Y-%m-%d") for d in (idx.tz_convert(None) if idx.tz is not None else idx)]


def _line(x: list[str], y: Any, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines", "x": x, "y": _num(y), "name": name, **extra}


def _figure(title: str, traces: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    return {"data": traces, "layout": {**_LAYOUT, "title": {"text": title, "font": {"size": 14}}, **layout}}


def _chart(chart_id: str, title: str, traces: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    return {"id": chart_id, "title": title, "figure": _figure(title, traces, **layout)}


def _has_benchmark(perf: pd.DataFrame) -> bool:
    return "benchmark_returns" in perf.columns and bool(perf["benchmark_returns"].notna().any())


def _returns(perf: pd.DataFrame, column: str = "returns") -> pd.Series:
    days = pd.DatetimeIndex(perf.index).normalize()
    return pd.Series(perf[column].fillna(0.0).to_numpy(dtype=float), index=days)


def _cum_returns(returns: pd.Series) -> np.ndarray:
    """``empyrical.cum_returns``: the compounded return up to each session (NaN counts as 0)."""
    return np.cumprod(np.nan_to_num(returns.to_numpy(dtype=float), nan=0.0) + 1.0) - 1.0


def _aggregate_returns(returns: pd.Series, convert_to: str) -> pd.Series:
    """``empyrical.aggregate_returns``: the compounded return of each month ((year, month) index) or year."""
    idx = pd.DatetimeIndex(returns.index)
    keys = [idx.year, idx.month] if convert_to == "monthly" else [idx.year]
    growth = returns.fillna(0.0) + 1.0
    return growth.groupby(keys).prod() - 1.0


def positions_frame(perf: pd.DataFrame) -> pd.DataFrame:
    """The value held in each symbol at each session's close (pyfolio's positions, without cash)."""
    rows = []
    for day in perf.get("positions", []):
        row: dict[str, float] = {}
        for pos in day:
            sym = str(getattr(pos["sid"], "symbol", pos["sid"]))
            row[sym] = row.get(sym, 0.0) + float(pos["amount"]) * float(pos["last_sale_price"])
        rows.append(row)
    return pd.DataFrame(rows, index=perf.index).fillna(0.0) if rows else pd.DataFrame(index=perf.index)


def charts(perf: pd.DataFrame, recorded: list[str] | None = None) -> list[dict[str, Any]]:
    """Every chart of the report, in page order: ``[{"id", "title", "figure"}, ...]``.

    ``recorded`` names the ``record()`` series (each gets its own chart); None finds them as the table's columns
    that are not zipline's.
    """
    if perf.empty:
        return []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _charts(perf, recorded)


def _charts(perf: pd.DataFrame, recorded: list[str] | None) -> list[dict[str, Any]]:
    x = _dates(perf.index)
    rets = _returns(perf)
    bench = _returns(perf, "benchmark_returns") if _has_benchmark(perf) else None
    out: list[dict[str, Any]] = []

    traces = [_line(x, _cum_returns(rets) * 100, "algorithm", line={"color": "#1f77b4"})]
    if bench is not None:
        traces.append(_line(x, _cum_returns(bench) * 100, "benchmark", line={"color": "#999"}))
    out.append(_chart("equity", "Cumulative return (%) against the benchmark", traces, yaxis={"ticksuffix": "%"}))
    out.append(_chart("value", "Portfolio value", [_line(x, perf["portfolio_value"], "portfolio value",
                                                         line={"color": "#2ca02c"})]))

    underwater = metrics.drawdown_series(rets.to_numpy()) * 100
    out.append(_chart("drawdown", "Drawdown (underwater, %)", [
        _line(x, underwater, "drawdown", fill="tozeroy", line={"color": "#d62728"})], yaxis={"ticksuffix": "%"}))

    monthly = _aggregate_returns(rets, "monthly")
    years = sorted({int(y) for y, _ in monthly.index})
    z = [[None] * 12 for _ in years]
    for (year, month), value in monthly.items():
        z[years.index(int(year))][int(month) - 1] = round(float(value) * 100, 4)
    text = [["" if v is None else f"{v:.1f}" for v in row] for row in z]
    limit = max((abs(v) for row in z for v in row if v is not None), default=1.0) or 1.0
    out.append(_chart("monthly", "Monthly returns (%)", [{
        "type": "heatmap", "x": MONTHS, "y": [str(y) for y in years], "z": z, "text": text,
        "texttemplate": "%{text}", "colorscale": HEATMAP_COLORS, "zmid": 0, "zmin": -limit, "zmax": limit,
        "hovertemplate": "%{y} %{x}: %{z:.2f}%<extra></extra>", "showscale": False}],
        height=max(200, 40 + 28 * len(years)), hovermode="closest",
        yaxis={"autorange": "reversed", "type": "category"}))

    yearly = _aggregate_returns(rets, "yearly")
    bars = [{"type": "bar", "x": [str(y) for y in yearly.index], "y": _num(yearly.to_numpy() * 100),
             "name": "algorithm", "marker": {"color": "#1f77b4"}}]
    if bench is not None:
        yb = _aggregate_returns(bench, "yearly")
        bars.append({"type": "bar", "x": [str(y) for y in yb.index], "y": _num(yb.to_numpy() * 100),
                     "name": "benchmark", "marker": {"color": "#999"}})
    out.append(_chart("yearly", "Yearly returns (%)", bars, barmode="group", yaxis={"ticksuffix": "%"},
                      xaxis={"type": "category"}, hovermode="closest"))

    window = ROLLING_WINDOW
    if len(rets) > window:
        sharpe = metrics.rolling_sharpe(rets.to_numpy(), window)
        vol = metrics.rolling_volatility(rets.to_numpy(), window) * 100
        roll_x = x[window - 1:]
        out.append(_chart("rolling_sharpe", f"Rolling Sharpe ratio ({window} sessions)",
                          [_line(roll_x, sharpe, "Sharpe")]))
        vol_traces = [_line(roll_x, vol, "algorithm")]
        if bench is not None:
            vol_traces.append(_line(roll_x, metrics.rolling_volatility(bench.to_numpy(), window) * 100,
                                    "benchmark", line={"color": "#999"}))
        out.append(_chart("rolling_volatility", f"Rolling volatility ({window} sessions, annualised %)", vol_traces,
                          yaxis={"ticksuffix": "%"}))
        if bench is not None:
            beta = metrics.rolling_beta(rets.to_numpy(), bench.to_numpy(), window)
            out.append(_chart("rolling_beta", f"Rolling beta to the benchmark ({window} sessions)",
                              [_line(roll_x, np.asarray(beta, dtype=float), "beta")]))

    out.append(_chart("exposure", "Exposure (long, short, net)", [
        _line(x, perf["long_exposure"], "long", line={"color": "#2ca02c"}),
        _line(x, perf["short_exposure"], "short", line={"color": "#d62728"}),
        _line(x, perf["long_exposure"] + perf["short_exposure"], "net", line={"color": "#1f77b4"}),
    ]))
    out.append(_chart("leverage", "Leverage (gross and net)", [
        _line(x, perf["gross_leverage"], "gross"), _line(x, perf["net_leverage"], "net")]))

    held = positions_frame(perf)
    if not held.empty and len(held.columns):
        order = held.abs().max().sort_values(ascending=False).index
        out.append(_chart("positions", "Positions over time (value held)", [
            _line(x, held[sym], str(sym), stackgroup="long" if (held[sym] >= 0).all() else None) for sym in order]))

    names = recorded if recorded is not None else recorded_columns(perf)
    for name in names:
        if name in perf.columns:
            values = pd.to_numeric(perf[name], errors="coerce")
            out.append(_chart(f"record_{name}", f"record(): {name}", [_line(x, values, name)]))
    return out


#: zipline's columns of the results table (anything else is a record() series)
ZIPLINE_COLUMNS = frozenset({
    "period_open", "period_close", "starting_cash", "ending_cash", "starting_value", "ending_value",
    "starting_exposure", "ending_exposure", "portfolio_value", "pnl", "returns", "capital_used", "long_value",
    "short_value", "long_exposure", "short_exposure", "longs_count", "shorts_count", "gross_leverage",
    "net_leverage", "leverage", "positions", "orders", "transactions", "algorithm_period_return", "algo_volatility",
    "sharpe", "sortino", "max_drawdown", "max_leverage", "trading_days", "treasury_period_return", "excess_return",
    "benchmark_returns", "benchmark_period_return", "benchmark_volatility", "alpha", "beta",
})


def recorded_columns(perf: pd.DataFrame) -> list[str]:
    """The ``record()`` series of a results table: its columns that are not zipline's."""
    return [c for c in perf.columns if c not in ZIPLINE_COLUMNS]


def _cell(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S") if value.tzinfo is None else \
            value.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else round(float(value), 6)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value if isinstance(value, (int, str, bool)) or value is None else str(value)


def table(table_id: str, title: str, frame: pd.DataFrame, newest_first: bool = True) -> dict[str, Any]:
    """A table for the page: ``{"id", "title", "columns", "rows", "total"}`` (at most :data:`TABLE_ROWS` rows)."""
    total = len(frame)
    shown = frame.iloc[::-1] if newest_first else frame
    shown = shown.head(TABLE_ROWS)
    rows = [[_cell(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    return {"id": table_id, "title": title, "columns": [str(c) for c in frame.columns], "rows": rows, "total": total}


def summary_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The summary figures as ``[label, value]`` rows (from ``summary.json`` or a live summary)."""

    def pct(key: str) -> str:
        v = summary.get(key)
        return "n/a" if v is None or not math.isfinite(float(v)) else f"{float(v) * 100:,.2f}%"

    def num(key: str) -> str:
        v = summary.get(key)
        return "n/a" if v is None or not math.isfinite(float(v)) else f"{float(v):,.2f}"

    rows = [
        ["period", f"{summary.get('start', '-')} .. {summary.get('end', '-')} ({summary.get('sessions', 0)} sessions)"],
        ["starting value", num("starting_value")], ["ending value", num("ending_value")],
        ["total return", pct("total_return")], ["annual return", pct("annual_return")],
        ["annual volatility", pct("annual_volatility")], ["Sharpe ratio", num("sharpe")],
        ["Sortino ratio", num("sortino")], ["max drawdown", pct("max_drawdown")],
    ]
    if summary.get("benchmark"):
        rows += [["benchmark", str(summary["benchmark"])], ["benchmark return", pct("benchmark_return")],
                 ["alpha", num("alpha")], ["beta", num("beta")]]
    rows += [
        ["win rate (sessions)", pct("win_rate")], ["turnover (mean per session)", pct("turnover")],
        ["commissions", num("commissions")],
        ["trades", f"{summary.get('trades', 0)} fills from {summary.get('orders', 0)} orders"],
    ]
    if summary.get("errors_in_algorithm"):
        rows.append(["errors in the algorithm", str(summary["errors_in_algorithm"])])
    if summary.get("stopped"):
        rows.append(["stopped", str(summary["stopped"])])
    return rows
