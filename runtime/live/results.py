"""A paper or live run's results built from its journal, so they cover every start of the run id.

Sessions recorded by earlier starts come from the journal's session rows, every session's orders and fills from
its order and fill rows (each start's, and fills booked at a restart); the session the run stopped in gets its row
from the ledger as it is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from runtime.brokers.ib.broker import IBBroker
from runtime.core.assets import Asset
from runtime.core.calendar import TradingCalendar
from runtime.core.ledger import Transaction
from runtime.core.orders import OrderKind, OrderStatus, TimeInForce
from runtime.engine.engine import Engine, OrderRecord
from runtime.engine.results import ResultsRecorder, order_state
from runtime.journal import Journal

log = logging.getLogger("ibalgo.live")

#: journal status -> the engine's order status (results built from the journal)
JOURNAL_STATUS = {"filled": OrderStatus.FILLED, "cancelled": OrderStatus.CANCELLED, "rejected": OrderStatus.REJECTED}


def record_unfinished_session(engine: Engine, recorder: ResultsRecorder, journal: Journal, run_id: str,
                              calendar: TradingCalendar) -> None:
    """The session the run stopped in (its end not reached) gets its row now, from the ledger as it is."""
    session = engine.clock.session
    if session is None or session < engine.start_session or session in recorder.sessions:
        return
    if recorder.sessions and session < recorder.sessions[-1]:
        return
    recorder.on_session_end(engine, session)
    try:
        journal.save_session_row(run_id, session, int(calendar.closes[session]), recorder.last_row())
    except Exception:
        log.debug("could not store the unfinished session's row", exc_info=True)


def _asset(engine: Engine, sid: int, symbol: str) -> Asset:
    try:
        return engine.api.sid(sid)
    except Exception:
        return Asset(sid=sid, symbol=symbol)


def results_from_journal(engine: Engine, recorder: ResultsRecorder, journal: Journal, run_id: str,
                         calendar: TradingCalendar) -> None:
    """Earlier starts' sessions before this start's, and every session's orders and fills from the journal."""
    orders = [o for o in journal.orders() if o.run_id == run_id]
    assets: dict[int, Asset] = {}
    for o in orders:
        if o.sid not in assets:
            assets[o.sid] = _asset(engine, o.sid, o.symbol)
    ours = set(recorder.sessions)
    first = min(ours) if ours else None
    earlier = [(session, row) for session, _close, row in journal.session_rows(run_id)
               if session not in ours and (first is None or session < first)]
    for _, row in earlier:
        for sid in row["positions"][::4]:
            sid = int(sid)
            if sid not in assets:
                assets[sid] = _asset(engine, sid, f"sid {sid}")
    recorder.prepend_sessions(earlier, assets)
    if not recorder.sessions:
        return
    closes = np.asarray([int(calendar.closes[s]) for s in recorder.sessions], dtype=np.int64)

    def day_of(t: int) -> int:
        return min(int(np.searchsorted(closes, t, side="left")), len(closes) - 1)

    by_id = {o.order_id: o for o in orders}
    day_orders: list[list[tuple]] = [[] for _ in closes]
    for o in orders:
        live = engine.orders.get(o.order_id)
        if live is None:
            live = OrderRecord(o.order_id, assets[o.sid], o.amount, OrderKind(o.kind), o.limit_price,
                               o.stop_price, TimeInForce(o.tif), o.created_ns, o.created_ns, filled=o.filled,
                               commission=o.commission, broker_id=o.broker_id)
            live.status = JOURNAL_STATUS.get(o.status, OrderStatus.OPEN)
            live.reason = o.reason
        day_orders[day_of(o.created_ns)].append(order_state(live))
    day_txns: list[list[Transaction]] = [[] for _ in closes]
    for _exec_id, order_id, amount, price, commission, time_ns in journal.fills():
        o = by_id.get(order_id)
        if o is None:
            continue
        day_txns[day_of(time_ns)].append(Transaction(assets[o.sid], int(amount), float(price),
                                                     float(commission), int(time_ns), order_id))
    recorder.set_activity(day_orders, day_txns)


def account_results(ib: IBBroker, accounts: Iterable[str]) -> dict[str, Any]:
    """Each account's values (IB's numeric tags) and positions at the end of the run."""
    out: dict[str, Any] = {}
    for account in accounts:
        out[account] = {
            "values": ib.account_state.numbers(account),
            "positions": [{"symbol": p.asset.symbol, "sec_type": p.asset.sec_type.value, "amount": p.amount,
                           "avg_cost": p.avg_cost} for p in ib.positions(account) if p.amount],
        }
    return out


def write_accounts(ib: IBBroker | None, codes: tuple[str, ...], output: Path) -> list[Path]:
    """Several accounts (IBridgePy's ACCOUNT_CODE list): accounts.json, each account's values and positions."""
    if len(codes) < 2 or ib is None:
        return []
    path = Path(output) / "accounts.json"
    path.write_text(json.dumps(account_results(ib, codes), indent=2, default=str), encoding="utf-8")
    return [path]
