"""Orders and executions: IB's order lifecycle around the shared matching engine.

Matching (triggers, fill prices, volume limits, brackets, OCA, IOC) is done by
:class:`runtime.core.matching.MatchingEngine`, the very code the backtester uses; cash and positions are booked by
:class:`runtime.core.ledger.Ledger` (see accounts.py). This module owns what is specific to IB: validation with IB's
error codes, permIds and execIds, the held (not yet transmitted) parts of a bracket, modify-by-replacing, DAY expiry
at each instrument's own session close, and the exact message sequences TWS sends:

- accepted: ``openOrder`` + ``orderStatus`` (Submitted, or PreSubmitted for a bracket child waiting on its parent);
- each fill: ``execDetails`` (reqId -1), ``openOrder`` + ``orderStatus`` (cumulative), ``commissionReport``;
- cancelled: ``orderStatus`` Cancelled + error 202; rejected: error 201 (+ ``orderStatus`` Inactive), 110, 200, 103.

Orders are matched against the instrument's minute bars as the gateway's clock passes their ends, and once more at
arrival against the current quote (a bar that ends just after the order), so a marketable order fills at once, as
it would at IB.

Why this module stays long: the order lifecycle is one state machine over shared records (orders by id,
working ids, held bracket children, DAY expiries, the bars each instrument was fed up to), changed only through
this class's methods. Its stateless parts live beside it: ticket rules in order_rules.py, funds and what-if in
funds.py, execution messages in executions.py, splits and dividends in actions.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from runtime.core import options as opt
from runtime.core.costs import CommissionModel, FixedBasisPointsSlippage, SlippageModel
from runtime.core.matching import BarQuote, Cancelled, Fill, MatchEvent, MatchingEngine, WorkingOrder
from runtime.core.orders import OrderKind, TimeInForce
from runtime.gateway import responses as msg
from runtime.gateway.accounts import AccountBook
from runtime.gateway.actions import ActionSchedule, CorporateAction
from runtime.gateway.commissions import IBCommissions
from runtime.gateway.contracts import ContractBook, Instrument
from runtime.gateway.executions import Execution, commission_message, exec_details_message, exec_id_for
from runtime.gateway.funds import check_funds, mark_account, what_if
from runtime.gateway.ids import Code
from runtime.gateway.market import Market
from runtime.gateway.options import QUOTE_VOLUME, AtQuote, Delivery, OptionMarket, exercise, expiring
from runtime.gateway.order_rules import TIFS, TRAIL_KINDS, Rejection, ticket_terms, validate_ticket, working_order
from runtime.gateway.order_wire import encode_completed_order, encode_open_order
from runtime.gateway.tickets import GatewayOrder, IbStatus, OrderTicket

MINUTE_NS = 60_000_000_000
AT_QUOTE = AtQuote()


class Outbox(Protocol):
    """Where the exchange's messages go (implemented by the gateway)."""

    def to_client(self, client_id: int, data: bytes) -> None: ...

    def account_changed(self, account: str, inst: Instrument | None) -> None: ...


class Exchange:
    """Orders, executions and accounts of the simulated gateway (used only on the gateway's event loop)."""

    def __init__(
        self,
        book: ContractBook,
        market: Market,
        accounts: Sequence[str],
        outbox: Outbox,
        starting_cash: float = 1_000_000.0,
        slippage: SlippageModel | None = None,
        commission: CommissionModel | None = None,
        time_zone: str = "US/Eastern",
    ) -> None:
        if not accounts:
            raise ValueError("the gateway needs at least one account")
        self.book = book
        self.market = market
        self.outbox = outbox
        self.time_zone = time_zone
        self.starting_cash = starting_cash
        self.matcher = MatchingEngine(slippage or FixedBasisPointsSlippage(), commission or IBCommissions())
        self.accounts: dict[str, AccountBook] = {a: AccountBook(a, starting_cash) for a in accounts}
        self.orders: dict[tuple[int, int], GatewayOrder] = {}
        self.by_working: dict[str, GatewayOrder] = {}
        self.executions: list[Execution] = []
        self.next_order_id = 1
        self.next_perm_id = 1_000_000_001
        self.exec_seq = 0
        #: this gateway's part of every execId (see exec_id_for)
        self.exec_instance = secrets.randbits(32)
        self._fed_until: dict[int, int] = {}
        self._expiry: dict[str, int] = {}
        self._waiting_children: set[str] = set()
        self.reject_next: str | None = None
        #: (account, option conId) whose long position lapses at expiry (exerciseOptions action 2)
        self.lapse: set[tuple[str, int]] = set()
        self.master_client_id: int | None = None
        self.on_execution: Callable[[Execution], None] | None = None
        #: Called after an order's state was sent to its client (the gateway saves its state file: a kill -9 of
        #: the gateway keeps every order it acknowledged, as IB does)
        self.on_order_change: Callable[[], None] | None = None
        #: Splits and dividends of the market's data, and those already applied.
        self.schedule = ActionSchedule(market)
        #: Called after an action changed an account (the gateway saves its state file).
        self.on_actions: Callable[[], None] | None = None

    # ------------------------------------------------------------------------------------------------- helpers
    @property
    def default_account(self) -> str:
        return next(iter(self.accounts))

    def local_time(self, ns: int) -> pd.Timestamp:
        return pd.Timestamp(ns, tz="UTC").tz_convert(self.time_zone)

    def time_text(self, ns: int) -> str:
        """IB's execution/completion time text: ``yyyymmdd hh:mm:ss Zone``."""
        return f"{self.local_time(ns):%Y%m%d %H:%M:%S} {self.time_zone}"

    def _send(self, rec: GatewayOrder, data: bytes) -> None:
        self.outbox.to_client(rec.client_id, data)
        master = self.master_client_id
        if master is not None and master != rec.client_id:
            self.outbox.to_client(master, data)

    def _status_msg(self, rec: GatewayOrder) -> bytes:
        parent = rec.ticket.parent_id
        return msg.order_status(rec.ticket.order_id, rec.status.value, rec.filled, rec.remaining, rec.avg_fill_price,
                                rec.perm_id, parent, rec.last_fill_price, rec.client_id, rec.why_held)

    def notify(self, rec: GatewayOrder) -> None:
        """openOrder + orderStatus for the record's current state."""
        self._sync_stop(rec)
        self._send(rec, encode_open_order(rec))
        self._send(rec, self._status_msg(rec))
        if self.on_order_change is not None:
            self.on_order_change()

    def _sync_stop(self, rec: GatewayOrder) -> None:
        w = self.matcher.get(rec.working_id) if rec.working_id else None
        if w is not None and w.stop is not None:
            rec.stop_price = w.stop

    def _error(self, client_id: int, req_id: int, code: int, text: str) -> None:
        self.outbox.to_client(client_id, msg.error(req_id, code, text))

    # ------------------------------------------------------------------------------------------------ placing
    def place(self, client_id: int, ticket: OrderTicket, now_ns: int) -> None:
        """A placeOrder from ``client_id``: new order, modification of a working one, or a rejection."""
        if self._action_due(now_ns) is not None:
            self.advance(now_ns)  # a split or dividend took effect since the last pump: book it first
        key = (client_id, ticket.order_id)
        self.next_order_id = max(self.next_order_id, ticket.order_id + 1)
        existing = self.orders.get(key)
        try:
            if existing is not None:
                if existing.is_done:
                    raise Rejection(Code.DUPLICATE_ORDER_ID, f"Duplicate order id {ticket.order_id}")
                self._modify(existing, ticket, now_ns)
                return
            inst = self._validate(ticket)
            if inst.is_option and OptionMarket.expired(inst, now_ns):
                raise Rejection(Code.ORDER_REJECTED, f"Order rejected - reason:the option {inst.local_symbol} has "
                                "expired", inactive=True)
            account = self._account_of(ticket)
            check_funds(account, self.market, inst, ticket, now_ns)
        except Rejection as rej:
            self._error(client_id, ticket.order_id, rej.code, rej.text)
            if rej.inactive:
                self.outbox.to_client(client_id, msg.order_status(ticket.order_id, IbStatus.INACTIVE.value, 0.0,
                                                                  ticket.quantity, 0.0, 0, ticket.parent_id, 0.0,
                                                                  client_id))
            return
        if ticket.what_if:
            self._what_if(client_id, ticket, inst, account, now_ns)
            return
        rec = GatewayOrder(ticket=ticket, instrument=inst, client_id=client_id, perm_id=self.next_perm_id,
                          account=account.code, created_ns=now_ns)
        self.next_perm_id += 1
        self.orders[key] = rec
        if not ticket.transmit:
            return  # held until a later order of the bracket (or this id again) is transmitted
        for held in self._held_family(client_id, ticket):
            self._submit(held, now_ns)
        self._submit(rec, now_ns)
        self.match_now(inst, now_ns)

    def _held_family(self, client_id: int, ticket: OrderTicket) -> list[GatewayOrder]:
        """Held orders transmitted together with ``ticket``: its parent and the parent's other children."""
        if not ticket.parent_id:
            return []
        out: list[GatewayOrder] = []
        parent = self.orders.get((client_id, ticket.parent_id))
        if parent is not None and not parent.transmitted and not parent.is_done:
            out.append(parent)
        for rec in self.orders.values():
            if (rec.client_id == client_id and rec.ticket.parent_id == ticket.parent_id and not rec.transmitted
                    and rec.ticket.order_id != ticket.order_id and not rec.is_done):
                out.append(rec)
        return out

    def _validate(self, t: OrderTicket) -> Instrument:
        inst = validate_ticket(t, self.book)
        if self.reject_next is not None:
            reason, self.reject_next = self.reject_next, None
            raise Rejection(Code.ORDER_REJECTED, f"Order rejected - reason:{reason}", inactive=True)
        return inst

    def _account_of(self, t: OrderTicket) -> AccountBook:
        code = t.account or self.default_account
        book = self.accounts.get(code)
        if book is None:
            raise Rejection(Code.VALIDATION, f"Error validating request:-'{code}' : cause - the account code is not "
                            f"one of {', '.join(self.accounts)}")
        return book

    def _what_if(self, client_id: int, t: OrderTicket, inst: Instrument, account: AccountBook, now_ns: int) -> None:
        answer = what_if(account, self.market, self.matcher.commission, inst, t, now_ns)
        rec = GatewayOrder(ticket=t, instrument=inst, client_id=client_id, perm_id=0, account=account.code,
                           status=IbStatus.PRE_SUBMITTED)
        self.outbox.to_client(client_id, encode_open_order(rec, answer.texts(), commission=answer.commission))

    def _working_order(self, rec: GatewayOrder, now_ns: int) -> WorkingOrder:
        t = rec.ticket
        parent_working = None
        if t.parent_id:
            parent = self.orders.get((rec.client_id, t.parent_id))
            if parent is not None and parent.working_id and self.matcher.get(parent.working_id) is not None:
                parent_working = parent.working_id
        return working_order(rec, now_ns, parent_working)

    def _submit(self, rec: GatewayOrder, now_ns: int) -> None:
        t = rec.ticket
        if t.parent_id:
            parent = self.orders.get((rec.client_id, t.parent_id))
            if parent is None or parent.status in (IbStatus.CANCELLED, IbStatus.API_CANCELLED, IbStatus.INACTIVE):
                # a parent that was rejected on arrival (never recorded) or cancelled: its children never work
                rec.transmitted = True
                self._finish(rec, IbStatus.CANCELLED, now_ns, "parent order was cancelled")
                self._send(rec, self._status_msg(rec))
                self._error(rec.client_id, t.order_id, Code.ORDER_CANCELLED, "Order Canceled - reason:parent "
                            "order was cancelled")
                return
            rec.parent_perm_id = parent.perm_id
        working = self._working_order(rec, now_ns)
        rec.working_id = working.id
        rec.transmitted = True
        self.matcher.submit(working)
        self.by_working[working.id] = rec
        rec.status = IbStatus.PRE_SUBMITTED if working.parent_id else IbStatus.SUBMITTED
        if working.parent_id:
            self._waiting_children.add(working.id)
        if working.kind is OrderKind.LIMIT_ON_OPEN:
            pass  # it waits for the next opening auction, where it fills or is cancelled
        elif working.tif is TimeInForce.DAY or working.kind in (OrderKind.MARKET_ON_CLOSE, OrderKind.LIMIT_ON_CLOSE):
            self._expiry[working.id] = self._session_close_after(rec.instrument, now_ns)
        self._fed_until.setdefault(rec.instrument.con_id, now_ns)
        self.notify(rec)

    def _session_close_after(self, inst: Instrument, now_ns: int) -> int:
        series = self.market.series(inst)
        cal = series.calendar if series is not None else inst.calendar
        i = int(np.searchsorted(cal.closes, now_ns, side="right"))
        return int(cal.closes[min(i, len(cal) - 1)])

    def _modify(self, rec: GatewayOrder, t: OrderTicket, now_ns: int) -> None:
        old = rec.ticket
        if t.action != old.action or t.order_type != old.order_type:
            raise Rejection(Code.MODIFY_MISMATCH, "Order being modified does not match original order")
        inst = self._validate(t)
        if inst.con_id != rec.instrument.con_id:
            raise Rejection(Code.MODIFY_MISMATCH, "Order being modified does not match original order")
        if t.quantity < rec.filled:
            raise Rejection(Code.ORDER_REJECTED, "Order rejected - reason:the new quantity is below the filled "
                            "quantity")
        rec.ticket = t
        if not rec.transmitted:
            if t.transmit:
                for held in self._held_family(rec.client_id, t):
                    self._submit(held, now_ns)
                self._submit(rec, now_ns)
                self.match_now(inst, now_ns)
            return
        kind, amount, limit, stop = ticket_terms(t)
        w = self.matcher.get(rec.working_id)
        if w is None:
            raise Rejection(Code.CANNOT_MODIFY_FILLED, "Cannot modify a filled order")
        self.matcher.modify(rec.working_id, now_ns, amount=amount, limit=limit, stop=stop, tif=TIFS[t.tif])
        if kind in TRAIL_KINDS:
            w.trail_amount = None if t.trailing_percent else t.aux_price
            w.trail_percent = t.trailing_percent or None
        if kind is OrderKind.TRAIL_LIMIT:
            w.limit_offset = t.lmt_price_offset
        w.created_ns = now_ns  # a modified order is new to the market: it may fill from the next quote on
        self.notify(rec)
        self.match_now(inst, now_ns)

    # ---------------------------------------------------------------------------------------------- cancelling
    def cancel(self, client_id: int, order_id: int, now_ns: int) -> None:
        rec = self.orders.get((client_id, order_id))
        if rec is None:
            self._error(client_id, order_id, Code.CANCEL_NOT_FOUND,
                        f"OrderId {order_id} that needs to be cancelled is not found.")
            return
        if rec.is_done:
            self._error(client_id, order_id, Code.CANCEL_NOT_ALLOWED, f"OrderId {order_id} that needs to be "
                        f"cancelled cannot be cancelled, state: {rec.status.value}.")
            return
        self._cancel_record(rec, now_ns, "")

    def _cancel_record(self, rec: GatewayOrder, now_ns: int, reason: str) -> None:
        if not rec.transmitted:
            self._finish(rec, IbStatus.CANCELLED, now_ns, reason or "cancelled")
            self._send(rec, self._status_msg(rec))
            self._error(rec.client_id, rec.ticket.order_id, Code.ORDER_CANCELLED, f"Order Canceled - reason:{reason}")
            return
        for w in self.matcher.cancel(rec.working_id, now_ns, reason or None):
            self._on_cancelled(Cancelled(w.id, w.asset, now_ns, w.reason or reason), now_ns)

    def global_cancel(self, now_ns: int) -> None:
        """reqGlobalCancel: cancel every working and held order of every client."""
        for rec in list(self.orders.values()):
            if not rec.is_done:
                self._cancel_record(rec, now_ns, "global cancel")

    def _finish(self, rec: GatewayOrder, status: IbStatus, now_ns: int, text: str) -> None:
        rec.status = status
        rec.completed_ns = now_ns
        rec.completed_status = text
        self._expiry.pop(rec.working_id, None)
        self._waiting_children.discard(rec.working_id)
        self.by_working.pop(rec.working_id, None)

    def _on_cancelled(self, ev: Cancelled, now_ns: int) -> None:
        rec = self.by_working.get(ev.order_id)
        if rec is None or rec.is_done:
            return
        self._finish(rec, IbStatus.CANCELLED, ev.time_ns, ev.reason or "Cancelled")
        self._send(rec, self._status_msg(rec))
        self._error(rec.client_id, rec.ticket.order_id, Code.ORDER_CANCELLED,
                    f"Order Canceled - reason:{ev.reason or ''}")

    # ------------------------------------------------------------------------------------------------ matching
    def match_now(self, inst: Instrument, now_ns: int) -> None:
        """Match the instrument's working orders against the current quote (a bar ending just after now)."""
        if not self.matcher.open_orders(inst.asset):
            return
        if inst.is_option:
            self._match_at_quote(inst, now_ns)
            return
        quote = self.market.quote(inst, now_ns)
        if quote is None or not quote.trading:
            return
        bar = BarQuote(close=quote.last, volume=quote.minute_volume, time_ns=now_ns + 1)
        self._apply(self.matcher.on_bar(inst.asset, bar), now_ns)

    def advance(self, now_ns: int) -> None:
        """Feed the minute bars that ended since the last call to the matcher, then expire DAY orders.

        Splits and dividends whose ex-date session opened before ``now_ns`` are applied at that open, after the
        bars that ended before it and before those that end after it.
        """
        while True:
            due = self._action_due(now_ns)
            if due is None:
                break
            self._advance(due)
            self.apply_corporate_actions(due)
        self._advance(now_ns)
        self.settle_expired_options(now_ns)

    # ------------------------------------------------------------------------------------------ option delivery
    def settle_expired_options(self, now_ns: int) -> None:
        """Exercise, assign or let expire the option positions whose expiry instant has passed (options.py)."""
        held = [(code, inst, n) for code, acct in self.accounts.items() for inst, n in acct.option_positions()]
        if not held:
            return
        due = expiring(held, self.market, now_ns, frozenset(self.lapse))
        for d in due:
            at = opt.expiry_instant(d.option.last_trade_date).value
            reason = ("exercise" if d.contracts > 0 else "assignment") if d.exercised else "expired"
            self._deliver(d, d.contracts, at, reason)
            self.lapse.discard((d.account, d.option.con_id))
        if due and self.on_actions is not None:
            self.on_actions()

    def lapse_at_expiry(self, account: str, con_id: int) -> None:
        """exerciseOptions action 2: the account's long position in the option expires unexercised."""
        self.lapse.add((account or self.default_account, con_id))

    def exercise(self, client_id: int, account: str, inst: Instrument, contracts: int, now_ns: int) -> str | None:
        """exerciseOptions (action 1) of ``contracts`` long options now; returns IB's refusal text, or None."""
        book = self.accounts.get(account or self.default_account)
        if book is None:
            return f"the account code {account!r} is not one of {', '.join(self.accounts)}"
        held, _ = book.position_of(inst.asset.sid)
        if contracts <= 0 or held < contracts:
            return (f"cannot exercise {contracts} contracts of {inst.local_symbol}: the account holds {held} long "
                    "(only long options are exercised)")
        self._deliver(exercise(book.code, inst, contracts, self.market), contracts, now_ns, "exercise",
                      {client_id})
        if self.on_actions is not None:
            self.on_actions()
        return None

    def _deliver(self, d: Delivery, contracts: int, time_ns: int, reason: str, clients: set[int] | None = None) -> None:
        """Book a delivery: the option position closes at 0 (its working orders are cancelled at expiry) and an
        exercise or assignment trades the shares at the strike; each leg is reported as a commission-free
        execution (orderRef the reason) to the clients that traded the option."""
        account, inst = self.accounts[d.account], d.option
        to = set(clients or ()) | {r.client_id for r in self.orders.values() if r.instrument.con_id == inst.con_id}
        if reason != "exercise" or clients is None:
            for rec in list(self.orders.values()):
                if rec.instrument.con_id == inst.con_id and rec.transmitted and not rec.is_done:
                    self._cancel_record(rec, time_ns, "the option expired")
        legs = [(inst, -contracts, 0.0)]
        if d.exercised and d.underlying is not None and d.shares:
            legs.append((d.underlying, d.shares, d.strike))
        for leg, amount, price in legs:
            fill = Fill(f"delivery:{inst.con_id}", leg.asset, amount, price, 0.0, time_ns, abs(amount), price, True)
            realized = account.book(fill, leg)
            self.exec_seq += 1
            ex = Execution(exec_id_for(self.exec_instance, self.exec_seq), time_ns, min(to, default=0), 0, 0,
                           account.code, leg, "BOT" if amount > 0 else "SLD", float(abs(amount)), price,
                           float(abs(amount)), price, reason, 0.0, realized, "SMART")
            self.executions.append(ex)
            for cid in to | ({self.master_client_id} if self.master_client_id is not None else set()):
                self.outbox.to_client(cid, self.exec_message(ex, -1))
                self.outbox.to_client(cid, commission_message(ex))
            if self.on_execution is not None:
                self.on_execution(ex)
            self.outbox.account_changed(account.code, leg)

    # ---------------------------------------------------------------------------------------- corporate actions
    @property
    def applied_actions(self) -> dict[str, int]:
        """Splits and dividends already applied to the accounts (key -> time)."""
        return self.schedule.applied

    def _action_due(self, now_ns: int) -> int | None:
        return self.schedule.due(now_ns)

    def apply_corporate_actions(self, now_ns: int) -> None:
        """Apply every action due at or before ``now_ns`` not applied yet, and push the changed accounts."""
        touched: dict[tuple[str, int], Instrument] = {}
        for action in self.schedule.take_due(now_ns):
            for code in self.apply_action(action):
                touched[(code, action.instrument.con_id)] = action.instrument
        if touched:
            if self.on_actions is not None:
                self.on_actions()
            for (code, _con_id), inst in touched.items():
                self.outbox.account_changed(code, inst)

    def apply_action(self, action: CorporateAction) -> list[str]:
        """Apply one action to the accounts holding its asset; returns their codes (not recorded as applied)."""
        return self.schedule.apply(action, self.accounts)

    def _advance(self, now_ns: int) -> None:
        """:meth:`advance` without corporate actions."""
        for con_id, since in list(self._fed_until.items()):
            if since >= now_ns:
                continue
            inst = self.book.by_con_id(con_id)
            if inst is None or not self.matcher.open_orders(inst.asset):
                self._fed_until.pop(con_id, None)
                continue
            series = self.market.series(inst)
            self._fed_until[con_id] = now_ns
            if series is None:
                if inst.is_option:  # options have no bars: their orders meet the model quote
                    self._match_at_quote(inst, now_ns)
                continue
            bars = series.minutes_between(since, now_ns)
            if len(bars):
                closes, opens = series.calendar.closes, series.calendar.opens
                at_close = closes[np.minimum(np.searchsorted(closes, bars.end_ns), len(closes) - 1)] == bars.end_ns
                # a session's first minute bar ends one minute after its open: its open is the opening auction's
                first_open = opens[np.maximum(np.searchsorted(opens, bars.end_ns) - 1, 0)] + MINUTE_NS == bars.end_ns
                for i in range(len(bars)):
                    bar = BarQuote(float(bars.close[i]), float(bars.volume[i]), int(bars.end_ns[i]), bool(at_close[i]),
                                   float(bars.open[i]) if first_open[i] else None)
                    events = self.matcher.on_bar(inst.asset, bar)
                    if events:
                        self._apply(events, int(bars.end_ns[i]))
                    if not self.matcher.open_orders(inst.asset):
                        break
        expired = [wid for wid, t in self._expiry.items() if t <= now_ns]
        for wid in expired:
            self._expiry.pop(wid, None)
            rec = self.by_working.get(wid)
            if rec is not None and not rec.is_done:
                reason = "DAY order expired at the close"
                for w in self.matcher.cancel(wid, now_ns, reason):
                    self._on_cancelled(Cancelled(w.id, w.asset, now_ns, w.reason or reason), now_ns)

    def _match_at_quote(self, inst: Instrument, now_ns: int) -> None:
        """Match an option's orders against its quote: buys at the ask, sells at the bid, whole (options.py)."""
        quote = self.market.quote(inst, now_ns)
        if quote is None or not quote.trading:
            return
        orders = self.matcher.open_orders(inst.asset)
        saved, self.matcher.slippage = self.matcher.slippage, AT_QUOTE
        events: list[MatchEvent] = []
        try:
            for buy, price in ((True, quote.ask), (False, quote.bid)):
                side = [o for o in orders if (o.amount > 0) == buy]
                if side and price > 0:
                    events += self.matcher.match_orders(side, price, QUOTE_VOLUME, now_ns + 1)
        finally:
            self.matcher.slippage = saved
        self._apply(events, now_ns)

    def _apply(self, events: Iterable[MatchEvent], now_ns: int) -> None:
        touched: set[tuple[str, int]] = set()
        for ev in events:
            if isinstance(ev, Fill):
                rec = self.by_working.get(ev.order_id)
                if rec is not None:
                    self._on_fill(rec, ev)
                    touched.add((rec.account, rec.instrument.con_id))
            else:
                self._on_cancelled(ev, now_ns)
        for account, con_id in touched:
            self.outbox.account_changed(account, self.book.by_con_id(con_id))
        self._release_children(now_ns)

    def _release_children(self, now_ns: int) -> None:
        """Bracket children whose parent filled become Submitted (the matcher lets them work from now on)."""
        for wid in list(self._waiting_children):
            rec = self.by_working.get(wid)
            w = self.matcher.get(wid)
            if rec is None or w is None:
                self._waiting_children.discard(wid)
            elif w.parent_id is None or self.matcher.get(w.parent_id) is None:
                self._waiting_children.discard(wid)
                rec.status = IbStatus.SUBMITTED
                self.notify(rec)

    def _on_fill(self, rec: GatewayOrder, fill: Fill) -> None:
        account = self.accounts[rec.account]
        inst = rec.instrument
        realized = account.book(fill, inst)
        shares = abs(fill.amount)
        rec.filled = abs(fill.cum_filled)
        rec.avg_fill_price = fill.avg_price
        rec.last_fill_price = fill.price
        rec.commission += fill.commission
        self.exec_seq += 1
        exec_id = exec_id_for(self.exec_instance, self.exec_seq)
        rec.exec_ids.append(exec_id)
        exchange = inst.primary_exchange if inst.is_stock else inst.exchange
        t = rec.ticket
        ex = Execution(exec_id, fill.time_ns, rec.client_id, t.order_id, rec.perm_id, rec.account, inst,
                       "BOT" if fill.amount > 0 else "SLD", float(shares), fill.price, rec.filled, fill.avg_price,
                       t.order_ref, fill.commission, realized, exchange)
        self.executions.append(ex)
        self._send(rec, self.exec_message(ex, -1))
        self._send(rec, commission_message(ex))
        if fill.order_done:
            self._finish(rec, IbStatus.FILLED, fill.time_ns, "Filled")
            self.notify(rec)
        else:
            self._send(rec, self._status_msg(rec))
        if self.on_execution is not None:
            self.on_execution(ex)

    def exec_message(self, ex: Execution, req_id: int) -> bytes:
        return exec_details_message(ex, req_id, self.time_text(ex.time_ns))

    def commission_message(self, ex: Execution) -> bytes:
        return commission_message(ex)

    def mark_all(self, now_ns: int) -> None:
        """Mark every account's positions at the current quotes."""
        for account in self.accounts.values():
            mark_account(account, self.market, now_ns)

    # ------------------------------------------------------------------------------------------------- queries
    def open_orders(self, client_id: int | None) -> list[GatewayOrder]:
        """Working orders of one client (None: of all clients), in placement order."""
        return [r for r in self.orders.values()
                if r.transmitted and not r.is_done and (client_id is None or r.client_id == client_id)]

    def completed(self) -> list[GatewayOrder]:
        return sorted((r for r in self.orders.values() if r.is_done and r.transmitted), key=lambda r: r.completed_ns)

    def completed_message(self, rec: GatewayOrder) -> bytes:
        return encode_completed_order(rec, self.time_text(rec.completed_ns or rec.created_ns))

    def status_message(self, rec: GatewayOrder) -> bytes:
        return self._status_msg(rec)

    def open_order_message(self, rec: GatewayOrder) -> bytes:
        self._sync_stop(rec)
        return encode_open_order(rec)

    # ------------------------------------------------------------------------------------- restoring (state file)
    def restore_counters(self, next_order_id: int, next_perm_id: int, exec_seq: int,
                         exec_instance: int | None = None) -> None:
        """The id counters of a saved gateway (a state file from before instance numbers keeps the new one)."""
        if exec_instance is not None:
            self.exec_instance = exec_instance
        self.next_order_id = next_order_id
        self.next_perm_id = next_perm_id
        self.exec_seq = exec_seq

    def restore_applied_actions(self, applied: dict[str, int]) -> list[CorporateAction]:
        """Mark the saved splits and dividends (key -> time) as applied; returns them in the order they took effect,
        for the caller to apply again between the executions they came between (:meth:`apply_action`)."""
        return self.schedule.restore(applied)

    def restore_execution(self, ex: Execution) -> None:
        """A saved execution: kept for reqExecutions and booked again through the account's ledger."""
        self.executions.append(ex)
        inst = ex.instrument
        signed = int(ex.shares) if ex.side == "BOT" else -int(ex.shares)
        fill = Fill(f"{ex.client_id}:{ex.order_id}", inst.asset, signed, ex.price, ex.commission, ex.time_ns,
                    int(ex.cum_qty), ex.avg_price, False)
        self.accounts[ex.account].book(fill, inst)

    def restore_order(self, rec: GatewayOrder, saved_ns: int) -> None:
        """A saved order; a working one goes back into the matcher with what it had filled, fed from the later of
        its creation and the save, and (DAY) expiring at the session close after its creation."""
        self.orders[rec.key] = rec
        if not rec.transmitted or rec.is_done:
            return
        ticket, inst = rec.ticket, rec.instrument
        working = self._working_order(rec, rec.created_ns)
        working.filled = int(rec.filled) if ticket.is_buy else -int(rec.filled)
        working.avg_price = rec.avg_fill_price
        working.commission = rec.commission
        if rec.stop_price is not None and ticket.order_type in ("TRAIL", "TRAIL LIMIT"):
            working.stop = rec.stop_price
        self.matcher.submit(working)
        self.by_working[working.id] = rec
        rec.working_id = working.id
        self._fed_until[inst.con_id] = max(saved_ns, rec.created_ns)
        if ticket.tif == "DAY":
            self._expiry[working.id] = self._session_close_after(inst, rec.created_ns)


__all__ = ["Exchange", "Execution", "Outbox", "Rejection"]
