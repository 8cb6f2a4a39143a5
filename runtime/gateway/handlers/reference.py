"""Requests about the gateway and its contracts: order ids, time, the account list, contract details, market
rules, and the messages the gateway accepts and ignores."""

from __future__ import annotations

from runtime.gateway import requests as rq
from runtime.gateway import responses as msg
from runtime.gateway.connection import ClientConnection, Route
from runtime.gateway.handlers.base import Desk
from runtime.gateway.ids import In
from runtime.gateway.options import OPTION_TICKS


class ReferenceHandlers:
    """reqIds, reqCurrentTime, reqManagedAccts, reqContractDetails, reqMarketRule (and the ignored messages)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def routes(self) -> dict[int, Route]:
        ignore = Route(rq.no_arguments, self.ignore)
        return {
            In.REQ_IDS: Route(rq.req_ids, self.req_ids),
            In.REQ_CURRENT_TIME: Route(rq.no_arguments, self.current_time),
            In.REQ_MANAGED_ACCTS: Route(rq.no_arguments, self.managed_accounts),
            In.START_API: ignore,
            In.SET_SERVER_LOGLEVEL: ignore,
            In.REQ_NEWS_BULLETINS: ignore,
            In.CANCEL_NEWS_BULLETINS: ignore,
            In.CANCEL_HEAD_TIMESTAMP: ignore,
            In.REQ_CONTRACT_DATA: Route(rq.req_contract_details, self.contract_details),
            In.REQ_MARKET_RULE: Route(rq.req_market_rule, self.market_rule),
        }

    def ignore(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        return None

    def req_ids(self, conn: ClientConnection, req: rq.IdsRequest) -> None:
        conn.send(msg.next_valid_id(self.desk.exchange.next_order_id))

    def current_time(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        conn.send(msg.current_time(self.desk.now_ns() // 1_000_000_000))

    def managed_accounts(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        conn.send(msg.managed_accounts(self.desk.config.accounts))

    def market_rule(self, conn: ClientConnection, req: rq.MarketRuleRequest) -> None:
        rule = req.rule_id
        increments = {26: [(0.0, 0.01)], 32: list(OPTION_TICKS)}.get(rule, [(0.0, 0.25)])
        conn.send(msg.market_rule(rule, increments))

    def contract_details(self, conn: ClientConnection, req: rq.ContractDetailsRequest) -> None:
        q = req.contract
        book = self.desk.universe.book
        if q.con_id > 0:
            self.desk.universe.options.register(q, self.desk.now_ns())
        option_id = q.con_id > 0 and (inst := book.by_con_id(q.con_id)) is not None and inst.is_option
        if q.sec_type == "OPT" or option_id:
            found = self.desk.universe.options.search(q, self.desk.now_ns(), req.include_expired)
        else:
            found = book.search(q)
        if not found:
            self.desk.no_security(conn, req.req_id, req.contract.symbol)
            return
        now = self.desk.now_ns()
        for inst in found:
            trading, liquid = inst.hours(now)
            conn.send(msg.contract_details(req.req_id, inst, trading, liquid))
        conn.send(msg.contract_details_end(req.req_id))
