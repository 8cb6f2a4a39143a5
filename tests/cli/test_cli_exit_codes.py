"""Exit codes, interruptions and messages of ``ibalgo backtest`` / ``ibalgo run``, as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from support.algo import USER_ALGOS

from runtime.cli import EXIT_ALGORITHM_RAISED, EXIT_CANNOT_START, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM

ROOT = Path(__file__).resolve().parents[2]
RAISES_EVERY_TENTH = """
def initialize(context):
    context.n = 0


def handle_data(context, data):
    context.n += 1
    if context.n % 10 == 0:
        raise ValueError("every tenth bar")
"""
# slow enough to be interrupted; says when it has handled a few sessions
SLOW = """
import pathlib
import time


def initialize(context):
    context.n = 0
    context.aapl = symbol("AAPL")


def handle_data(context, data):
    context.n += 1
    if context.n == 1:
        order(context.aapl, 10)
    if context.n == 5:
        pathlib.Path("started").write_text("yes")
    time.sleep(0.01)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=_env())


def _algo(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.slow
def test_exit_0_when_clean_and_3_when_the_algorithm_raised(tmp_path: Path) -> None:
    proc = run("backtest", str(USER_ALGOS / "buy_and_hold.py"), "-s", "2012-01-03", "-e", "2012-02-28", "-o", "a",
               cwd=tmp_path)
    assert proc.returncode == EXIT_OK, proc.stderr
    algo = _algo(tmp_path, "raises.py", RAISES_EVERY_TENTH)
    proc = run("backtest", str(algo), "-s", "2012-01-03", "-e", "2012-03-30", "-o", "b", cwd=tmp_path)
    assert proc.returncode == EXIT_ALGORITHM_RAISED == 3
    assert "errors in the algorithm: 6" in proc.stdout  # 62 sessions: bars 10, 20, ..., 60
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["errors_in_algorithm"] == 6 and summary["sessions"] == 62


def test_strict_writes_the_results_so_far_and_exits_3(tmp_path: Path) -> None:
    algo = _algo(tmp_path, "raises.py", RAISES_EVERY_TENTH)
    proc = run("backtest", str(algo), "-s", "2012-01-03", "-e", "2012-03-30", "-o", "s", "--strict", cwd=tmp_path)
    assert proc.returncode == EXIT_ALGORITHM_RAISED
    assert "raises.py:9: ValueError: every tenth bar" in proc.stderr
    # the 10th bar (2012-01-17) raised: its session did not complete, the nine before it are written
    assert "results up to 2012-01-13, the last completed session" in proc.stdout
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["sessions"] == 9 and summary["stopped"] == "the algorithm raised (--strict)"
    assert len(pd.read_csv(tmp_path / "s" / "results.csv")) == 9


def test_exit_1_when_it_cannot_start(tmp_path: Path) -> None:
    algo = _algo(tmp_path, "bad_init.py", "def initialize(context):\n    raise RuntimeError('no')\n")
    proc = run("backtest", str(algo), "-s", "2012-01-03", "-e", "2012-01-31", cwd=tmp_path)
    assert proc.returncode == EXIT_CANNOT_START
    assert "initialize() raised" in proc.stderr and not (tmp_path / "output").exists()


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, EXIT_SIGINT), (signal.SIGTERM, EXIT_SIGTERM)])
def test_a_signal_in_a_backtest_writes_the_sessions_done(tmp_path: Path, signum: int, code: int) -> None:
    algo = _algo(tmp_path, "slow.py", SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "runtime", "backtest", str(algo), "-s", "2005-01-03", "-e",
                             "2012-12-31", "-o", "out"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(tmp_path / "started", proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert 5 <= summary["sessions"] < 2000
    assert summary["stopped"] == ("interrupted (Ctrl-C)" if signum == signal.SIGINT else "terminated (SIGTERM)")
    last = summary["last_session"]
    assert f"results up to {last}, the last completed session" in out
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(results) == summary["sessions"] and results["date"].iloc[-1].startswith(last)
    assert summary["trades"] == 1


@pytest.mark.socket
@pytest.mark.slow
def test_sigterm_in_a_replay_writes_the_results_and_exits_143(tmp_path: Path) -> None:
    algo = _algo(tmp_path, "slow.py", SLOW.replace("time.sleep(0.01)", "time.sleep(0.05)"))
    proc = subprocess.Popen([sys.executable, "-m", "runtime", "run", str(algo), "--replay", "2011-01-03:2011-12-30",
                             "--output", "out"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(tmp_path / "started", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_SIGTERM, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert 4 <= summary["sessions"] < 252 and summary["stopped"] == "terminated (SIGTERM)"
    assert "the last completed session" in out


def test_run_with_a_missing_file_fails_before_starting_anything(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = run("run", "nope.py", cwd=tmp_path)
    assert proc.returncode == EXIT_CANNOT_START
    assert proc.stderr.strip() == "error: algorithm file not found: nope.py"
    assert time.monotonic() - started < 20
    assert not (tmp_path / "output").exists()  # no journal: nothing started


def test_no_algorithm_file_anywhere_is_required(tmp_path: Path) -> None:
    proc = run("backtest", cwd=tmp_path)
    assert proc.returncode == EXIT_CANNOT_START
    assert "no algorithm file given" in proc.stderr and "dual_moving_average" not in proc.stderr


def test_the_default_file_names_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "settings.py").write_text('ALGORITHM = "algos/mine.py"\n')
    proc = run("backtest", cwd=tmp_path)
    assert proc.returncode == EXIT_CANNOT_START
    assert proc.stderr.strip() == "error: algorithm file not found: algos/mine.py (ALGORITHM in settings.py)"


def test_help_shows_the_default_values(tmp_path: Path) -> None:
    proc = run("backtest", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "(default: 100000.0)" in text and "(default: daily)" in text and "(default: output)" in text
    assert "default: CAPITAL" not in text and "exit codes:" in text and "130" in text
    (tmp_path / "settings.py").write_text("CAPITAL = 25000\nSTART = '2011-01-03'\n")
    text = " ".join(run("backtest", "--help", cwd=tmp_path).stdout.split())
    assert "(default: 25000.0, CAPITAL in settings.py)" in text and "(default: 2011-01-03, START in" in text


@pytest.mark.socket
@pytest.mark.slow
def test_log_lines_carry_the_exchange_time_zone_and_apscheduler_is_quiet(tmp_path: Path) -> None:
    proc = run("run", str(USER_ALGOS / "buy_and_hold.py"), "--replay", "2011-01-03:2011-01-14", "--output", "r",
               cwd=tmp_path)
    assert proc.returncode == EXIT_OK, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line[:2] == "20"]
    assert lines, proc.stderr
    for line in lines:
        assert line.split()[2] in ("EST", "EDT"), line
    assert lines[0].startswith("2011-"), lines[0]  # the replay's clock from the first line on
    assert "apscheduler" not in proc.stderr and "Added job" not in proc.stderr


@pytest.mark.slow
def test_backtest_logs_orders_and_fills_and_summarises_many(tmp_path: Path) -> None:
    algo = _algo(tmp_path, "busy.py", """
def initialize(context):
    context.aapl = symbol("AAPL")


def handle_data(context, data):
    order(context.aapl, 1)
""")
    proc = run("backtest", str(algo), "-s", "2012-01-03", "-e", "2012-03-30", "-o", "o", cwd=tmp_path)
    assert proc.returncode == EXIT_OK, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if " orders: " in line]
    assert lines[0].startswith("2012-01-03 16:00:00 EST INFO    orders: order ")
    assert " sent: BUY 1 AAPL MKT" in lines[0]
    assert "filled: +1 AAPL @ " in lines[1] and lines[1].startswith("2012-01-04 16:00:00 EST")
    individual = [line for line in lines if " sent: " in line or " filled: " in line]
    assert len(individual) == 20
    assert sum("1 orders placed, 1 fills" in line for line in lines) >= 50
    proc = run("backtest", str(algo), "-s", "2012-01-03", "-e", "2012-03-30", "-o", "o", "--log-level", "DEBUG",
               cwd=tmp_path)
    sent = [line for line in proc.stderr.splitlines() if " orders: " in line and " sent: " in line]
    assert len(sent) == 62


@pytest.mark.slow
def test_output_folder_of_an_earlier_run_is_replaced_with_a_warning(tmp_path: Path) -> None:
    args = ("backtest", str(USER_ALGOS / "buy_and_hold.py"), "-s", "2012-01-03", "-e", "2012-01-31", "-o", "same")
    first = run(*args, cwd=tmp_path)
    assert first.returncode == 0 and "earlier run" not in first.stderr
    second = run(*args, cwd=tmp_path)
    assert second.returncode == 0
    assert "same/ holds the results of an earlier run" in second.stderr and "replaced" in second.stderr


@pytest.mark.socket
@pytest.mark.slow
def test_strict_in_a_replay_writes_the_results_and_exits_3(tmp_path: Path) -> None:
    algo = _algo(tmp_path, "raises.py", RAISES_EVERY_TENTH)
    proc = run("run", str(algo), "--replay", "2011-01-03:2011-02-28", "--output", "r", "--strict", cwd=tmp_path)
    assert proc.returncode == EXIT_ALGORITHM_RAISED, proc.stderr
    assert "raises.py:9: ValueError: every tenth bar" in proc.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["stopped"] == "the algorithm raised (--strict)" and summary["errors_in_algorithm"] == 1
    # nine completed sessions, and the tenth, in which it stopped: a run's results come from its journal and keep
    # the unfinished session (its orders and fills are real at the broker)
    assert summary["sessions"] == 10
