"""report.html, `ibalgo report`, the benchmark flags, and the files pyfolio/quantstats read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from support.algo import USER_ALGOS

ROOT = Path(__file__).resolve().parents[2]


def _ibalgo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=180, env=env)


@pytest.fixture(scope="module")
def backtest_out(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("bt")
    out = tmp / "out"
    proc = _ibalgo("backtest", str(USER_ALGOS / "dual_moving_average.py"), "--start", "2005-01-03", "--end",
                   "2007-12-31", "--benchmark", "AAPL", "--output", str(out), cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert "benchmark return" in proc.stdout and "alpha" in proc.stdout and "report.html" in proc.stdout
    return out


@pytest.mark.slow
def test_report_is_one_self_contained_file(backtest_out: Path) -> None:
    html = (backtest_out / "report.html").read_text()
    from runtime.report.page import plotly_js

    assert plotly_js() in html  # plotly.js is inside; the rest of the page loads nothing from anywhere
    page = html.replace(plotly_js(), "")
    assert "src=" not in page and "http" not in page.split("id='snapshot'>", 1)[0]
    snapshot = json.loads(html.split("id='snapshot'>", 1)[1].split("</script>", 1)[0].replace("<\\/", "</"))
    charts = {c["id"] for c in snapshot["charts"]}
    assert {"equity", "drawdown", "monthly", "yearly", "rolling_sharpe", "rolling_volatility", "rolling_beta",
            "exposure", "leverage", "positions", "record_holdings", "record_aapl_short_mavg"} <= charts
    equity = next(c for c in snapshot["charts"] if c["id"] == "equity")["figure"]["data"]
    assert [t["name"] for t in equity] == ["algorithm", "benchmark"]
    summary = dict((row[0], row[1]) for row in snapshot["summary"])
    for label in ("total return", "annual return", "annual volatility", "Sharpe ratio", "Sortino ratio",
                  "max drawdown", "alpha", "beta", "benchmark return", "win rate (sessions)", "commissions"):
        assert summary[label] not in ("", "n/a"), label
    tables = {t["id"]: t for t in snapshot["tables"]}
    assert tables["trades"]["total"] > 10 and tables["orders"]["total"] >= tables["trades"]["total"]


@pytest.mark.slow
def test_report_command_rebuilds_it(backtest_out: Path, tmp_path: Path) -> None:
    (backtest_out / "report.html").unlink()
    proc = _ibalgo("report", str(backtest_out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (backtest_out / "report.html").stat().st_size > 3_000_000
    proc = _ibalgo("report", str(tmp_path / "nothing"), cwd=tmp_path)
    assert proc.returncode == 1 and "results.pkl is missing" in proc.stderr


def test_summary_json_has_the_benchmark_figures(backtest_out: Path) -> None:
    summary = json.loads((backtest_out / "summary.json").read_text())
    assert summary["benchmark"] == "AAPL"
    assert summary["benchmark_return"] > 1.0  # AAPL 2005..2007, with its split counted as no loss
    assert isinstance(summary["alpha"], float) and 0 < summary["beta"] < 2


@pytest.mark.slow
def test_no_benchmark_and_a_bad_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _ibalgo("backtest", str(USER_ALGOS / "buy_and_hold.py"), "--start", "2012-01-03", "--end", "2012-03-30",
                   "--no-benchmark", "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["benchmark"] is None and summary["alpha"] is None and "alpha" not in proc.stdout
    proc = _ibalgo("backtest", str(USER_ALGOS / "buy_and_hold.py"), "--benchmark", "SPY", "--output", str(out),
                   cwd=tmp_path)
    assert proc.returncode == 1 and "benchmark 'SPY' is not in the data" in proc.stderr


def test_results_pickle_needs_only_pandas(backtest_out: Path, tmp_path: Path) -> None:
    # a fresh interpreter that cannot import the runtime (installed or not: its imports are refused), run from
    # elsewhere, -I
    check = f"""
import sys
class NoRuntime:  # as on a machine without the runtime installed: any import of it fails
    def find_spec(self, name, path=None, target=None):
        if name == 'runtime' or name.startswith('runtime.'):
            raise ImportError('no runtime here')
sys.meta_path.insert(0, NoRuntime())
import pandas as pd
try:
    import runtime
    raise SystemExit('runtime importable')
except ImportError:
    pass
perf = pd.read_pickle({str(backtest_out / 'results.pkl')!r})
mods = set()
def walk(v):
    mods.add(type(v).__module__.split('.')[0])
    if isinstance(v, dict): [walk(x) for x in v.values()]
    elif isinstance(v, list): [walk(x) for x in v]
for col in perf.columns:
    if perf[col].dtype == object:
        for v in perf[col]: walk(v)
print(sorted(mods)); print(perf['positions'].iloc[-1][0]['sid'], perf['orders'].iloc[1][0]['status'])
"""
    proc = subprocess.run([sys.executable, "-I", "-c", check], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    modules = eval(proc.stdout.splitlines()[0])
    assert set(modules) <= {"builtins", "pandas", "numpy"}, modules
    sid, status = proc.stdout.splitlines()[1].split()
    assert sid in {"AAPL", "IBM", "MSFT", "GOOG", "FB"} and status == "1"  # zipline's number (orders.csv has words)


def test_pyfolio_shaped_files(backtest_out: Path) -> None:
    returns = pd.read_csv(backtest_out / "returns.csv", index_col=0, parse_dates=True).squeeze("columns")
    positions = pd.read_csv(backtest_out / "positions.csv", index_col=0, parse_dates=True)
    txns = pd.read_csv(backtest_out / "transactions.csv", index_col=0, parse_dates=True)
    perf = pd.read_pickle(backtest_out / "results.pkl")
    assert str(returns.index.tz) == "UTC" and (returns.index == returns.index.normalize()).all()
    assert returns.to_numpy() == pytest.approx(perf["returns"].to_numpy())
    assert "cash" in positions.columns and {"AAPL", "IBM"} <= set(positions.columns)
    total = positions.sum(axis=1).to_numpy()
    assert total == pytest.approx(perf["portfolio_value"].to_numpy(), rel=1e-9)
    assert list(txns.columns[:3]) == ["amount", "price", "symbol"] and len(txns) > 10
    orders = pd.read_csv(backtest_out / "orders.csv")
    assert set(orders["status"]) <= {"open", "filled", "cancelled", "rejected", "held"}


def test_the_readme_tear_sheet_one_liner(backtest_out: Path, tmp_path: Path) -> None:
    qs = pytest.importorskip("quantstats", reason="quantstats is not installed (pip install quantstats)")
    returns = pd.read_csv(backtest_out / "returns.csv", index_col=0, parse_dates=True).squeeze("columns")
    qs.reports.html(returns.tz_localize(None), output=str(tmp_path / "tearsheet.html"), title="ibalgo")
    assert (tmp_path / "tearsheet.html").stat().st_size > 10_000
