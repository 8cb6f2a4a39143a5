"""Corporate actions at the simulated gateway: its paper accounts take the bundled data's dividends and splits.

A paper replay holding IBM and MSFT across their ex-dates ends with the gateway's account worth what the backtest's
portfolio is worth (dividends credited on the ex-date, as the backtest's ledger does); a position held through
AAPL's 2005-02-28 2:1 split doubles and its average cost halves, once, also across a restart with a state file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support.algo import HOLD_AAPL_101

from runtime.assembly.backtest import run_backtest
from runtime.data.calendars import get_calendar
from runtime.data.runs import load_daily_and_minute
from runtime.engine.clocks import ReplayClock
from runtime.gateway import GatewayConfig
from runtime.gateway.contracts import ContractQuery
from runtime.gateway.gateway import Gateway
from runtime.gateway.tickets import OrderTicket
from runtime.gateway.universe import sample_universe
from runtime.live.paper import EmbeddedGateway, replay_start_ns, run_algorithm

HOLD = '''
def initialize(context):
    context.assets = [symbol("IBM"), symbol("MSFT")]
    context.bought = False


def handle_data(context, data):
    if not context.bought:
        for asset in context.assets:
            order_target_percent(asset, 0.45)
        context.bought = True
'''
START, END = "2011-01-24", "2011-02-25"  # IBM goes ex-dividend on 2011-02-08, MSFT on 2011-02-15
XNYS = get_calendar("XNYS")


def _algo(tmp_path: Path) -> Path:
    path = tmp_path / "hold_ibm_msft.py"
    path.write_text(HOLD, encoding="utf-8")
    return path


def _backtest(algo: Path):
    daily, minute, s, e = load_daily_and_minute(None, "daily", pd.Timestamp(START), pd.Timestamp(END), seed=7)
    return run_backtest(algo, daily=daily, minute=minute, start=s, end=e, capital=100_000.0, frequency="daily")


def _paper(algo: Path, out: Path, gateway: EmbeddedGateway | None = None):
    return run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp(START), pd.Timestamp(END)), output=out,
                         run_id="dividends", gateway=gateway)


@pytest.mark.slow
def test_replay_gateway_account_takes_the_dividends_like_the_backtest(tmp_path: Path) -> None:
    algo = _algo(tmp_path)
    clock = ReplayClock(replay_start_ns(XNYS, XNYS.session_index_on_or_after(pd.Timestamp(START))), speed=None)
    gw = EmbeddedGateway(clock, capital=100_000.0)
    try:
        paper = _paper(algo, tmp_path / "paper", gw)

        def account() -> tuple[float, float, dict[str, int]]:
            exchange = gw.thread.gateway.exchange  # type: ignore[union-attr]
            exchange.mark_all(clock.now_ns())
            values = exchange.accounts[gw.account].values()
            return values["NetLiquidation"], values["TotalCashValue"], dict(exchange.applied_actions)

        net_liq, _cash, applied = gw.thread.call(account)
    finally:
        gw.stop()
    bt = _backtest(algo)
    assert paper.engine.error_count == 0
    assert "dividend:3766:2011-02-08" in applied and "dividend:5061:2011-02-15" in applied
    assert net_liq == pytest.approx(float(bt.perf["portfolio_value"].iloc[-1]), rel=1e-6)


def test_replay_portfolio_values_match_the_backtest_across_ex_dates(tmp_path: Path) -> None:
    algo = _algo(tmp_path)
    paper = _paper(algo, tmp_path / "paper")
    bt = _backtest(algo)
    pd.testing.assert_series_equal(paper.perf["portfolio_value"], bt.perf["portfolio_value"], rtol=1e-6)


SPLIT_HOLD = HOLD_AAPL_101


def test_replay_across_a_split_matches_the_backtest(tmp_path: Path) -> None:
    algo = tmp_path / "hold_aapl.py"
    algo.write_text(SPLIT_HOLD, encoding="utf-8")
    window = (pd.Timestamp("2005-02-22"), pd.Timestamp("2005-03-04"))  # AAPL splits 2:1 on 2005-02-28
    paper = run_algorithm(str(algo), frequency="daily", replay=window, output=tmp_path / "paper", run_id="split")
    daily, minute, s, e = load_daily_and_minute(None, "daily", *window, seed=7)
    bt = run_backtest(algo, daily=daily, minute=minute, start=s, end=e, capital=100_000.0, frequency="daily")
    assert paper.engine.error_count == 0
    assert list(paper.perf["shares"]) == list(bt.perf["shares"])
    assert paper.perf["shares"].iloc[-1] == 202
    pd.testing.assert_series_equal(paper.perf["portfolio_value"], bt.perf["portfolio_value"], rtol=1e-6)


class _Clock:
    """A clock that stands still until told."""

    def __init__(self, now_ns: int) -> None:
        self.now = now_ns

    def now_ns(self) -> int:
        return self.now


def _aapl_position(gw: Gateway) -> tuple[float, float, float]:
    exchange = gw.exchange
    inst = gw.universe.book.resolve(ContractQuery(symbol="AAPL", sec_type="STK", currency="USD", exchange="SMART"))
    book = exchange.accounts[exchange.default_account]
    exchange.mark_all(gw.clock.now_ns())
    h = book.holding(inst)  # type: ignore[arg-type]
    return h.amount, h.avg_cost, book.ledger.cash


def test_split_doubles_the_position_and_halves_the_average_cost_once(tmp_path: Path) -> None:
    state = tmp_path / "gateway.json"
    k = XNYS.session_index_on_or_after(pd.Timestamp("2005-02-25"))
    clock = _Clock(int(XNYS.opens[k]) + 3_600_000_000_000)
    config = GatewayConfig(port=0, starting_cash=100_000.0, state_file=str(state), max_messages_per_second=None)
    gw = Gateway(config, clock, sample_universe(clock.now))
    ticket = OrderTicket(order_id=1, contract=ContractQuery(symbol="AAPL", sec_type="STK", currency="USD",
                                                            exchange="SMART"), action="BUY", quantity=101,
                         order_type="MKT")
    gw.exchange.place(7, ticket, clock.now)
    amount, avg_cost, cash = _aapl_position(gw)
    assert amount == 101 and avg_cost > 0
    assert "split:24:2005-02-28" not in gw.exchange.applied_actions

    clock.now = int(XNYS.opens[k + 1]) + 60_000_000_000  # the split's session (2005-02-28) has opened
    gw.pump()
    after = _aapl_position(gw)
    assert after[0] == 202
    assert after[1] == pytest.approx(avg_cost / 2, rel=1e-12)
    assert after[2] == pytest.approx(cash)  # no fractional share, no dividend
    assert "split:24:2005-02-28" in gw.exchange.applied_actions
    gw.pump()
    assert _aapl_position(gw)[0] == 202
    gw.save()

    restarted = Gateway(config, clock, sample_universe(clock.now))  # rebuilt from the state file
    assert _aapl_position(restarted)[:2] == pytest.approx(after[:2])
    clock.now += 3_600_000_000_000
    restarted.pump()
    assert _aapl_position(restarted)[:2] == pytest.approx(after[:2])  # applied once, not again
