"""Every example in user_algos/ runs as a backtest on the bundled data, without errors, with sensible results."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from support.algo import USER_ALGOS, run_algo

#: example -> (frequency, start, end) it is meant to run with (see each file's docstring)
RUNS = {
    "buy_and_hold.py": ("daily", "2010-01-04", "2012-12-31"),
    "dual_moving_average.py": ("daily", "2005-01-03", "2012-12-31"),
    "limit_and_stop.py": ("minute", "2012-10-01", "2012-11-30"),
    "zipline_style.py": ("daily", "2011-01-03", "2012-12-31"),
    "quantopian_style.py": ("daily", "2008-01-02", "2012-12-31"),
    "scheduled_minute.py": ("minute", "2012-11-01", "2012-11-30"),
    "pipeline_momentum.py": ("daily", "2010-01-04", "2012-12-31"),
    "option_greeks.py": ("daily", "2012-01-03", "2012-06-29"),
    "scanner_buyer.py": ("daily", "2012-01-03", "2012-06-29"),
    "contract_details.py": ("daily", "2012-01-03", "2012-03-30"),
    "fx_futures.py": ("daily", "2012-01-03", "2012-06-29"),
    "parameter_sweep.py": ("daily", "2008-01-02", "2012-12-31"),
}


def test_every_example_is_listed_and_documented() -> None:
    files = sorted(p.name for p in USER_ALGOS.glob("*.py"))
    assert files == sorted(RUNS)
    for name in files:
        text = (USER_ALGOS / name).read_text()
        assert text.startswith('"""') and "ibalgo backtest user_algos/" + name in text


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_example_runs_cleanly(tmp_path, name: str) -> None:
    frequency, start, end = RUNS[name]
    result = run_algo(tmp_path, USER_ALGOS / name, start=start, end=end, frequency=frequency, strict=True,
                      output=tmp_path / "out")
    perf, summary = result.perf, result.summary
    assert result.engine.error_count == 0 and result.engine.stop_requested is None
    assert len(perf) == summary.sessions > 10
    assert summary.orders > 0 and summary.trades > 0
    assert math.isfinite(summary.ending_value) and summary.ending_value > 0
    assert (perf["portfolio_value"] > 0.5 * 100_000).all()
    assert (perf["leverage"] <= 1.2).all()  # no example borrows
    assert (tmp_path / "out" / "results.csv").is_file() and (tmp_path / "out" / "trades.csv").is_file()
    report = (tmp_path / "out" / "report.html").read_text()
    assert len(report) > 1_000_000 and 'id="snapshot"' in report.replace("'", '"')  # plotly.js inlined + data
    assert '"id":"equity"' in report and '"id":"drawdown"' in report and '"id":"trades"' in report


@pytest.mark.slow
def test_dual_moving_average_respects_listing_dates(tmp_path) -> None:
    result = run_algo(tmp_path, USER_ALGOS / "dual_moving_average.py", start="2005-01-03", end="2012-12-31")
    fills = [t for day in result.perf["transactions"] for t in day]
    first = {}
    for t in fills:
        first.setdefault(t["symbol"], t["dt"])
    assert set(first) == {"AAPL", "IBM", "MSFT", "GOOG", "FB"}
    assert first["FB"].date().isoformat() > "2012-07-01"  # needs 50 sessions after its 2012-05-18 listing
    assert result.perf["holdings"].max() <= 5


def test_scheduled_minute_fires_each_rule(tmp_path) -> None:
    result = run_algo(tmp_path, USER_ALGOS / "scheduled_minute.py", start="2012-11-01", end="2012-11-30",
                      frequency="minute")
    fired = result.engine.context.fired
    # November 2012: 21 sessions, weeks starting 11-05, 11-12, 11-19, 11-26 (10-31 is before the range)
    assert fired == {"open": 21, "close": 21, "week_start": 4, "month_end": 1}
    perf = result.perf
    assert perf.loc["2012-11-23", "close_time"].iloc[0] == 1245  # early close: 13:00 - 15 minutes
    assert perf.loc["2012-11-26", "close_time"].iloc[0] == 1545
    assert perf.loc["2012-11-23", "bars_today"].iloc[0] == 195  # 09:31..12:45
    assert perf["month_end_value"].notna().sum() == 1


def test_the_readme_job_through_the_command_line(tmp_path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "runtime", "backtest", str(USER_ALGOS / "dual_moving_average.py"),
         "--start", "2005-01-03", "--end", "2012-12-31", "--output", str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "total return" in proc.stdout and "Sharpe ratio" in proc.stdout
    assert "ERROR" not in proc.stderr
    assert (out / "results.csv").is_file() and (out / "trades.csv").is_file()
