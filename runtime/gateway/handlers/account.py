"""Account requests and the subscriptions IB keeps up to date: reqAccountUpdates, reqPositions,
reqAccountSummary, reqAccountUpdatesMulti, reqPositionsMulti, reqPnL, reqPnLSingle.

After a fill, split or dividend the exchange reports the changed account (:meth:`AccountHandlers.account_changed`):
positions and portfolio rows go out at once, account values at most every ``account_update_interval_s``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from runtime.gateway import requests as rq
from runtime.gateway import responses as msg
from runtime.gateway.connection import ClientConnection, Route
from runtime.gateway.contracts import Instrument
from runtime.gateway.handlers.base import Desk, Registry
from runtime.gateway.ids import NO_ID, Code, In, MinVersion


@dataclass(frozen=True)
class MultiSubscription:
    """reqAccountUpdatesMulti."""

    account: str
    model_code: str
    ledger_and_nlv: bool


@dataclass(frozen=True)
class PnlSingleSubscription:
    """reqPnLSingle: one position of one account."""

    account: str
    con_id: int


class AccountHandlers:
    """The account area's requests and subscriptions."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        #: reqAccountUpdates: the account each connection follows
        self.account_updates: dict[ClientConnection, str] = {}
        #: updateAccountValue rows last sent to each connection: (key, currency) -> value
        self.values_sent: dict[ClientConnection, dict[tuple[str, str], str]] = {}
        #: reqPositions subscribers
        self.positions: set[ClientConnection] = set()
        self.summaries: Registry[str] = Registry()  # req id -> tags
        self.multi: Registry[MultiSubscription] = Registry()
        self.positions_multi: Registry[str] = Registry()  # req id -> account
        self.pnl_subs: Registry[str] = Registry()  # req id -> account
        self.pnl_single_subs: Registry[PnlSingleSubscription] = Registry()
        #: the PnL / PnLSingle values last sent, by (connection, req id): pushed again as prices move
        self._pnl_sent: dict[tuple[ClientConnection, int], tuple[float, ...]] = {}
        self._pushed: dict[str, float] = {}  # account -> time.monotonic() of its last account-values push
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def routes(self) -> dict[int, Route]:
        return {
            In.REQ_ACCT_DATA: Route(rq.req_account_updates, self.account_updates_request),
            In.REQ_POSITIONS: Route(rq.no_arguments, self.positions_request),
            In.CANCEL_POSITIONS: Route(rq.no_arguments, self.cancel_positions),
            In.REQ_ACCOUNT_SUMMARY: Route(rq.req_account_summary, self.account_summary),
            In.CANCEL_ACCOUNT_SUMMARY: Route(rq.cancel_by_req_id, self.cancel_account_summary),
            In.REQ_ACCOUNT_UPDATES_MULTI: Route(rq.req_account_updates_multi, self.account_updates_multi),
            In.CANCEL_ACCOUNT_UPDATES_MULTI: Route(rq.cancel_by_req_id, self.cancel_account_updates_multi),
            In.REQ_POSITIONS_MULTI: Route(rq.req_positions_multi, self.positions_multi_request),
            In.CANCEL_POSITIONS_MULTI: Route(rq.cancel_by_req_id, self.cancel_positions_multi),
            In.REQ_PNL: Route(rq.req_pnl, self.pnl, min_version=MinVersion.PNL, id_at=1),
            In.CANCEL_PNL: Route(rq.cancel_pnl, self.cancel_pnl, min_version=MinVersion.PNL, id_at=1),
            In.REQ_PNL_SINGLE: Route(rq.req_pnl_single, self.pnl_single, min_version=MinVersion.PNL, id_at=1),
            In.CANCEL_PNL_SINGLE: Route(rq.cancel_pnl, self.cancel_pnl_single, min_version=MinVersion.PNL, id_at=1),
        }

    def drop(self, conn: ClientConnection) -> None:
        """Forget a closed connection."""
        self.account_updates.pop(conn, None)
        self.values_sent.pop(conn, None)
        self.positions.discard(conn)
        for registry in (self.summaries, self.multi, self.positions_multi, self.pnl_subs, self.pnl_single_subs):
            registry.drop(conn)
        for key in [k for k in self._pnl_sent if k[0] is conn]:
            del self._pnl_sent[key]

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # ------------------------------------------------------------------------------------------------ requests
    def account_updates_request(self, conn: ClientConnection, req: rq.AccountUpdatesRequest) -> None:
        if not req.subscribe:
            self.account_updates.pop(conn, None)
            return
        ex = self.desk.exchange
        code = req.account or ex.default_account
        if code not in ex.accounts:
            conn.send(msg.error(NO_ID, Code.VALIDATION, f"Error validating request:-'{code}' : cause - unknown "
                                "account"))
            return
        self.account_updates[conn] = code
        now = self.desk.now_ns()
        ex.mark_all(now)
        self._send_account_values(conn, code)
        for h in ex.accounts[code].holdings():
            self._send_portfolio_row(conn, code, h.instrument)
        conn.send(msg.account_time(self.desk.hhmm(now)))
        conn.send(msg.account_download_end(code))

    def positions_request(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        self.positions.add(conn)
        for code, book in self.desk.exchange.accounts.items():
            for h in book.holdings():
                if h.amount:
                    conn.send(msg.position(code, h.instrument, h.amount, h.avg_cost))
        conn.send(msg.position_end())

    def cancel_positions(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        self.positions.discard(conn)

    def account_summary(self, conn: ClientConnection, req: rq.AccountSummaryRequest) -> None:
        ex = self.desk.exchange
        ex.mark_all(self.desk.now_ns())
        for code, book in ex.accounts.items():
            for tag, value, cur in book.summary_rows(req.tags):
                conn.send(msg.account_summary(req.req_id, code, tag, value, cur))
        conn.send(msg.account_summary_end(req.req_id))
        self.summaries.add(conn, req.req_id, req.tags)

    def cancel_account_summary(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.summaries.pop(conn, req.req_id)

    def account_updates_multi(self, conn: ClientConnection, req: rq.AccountUpdatesMultiRequest) -> None:
        ex = self.desk.exchange
        ex.mark_all(self.desk.now_ns())
        for code, book in ex.accounts.items():
            if req.account not in ("", "All", code):
                continue
            for key, value, cur in book.update_rows():
                conn.send(msg.account_update_multi(req.req_id, code, req.model_code, key, value, cur))
        conn.send(msg.account_update_multi_end(req.req_id))
        self.multi.add(conn, req.req_id, MultiSubscription(req.account, req.model_code, req.ledger_and_nlv))

    def cancel_account_updates_multi(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.multi.pop(conn, req.req_id)

    def positions_multi_request(self, conn: ClientConnection, req: rq.PositionsMultiRequest) -> None:
        for code, book in self.desk.exchange.accounts.items():
            if req.account not in ("", "All", code):
                continue
            for h in book.holdings():
                if h.amount:
                    conn.send(msg.position_multi(req.req_id, code, h.instrument, h.amount, h.avg_cost,
                                                 req.model_code))
        conn.send(msg.position_multi_end(req.req_id))
        self.positions_multi.add(conn, req.req_id, req.account)

    def cancel_positions_multi(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.positions_multi.pop(conn, req.req_id)

    def pnl(self, conn: ClientConnection, req: rq.PnlRequest) -> None:
        self.pnl_subs.add(conn, req.req_id, req.account)
        self.desk.exchange.mark_all(self.desk.now_ns())
        self._send_pnl(conn, req.req_id, req.account)

    def cancel_pnl(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.pnl_subs.pop(conn, req.req_id)
        self._pnl_sent.pop((conn, req.req_id), None)

    def pnl_single(self, conn: ClientConnection, req: rq.PnlRequest) -> None:
        inst = self.desk.universe.book.by_con_id(req.con_id)
        if inst is None:
            conn.send(msg.error(req.req_id, Code.NO_SECURITY, "No security definition has been found for the "
                                "request"))
            return
        self.pnl_single_subs.add(conn, req.req_id, PnlSingleSubscription(req.account, req.con_id))
        self.desk.exchange.mark_all(self.desk.now_ns())
        self._send_pnl_single(conn, req.req_id, req.account, inst)

    def cancel_pnl_single(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.pnl_single_subs.pop(conn, req.req_id)
        self._pnl_sent.pop((conn, req.req_id), None)

    # ------------------------------------------------------------------------------------------------ messages
    def _send_account_values(self, conn: ClientConnection, account: str, *, changed_only: bool = False) -> None:
        """updateAccountValue rows: all of them (on subscription), or those whose value changed since the
        connection last got them (after a fill, as TWS pushes on a position change)."""
        sent = self.values_sent.setdefault(conn, {})
        if not changed_only:
            sent.clear()
        for key, value, cur in self.desk.exchange.accounts[account].update_rows():
            if sent.get((key, cur)) != value:
                sent[(key, cur)] = value
                conn.send(msg.account_value(key, value, cur, account))

    def _send_portfolio_row(self, conn: ClientConnection, account: str, inst: Instrument) -> None:
        h = self.desk.exchange.accounts[account].holding(inst)
        conn.send(msg.portfolio_value(inst, h.amount, h.market_price, h.market_value, h.avg_cost, h.unrealized,
                                      h.realized, account))

    def _pnl_values(self, account: str) -> tuple[float, float, float] | None:
        ex = self.desk.exchange
        book = ex.accounts.get(account or ex.default_account)
        if book is None:
            return None
        unrealized = sum(h.unrealized for h in book.holdings())
        return unrealized + book.realized_total, unrealized, book.realized_total

    def _send_pnl(self, conn: ClientConnection, req_id: int, account: str, changed_only: bool = False) -> None:
        values = self._pnl_values(account)
        if values is None or (changed_only and self._pnl_sent.get((conn, req_id)) == values):
            return
        self._pnl_sent[(conn, req_id)] = values
        conn.send(msg.pnl(req_id, *values))

    def _send_pnl_single(self, conn: ClientConnection, req_id: int, account: str, inst: Instrument,
                         changed_only: bool = False) -> None:
        ex = self.desk.exchange
        book = ex.accounts.get(account or ex.default_account)
        if book is None:
            return
        h = book.holding(inst)
        values = (float(int(h.amount)), h.unrealized + h.realized, h.unrealized, h.realized, h.market_value)
        if changed_only and self._pnl_sent.get((conn, req_id)) == values:
            return
        self._pnl_sent[(conn, req_id)] = values
        conn.send(msg.pnl_single(req_id, int(h.amount), *values[1:]))

    def pump(self, conns: list[ClientConnection], now_ns: int) -> None:
        """PnL and PnLSingle whose values moved with the prices (IB pushes them about once a second)."""
        if not any(self.pnl_subs.count(c) or self.pnl_single_subs.count(c) for c in conns):
            return
        self.desk.exchange.mark_all(now_ns)
        book = self.desk.universe.book
        for conn in conns:
            for req_id, acct in self.pnl_subs.of(conn):
                self._send_pnl(conn, req_id, acct, changed_only=True)
            for req_id, single in self.pnl_single_subs.of(conn):
                inst = book.by_con_id(single.con_id)
                if inst is not None:
                    self._send_pnl_single(conn, req_id, single.account, inst, changed_only=True)

    # ------------------------------------------------------------------------------------------------- pushes
    def account_changed(self, account: str, inst: Instrument | None) -> None:
        """After a fill, split or dividend: push the subscriptions that IB keeps up to date (positions now, account
        values at most every ``account_update_interval_s``)."""
        if inst is not None:
            self._push_position(account, inst)
        self._schedule_account_values(account)

    def _push_position(self, account: str, inst: Instrument) -> None:
        ex = self.desk.exchange
        book = ex.accounts[account]
        ex.mark_all(self.desk.now_ns())
        h = book.holding(inst)
        for conn in self.desk.clients.ready():
            if self.account_updates.get(conn) == account:
                self._send_portfolio_row(conn, account, inst)
            if conn in self.positions:
                conn.send(msg.position(account, inst, h.amount, h.avg_cost))
            for req_id, acct in self.positions_multi.of(conn):
                if acct in ("", "All", account):
                    conn.send(msg.position_multi(req_id, account, inst, h.amount, h.avg_cost))
            for req_id, single in self.pnl_single_subs.of(conn):
                if single.account in ("", account) and single.con_id == inst.con_id:
                    self._send_pnl_single(conn, req_id, account, inst)

    def _schedule_account_values(self, account: str) -> None:
        if account in self._timers:
            return  # a push is already due; it will send the latest values
        wait = self.desk.config.account_update_interval_s - (time.monotonic() - self._pushed.get(account, -1e18))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if wait <= 0 or loop is None:
            self._push_account_values(account)
        else:
            self._timers[account] = loop.call_later(wait, self._push_account_values, account)

    def _push_account_values(self, account: str) -> None:
        self._timers.pop(account, None)
        self._pushed[account] = time.monotonic()
        now = self.desk.now_ns()
        ex = self.desk.exchange
        book = ex.accounts[account]
        ex.mark_all(now)
        for conn in self.desk.clients.ready():
            if self.account_updates.get(conn) == account:
                self._send_account_values(conn, account, changed_only=True)
                conn.send(msg.account_time(self.desk.hhmm(now)))
            for req_id, tags in self.summaries.of(conn):
                for tag, value, cur in book.summary_rows(tags):
                    conn.send(msg.account_summary(req_id, account, tag, value, cur))
            for req_id, sub in self.multi.of(conn):
                if sub.account in ("", "All", account):
                    for key, value, cur in book.update_rows():
                        conn.send(msg.account_update_multi(req_id, account, sub.model_code, key, value, cur))
            for req_id, acct in self.pnl_subs.of(conn):
                if acct in ("", account):
                    self._send_pnl(conn, req_id, account)
