"""The gateway's state file: orders, executions, id counters and the corporate actions applied, so a restarted
gateway remembers its accounts.

JSON, written atomically (temporary file + rename). Cash and positions are not stored as numbers: they are rebuilt
by booking the stored executions again through the ledger, so they cannot drift from the executions a client can
download with reqExecutions; the splits and dividends already applied are applied again between them, at their
times, and never a second time afterwards. Working orders go back into the matcher with what they had filled.
Option contracts carry their terms (underlying, expiry, strike, right), so they are listed again on restore.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.core import options as opt
from runtime.gateway.contracts import ContractBook, ContractQuery, Instrument
from runtime.gateway.options import option_instrument
from runtime.gateway.tickets import GatewayOrder, IbStatus, OrderTicket

if TYPE_CHECKING:
    from runtime.gateway.exchange import Exchange

FORMAT_VERSION = 1


def _option_terms(inst: Instrument) -> dict[str, Any] | None:
    """What lists an option again after a restart (options are not in the book until their chain is listed)."""
    if not inst.is_option:
        return None
    return {"under_con_id": inst.under_con_id, "expiry": inst.last_trade_date, "strike": inst.strike,
            "right": inst.right}


def _instrument(book: ContractBook, con_id: int, terms: dict[str, Any] | None) -> Instrument | None:
    inst = book.by_con_id(con_id)
    if inst is None and terms:
        under = book.by_con_id(int(terms["under_con_id"]))
        if under is not None:
            contract = opt.OptionContract(under.symbol, str(terms["expiry"]), float(terms["strike"]),
                                          opt.Right.parse(terms["right"]), currency=under.currency)
            inst = option_instrument(under, contract)
            book.add(inst)
    return inst


def _execution_dict(e: Any) -> dict[str, Any]:
    d = {f.name: getattr(e, f.name) for f in dataclasses.fields(e) if f.name != "instrument"}
    d["con_id"] = e.instrument.con_id
    d["option"] = _option_terms(e.instrument)
    return d


def _order_dict(r: GatewayOrder) -> dict[str, Any]:
    d = {name: getattr(r, name) for name in GatewayOrder.__slots__ if name not in ("ticket", "instrument")}
    d["status"] = r.status.value
    d["ticket"] = dataclasses.asdict(r.ticket)
    d["con_id"] = r.instrument.con_id
    d["option"] = _option_terms(r.instrument)
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
        "exec_instance": exchange.exec_instance,
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
    instance = data.get("exec_instance")
    exchange.restore_counters(int(data["next_order_id"]), int(data["next_perm_id"]), int(data["exec_seq"]),
                              None if instance is None else int(instance))
    # splits and dividends applied before: applied again between the executions, where they happened
    applied = {str(k): int(v) for k, v in (data.get("corporate_actions") or {}).items()}
    replay = exchange.restore_applied_actions(applied)  # in the order they took effect
    for e in data["executions"]:
        inst = _instrument(book, int(e.pop("con_id")), e.pop("option", None))
        if inst is None or e["account"] not in exchange.accounts:
            continue
        ex = Execution(instrument=inst, **e)
        while replay and replay[0].time_ns < ex.time_ns:
            exchange.apply_action(replay.pop(0))
        exchange.restore_execution(ex)
    for action in replay:
        exchange.apply_action(action)
    saved_ns = int(data.get("saved_ns") or 0)
    for o in data["orders"]:
        inst = _instrument(book, int(o.pop("con_id")), o.pop("option", None))
        if inst is None:
            continue
        t = o.pop("ticket")
        t["contract"] = ContractQuery(**t["contract"])
        ticket = OrderTicket(**t)
        status = IbStatus(o.pop("status"))
        exchange.restore_order(GatewayOrder(ticket=ticket, instrument=inst, status=status, **o), saved_ns)
