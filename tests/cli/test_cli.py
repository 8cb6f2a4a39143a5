"""The command line, run as a real process: help, a backtest writing its files, one-line errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from support.algo import USER_ALGOS

from runtime.data.calendars import get_calendar

IBALGO = Path(sys.executable).with_name("ibalgo")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


@pytest.mark.skipif(not IBALGO.exists(), reason="the ibalgo console script is not installed next to python")
def test_console_script_help(tmp_path) -> None:
    proc = subprocess.run([str(IBALGO), "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0
    assert "backtest" in proc.stdout and "usage: ibalgo" in proc.stdout
    proc = subprocess.run([str(IBALGO), "backtest", "--help"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60)
    assert proc.returncode == 0
    for option in ("--start", "--end", "--capital", "--data", "--frequency", "--output"):
        assert option in proc.stdout


@pytest.mark.slow
def test_python_m_runtime_backtest_writes_results(tmp_path) -> None:
    out = tmp_path / "out"
    proc = run("backtest", str(USER_ALGOS / "buy_and_hold.py"), "--start", "2012-01-03", "--end", "2012-03-30",
               "--capital", "50000", "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "total return" in proc.stdout
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    sessions = get_calendar("XNYS", start="2011-01-03").sessions
    q1 = [d for d in sessions if pd.Timestamp("2012-01-03") <= d <= pd.Timestamp("2012-03-30")]
    assert len(rows) == len(q1)
    assert "portfolio_value" in rows[0] and "price" in rows[0]  # record(price=...) became a column
    assert float(rows[0]["starting_cash"]) == 50_000
    with (out / "trades.csv").open() as fh:
        trades = list(csv.DictReader(fh))
    assert len(trades) >= 1 and trades[0]["symbol"] == "AAPL" and int(trades[0]["amount"]) > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["errors_in_algorithm"] == 0 and summary["trades"] == len(trades)


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.slow
def test_missing_file_error(tmp_path) -> None:
    line = _one_line_error(run("backtest", "user_algos/no_such_algo.py", "--output", "o", cwd=tmp_path))
    assert "not found" in line and "no_such_algo.py" in line


@pytest.mark.slow
@pytest.mark.parametrize(("start", "end"), [("1990-01-02", "1990-12-31"), ("2014-01-02", "2014-06-30")])
def test_date_range_outside_the_data(tmp_path, start: str, end: str) -> None:
    line = _one_line_error(run("backtest", str(USER_ALGOS / "buy_and_hold.py"), "--start", start, "--end", end,
                               "--output", "o", cwd=tmp_path))
    assert "outside the data" in line and "2000-03-01" in line and "2013-03-01" in line


def test_start_after_end_says_so(tmp_path) -> None:
    line = _one_line_error(run("backtest", str(USER_ALGOS / "buy_and_hold.py"), "--start", "2012-05-01", "--end",
                               "2012-01-03", "--output", "o", cwd=tmp_path))
    assert "start 2012-05-01 is after the end 2012-01-03" in line and "outside" not in line


def test_a_range_partly_outside_the_data_is_clipped_with_a_warning(tmp_path) -> None:
    proc = run("backtest", str(USER_ALGOS / "buy_and_hold.py"), "--start", "2013-02-01", "--end", "2014-01-02",
               "--output", "o", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "running 2013-02-01..2013-03-01" in proc.stderr and "reaches outside the data" in proc.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["start"] == "2013-02-01" and summary["end"] == "2013-03-01" and summary["sessions"] == 20


def test_bad_date_is_a_clear_error(tmp_path) -> None:
    line = _one_line_error(run("backtest", str(USER_ALGOS / "buy_and_hold.py"), "--start", "yesterday-ish",
                               "--output", "o", cwd=tmp_path))
    assert "start" in line


@pytest.mark.slow
def test_unknown_symbol_with_a_suggestion(tmp_path) -> None:
    algo = tmp_path / "typo.py"
    algo.write_text('def initialize(context):\n    context.asset = symbol("MSFTT")\n')
    line = _one_line_error(run("backtest", str(algo), "--start", "2012-01-03", "--end", "2012-01-31",
                               "--output", "o", cwd=tmp_path))
    assert f"{algo}:2" in line and "MSFTT" in line and "Did you mean MSFT" in line


@pytest.mark.slow
def test_zipline_flags_and_a_pickle_output(tmp_path) -> None:
    proc = run("backtest", "-f", str(USER_ALGOS / "buy_and_hold.py"), "-s", "2012-01-03", "-e", "2012-03-30",
               "--capital-base", "50000", "-b", "sample", "-o", "perf.pickle", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "results table (perf) written to perf.pickle" in proc.stdout
    perf = pd.read_pickle(tmp_path / "perf.pickle")
    assert len(perf) == 62 and perf["starting_cash"].iloc[0] == 50_000
    assert {"portfolio_value", "transactions", "positions"} <= set(perf.columns)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perf.pickle"]  # only the table, as zipline's -o
    bars = tmp_path / "bars"
    bars.mkdir()
    sample = pd.read_csv(USER_ALGOS.parent / "runtime" / "data" / "sample" / "us-stocks-daily-2000-2013.csv.gz")
    aapl = sample[sample["Ticker"] == "AAPL"].drop(columns=["Ticker"])
    aapl.to_csv(bars / "AAPL.csv", index=False)
    proc = run("backtest", "-f", str(USER_ALGOS / "buy_and_hold.py"), "-s", "2012-01-03", "-e", "2012-03-30",
               "-b", str(bars), "-o", "folder", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "folder" / "summary.json").exists()


def test_conflicting_zipline_flags_are_clear(tmp_path) -> None:
    line = _one_line_error(run("backtest", "a.py", "-f", "b.py", cwd=tmp_path))
    assert "two algorithm files given" in line
    line = _one_line_error(run("backtest", str(USER_ALGOS / "buy_and_hold.py"), "-b", "quantopian-nope",
                               cwd=tmp_path))
    assert "-b quantopian-nope" in line and "sample" in line
