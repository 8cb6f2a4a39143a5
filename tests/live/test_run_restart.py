"""Restarts of ``ibalgo run`` with the same run id and journal: the journal's orders are settled with the broker.

The real ibapi client talks to the embedded simulated gateway over loopback; the journal is a real SQLite file.

- orders that expired at the broker while the runtime was down are closed (cancelled, with the broker's reason) in
  the journal and for the algorithm: ``get_open_orders()`` is empty and an algorithm waiting for that trades again;
- an order journalled as ``sending`` (the process died after writing it and before the socket) that the broker does
  not know is closed as never sent and the algorithm sees it cancelled; one the broker has is adopted, not sent
  again; IB order ids of the restart are above every id the journal used (none is reused).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from runtime.brokers.ib.connection import ConnectionConfig
from runtime.core.ib_mapping import order_ref
from runtime.core.orders import OrderStatus
from runtime.data.calendars import get_calendar
from runtime.engine.clocks import ReplayClock
from runtime.journal import Journal, JournalOrder
from runtime.live.paper import UNPACED_RATE, EmbeddedGateway, replay_start_ns, run_algorithm
from runtime.live.session import LiveResult, LiveSession

XNYS = get_calendar("XNYS")
START, END = "2012-01-03", "2012-01-12"

EXPIRING = """\
def initialize(context):
    context.asset = symbol('AAPL')
    context.day = 0
    context.entered = 0


def handle_data(context, data):
    context.day += 1
    if context.day == 1:
        for i in range(4):
            price = round(data.current(context.asset, 'price') * 0.5, 2)
            order(context.asset, 1, style=LimitOrder(price, tif='DAY'))
    elif not get_open_orders() and not context.entered:
        order(context.asset, 10)
        context.entered = context.day
"""

SENDING = """\
def initialize(context):
    context.asset = symbol('AAPL')
    context.day = 0
    context.ids = []
    context.seen = {}


def handle_data(context, data):
    context.day += 1
    for oid in context.ids:
        o = get_order(oid)
        context.seen[oid] = None if o is None else int(o.status)
    if context.day in (1, 3):
        context.ids.append(order(context.asset, 5))
"""


def _gateway() -> EmbeddedGateway:
    clock = ReplayClock(replay_start_ns(XNYS, XNYS.session_index_on_or_after(pd.Timestamp(START))), speed=None)
    return EmbeddedGateway(clock, capital=100_000.0)


def _exchange(gw: EmbeddedGateway) -> Any:
    return gw.thread.gateway.exchange  # type: ignore[union-attr]


def _stop_after_first_session(session: LiveSession) -> None:
    original = session.start

    def start() -> None:
        original()
        assert session.engine is not None
        session.engine.on_session_end_hooks.append(lambda engine, s: session.stop("stop requested"))

    session.start = start  # type: ignore[method-assign]


def _run(algo: Path, gw: EmbeddedGateway, tmp_path: Path, name: str,
         on_session: Callable[[LiveSession], None] | None = None) -> LiveResult:
    connection = ConnectionConfig(host="127.0.0.1", port=gw.port, client_id=1, account=gw.account,
                                  message_rate=UNPACED_RATE)
    return run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp(START), pd.Timestamp(END)),
                         output=tmp_path / name, run_id="restart", journal_path=tmp_path / "journal.sqlite",
                         gateway=gw, connection=connection, on_session=on_session)


def test_day_orders_that_expired_while_down_are_closed_and_the_algorithm_trades_again(tmp_path: Path) -> None:
    algo = tmp_path / "algo.py"
    algo.write_text(EXPIRING)
    gw = _gateway()
    try:
        first = _run(algo, gw, tmp_path, "a", _stop_after_first_session)
        assert first.stopped_because == "stop requested"
        journal = Journal(tmp_path / "journal.sqlite")
        limits = journal.orders(open_only=True)
        journal.close()
        assert len(limits) == 4
        # down for a day: the DAY limits expire at the gateway at the next close
        day1 = XNYS.session_index_on_or_after(pd.Timestamp(START))
        gw.clock.advance_to(int(XNYS.closes[day1 + 1]) + 60_000_000_000)
        gw.pump()
        assert gw.thread.call(lambda: sum(not r.is_done for r in _exchange(gw).orders.values())) == 0
        second = _run(algo, gw, tmp_path, "b")
        sent = gw.thread.call(lambda: len(_exchange(gw).orders))
    finally:
        gw.stop()
    assert second.stopped_because == "the run reached its end"
    journal = Journal(tmp_path / "journal.sqlite")
    orders = {o.order_id: o for o in journal.orders()}
    for o in limits:
        assert orders[o.order_id].status == "cancelled", orders[o.order_id]
        assert "expired" in (orders[o.order_id].reason or "") or "Cancelled" in (orders[o.order_id].reason or "")
        record = second.engine.orders[o.order_id]
        assert record.status is OrderStatus.CANCELLED
    assert not second.engine.open_order_ids
    # the algorithm saw no open orders on its first day after the restart and entered
    assert second.engine.context.entered == 2
    assert sent == 5 == len(orders)
    entry = [o for o in orders.values() if o.amount == 10]
    assert len(entry) == 1 and entry[0].status == "filled"


def _crash_between_journal_and_send(journal_path: Path, gw: EmbeddedGateway, run_id: str) -> tuple[str, str, int]:
    """What a kill -9 between the journal's write and placeOrder leaves: the working order's row still says
    ``sending`` (its later update was not committed), and one more order is journalled as ``sending`` under the IB
    id the gateway hands out next, but never reached the gateway. The algorithm had kept that order's id."""
    journal = Journal(journal_path)
    (working,) = journal.orders(open_only=True)
    journal.close()
    next_id = gw.thread.call(lambda: _exchange(gw).next_order_id)
    phantom = "f" * 32
    db = sqlite3.connect(journal_path)
    with db:
        db.execute("UPDATE orders SET status = 'sending' WHERE order_id = ?", (working.order_id,))
        state = json.loads(db.execute("SELECT state FROM run_context WHERE run_id = ?", (run_id,)).fetchone()[0])
        state["ids"].append(phantom)
        db.execute("UPDATE run_context SET state = ? WHERE run_id = ?", (json.dumps(state), run_id))
    db.close()
    journal = Journal(journal_path)
    journal.order_sending(JournalOrder(phantom, run_id, order_ref(run_id, phantom), str(next_id), "AAPL",
                                       working.sid, 7, working.kind, None, None, working.tif,
                                       working.created_ns + 1, "sending", 0, 0.0, None))
    journal.close()
    return working.order_id, phantom, next_id


def test_sending_orders_are_settled_by_order_ref_and_no_ib_order_id_is_reused(tmp_path: Path) -> None:
    algo = tmp_path / "algo.py"
    algo.write_text(SENDING)
    journal_path = tmp_path / "journal.sqlite"
    gw = _gateway()
    try:
        first = _run(algo, gw, tmp_path, "a", _stop_after_first_session)
        assert first.stopped_because == "stop requested"
        working, phantom, phantom_ib = _crash_between_journal_and_send(journal_path, gw, "restart")
        second = _run(algo, gw, tmp_path, "b")
        at_gateway = gw.thread.call(lambda: sorted(r.ticket.order_id for r in _exchange(gw).orders.values()))
    finally:
        gw.stop()
    assert second.stopped_because == "the run reached its end"
    journal = Journal(journal_path)
    orders = {o.order_id: o for o in journal.orders()}
    assert len(orders) == 3
    # the order the gateway has was adopted and filled, not sent again
    assert orders[working].status == "filled"
    assert len(journal.fills(working)) == 1
    # the one it never got is closed as never sent, and the algorithm saw it cancelled
    assert orders[phantom].status == "cancelled"
    assert "never sent" in (orders[phantom].reason or "")
    assert second.engine.context.seen[phantom] == int(OrderStatus.CANCELLED)
    assert phantom not in second.engine.open_order_ids
    # no IB order id was used twice: the restart's order went above every id the journal had
    ids = [int(o.broker_id) for o in orders.values()]
    assert len(set(ids)) == len(ids), ids
    new = [o for o in orders.values() if o.order_id not in (working, phantom)]
    assert len(new) == 1 and int(new[0].broker_id) > phantom_ib
    assert len(at_gateway) == 2 and phantom_ib not in at_gateway


TRADING = """\
def initialize(context):
    context.asset = symbol('AAPL')
    context.day = 0


def handle_data(context, data):
    context.day += 1
    order(context.asset, 3 if context.day % 2 else -2)
    record(day=context.day)
"""


def test_results_after_a_restart_cover_the_whole_run_from_the_journal(tmp_path: Path) -> None:
    algo = tmp_path / "algo.py"
    algo.write_text(TRADING)
    gw = _gateway()
    try:
        _run(algo, gw, tmp_path, "a", _stop_after_first_session)
        second = _run(algo, gw, tmp_path, "b")
    finally:
        gw.stop()
    clean_gw = _gateway()
    try:
        clean = run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp(START), pd.Timestamp(END)),
                              output=tmp_path / "clean", run_id="clean", gateway=clean_gw)
    finally:
        clean_gw.stop()
    journal = Journal(tmp_path / "journal.sqlite")
    orders = [o for o in journal.orders() if o.run_id == "restart"]
    fills = [f for f in journal.fills() if f[1] in {o.order_id for o in orders}]
    assert len(orders) == len(clean.engine.orders) > 5
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    trades = pd.read_csv(tmp_path / "b" / "trades.csv")
    listed = pd.read_csv(tmp_path / "b" / "orders.csv")
    results = pd.read_csv(tmp_path / "b" / "results.csv")
    assert summary["orders"] == len(orders) and summary["trades"] == len(fills) == len(trades)
    assert sorted(listed["id"]) == sorted(o.order_id for o in orders)
    assert len(results) == len(clean.perf)  # every session of the run, the first start's too
    assert list(results["day"]) == list(range(1, len(results) + 1))
    assert list(trades["amount"]) == [t["amount"] for day in clean.perf["transactions"] for t in day]
    assert abs(summary["total_return"] - clean.summary.total_return) < 1e-12
    assert second.summary.trades == len(fills)


LEVERAGED = """\
def initialize(context):
    context.asset = symbol('AAPL')
    set_max_leverage(1.0)


def handle_data(context, data):
    order_target_percent(context.asset, 2.0)
"""


@pytest.mark.slow
def test_max_leverage_stops_a_paper_run_as_it_stops_a_backtest(tmp_path: Path) -> None:
    from runtime.assembly.backtest import run_backtest
    from runtime.data.runs import load_daily_and_minute

    algo = tmp_path / "algo.py"
    algo.write_text(LEVERAGED)
    gw = _gateway()
    try:
        paper = _run(algo, gw, tmp_path, "a")
    finally:
        gw.stop()
    daily, minute, s, e = load_daily_and_minute(None, "daily", pd.Timestamp(START), pd.Timestamp(END), seed=7)
    bt = run_backtest(algo, daily=daily, minute=minute, start=s, end=e, capital=100_000.0)
    assert bt.engine.stop_requested and "account control violated" in bt.engine.stop_requested
    assert paper.stopped_because is not None and "account control violated" in paper.stopped_because
    assert len(paper.perf) == len(bt.perf)


def test_restart_with_an_edited_algorithm_naming_an_unknown_saved_asset_says_what_to_do(tmp_path: Path) -> None:
    from runtime.errors import ConfigError

    algo = tmp_path / "algo.py"
    algo.write_text("def initialize(context):\n    context.watch = symbol('AAPL')\n\n\n"
                    "def handle_data(context, data):\n    pass\n")
    gw = _gateway()
    try:
        _run(algo, gw, tmp_path, "a", _stop_after_first_session)
        algo.write_text("def initialize(context):\n    context.other = symbol('MSFT')\n\n\n"
                        "def handle_data(context, data):\n    pass\n")
        with pytest.raises(ConfigError, match=r"names the asset with sid \d+.*--run-id"):
            _run(algo, gw, tmp_path, "b")
    finally:
        gw.stop()
