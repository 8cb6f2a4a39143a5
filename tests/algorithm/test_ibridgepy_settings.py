"""settings.py and IBridgePy's RUN_ME.py are read without being executed (runtime.settings_reader)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtime.config import load_settings
from runtime.errors import ConfigError

RUN_ME = '''
# coding=utf-8
import pytz
import datetime as dt
from IBridgePy.constants import TraderRunMode, MarketName   # never imported: IBridgePy is not installed
from configuration import run_me

fileName = 'demo_buy_low.py'
accountCode = ['DU111', 'DU222']
logLevel = 'NOTSET'
showTimeZone = pytz.timezone('US/Pacific')
repBarFreq = 60

PROJECT = {
    'autoReconnectPremium': False,
    'searchPortList': [7496, 7497, 4001, 4002],
}
BACKTESTER = {
    'initPortfolioValue': 50000.0,
    'simulateCommission': lambda transactionShares: max(transactionShares * 0.005, 1),
}
MARKET_MANAGER = {
    'marketName': MarketName.NYSE,
    'beforeTradeStartHour': 9,
    'beforeTradeStartMinute': 25,
}
TRADER = {'runMode': TraderRunMode.REGULAR}
BROKER_CLIENT = {
    'IB_CLIENT': {'host': 'localhost', 'clientId': 9, 'port': 7497},
    'TD_CLIENT': {'refreshTokenCreatedOn': dt.date(2020, 5, 7), 'apiKey': open('SIDE_EFFECT', 'w')},
}
open('SIDE_EFFECT', 'w').write('ran')
if __name__ == '__main__':
    run_me(fileName, globals())
'''


def _write(tmp_path: Path, text: str, name: str = "settings.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_ibridgepy_run_me_is_understood_and_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Strategies").mkdir()
    (tmp_path / "Strategies" / "demo_buy_low.py").write_text("def initialize(context):\n    pass\n")
    path = _write(tmp_path, RUN_ME, "RUN_ME.py")
    monkeypatch.chdir(tmp_path)
    s = load_settings(path)
    assert not (tmp_path / "SIDE_EFFECT").exists()  # nothing in the file ran
    assert Path(s.algorithm) == tmp_path / "Strategies" / "demo_buy_low.py"
    assert s.account_code == "DU111" and s.account_codes == ("DU111", "DU222")
    assert s.log_level == "DEBUG" and s.show_time_zone == "US/Pacific"
    assert s.capital == 50000.0 and s.before_trading_start == "09:25" and s.exchange_calendar == "XNYS"
    assert s.run_mode == "REGULAR" and s.frequency == "minute" and s.rep_bar_freq == 60.0
    assert (s.broker_host, s.broker_port, s.client_id) == ("localhost", 7497, 9)
    assert s.algorithm_style == "ibridgepy"
    assert "DU111" not in repr(s) and "DU222" not in repr(s)  # account codes masked


@pytest.mark.parametrize(("text", "line", "words"), [
    ("CAPITAL = 1000\nfilename = 'x.py'\n", 2, "unknown setting filename"),
    ("CAPITAL = int(open('x').read())\n", 1, "settings are read, not run"),
    ("import os\nSTART = os.environ['START']\n", 2, "settings are read, not run"),
    ("for i in range(3):\n    pass\n", 1, "only assignments"),
    ("PROJECT = {\n    'repBarFreq': 1,\n    'typo': 2,\n}\n", 3, "unknown PROJECT setting 'typo'"),
    ("BROKER_CLIENT = {'IB_CLIENT': {'acountCode': 'DU1'}}\n", 1, "unknown IB_CLIENT setting 'acountCode'"),
    ("LOG_LEVEL = 'LOUD'\n", 1, "log level must be"),
    ("RUN_MODE = 'FAST'\n", 1, "run_mode must be"),
])
def test_bad_settings_name_the_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert f"{path}:{line}" in str(info.value) and words in str(info.value)


def test_literal_settings_and_run_modes(tmp_path: Path) -> None:
    s = load_settings(_write(tmp_path, """
        '''my settings'''
        CAPITAL = 100_000 * 2
        ACCOUNT_CODE = "DU1,DU2"
        RUN_MODE = "RUN_LIKE_QUANTOPIAN"
        SMTP_HOST = "mail.example.com"
        SMTP_PASSWORD = "secret"
        def helper():
            return 1
    """))
    assert s.capital == 200_000.0 and s.account_codes == ("DU1", "DU2")
    assert s.run_mode == "RUN_LIKE_QUANTOPIAN" and s.frequency == "minute" and s.rep_bar_freq is None
    assert "secret" not in repr(s)
    assert load_settings(_write(tmp_path, "RUN_MODE = 'backtest'\n")).run_mode is None  # the old value
    with pytest.raises(ConfigError, match="RUN_LIKE_QUANTOPIAN calls handle_data once per minute"):
        load_settings(_write(tmp_path, "RUN_MODE = 'RUN_LIKE_QUANTOPIAN'\nREP_BAR_FREQ = 5\n"))


def test_the_repository_settings_file_reads() -> None:
    s = load_settings(Path(__file__).resolve().parents[2] / "settings.py")
    assert s.run_mode is None and s.algorithm_style is None and s.smtp_host is None


def test_backtest_command_runs_the_file_a_run_me_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    from runtime.cli import main

    strategies = tmp_path / "Strategies"
    strategies.mkdir()
    (strategies / "buy_once.py").write_text(textwrap.dedent("""
        def initialize(context):
            context.done = False

        def handle_data(context, data):
            if not context.done:
                order_status_monitor(order(symbol('IBM'), 10), 'Filled')
                context.done = True
    """))
    _write(tmp_path, """
        from IBridgePy.Trader import Trader
        fileName = 'buy_once.py'
        accountCode = 'DU1234567'
        BACKTESTER = {'initPortfolioValue': 25000.0}
        START = '2012-01-03'
        END = '2012-01-05'
        OUTPUT_DIR = 'out'
        Trader().run(fileName)
    """, "RUN_ME.py")
    monkeypatch.chdir(tmp_path)
    assert main(["backtest", "--settings", "RUN_ME.py"]) == 0
    out = capsys.readouterr().out
    assert "Strategies/buy_once.py" in out and "25,000.00" in out
    assert (tmp_path / "out" / "orders.csv").read_text().count("\n") == 2  # header and the one order
