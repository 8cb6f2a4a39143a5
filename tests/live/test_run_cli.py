"""``ibalgo run``: the command line, and the refusal to trade real money without --live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main
from runtime.errors import ConfigError
from runtime.live.paper import BrokerTarget, check_live_confirmation

ALGOS = Path(__file__).resolve().parents[2] / "user_algos"


@pytest.mark.parametrize("port", [7496, 4001])
def test_live_ports_are_refused_without_live(port: int) -> None:
    with pytest.raises(ConfigError, match="real money"):
        check_live_confirmation(BrokerTarget("127.0.0.1", port))
    check_live_confirmation(BrokerTarget("127.0.0.1", port, live=True))


def test_non_paper_accounts_are_refused_without_live() -> None:
    with pytest.raises(ConfigError, match="not a paper account"):
        check_live_confirmation(BrokerTarget("127.0.0.1", 7497, account="U1234567"))
    check_live_confirmation(BrokerTarget("127.0.0.1", 7497, account="DU1234567"))
    check_live_confirmation(BrokerTarget("127.0.0.1", 7497, account="U1234567", live=True))
    check_live_confirmation(BrokerTarget())  # the embedded simulated gateway


def test_cli_refuses_a_live_port(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["run", str(ALGOS / "buy_and_hold.py"), "--broker", "ib", "--port", "7496", "--output",
                 str(tmp_path)])
    assert code == 1
    assert "real money" in capsys.readouterr().err


def test_cli_run_on_the_simulated_gateway_writes_backtest_shaped_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(ALGOS / "buy_and_hold.py"), "--replay", "2011-01-03:2011-01-31", "--output",
                 str(tmp_path), "--run-id", "clitest"])
    assert code == 0
    assert "the run reached its end" in capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["trades"] == 1 and summary["sessions"] == 20
    assert (tmp_path / "trades.csv").read_text().count("AAPL") == 1


def test_a_replay_without_an_end_stops_at_the_data_and_one_after_the_data_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(ALGOS / "buy_and_hold.py"), "--replay", "2013-02-25:", "--output", str(tmp_path / "a")])
    assert code == 0
    results = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert results["end"][:10] == "2013-03-01"  # the bundled data's last session, not the calendar's
    code = main(["run", str(ALGOS / "buy_and_hold.py"), "--replay", "2015-01-05:2015-02-27", "--output",
                 str(tmp_path / "b")])
    assert code == 1
    err = capsys.readouterr().err
    assert "the replayed data ends on 2013-03-01" in err and "--replay START:END between" in err
