"""IBridgePy-style strategy files (tests/corpus/ibridgepy/) run unchanged, in a backtest and as a paper run on the
simulated gateway, with the same orders; send_email over a real SMTP server on loopback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from support.algo import run_data

from runtime.algorithm.ibridgepy_options import IBridgePyOptions, file_dialect
from runtime.assembly.backtest import run_backtest
from runtime.core.orders import OrderStatus
from runtime.data.calendars import get_calendar
from runtime.engine.clocks import ReplayClock
from runtime.live.paper import EmbeddedGateway, replay_start_ns, run_algorithm

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "ibridgepy"

FILES = [
    ("place_and_monitor.py", "minute", "2012-01-03", "2012-01-04"),
    ("clock_and_exit.py", "minute", "2012-01-03", "2012-01-05"),
    ("account_and_email.py", "minute", "2012-01-03", "2012-01-04"),
    ("rebalance_limits.py", "daily", "2012-01-03", "2012-01-13"),
    ("history_requests.py", "minute", "2012-01-03", "2012-01-04"),
]


def _backtest(name: str, frequency: str, start: str, end: str, options: IBridgePyOptions | None = None):
    daily, minute, s, e = run_data(frequency, start, end)
    return run_backtest(CORPUS / name, daily=daily, minute=minute, start=s, end=e, capital=100_000.0,
                        frequency=frequency, strict=True, ibridgepy=options)


def _paper(name: str, frequency: str, start: str, end: str, out: Path):
    return run_algorithm(str(CORPUS / name), frequency=frequency, replay=(pd.Timestamp(start), pd.Timestamp(end)),
                         output=out, run_id="ib" + name[:6].replace("_", ""), strict=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """Each corpus file's backtest and paper run, made once for the module."""
    out = {}
    for spec in FILES:
        out[spec[0]] = (_backtest(*spec), _paper(*spec, tmp_path_factory.mktemp(spec[0].split(".")[0])))
    return out


def _orders(perf: pd.DataFrame) -> list[tuple]:
    seen = {}
    for day in perf["orders"]:
        for o in day:
            seen[o["id"]] = (pd.Timestamp(o["created"]), o["sid"].symbol, o["amount"], o["filled"], o["status"])
    return sorted(seen.values())


@pytest.mark.socket
@pytest.mark.parametrize(("name", "frequency", "start", "end"), FILES, ids=[f[0] for f in FILES])
def test_corpus_file_places_the_same_orders_in_backtest_and_paper(runs: dict, name: str, frequency: str,
                                                                  start: str, end: str) -> None:
    assert file_dialect(str(CORPUS / name)) == "ibridgepy"
    bt, paper = runs[name]
    assert bt.engine.error_count == 0 and paper.engine.error_count == 0
    assert _orders(bt.perf) == _orders(paper.perf)
    assert _orders(bt.perf) or name == "history_requests.py"
    assert len(bt.perf) == len(paper.perf)
    assert any(f.name == "results.csv" for f in paper.files)


@pytest.mark.socket
def test_place_and_monitor(runs: dict) -> None:
    for result in runs[FILES[0][0]]:
        c = result.engine.context.checks
        assert c["monitor"] is True and isinstance(c["market"], str)
        assert c["limit_status"] == "Submitted" and c["ref"] == "dip-buy" and c["tif"] == "DAY"
        assert c["quote"] == (True, True, True)
        assert c["modified"] == (30, True, 30, 0, True)  # modify_order raised the limit: it filled
        assert c["nothing"] == "NoOrderPlaced" and c["cancel_unknown"] == "OrderNotFoundError"
        assert c["position"] == (130, True)
        assert "after_end" not in c  # end() stopped the minute run at once
        assert len(result.perf) == 1  # ... with the session so far written
    bt_data, paper_data = (r.engine.data for r in runs[FILES[0][0]])
    aapl = runs[FILES[0][0]][0].engine.context.security
    assert bt_data.current(aapl, "bid") == bt_data.current(aapl, "ask") == bt_data.current(aapl, "price")
    assert paper_data.current(aapl, "bid") < paper_data.current(aapl, "ask")  # the gateway's quoted spread
    # paper: order_status_monitor waited for the fill, so the market order was filled when it returned
    assert result.engine.orders[c["market"]].status is OrderStatus.FILLED


def test_clock_checks_and_exit(runs: dict) -> None:
    for result in runs[FILES[1][0]]:
        c = result.engine.context.checks
        assert c["ordered_at"] == ["2012-01-03 10:00 EST", "2012-01-04 10:00 EST"]  # hour == 10 is New York's
        assert c["times"][:2] == [("open", "09:31"), ("close", "15:55", 12)]
        assert "exit()" in result.engine.stop_requested and "clock_and_exit.py:" in result.engine.stop_requested
        assert len(result.perf) == 2  # stopped on the 4th at 11:30, the 5th never ran


@pytest.mark.socket
def test_account_values_positions_and_display(runs: dict) -> None:
    bt, paper = (r.engine.context.checks for r in runs[FILES[2][0]])
    for c in (bt, paper):
        assert c["position"][0] == 20 and c["position"][1] > 100  # price: the average cost
        assert c["NetLiquidation"] == pytest.approx(c["TotalCashValue"] + c["GrossPositionValue"], abs=2.0)
        assert c["mail"] is False  # no SMTP_HOST: logged, not sent
        assert "IBM" in c["shown"] and "CASH=" in c["balance"]
    # paper: IB's (the gateway's) values, Reg T buying power, not the ledger's infinity
    assert paper["BuyingPower"] > paper["NetLiquidation"] and paper["BuyingPower"] != float("inf")
    assert paper["account_buying_power"] == paper["BuyingPower"]
    assert bt["BuyingPower"] == bt["TotalCashValue"]
    assert bt["UnrealizedPnL"] == pytest.approx(bt["profit"])


@pytest.mark.socket
def test_history_depth_bar_sizes_and_dates(runs: dict) -> None:
    bt, paper = (r.engine.context.checks for r in runs["history_requests.py"])
    assert bt == paper  # the minute store in a backtest, IB's history (the gateway) in a paper run
    assert bt["days"][:3] == (10, ["open", "high", "low", "close", "volume"], "2012-01-04")
    # '2 D' of minutes at 12:00 on the 4th: all of the 3rd and the 4th so far, labelled by their start, US/Eastern
    assert bt["minutes"] == (390 + 150, "2012-01-03 09:30:00-05:00", "2012-01-04 11:59:00-05:00")
    assert bt["hours"] == ["09:30:00", "10:00:00", "11:00:00"]
    assert bt["epoch"] == (6, int(pd.Timestamp("2012-01-04 11:55", tz="US/Eastern").timestamp()))
    assert bt["weeks"][1] == "2012-01-03"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def test_send_email_over_smtp_and_never_fatal() -> None:
    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        options = IBridgePyOptions(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                                   email_from="algo@example.com", email_to="me@example.com")
        c = _backtest(*FILES[2], options=options).engine.context.checks
    finally:
        controller.stop()
    assert c["mail"] is True
    (sender, to, content), = inbox.messages
    assert sender == "algo@example.com" and to == ["me@example.com"]
    assert b"Subject: IBM bought" in content and b"holding 20 shares" in content
    # the server is gone: the mail fails, is logged, and the run goes on to end()
    result = _backtest(*FILES[2], options=options)
    assert result.engine.context.checks["mail"] is False and result.engine.error_count == 0
    assert result.engine.stop_requested == "the algorithm called end()"


def test_status_words_compare_as_ibridgepy_code_does() -> None:
    assert OrderStatus.FILLED == "Filled" and OrderStatus.OPEN in ["Submitted", "PreSubmitted"]
    assert OrderStatus.HELD == "PreSubmitted" and OrderStatus.REJECTED == "Inactive"
    assert OrderStatus.CANCELLED != "Filled" and OrderStatus.FILLED == 1  # zipline's numbers still work
    assert {OrderStatus.FILLED: "x"}[1] == "x"


def test_zipline_files_keep_utc_and_none(tmp_path: Path) -> None:
    algo = tmp_path / "z.py"
    algo.write_text(
        "from zipline.api import symbol, order_target, get_datetime\n"
        "def initialize(context):\n    context.seen = []\n"
        "def handle_data(context, data):\n"
        "    context.seen.append((get_datetime().tzname(), order_target(symbol('AAPL'), 0)))\n")
    assert file_dialect(str(algo)) == "zipline"
    daily, minute, s, e = run_data("daily", "2012-01-03", "2012-01-04")
    result = run_backtest(algo, daily=daily, minute=minute, start=s, end=e, capital=1e5, strict=True)
    assert result.engine.context.seen == [("UTC", None), ("UTC", None)]


@pytest.mark.socket
def test_regular_mode_runs_around_the_clock_in_backtest_and_paper(tmp_path: Path) -> None:
    daily, minute, s, e = run_data("minute", "2012-01-03", "2012-01-03")
    bt = run_backtest(CORPUS / "regular_mode.py", daily=daily, minute=minute, start=s, end=e, capital=1e5,
                      frequency="minute", rep_bar_freq=300, strict=True)
    paper = run_algorithm(str(CORPUS / "regular_mode.py"), frequency="minute", rep_bar_freq=300, strict=True,
                          replay=(pd.Timestamp("2012-01-03"), pd.Timestamp("2012-01-03")), output=tmp_path)
    calls = bt.engine.context.calls
    assert calls[0] == ("00:00", False) and calls[-1] == ("16:00", True) and len(calls) == 193
    assert ("10:00", True) in calls
    assert paper.engine.context.calls == calls
    assert _orders(bt.perf) == _orders(paper.perf) and len(_orders(bt.perf)) == 1


def test_account_codes_are_checked_on_every_helper(tmp_path: Path) -> None:
    algo = tmp_path / "accounts.py"
    algo.write_text(
        "def initialize(context):\n    context.seen = {}\n"
        "def handle_data(context, data):\n"
        "    if context.seen:\n        return\n"
        "    sec = symbol('AAPL')\n"
        "    context.seen['order'] = order(sec, 1, accountCode='DU111') is not None\n"
        "    context.seen['position'] = get_position(sec, accountCode='DU111').amount\n"
        "    context.seen['shown'] = 'AAPL' in display_all('DU111')\n"
        "    for code in ('DU222', 'DU999'):\n"
        "        try:\n            show_account_info('NetLiquidation', accountCode=code)\n"
        "        except Exception as exc:\n            context.seen[code] = (type(exc).__name__, str(exc))\n")
    daily, minute, s, e = run_data("daily", "2012-01-03", "2012-01-05")
    result = run_backtest(algo, daily=daily, minute=minute, start=s, end=e, capital=1e5, strict=True,
                          ibridgepy=IBridgePyOptions(account_codes=("DU111", "DU222"), dialect="ibridgepy"))
    seen = result.engine.context.seen
    assert seen["order"] is True and seen["position"] == 0 and seen["shown"] is True  # the order is listed
    assert seen["DU222"][0] == "NotAvailableError" and "one account per run" in seen["DU222"][1]
    assert seen["DU999"][0] == "AlgorithmApiError" and "DU111, DU222" in seen["DU999"][1]


@pytest.mark.socket
def test_two_accounts_on_the_simulated_gateway(tmp_path: Path) -> None:
    cal = get_calendar("XNYS")
    start = pd.Timestamp("2012-01-03")
    clock = ReplayClock(replay_start_ns(cal, cal.session_index_on_or_after(start)), speed=None)
    gateway = EmbeddedGateway(clock, capital=100_000.0, accounts=("DU111", "DU222"))
    try:
        result = run_algorithm(str(CORPUS / "two_accounts.py"), frequency="minute", replay=(start, start),
                               output=tmp_path, strict=True, gateway=gateway,
                               ibridgepy=IBridgePyOptions(account_codes=("DU111", "DU222")))
    finally:
        gateway.stop()
    c = result.engine.context.checks
    assert c["positions"] == (10, 20, 20)
    assert c["portfolio"] == 10  # context.portfolio follows the run's own (first) account
    assert c["net"][0] == pytest.approx(100_000.0, abs=50) and c["net"][1] == pytest.approx(100_000.0, abs=50)
    assert c["cash"][0] > c["cash"][1]  # DU222 bought twice as many shares
    assert c["orders"] == (1, 1)
    assert "DU222" in c["shown"] and "AAPL" in c["shown"]
    assert c["after_target"] == 5  # order_target sized against DU222's own position
    accounts = json.loads((tmp_path / "accounts.json").read_text())  # results per account
    assert [p["amount"] for p in accounts["DU111"]["positions"]] == [10]
    assert [p["amount"] for p in accounts["DU222"]["positions"]] == [5]
    assert accounts["DU222"]["values"]["NetLiquidation"] > 0
