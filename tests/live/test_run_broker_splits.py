"""A split IB books reaches the run's ledger when the run knows no corporate actions (a real IB account).

The paper replays run the real ``ibapi`` client against the in-process simulated gateway, whose paper account applies
the bundled data's splits at the ex-date open (AAPL 2:1 on 2005-02-28), while the run is started without
``corporate_actions`` as with TWS / IB Gateway: the run finds the split in IB's position and average cost and applies
it to its ledger. A difference no split explains (a trade made outside the run) is only reported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from support.algo import HOLD_AAPL_101

from runtime.assembly.backtest import run_backtest
from runtime.brokers.ib.connection import ConnectionConfig
from runtime.core.assets import Asset
from runtime.data.calendars import get_calendar
from runtime.data.runs import load_daily_and_minute
from runtime.engine.clocks import ReplayClock
from runtime.engine.engine import Engine
from runtime.gateway.contracts import ContractQuery
from runtime.gateway.tickets import OrderTicket
from runtime.journal import Journal
from runtime.live.paper import UNPACED_RATE, EmbeddedGateway, broker_factory, replay_start_ns, replay_window
from runtime.live.positions import Holding, compare_positions, explain, split_candidates
from runtime.live.session import LiveOptions, LiveResult, LiveSession

XNYS = get_calendar("XNYS")
AAPL = ContractQuery(symbol="AAPL", sec_type="STK", currency="USD", exchange="SMART")
SPLIT_WINDOW = (pd.Timestamp("2005-02-22"), pd.Timestamp("2005-03-04"))  # AAPL splits 2:1 on 2005-02-28

HOLD_THEN_CLOSE = '''
def initialize(context):
    context.asset = symbol("AAPL")
    context.day = 0


def handle_data(context, data):
    context.day += 1
    if context.day == 1:
        order(context.asset, 101)
    elif str(get_datetime().date()) == "2005-03-01":
        order_target(context.asset, 0)
    record(shares=context.portfolio.positions[context.asset].amount)
'''

HOLD = HOLD_AAPL_101


def _gateway_amount(gw: EmbeddedGateway) -> float:
    def read() -> float:
        exchange = gw.thread.gateway.exchange  # type: ignore[union-attr]
        inst = gw.thread.gateway.universe.book.resolve(AAPL)  # type: ignore[union-attr]
        return exchange.accounts[gw.account].holding(inst).amount

    return gw.thread.call(read)


def _replay_without_actions(tmp_path: Path, source: str, window: tuple[pd.Timestamp, pd.Timestamp],
                            on_session_end: Callable[[Engine, EmbeddedGateway], None], *, frequency: str = "daily"
                            ) -> tuple[LiveResult, float]:
    """A paper replay on the embedded gateway with ``corporate_actions=None`` (as against TWS / IB Gateway);
    returns the result and the gateway's AAPL position at the end."""
    algo = tmp_path / "algo.py"
    algo.write_text(source, encoding="utf-8")
    first, _ = replay_window(XNYS, *window)
    clock = ReplayClock(replay_start_ns(XNYS, first), speed=None)
    gw = EmbeddedGateway(clock, capital=100_000.0)
    try:
        run_id = "broker-splits"
        options = LiveOptions(algorithm=str(algo), run_id=run_id, journal_path=tmp_path / "out" / "journal.sqlite",
                              frequency=frequency, end=window[1], output=tmp_path / "out", corporate_actions=None)
        config = ConnectionConfig(host="127.0.0.1", port=gw.port, client_id=1, account=gw.account,
                                  message_rate=UNPACED_RATE)
        session = LiveSession(options, broker_factory(config, run_id, clock, virtual_pacing=True), clock, XNYS,
                              sync=gw.pump, set_models=gw.set_models)

        def observe(engine: Engine) -> bool:
            on_session_end(engine, gw)
            return False

        result = session.run(stop_after=observe)
        return result, _gateway_amount(gw)
    finally:
        gw.stop()


def _ledger_amount(engine: Engine) -> int:
    return next((n for _, a, n, _, _ in engine.ledger.position_items() if a.symbol == "AAPL"), 0)


def test_a_split_booked_by_the_broker_is_applied_to_the_ledger(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, int, float]] = []

    def observe(engine: Engine, gw: EmbeddedGateway) -> None:
        seen.append((str(engine.now.date()), _ledger_amount(engine), _gateway_amount(gw)))

    with caplog.at_level(logging.WARNING, logger="ibalgo.live"):
        result, at_gateway = _replay_without_actions(tmp_path, HOLD_THEN_CLOSE, SPLIT_WINDOW, observe)
    assert result.engine.error_count == 0

    by_day = {day: (ours, theirs) for day, ours, theirs in seen}
    assert by_day["2005-02-25"] == (101, 101)
    assert by_day["2005-02-28"] == (202, 202)  # the split: the run's position is the gateway's
    assert all(ours == theirs for ours, theirs in by_day.values())
    assert list(result.perf["shares"]) == [0, 101, 101, 101, 202, 202, 0, 0, 0]
    assert at_gateway == 0  # order_target(asset, 0) after the split closed the whole position at the broker

    daily, minute, s, e = load_daily_and_minute(None, "daily", *SPLIT_WINDOW, seed=7)
    bt = run_backtest(tmp_path / "algo.py", daily=daily, minute=minute, start=s, end=e, capital=100_000.0,
                      frequency="daily")
    assert list(bt.perf["shares"]) == list(result.perf["shares"])
    pd.testing.assert_series_equal(result.perf["portfolio_value"], bt.perf["portfolio_value"], rtol=1e-6)
    values = result.perf["portfolio_value"].to_numpy()
    assert (abs(values[1:] / values[:-1] - 1.0) < 0.1).all()  # continuous across the split: no halving

    assert len(result.broker_splits) == 1
    applied = result.broker_splits[0]
    assert (applied.asset.symbol, applied.ratio, applied.amount_before, applied.amount_after) == \
        ("AAPL", Fraction(2), 101, 202)
    assert applied.cash_paid == 0.0
    assert any("IB booked a 2-for-1 split" in r.getMessage() and "AAPL" in r.getMessage() for r in caplog.records)

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    recorded = [(s["symbol"], s["ratio"], s["amount_after"]) for s in summary["broker_splits"]]
    assert recorded == [("AAPL", "2-for-1", 202)]
    journal = Journal(tmp_path / "out" / "journal.sqlite")
    try:
        events = journal.events()
    finally:
        journal.close()
    assert [(kind, d["symbol"], d["amount_after"]) for _, _, kind, d in events] == [("broker_split", "AAPL", 202)]


@pytest.mark.slow
def test_a_split_is_applied_before_the_first_minute_bar_after_the_open(tmp_path: Path) -> None:
    window = (pd.Timestamp("2005-02-25"), pd.Timestamp("2005-03-01"))
    seen: list[tuple[str, int, float]] = []

    def observe(engine: Engine, gw: EmbeddedGateway) -> None:
        seen.append((str(engine.now.date()), _ledger_amount(engine), _gateway_amount(gw)))

    result, at_gateway = _replay_without_actions(tmp_path, HOLD, window, observe, frequency="minute")
    assert result.engine.error_count == 0
    assert seen == [("2005-02-25", 101, 101), ("2005-02-28", 202, 202), ("2005-03-01", 202, 202)]
    assert at_gateway == 202
    assert [(s.ratio, s.amount_after) for s in result.broker_splits] == [(Fraction(2), 202)]
    values = result.perf["portfolio_value"].to_numpy()
    assert (abs(values[1:] / values[:-1] - 1.0) < 0.1).all()


def test_a_difference_no_split_explains_is_only_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    window = (pd.Timestamp("2005-02-14"), pd.Timestamp("2005-02-25"))
    seen: list[tuple[str, int, float]] = []

    def observe(engine: Engine, gw: EmbeddedGateway) -> None:
        day = str(engine.now.date())
        if day == "2005-02-17":  # someone buys 37 AAPL in the same account, outside the run

            def place() -> None:
                exchange = gw.thread.gateway.exchange  # type: ignore[union-attr]
                ticket = OrderTicket(order_id=9001, contract=AAPL, action="BUY", quantity=37, order_type="MKT",
                                     account=gw.account)
                exchange.place(99, ticket, gw.clock.now_ns())

            gw.thread.call(place)
        seen.append((day, _ledger_amount(engine), _gateway_amount(gw)))

    with caplog.at_level(logging.WARNING, logger="ibalgo.live"):
        result, at_gateway = _replay_without_actions(tmp_path, HOLD, window, observe)
    assert result.engine.error_count == 0
    assert at_gateway == 138
    assert _ledger_amount(result.engine) == 101  # the run's own fills only: not adjusted
    assert set(result.perf["shares"].iloc[1:]) == {101}
    assert result.broker_splits == []
    text = "the ledger holds +101 shares, IB holds +138"
    warnings = [m for m in (r.getMessage() for r in caplog.records) if text in m]
    assert len(warnings) == 1  # reported once, not at every check
    assert "AAPL" in warnings[0] and "Check AAPL's trades" in warnings[0]
    assert seen[-1][1:] == (101, 138)


def test_with_the_brokers_corporate_actions_known_nothing_is_applied_twice(tmp_path: Path) -> None:
    from runtime.live.paper import run_algorithm

    algo = tmp_path / "hold.py"
    algo.write_text(HOLD, encoding="utf-8")
    paper = run_algorithm(str(algo), frequency="daily", replay=SPLIT_WINDOW, output=tmp_path / "paper", run_id="known")
    assert paper.broker_splits == []
    assert paper.perf["shares"].iloc[-1] == 202


def _asset(sid: int = 1) -> Asset:
    return Asset(sid=sid, symbol=f"S{sid}")


@pytest.mark.parametrize(("ledger", "broker", "ratio"), [
    (101, 202, Fraction(2)),
    (100, 300, Fraction(3)),
    (101, 151, Fraction(3, 2)),  # 151.5: the half share is paid in cash
    (1005, 100, Fraction(1, 10)),
    (-100, -200, Fraction(2)),
    (1, 2, Fraction(2)),  # also fits 21-for-10 and more: the smallest terms win
])
def test_plausible_splits_are_found(ledger: int, broker: int, ratio: Fraction) -> None:
    assert ratio in split_candidates(ledger, broker)
    found, reason = explain(Holding(_asset(), ledger, 40.0), broker, 40.0 / float(ratio))
    assert found == ratio, reason


@pytest.mark.parametrize(("ledger", "broker", "broker_cost", "why"), [
    (101, 138, 40.2, "not the ledger's cost basis"),  # 11-for-8 by the amounts, but the cost moved like a trade
    (101, 0, 0.0, "IB holds none"),
    (0, 37, 40.0, "the ledger holds none"),
    (100, -100, 40.0, "opposite sides"),
    (101, 202, 0.0, "unknown"),
    (101, 1234, 3.27, "no split"),
])
def test_other_differences_are_not_guessed(ledger: int, broker: int, broker_cost: float, why: str) -> None:
    found, reason = explain(Holding(_asset(), ledger, 40.0), broker, broker_cost)
    assert found is None and why in reason


def test_assets_with_a_working_order_are_skipped() -> None:
    a, b = _asset(1), _asset(2)
    ledger = [Holding(a, 100, 40.0), Holding(b, 10, 5.0)]
    broker = [Holding(a, 200, 20.0), Holding(b, 20, 2.5)]
    diffs = compare_positions(ledger, broker, busy={2})
    assert [(d.asset.sid, d.split) for d in diffs] == [(1, Fraction(2))]
    assert compare_positions(ledger, [Holding(a, 100, 40.0), Holding(b, 10, 5.0)]) == []
