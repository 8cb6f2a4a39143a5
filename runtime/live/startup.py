"""A paper or live run's start-up and restore: what the journal and the broker hand the new engine.

Every start, including a restart with the same run id and journal:

1. the journal's orders of this run are handed to the adapter (:func:`known_orders`) before it connects, with the
   highest IB order id the journal used (never handed out again); the reconciliation adopts the open ones by
   ``orderRef`` (nothing is sent again) and reports those that expired, were cancelled or filled while the runtime
   was down; one journalled as ``sending`` that the broker does not know is closed as never sent;
2. the ledger starts from the broker's account: cash and positions with their average cost (:func:`seed_positions`);
3. ``initialize`` runs, the journal's open orders become engine records again (:func:`restore_open_orders`), then
   the context saved in the journal is restored on top of it (:func:`restore_context`);
4. the live loop resumes after the last event the previous start handled (the saved resume point).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.brokers.ib.account import PositionSnapshot
from runtime.brokers.ib.events import OrderAdopted
from runtime.brokers.ib.orders import KnownOrder
from runtime.core.assets import Asset
from runtime.core.ledger import Ledger
from runtime.core.orders import OrderKind, TimeInForce
from runtime.engine.engine import Engine, OrderRecord
from runtime.errors import ConfigError
from runtime.journal import SENDING, Journal

log = logging.getLogger("ibalgo.live")
order_log = logging.getLogger("ibalgo.orders")

#: the context key under which the last handled event's time is saved (a restart resumes after it)
RESUME_KEY = "_ibalgo_resume_ns"


def known_orders(journal: Journal, run_id: str) -> tuple[list[KnownOrder], int]:
    """Every order of this run in the journal (open ones to settle at the broker, closed ones so their executions
    are not booked or counted again), and the highest IB order id the journal used (any run)."""
    out = []
    highest = 0
    for o in journal.orders():
        if o.broker_id and o.broker_id.isdigit():
            highest = max(highest, int(o.broker_id))
        if o.run_id != run_id:
            continue
        asset = Asset(sid=o.sid, symbol=o.symbol)
        filled = o.filled if o.amount >= 0 else -o.filled  # the journal keeps it unsigned; the tracker signed
        out.append(KnownOrder(o.order_id, asset, o.amount, filled, int(o.broker_id or 0), o.is_final,
                              unconfirmed=o.status == SENDING))
    return out, highest


def seed_positions(ledger: Ledger, positions: list[PositionSnapshot]) -> list[Asset]:
    """The broker's positions (with average cost per contract) into the ledger; returns their assets."""
    held = [p for p in positions if p.amount]
    for p in held:
        basis = float(p.avg_cost) / (p.asset.multiplier or 1.0)
        ledger.seed_position(p.asset, round(p.amount), basis, float(p.market_price or basis))
    if held:
        log.info("starting positions from the broker: %s",
                 ", ".join(f"{p.asset.symbol} {p.amount:+g} @ {p.avg_cost:.2f}" for p in held))
    return [p.asset for p in held]


def restore_open_orders(engine: Engine, journal: Journal, run_id: str, known_open: int) -> None:
    """Engine records of the journal's open orders (the adapter adopts them at the broker by orderRef)."""
    for o in journal.orders(open_only=True):
        if o.run_id != run_id or o.order_id in engine.orders:
            continue
        try:
            asset = engine.api.sid(o.sid)
        except Exception:
            asset = Asset(sid=o.sid, symbol=o.symbol)
        record = OrderRecord(o.order_id, asset, o.amount, OrderKind(o.kind), o.limit_price, o.stop_price,
                             TimeInForce(o.tif), o.created_ns, o.created_ns, filled=o.filled,
                             commission=o.commission, broker_id=o.broker_id)
        engine.adopt_order(record)
    if known_open:
        order_log.info("%d open orders of this run from the journal: matched to the broker's by orderRef, not "
                       "sent again", known_open)


def adopt_from_broker(engine: Engine, ev: OrderAdopted, now_ns: int) -> None:
    """An order of this run the broker works that the engine has no record of (its journal row was lost)."""
    order_log.info("order %s adopted from the broker (IB id %d, %s, %d of %+d filled)", ev.order_id[:8],
                   ev.ib_order_id, ev.ib_status, ev.filled, ev.amount)
    if ev.order_id in engine.orders:
        return
    record = OrderRecord(ev.order_id, ev.asset, ev.amount, OrderKind.MARKET, None, None, TimeInForce.GTC, now_ns,
                         now_ns, filled=ev.filled, broker_id=str(ev.ib_order_id))
    engine.adopt_order(record)


def settle_sending(engine: Engine, journal: Journal, run_id: str, now_ns: int) -> None:
    """Orders journalled as ``sending`` that the broker has (the reconciliation adopted them) are ``submitted``."""
    for o in journal.orders(open_only=True):
        if o.run_id != run_id or o.status != SENDING:
            continue
        if o.order_id in engine.open_order_ids:
            journal.order_update(o.order_id, now_ns, status="submitted")
            order_log.info("order %s was journalled as sending before the previous stop and is at the broker: "
                           "adopted (IB id %s), not sent again", o.order_id[:8], o.broker_id)


def saved_asset_resolver(engine: Engine, journal: Journal, run_id: str, algorithm: str) -> Callable[[int], Asset]:
    """How the saved context's assets are found by sid; one this algorithm does not know is a ConfigError with
    advice."""

    def resolve(sid: int) -> Asset:
        try:
            return engine.api.sid(int(sid))
        except Exception as exc:
            symbols = sorted({o.symbol for o in journal.orders() if o.sid == int(sid)})
            name = f" ({', '.join(symbols)})" if symbols else ""
            raise ConfigError(
                f"the saved context of run {run_id!r} names the asset with sid {sid}{name}, which "
                f"{Path(algorithm).name} does not use ({exc}). The algorithm was edited since the run "
                "saved it: use symbol(...) for that asset in initialize again, or start a new run with another "
                "--run-id (its context starts from initialize; positions and open orders at the broker stay).") \
                from None

    return resolve


def restore_context(engine: Engine, saved: dict[str, Any] | None) -> int | None:
    """Put the saved context on top of what ``initialize`` set; returns the saved resume point (None: none)."""
    if not saved:
        return None
    resume = saved.pop(RESUME_KEY, None)
    for name, value in saved.items():
        if value is None and getattr(engine.context, name, None) is not None:
            continue  # not storable as JSON when saved: initialize's value stands
        setattr(engine.context, name, value)
    log.info("restored the saved context (%d values) after initialize", len(saved))
    return resume
