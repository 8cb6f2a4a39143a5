"""An order call while the broker is disconnected, in a paper replay against the embedded simulated gateway.

The order raises NotConnectedError into the algorithm; the engine logs it with the algorithm's file:line and the
run goes on; nothing is queued (the gateway never receives that order, the journal never holds it); once the
adapter has reconnected, orders work again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.algo import wait_until

from runtime.data.calendars import get_calendar
from runtime.engine.clocks import ReplayClock
from runtime.journal import Journal
from runtime.live.paper import EmbeddedGateway, replay_start_ns, run_algorithm

START, END = "2012-01-03", "2012-01-20"
#: the session (1-based count of sessions done) after which the connection is dropped, and after which it is back
DROP_AFTER, BACK_AFTER = 2, 4

ALGO = """\
def initialize(context):
    context.asset = symbol('AAPL')
    context.attempts = 0
    context.placed = 0


def handle_data(context, data):
    context.attempts += 1
    if context.attempts == 2:
        return  # no order working at the gateway when the test drops the connection after this session
    order(context.asset, 1)
    context.placed += 1
"""
ORDER_LINE = 11  # the line of ``order(...)`` in ALGO


def _gateway_orders(gw: EmbeddedGateway) -> int:
    return gw.thread.call(lambda: len(gw.thread.gateway.exchange.orders))  # type: ignore[union-attr]


@pytest.mark.slow
def test_order_while_disconnected_raises_into_the_algorithm_and_nothing_is_sent_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    algo = tmp_path / "algo.py"
    algo.write_text(ALGO)
    cal = get_calendar("XNYS")
    clock = ReplayClock(replay_start_ns(cal, cal.session_index_on_or_after(pd.Timestamp(START))), speed=None)
    gw = EmbeddedGateway(clock, capital=100_000.0)
    seen: dict[str, Any] = {}

    def on_session(session: Any) -> None:
        original = session.start

        def start() -> None:
            original()
            session.engine.on_session_end_hooks.append(on_end)

        def on_end(engine: Any, _index: int) -> None:
            # the replay clock stands still while the engine thread waits here
            if engine.sessions_done == DROP_AFTER:
                assert not engine.open_order_ids
                seen["sent_before"] = _gateway_orders(gw)
                gw.thread.refuse_connections(3.0)
                gw.thread.drop_connections()
                assert wait_until(lambda: not session.ib.is_connected(), 10)
                session.ib.reconciled.clear()
                seen["errors_before"] = engine.error_count
            elif engine.sessions_done == BACK_AFTER:
                seen["errors_while_down"] = engine.error_count - seen["errors_before"]
                seen["sent_while_down"] = _gateway_orders(gw) - seen["sent_before"]
                seen["journal_while_down"] = len(session.journal.orders())
                assert wait_until(lambda: session.ib.is_connected() and session.ib.reconciled.is_set(), 30)
                seen["sent_at_reconnect"] = _gateway_orders(gw) - seen["sent_before"]

        session.start = start

    caplog.set_level(logging.INFO)
    try:
        result = run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp(START), pd.Timestamp(END)),
                               output=tmp_path / "out", run_id="disconnected1", gateway=gw, on_session=on_session)
        sent_total = _gateway_orders(gw)
    finally:
        gw.stop()

    assert result.stopped_because == "the run reached its end"
    engine = result.engine
    ctx = engine.context
    failed = ctx.attempts - ctx.placed - 1  # attempt 2 places no order on purpose
    # every order() while disconnected raised into the algorithm and was counted by the engine's error policy
    assert seen["errors_while_down"] == failed >= 1
    assert engine.error_count == failed
    errors = [r for r in caplog.records if r.name == "ibalgo.algo" and r.levelno == logging.ERROR]
    assert errors, "the engine should log the algorithm's error"
    text = errors[0].getMessage()
    assert f"{algo}:{ORDER_LINE}" in text
    assert "NotConnectedError" in text
    # nothing was queued: not sent while down, not sent at the reconnect, not in the journal
    assert seen["sent_while_down"] == 0
    assert seen["sent_at_reconnect"] == 0
    assert seen["journal_while_down"] == seen["sent_before"]
    journal = Journal(tmp_path / "out" / "journal.sqlite")
    orders = journal.orders()
    journal.close()
    assert sent_total == len(orders) == result.orders_sent == ctx.placed
    # orders after the reconnection were sent and filled
    assert ctx.placed > seen["sent_before"]
    assert all(o.status == "filled" for o in orders[:-1])
    assert any(("connection lost" in r.getMessage()) for r in caplog.records)
