"""Parameter sweeps on a real Dask LocalCluster (2 worker processes, 1 thread each, loopback), against single
backtests of the same parameters; parameters in single backtests; the grid forms; a worker killed mid-sweep."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from support.algo import run_data, write_algo

from runtime.assembly.backtest import run_backtest
from runtime.errors import AlgorithmLoadError
from runtime.sweep import GridError, ParamGrid, parse_assignment, run_sweep

distributed = pytest.importorskip("distributed")

START, END = "2012-01-03", "2012-04-30"

#: a moving-average crossover on two stocks whose windows are parameters (read both ways)
MA = '''
FAST = get_parameter("fast", 5)


def initialize(context):
    context.stocks = symbols("AAPL", "MSFT")
    context.slow = context.params["slow"]
    if context.slow == 13:
        raise ValueError("slow=13 is unlucky")


def handle_data(context, data):
    prices = data.history(context.stocks, "price", context.slow, "1d")
    for stock in context.stocks:
        if FAST == 0:
            1 / FAST
        fast = prices[stock].iloc[-FAST:].mean()
        order_target_percent(stock, 0.5 if fast > prices[stock].mean() else 0.0)
    record(fast=FAST, slow=context.slow)
'''

FIGURES = ("total_return", "sharpe", "max_drawdown", "ending_value", "trades", "orders", "sessions")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address="127.0.0.1:0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def algo(tmp_path_factory) -> Path:
    return write_algo(tmp_path_factory.mktemp("sweep_algo"), MA, "ma.py")


def single(path: Path, params: dict, start: str = START, end: str = END):
    daily, minute, s, e = run_data("daily", start, end)
    return run_backtest(path, daily=daily, minute=minute, start=s, end=e, capital=100_000.0, params=params)


def test_grid_forms() -> None:
    grid = ParamGrid.parse(["fast=10,20,30", "slow=50:200:25"])
    assert grid.names == ["fast", "slow"] and grid.size == 21
    assert dict(grid.axes)["slow"] == (50, 75, 100, 125, 150, 175, 200)
    assert grid.combinations()[:2] == [{"fast": 10, "slow": 50}, {"fast": 10, "slow": 75}]
    assert dict(ParamGrid.parse(["w=0.1:0.3:0.1"]).axes)["w"] == (0.1, 0.2, 0.3)
    assert dict(ParamGrid.parse(["x=1:10:4"]).axes)["x"] == (1, 5, 9)  # STOP only when the steps land on it
    assert dict(ParamGrid.parse(["m=a,true,2.5,none"]).axes)["m"] == ("a", True, 2.5, None)
    assert ParamGrid.parse({"fast": [1, 2], "slow": "3:5"}).combinations()[-1] == {"fast": 2, "slow": 5}
    assert parse_assignment("fast=10") == ("fast", 10)
    for bad, words in [("fast", "NAME=VALUE"), ("fast=", "no values"), ("slow=50:10:5", "below its start"),
                       ("slow=1:5:0", "positive"), ("x=1,,2", "empty value"), ("sharpe=1,2", "column"),
                       ("slow=a:b", "numbers"), ("x=1,1", "twice")]:
        with pytest.raises(GridError, match=words):
            ParamGrid.parse([bad])
    with pytest.raises(GridError, match="given twice"):
        ParamGrid.parse(["a=1", "a=2"])


def test_parameters_in_a_single_backtest(tmp_path, algo: Path) -> None:
    result = single(algo, {"fast": 3, "slow": 10})
    assert result.perf["fast"].iloc[-1] == 3 and result.perf["slow"].iloc[-1] == 10
    assert dict(result.engine.context.params) == {"fast": 3, "slow": 10}
    with pytest.raises(AlgorithmLoadError, match=r"ma\.py:6: .*no parameter 'slow'.*get_parameter\('slow'"):
        single(algo, {})  # context.params["slow"] without a default, and none given
    own = write_algo(tmp_path, """
        def initialize(context):
            context.params = {"mine": 1}   # an algorithm's own attribute of that name keeps working

        def handle_data(context, data):
            record(mine=context.params["mine"], fast=get_parameter("fast", 7))
        """, "own.py")
    perf = single(own, {"fast": 2}).perf
    assert (perf["mine"].iloc[-1], perf["fast"].iloc[-1]) == (1, 2)
    # PARAMS in settings.py, --param over it, through the command line
    (tmp_path / "settings.py").write_text("PARAMS = {'fast': 4, 'slow': 12}\n")
    from runtime import cli

    out = tmp_path / "perf.pkl"
    with contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(["backtest", str(algo), "--settings", str(tmp_path / "settings.py"), "-s", START, "-e", END,
                       "--param", "slow=11", "-o", str(out), "-q", "--log-level", "ERROR"])
    assert rc == 0
    perf = pd.read_pickle(out)
    assert (perf["fast"].iloc[-1], perf["slow"].iloc[-1]) == (4, 11)


@pytest.mark.socket
@pytest.mark.slow
def test_sweep_rows_equal_single_backtests(tmp_path, client, algo: Path) -> None:
    seen: list[str] = []
    result = run_sweep(algo, {"fast": [3, 8], "slow": [10, 20]}, start=START, end=END, client=client,
                       output=tmp_path / "sweep", on_row=lambda row, done, total: seen.append(row.run))
    rows = result.rows
    assert len(rows) == 4 and len(seen) == 4 and result.failed == 0 and result.raised == 0
    assert list(zip(rows["fast"], rows["slow"])) == [(3, 10), (3, 20), (8, 10), (8, 20)]
    for rec in rows.to_dict("records"):
        s = single(algo, {"fast": rec["fast"], "slow": rec["slow"]}).summary
        for name in FIGURES:
            assert rec[name] == getattr(s, name), (rec["run"], name)
    assert len(set(rows["worker"])) == 2  # both worker processes ran some
    best = rows.loc[rows["sharpe"].idxmax()]
    assert result.best is not None and result.best["run"] == best["run"]
    on_disk = pd.read_csv(tmp_path / "sweep" / "sweep.csv")
    assert on_disk["total_return"].tolist() == rows["total_return"].tolist()
    assert pd.read_parquet(tmp_path / "sweep" / "sweep.parquet")["sharpe"].tolist() == rows["sharpe"].tolist()
    page = (tmp_path / "sweep" / "sweep.html").read_text()
    assert '"id":"heatmap-fast-slow"' in page and '"type":"heatmap"' in page and '"id":"best"' in page


@pytest.mark.socket
@pytest.mark.slow
def test_a_failing_combination_is_reported_and_the_sweep_goes_on(client, algo: Path) -> None:
    result = run_sweep(algo, ["fast=0,4", "slow=10,13"], start=START, end=END, client=client)
    by = {(r["fast"], r["slow"]): r for r in result.rows.to_dict("records")}
    assert len(by) == 4
    ok = by[(4, 10)]
    assert ok["error"] == "" and ok["errors"] == 0 and ok["sessions"] > 0
    assert ok["total_return"] == single(algo, {"fast": 4, "slow": 10}).summary.total_return
    raised = by[(0, 10)]  # handle_data raises every bar; the run goes on, its first error is kept
    assert raised["errors"] > 0 and raised["sessions"] > 0
    assert "ma.py:15: ZeroDivisionError" in raised["error"]
    for fast in (0, 4):  # initialize raises: no figures, the error with file and line
        row = by[(fast, 13)]
        assert row["sessions"] == 0 and math.isnan(row["total_return"])
        assert "ma.py:8" in row["error"] and "slow=13 is unlucky" in row["error"]
    assert result.failed == 2 and result.raised == 3


@pytest.mark.socket
@pytest.mark.slow
def test_a_worker_killed_mid_sweep_has_its_runs_retried(client, algo: Path) -> None:
    pids = client.run(os.getpid)
    killed: dict[str, object] = {}

    def kill_one(row, done, total) -> None:
        if killed:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # a worker busy with a run
            busy = {w: keys for w, keys in client.processing().items() if keys}
            if busy:
                address, keys = next(iter(busy.items()))
                killed.update(address=address, pid=pids[address], keys=list(keys))
                os.kill(pids[address], signal.SIGKILL)
                return
            time.sleep(0.01)

    combos = {"fast": [2, 3, 4], "slow": [10, 15]}
    result = run_sweep(algo, combos, start=START, end=END, client=client, on_row=kill_one)
    assert killed, "no worker was busy"
    rows = result.rows
    assert len(rows) == 6 and result.failed == 0 and result.raised == 0
    # the runs the killed worker was running (task keys end with the run's name) came back from another worker
    retried = rows[[any(str(key).endswith(run) for key in killed["keys"]) for run in rows["run"]]]
    assert len(retried) >= 1 and not retried["worker"].str.endswith(f":{killed['pid']}").any()
    for rec in rows.to_dict("records"):
        s = single(algo, {"fast": rec["fast"], "slow": rec["slow"]}).summary
        assert (rec["total_return"], rec["trades"]) == (s.total_return, s.trades)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it, for the tests after this one


@pytest.mark.socket
@pytest.mark.slow
def test_walk_forward_picks_on_train_and_reports_the_test_window(tmp_path, client, algo: Path) -> None:
    result = run_sweep(algo, {"fast": [3, 8], "slow": [10]}, start=START, end=END, client=client,
                       walk_forward="40:20", metric="total_return", output=tmp_path / "wf")
    wf = result.walk_forward
    assert wf is not None and len(wf) == 2  # 83 sessions: windows start at 0 and 20 (40 + 40 + 20 > 83)
    rows = result.rows
    for rec in wf.to_dict("records"):
        train = rows[(rows["phase"] == "train") & (rows["window"] == rec["window"])]
        assert len(train) == 2
        assert rec["fast"] == train.loc[train["total_return"].idxmax(), "fast"]
        test = rows[(rows["phase"] == "test") & (rows["window"] == rec["window"])].iloc[0]
        assert (test["start"], test["end"]) == (rec["test_start"], rec["test_end"])
        assert rec["total_return"] == test["total_return"]
    first = wf.iloc[0]
    s = single(algo, {"fast": int(first["fast"]), "slow": 10}, first["test_start"], first["test_end"]).summary
    assert first["total_return"] == s.total_return
    assert (tmp_path / "wf" / "walk_forward.csv").is_file()
    assert '"id":"walk-forward"' in (tmp_path / "wf" / "sweep.html").read_text()


@pytest.mark.socket
@pytest.mark.slow
def test_the_command_line_on_a_running_scheduler(tmp_path, client, algo: Path) -> None:
    from runtime import cli

    (tmp_path / "empty_settings.py").write_text("")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main(["sweep", str(algo), "--param", "fast=3,8", "--param", "slow=10,13", "-s", START, "-e", END,
                       "--scheduler", client.scheduler.address, "-o", str(tmp_path / "cli"), "-q", "--keep-runs",
                       "--log-level", "ERROR", "--settings", str(tmp_path / "empty_settings.py")])
    text = out.getvalue()
    assert rc == 3, text  # slow=13 raises in initialize
    assert "4 runs over fast, slow" in text and "did not finish 2" in text and "slow=13 is unlucky" in text
    assert "best by sharpe:" in text and (tmp_path / "cli" / "sweep.csv").is_file()
    rows = pd.read_csv(tmp_path / "cli" / "sweep.csv")
    for rec in rows[rows["sessions"] > 0].to_dict("records"):  # --keep-runs: each finished run's own folder
        kept = json.loads((tmp_path / "cli" / "runs" / rec["run"] / "summary.json").read_text())
        assert kept["ending_value"] == rec["ending_value"]
        assert (tmp_path / "cli" / "runs" / rec["run"] / "results.csv").is_file()
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
        cli.main(["sweep", str(algo), "-s", START])  # --param is required


@pytest.mark.socket
@pytest.mark.slow
def test_dask_config_names_the_scheduler_and_strict_stops_each_run(client, algo: Path) -> None:
    import dask

    pids = set(client.run(os.getpid).values())
    with dask.config.set({"scheduler-address": client.scheduler.address}):  # no client given: Dask's setting
        result = run_sweep(algo, {"fast": [0, 4], "slow": [10]}, start=START, end=END, strict=True)
    by = {r["fast"]: r for r in result.rows.to_dict("records")}
    assert {int(w.rsplit(":", 1)[1]) for w in result.rows["worker"]} <= pids  # the running cluster's workers
    assert by[4]["error"] == "" and by[4]["sessions"] > 0
    assert by[0]["sessions"] == 0 and by[0]["errors"] == 1 and "ma.py:15: ZeroDivisionError" in by[0]["error"]
