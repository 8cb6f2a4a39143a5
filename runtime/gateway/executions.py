"""Executions: one fill as execDetails and commissionReport report it, and IB-shaped execution ids."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.gateway import responses as msg
from runtime.gateway.contracts import Instrument


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill as reported by execDetails and commissionReport."""

    exec_id: str
    time_ns: int
    client_id: int
    order_id: int
    perm_id: int
    account: str
    instrument: Instrument
    side: str
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float | None
    exchange: str


def exec_id_for(instance: int, seq: int) -> str:
    """IB's execId shape, ``<8 hex>.<8 hex>.01.01``: this gateway's instance number, then the execution's sequence.

    IB's execution ids never repeat, and the runtime's journal relies on it (one fill per execId, across runs):
    each gateway draws a random instance number when it starts (kept in its state file across restarts), so a
    second run against a fresh gateway does not hear the first run's ids again."""
    return f"{instance:08x}.{seq:08x}.01.01"


def exec_details_message(ex: Execution, req_id: int, time_text: str) -> bytes:
    """execDetails (``req_id`` -1 for a fill as it happens)."""
    return msg.exec_details(req_id, ex.order_id, ex.instrument, ex.exec_id, time_text, ex.account, ex.exchange,
                            ex.side, ex.shares, ex.price, ex.perm_id, ex.client_id, ex.cum_qty, ex.avg_price,
                            ex.order_ref)


def commission_message(ex: Execution) -> bytes:
    return msg.commission_report(ex.exec_id, ex.commission, ex.instrument.currency, ex.realized_pnl)
