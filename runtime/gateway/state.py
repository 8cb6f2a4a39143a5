"""The gateway's state file: orders, executions, id counters and the corporate actions applied, so a restarted
gateway remembers its accounts.

JSON, written atomically (temporary file + rename). Cash and positions are not stored as numbers: they are rebuilt
by booking the stored executions again through the ledger, so they cannot drift from the executions a client can
download with reqExecutions; the splits and dividends already applied are applied again between them, at their
times, and never a second time afterwards. Working orders go back into the matcher with what they had filled.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.core.matching import Fill
from runtime.gateway.contracts import ContractQuery
from runtime.gateway.tickets import GatewayOrder, IbStatus, OrderTicket

if TYPE_CHECKING:
    from runtime.gateway.exchange import Exchange

FORMAT_VERSION = 1


def _execution_dict(e: Any) -> dict[str, Any]:
    d = {f.name: getattr(e, f.name) for f in dataclasses.fields(e) if f.name != "instrument"}
    d["con_id"] = e.instrument.con_id
    return d


def _order_dict(r: GatewayOrder) -> dict[str, Any]:
    d = {name: getattr(r, name) for name in GatewayOrder.__slots__ if name not in ("ticket", "instrument")}
    d["status"] = r.status.value
    d["ticket"] = dataclasses.asdict(r.ticket)
    d["con_id"] = r.instrument.con_id
    return d


def _private_folder(folder: Path) -> None:
    """Create ``folder`` as 0700 if missing (an existing folder's mode is the user's choice and is left alone)."""
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)


def save_state(exchange: Exchange, path: Path, now_ns: int = 0) -> None:
    """Write the exchange's durable state to ``path`` atomically."""
    data = {
        "format": FORMAT_VERSION,
        "saved_ns": now_ns,
        "next_order_id": exchange.next_order_id,
        "next_perm_id": exchange.next_perm_id,
        "exec_seq": exchange.exec_seq,
        "accounts": {code: {"starting_cash": book.ledger.starting_cash} for code, book in exchange.accounts.items()},
        "executions": [_execution_dict(e) for e in exchange.executions],
        "orders": [_order_dict(r) for r in exchange.orders.values()],
        "corporate_actions": dict(exchange.applied_actions),
    }
    _private_folder(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    # it holds account codes: readable by its owner only (0600 in a 0700 folder the gateway made)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_state(exchange: Exchange, path: Path) -> None:
    """Restore an exchange (freshly built, no orders yet) from ``path``."""
    from runtime.gateway.exchange import Execution

    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: unknown state file format {data.get('format')!r}")
    book = exchange.book
    exchange.next_order_id = int(data["next_order_id"])
    exchange.next_perm_id = int(data["next_perm_id"])
    exchange.exec_seq = int(data["exec_seq"])
    # splits and dividends applied before: applied again between the executions, where they happened
    applied = {str(k): int(v) for k, v in (data.get("corporate_actions") or {}).items()}
    exchange.applied_actions.update(applied)
    replay = [a for a in exchange.actions if a.key in applied]  # in the order they took effect
    for e in data["executions"]:
        inst = book.by_con_id(int(e.pop("con_id")))
        if inst is None or e["account"] not in exchange.accounts:
            continue
        ex = Execution(instrument=inst, **e)
        while replay and replay[0].time_ns < ex.time_ns:
            exchange.apply_action(replay.pop(0))
        exchange.executions.append(ex)
        signed = int(ex.shares) if ex.side == "BOT" else -int(ex.shares)
        fill = Fill(f"{ex.client_id}:{ex.order_id}", inst.asset, signed, ex.price, ex.commission, ex.time_ns,
                    int(ex.cum_qty), ex.avg_price, False)
        exchange.accounts[ex.account].book(fill, inst)
    for action in replay:
        exchange.apply_action(action)
    saved_ns = int(data.get("saved_ns") or 0)
    for o in data["orders"]:
        inst = book.by_con_id(int(o.pop("con_id")))
        if inst is None:
            continue
        t = o.pop("ticket")
        t["contract"] = ContractQuery(**t["contract"])
        ticket = OrderTicket(**t)
        status = IbStatus(o.pop("status"))
        rec = GatewayOrder(ticket=ticket, instrument=inst, status=status, **o)
        exchange.orders[rec.key] = rec
        if rec.transmitted and not rec.is_done:
            working = exchange._working_order(rec, rec.created_ns)
            working.filled = int(rec.filled) if ticket.is_buy else -int(rec.filled)
            working.avg_price = rec.avg_fill_price
            working.commission = rec.commission
            if rec.stop_price is not None and ticket.order_type in ("TRAIL", "TRAIL LIMIT"):
                working.stop = rec.stop_price
            exchange.matcher.submit(working)
            exchange.by_working[working.id] = rec
            rec.working_id = working.id
            exchange._fed_until[inst.con_id] = max(saved_ns, rec.created_ns)
            if ticket.tif == "DAY":
                exchange._expiry[working.id] = exchange._session_close_after(inst, rec.created_ns)
