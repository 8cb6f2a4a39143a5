"""Reconciliation after a reconnect, when the order filled at the gateway while the client was away.

A daily run's market order goes to the broker as market-on-close (MOC) and executes in the next session's closing
auction. In both scenarios the gateway fills that order while the run cannot hear about it, and the run reconnects
only afterwards. The adapter's reconciliation (open orders by orderRef, completed orders, executions, positions) must
book the fill exactly once, with its commission, close the order as filled in the run and in the journal, and never
send it again: the ledger and the results equal those of the same run without the outage.

- the connection is dropped (and refused) while the order works; the run notices at once; the gateway fills the
  order at the close; only then may the client connect again (before the run shows that close's bar);
- the link stalls on the morning the order executes (the gateway's messages no longer arrive, as on a half-open
  connection); the gateway fills the order at the close; the run notices the loss only at the next morning's
  before_trading_start, many hours after the fill, when the socket finally closes, and reconnects before that
  session's close. Before the fix, the executions asked for after the reconnect started ten minutes before the loss
  was noticed: the fill was never booked and the order stayed open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.algo import wait_until

from runtime.brokers.ib.connection import ConnectionConfig
from runtime.core.orders import OrderStatus
from runtime.data.calendars import get_calendar
from runtime.engine.clocks import ReplayClock
from runtime.journal import Journal
from runtime.live.paper import UNPACED_RATE, EmbeddedGateway, replay_start_ns, run_algorithm
from runtime.live.session import LiveResult, LiveSession

START, END = "2012-01-03", "2012-01-12"
#: the session (1-based count of sessions done) that places the MOC order; it executes at the next session's close
ORDER_SESSION = 2
BUY, SELL = 10, -4

ALGO = f"""\
def initialize(context):
    context.asset = symbol('AAPL')
    context.day = 0


def handle_data(context, data):
    context.day += 1
    if context.day == {ORDER_SESSION}:
        order(context.asset, {BUY})
    elif context.day == {ORDER_SESSION + 3}:
        order(context.asset, {SELL})
"""

Hook = Callable[[LiveSession, EmbeddedGateway], None]


def _gateway() -> EmbeddedGateway:
    cal = get_calendar("XNYS")
    clock = ReplayClock(replay_start_ns(cal, cal.session_index_on_or_after(pd.Timestamp(START))), speed=None)
    return EmbeddedGateway(clock, capital=100_000.0)


def _exchange(gw: EmbeddedGateway) -> Any:
    return gw.thread.gateway.exchange  # type: ignore[union-attr]


def _at_gateway(gw: EmbeddedGateway) -> tuple[int, int]:
    """How many orders and executions the gateway has."""
    return gw.thread.call(lambda: (len(_exchange(gw).orders), len(_exchange(gw).executions)))


def _run(tmp_path: Path, name: str, on_session: Hook | None = None) -> tuple[LiveResult, tuple[int, int]]:
    """A paper replay of ALGO on a fresh embedded gateway; the result and what reached the gateway."""
    algo = tmp_path / "algo.py"
    algo.write_text(ALGO)
    gw = _gateway()
    connection = ConnectionConfig(host="127.0.0.1", port=gw.port, client_id=1, account=gw.account,
                                  message_rate=UNPACED_RATE, backoff_initial_s=0.05, backoff_max_s=0.2)
    try:
        result = run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp(START), pd.Timestamp(END)),
                               output=tmp_path / name, run_id=name, gateway=gw, connection=connection,
                               on_session=(lambda s: on_session(s, gw)) if on_session else None)
        return result, _at_gateway(gw)
    finally:
        gw.stop()


def _after_start(session: LiveSession, then: Callable[[], None]) -> None:
    """Call ``then`` once the session's engine and feed exist."""
    original = session.start

    def start() -> None:
        original()
        then()

    session.start = start  # type: ignore[method-assign]


def _reconnect(session: LiveSession, gw: EmbeddedGateway, seen: dict[str, Any]) -> None:
    """Let the client in again and wait (on the engine thread: the replay clock stands still) until reconciled."""
    assert session.ib is not None
    ib = session.ib
    assert not ib.is_connected()
    seen["at_gateway_while_away"] = _at_gateway(gw)
    ib.reconciled.clear()
    gw.thread.refuse_connections(0.01)
    assert wait_until(lambda: ib.is_connected() and ib.reconciled.is_set(), 30), "no reconnect and reconciliation"
    seen["reconciled"] = ib.last_reconciled
    seen["back_at"] = session.clock.now_ns()


def _drop_before_the_close(seen: dict[str, Any]) -> Hook:
    """Drop and refuse the connection after the order's session; the gateway fills the order at the next close while
    the client is away; the client comes back right after the fill, before the run shows that close's bar."""

    def hook(session: LiveSession, gw: EmbeddedGateway) -> None:
        def install() -> None:
            assert session.engine is not None and session.feed is not None and session.ib is not None
            ib, feed = session.ib, session.feed
            sync = feed.sync

            def sync_after_the_outage() -> None:
                if "fill_close" in seen and "back_at" not in seen and session.clock.now_ns() >= seen["fill_close"]:
                    gw.pump()  # the closing auction, while the client is away
                    _reconnect(session, gw, seen)
                sync()

            feed.sync = sync_after_the_outage

            def on_end(engine: Any, index: int) -> None:
                if engine.sessions_done != ORDER_SESSION:
                    return
                seen["order_id"] = next(iter(engine.open_order_ids))
                session.sync()  # the order is at the gateway
                seen["fill_close"] = int(engine.calendar.closes[index + 1])
                gw.thread.refuse_connections(600.0)
                gw.thread.drop_connections()
                assert wait_until(lambda: not ib.is_connected(), 10)

            session.engine.on_session_end_hooks.append(on_end)

        _after_start(session, install)

    return hook


def _loss_noticed_after_the_fill(seen: dict[str, Any]) -> Hook:
    """The link stalls on the morning the order executes: the gateway keeps working (it fills the order at the close)
    but its messages no longer reach the client. The socket closes only at the next before_trading_start, when the
    run notices the loss; the client connects again before that session's close."""

    def hook(session: LiveSession, gw: EmbeddedGateway) -> None:
        def install() -> None:
            assert session.engine is not None and session.feed is not None and session.ib is not None
            ib, feed = session.ib, session.feed
            session_sync, feed_sync, before_session = session.sync, feed.sync, feed.before_session

            def stalled(sync: Callable[[], None]) -> Callable[[], None]:
                def sync_on_a_stalled_link() -> None:
                    if "stalled" in seen and "noticed_at" not in seen:
                        gw.pump()  # the gateway follows the clock (the close fills the order)
                        return  # a barrier's answer would not come: it would only time out
                    if "noticed_at" in seen and "back_at" not in seen and session.clock.now_ns() >= seen["back_close"]:
                        _reconnect(session, gw, seen)
                    sync()

                return sync_on_a_stalled_link

            def before_session_with_a_stall(t: int, index: int) -> None:
                if "fill_close" in seen and "stalled" not in seen:
                    before_session(t, index)  # today's history arrives, then the link stalls
                    gw.thread.delay_messages(3600.0)
                    seen["stalled"] = True
                    return
                if "stalled" in seen and "noticed_at" not in seen:
                    assert _at_gateway(gw) == (1, 1), "the gateway should have filled the order"
                    assert ib.is_connected(), "the run should not have noticed anything yet"
                    gw.thread.refuse_connections(600.0)
                    gw.thread.drop_connections()
                    assert wait_until(lambda: not ib.is_connected(), 10)
                    gw.thread.delay_messages(0.0)
                    seen["noticed_at"] = session.clock.now_ns()
                before_session(t, index)

            def on_end(engine: Any, index: int) -> None:
                if engine.sessions_done != ORDER_SESSION:
                    return
                seen["order_id"] = next(iter(engine.open_order_ids))
                session.sync()  # the order is at the gateway
                seen["fill_close"] = int(engine.calendar.closes[index + 1])
                seen["back_close"] = int(engine.calendar.closes[index + 2])

            session.sync, feed.sync = stalled(session_sync), stalled(feed_sync)  # type: ignore[method-assign]
            feed.before_session = before_session_with_a_stall  # type: ignore[method-assign]
            session.engine.on_session_end_hooks.append(on_end)

        _after_start(session, install)

    return hook


def _trades(perf: pd.DataFrame) -> list[tuple]:
    return [(pd.Timestamp(t["dt"]), t["sid"].symbol, t["amount"], round(t["price"], 6), round(t["commission"], 6))
            for day in perf["transactions"] for t in day]


def _check_booked_once(tmp_path: Path, name: str, result: LiveResult, sent: tuple[int, int], clean: LiveResult,
                       clean_sent: tuple[int, int], seen: dict[str, Any]) -> None:
    assert "back_at" in seen, "the outage did not happen as planned"
    # the gateway filled the order while the client was away and never got any order twice
    assert seen["at_gateway_while_away"] == (1, 1)
    assert sent == clean_sent == (2, 2)
    assert result.orders_sent == clean.orders_sent == 2
    # reconciliation recovered the fill and closed nothing as cancelled
    reconciled = seen["reconciled"]
    assert reconciled.recovered_fills == 1
    assert reconciled.closed_while_away == 0
    assert reconciled.open_orders == 0
    assert reconciled.positions == 1

    engine = result.engine
    order_id = seen["order_id"]
    record = engine.orders[order_id]
    assert record.status is OrderStatus.FILLED
    assert record.filled == BUY
    assert not engine.open_order_ids
    clean_record = next(r for r in clean.engine.orders.values() if r.amount == BUY)
    assert record.commission == pytest.approx(clean_record.commission) and record.commission > 0

    journal = Journal(tmp_path / name / "journal.sqlite")
    try:
        orders = journal.orders()
        fills = journal.fills(order_id)
    finally:
        journal.close()
    assert [o.status for o in orders] == ["filled", "filled"]
    moc = next(o for o in orders if o.order_id == order_id)
    assert moc.filled == BUY and moc.commission == pytest.approx(record.commission)
    assert len(fills) == 1 and fills[0][2] == BUY and fills[0][4] == pytest.approx(record.commission)

    # the same ledger and trades as without the outage
    ledger, clean_ledger = engine.ledger, clean.engine.ledger
    assert ledger.cash == pytest.approx(clean_ledger.cash, rel=1e-12)
    positions = [(a.symbol, n) for _, a, n, _, _ in ledger.position_items() if n]
    assert positions == [(a.symbol, n) for _, a, n, _, _ in clean_ledger.position_items() if n]
    assert positions == [("AAPL", BUY + SELL)]
    assert _trades(result.perf) == _trades(clean.perf)
    assert engine.error_count == clean.engine.error_count == 0
    assert result.stopped_because == "the run reached its end"


def test_moc_filled_while_disconnected_is_booked_once_after_the_reconnect(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clean, clean_sent = _run(tmp_path, "clean")
    seen: dict[str, Any] = {}
    result, sent = _run(tmp_path, "dropped", _drop_before_the_close(seen))
    _check_booked_once(tmp_path, "dropped", result, sent, clean, clean_sent, seen)
    # the client was back before the run showed the close's bar: every session's results are the same
    for column in ("portfolio_value", "ending_cash", "ending_value"):
        pd.testing.assert_series_equal(result.perf[column], clean.perf[column], rtol=1e-12)


def test_fill_before_the_loss_was_noticed_is_recovered_after_the_reconnect(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clean, clean_sent = _run(tmp_path, "clean")
    seen: dict[str, Any] = {}
    result, sent = _run(tmp_path, "stalled", _loss_noticed_after_the_fill(seen))
    # the loss was noticed long after the execution: the executions asked for must reach back to the order
    assert seen["noticed_at"] - seen["fill_close"] > 12 * 3600 * 10**9
    _check_booked_once(tmp_path, "stalled", result, sent, clean, clean_sent, seen)
    # the stalled session closed without the fill (the run could not know of it); every other session is the same
    others = clean.perf.index[clean.perf.index != pd.Timestamp(seen["fill_close"], tz="UTC")]
    assert len(others) == len(clean.perf) - 1
    for column in ("portfolio_value", "ending_cash", "ending_value"):
        pd.testing.assert_series_equal(result.perf.loc[others, column], clean.perf.loc[others, column], rtol=1e-12)
