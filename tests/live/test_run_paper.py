"""``ibalgo run`` on the embedded simulated gateway: the real ibapi client over loopback, real SQLite, real files.

Every example runs in paper replay without algorithm errors; a deterministic example gives the same orders and
fills as its backtest (parity); the gateway dropping the connection mid-run and a restart of the runtime mid-run
neither lose nor duplicate an order.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support.algo import wait_until

from runtime.assembly.backtest import run_backtest
from runtime.data.calendars import get_calendar
from runtime.data.runs import load_daily_and_minute
from runtime.engine.clocks import ReplayClock
from runtime.journal import Journal
from runtime.live.run import EmbeddedGateway, replay_start_ns, run_algorithm

ALGOS = Path(__file__).resolve().parents[2] / "user_algos"

EXAMPLES = [
    ("buy_and_hold.py", "daily", "2011-01-03", "2011-02-15"),
    ("dual_moving_average.py", "daily", "2012-06-01", "2012-07-31"),
    ("zipline_style.py", "daily", "2011-01-03", "2011-03-31"),
    ("quantopian_style.py", "daily", "2010-01-04", "2010-02-26"),
    ("limit_and_stop.py", "minute", "2012-10-01", "2012-10-03"),
    ("scheduled_minute.py", "minute", "2012-11-20", "2012-11-23"),
    ("parameter_sweep.py", "daily", "2012-01-03", "2012-03-30"),
]


def _paper(algo: str, frequency: str, start: str, end: str, out: Path, **kw) -> object:
    return run_algorithm(str(ALGOS / algo), frequency=frequency, replay=(pd.Timestamp(start), pd.Timestamp(end)),
                         output=out, run_id=kw.pop("run_id", "t" + out.name.replace("_", "")[-20:]), **kw)


@pytest.mark.slow
@pytest.mark.parametrize(("algo", "frequency", "start", "end"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_example_runs_in_paper_replay(tmp_path: Path, algo: str, frequency: str, start: str, end: str) -> None:
    result = _paper(algo, frequency, start, end, tmp_path)
    assert result.engine.error_count == 0
    assert result.stopped_because == "the run reached its end"
    cal = get_calendar("XNYS")
    assert len(result.perf) == cal.session_index_on_or_before(end) - cal.session_index_on_or_after(start) + 1
    assert result.orders_sent > 0
    for name in ("results.csv", "results.pkl", "trades.csv", "orders.csv", "summary.json", "journal.sqlite"):
        assert (tmp_path / name).is_file(), name


def _trades(perf: pd.DataFrame) -> list[tuple]:
    return [(pd.Timestamp(t["dt"]), t["symbol"] if "symbol" in t else t["sid"].symbol, t["amount"],
             round(t["price"], 6), round(t["commission"], 6)) for day in perf["transactions"] for t in day]


def _orders(perf: pd.DataFrame) -> list[tuple]:
    seen = {}
    for day in perf["orders"]:
        for o in day:
            seen[o["id"]] = (pd.Timestamp(o["created"]), o["sid"].symbol, o["amount"], o["filled"], o["status"])
    return sorted(seen.values())


def _backtest(algo: str, start: str, end: str, frequency: str = "daily"):
    daily, minute, s, e = load_daily_and_minute(None, frequency, pd.Timestamp(start), pd.Timestamp(end), seed=7)
    return run_backtest(ALGOS / algo, daily=daily, minute=minute, start=s, end=e, capital=100_000.0,
                        frequency=frequency)


@pytest.mark.slow
def test_parity_daily_orders_and_fills_match_the_backtest(tmp_path: Path) -> None:
    """Same orders, same fills (bar, amount, price, commission), same portfolio values as the backtest.

    zipline_style trades AAPL (no dividends in 2011), with its own cost models: the gateway uses them too.
    """
    start, end = "2011-01-03", "2011-06-30"
    paper = _paper("zipline_style.py", "daily", start, end, tmp_path)
    bt = _backtest("zipline_style.py", start, end)
    assert _trades(paper.perf) and _trades(paper.perf) == _trades(bt.perf)
    assert _orders(paper.perf) == _orders(bt.perf)
    pd.testing.assert_series_equal(paper.perf["portfolio_value"], bt.perf["portfolio_value"], rtol=1e-9)


def test_parity_several_assets(tmp_path: Path) -> None:
    start, end = "2012-01-03", "2012-03-30"
    paper = _paper("dual_moving_average.py", "daily", start, end, tmp_path)
    bt = _backtest("dual_moving_average.py", start, end)
    assert len(_trades(paper.perf)) >= 5
    assert _trades(paper.perf) == _trades(bt.perf)


def _gateway(start: str) -> EmbeddedGateway:
    cal = get_calendar("XNYS")
    clock = ReplayClock(replay_start_ns(cal, cal.session_index_on_or_after(pd.Timestamp(start))), speed=None)
    return EmbeddedGateway(clock, capital=100_000.0)


@pytest.mark.slow
def test_connection_drop_mid_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    start, end = "2012-01-03", "2012-03-30"
    gw = _gateway(start)
    dropped = []

    def hook(session) -> None:
        def on_end(engine, _session: int) -> None:
            if dropped or not engine.open_order_ids:
                return
            dropped.append(gw.thread.drop_connections())
            # the engine thread waits here (the replay clock stands still) until the adapter is back and reconciled
            session.ib.reconciled.clear()
            assert wait_until(lambda: not session.ib.is_connected() or session.ib.reconciled.is_set(), 10)
            assert wait_until(lambda: session.ib.is_connected() and session.ib.reconciled.is_set(), 20)

        session.engine_hooks = on_end

    try:
        result = _paper("dual_moving_average.py", "daily", start, end, tmp_path, gateway=gw,
                        on_session=lambda s: _install_end_hook(s, hook))
        sent = gw.thread.call(lambda: len(gw.thread.gateway.exchange.orders))
    finally:
        gw.stop()
    assert dropped and dropped[0] >= 1
    bt = _backtest("dual_moving_average.py", start, end)
    assert _trades(result.perf) == _trades(bt.perf)  # nothing lost, nothing twice
    journal = Journal(tmp_path / "journal.sqlite")
    orders = journal.orders()
    assert sent == len(orders) == len({o.broker_id for o in orders}) == result.orders_sent
    assert all(o.status == "filled" for o in orders)
    assert result.engine.error_count == 0


def _install_end_hook(session, hook) -> None:
    """Run ``hook(session)`` once the engine exists, and attach its session-end function."""
    original = session.start

    def start() -> None:
        original()
        hook(session)
        session.engine.on_session_end_hooks.append(session.engine_hooks)

    session.start = start


def test_restart_mid_run_adopts_open_orders_by_order_ref(tmp_path: Path) -> None:
    start, end = "2012-01-03", "2012-03-30"
    gw = _gateway(start)
    journal_path = tmp_path / "journal.sqlite"
    try:
        first = run_algorithm(
            str(ALGOS / "dual_moving_average.py"), frequency="daily", replay=(pd.Timestamp(start), pd.Timestamp(end)),
            output=tmp_path / "a", run_id="restart1", journal_path=journal_path, gateway=gw,
            on_session=lambda s: _stop_with_open_orders(s))
        assert first.stopped_because == "stop requested"
        open_before = [o for o in Journal(journal_path).orders() if o.status not in ("filled", "cancelled")]
        assert open_before, "the first start should stop with an order working at the gateway"
        sent_before = gw.thread.call(lambda: len(gw.thread.gateway.exchange.orders))
        second = run_algorithm(
            str(ALGOS / "dual_moving_average.py"), frequency="daily", replay=(pd.Timestamp(start), pd.Timestamp(end)),
            output=tmp_path / "b", run_id="restart1", journal_path=journal_path, gateway=gw)
        sent_after = gw.thread.call(lambda: len(gw.thread.gateway.exchange.orders))
    finally:
        gw.stop()
    assert second.stopped_because == "the run reached its end"
    assert second.engine.error_count == 0
    journal = Journal(journal_path)
    orders = journal.orders()
    # the adopted order was never sent again: the gateway saw exactly the orders the journal holds, once each
    assert sent_after == len(orders) == sent_before + second.orders_sent
    for o in open_before:
        again = next(j for j in orders if j.order_id == o.order_id)
        assert again.status == "filled"
        assert len(journal.fills(o.order_id)) == 1
    bt = _backtest("dual_moving_average.py", start, end)
    # the second start's results cover the whole run (the first start's sessions too, from the journal)
    assert _trades(second.perf) == _trades(bt.perf)
    assert _trades(first.perf) == _trades(bt.perf)[:len(_trades(first.perf))]


def _stop_with_open_orders(session) -> None:
    original = session.start

    def start() -> None:
        original()
        session.engine.on_session_end_hooks.append(
            lambda engine, s: session.stop("stop requested") if engine.open_order_ids and engine.sessions_done > 3
            else None)

    session.start = start


@pytest.mark.slow
def test_parameters_reach_a_paper_run_as_a_backtest(tmp_path: Path) -> None:
    """--param / PARAMS in a paper run: the same orders and fills as the backtest given the same parameters."""
    start, end = "2012-01-03", "2012-03-30"
    params = {"fast": 10, "slow": 40}
    paper = _paper("parameter_sweep.py", "daily", start, end, tmp_path, params=params)
    daily, minute, s, e = load_daily_and_minute(None, "daily", pd.Timestamp(start), pd.Timestamp(end), seed=7)
    bt = run_backtest(ALGOS / "parameter_sweep.py", daily=daily, minute=minute, start=s, end=e, capital=100_000.0,
                      params=params)
    assert dict(paper.engine.context.params) == params
    assert _trades(paper.perf) == _trades(bt.perf) and len(_trades(bt.perf)) > 0
    default = run_backtest(ALGOS / "parameter_sweep.py", daily=daily, minute=minute, start=s, end=e,
                           capital=100_000.0)
    assert _trades(default.perf) != _trades(bt.perf)  # the parameters changed the run
