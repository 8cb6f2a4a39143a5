"""What every request handler shares: the desk (the gateway's services) and per-connection registries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import pandas as pd

from runtime.gateway import responses as msg
from runtime.gateway.config import GatewayClock, GatewayConfig
from runtime.gateway.connection import ClientConnection, ClientTable
from runtime.gateway.contracts import ContractQuery, Instrument
from runtime.gateway.exchange import Exchange
from runtime.gateway.faults import FaultState
from runtime.gateway.ids import Code
from runtime.gateway.market import Series
from runtime.gateway.pacing import HistoryPacingRules
from runtime.gateway.universe import Universe

T = TypeVar("T")


@dataclass
class Desk:
    """The services of one gateway, as the handlers see them (owned by the server; its exchange is replaced when
    the gateway restarts from its state file)."""

    config: GatewayConfig
    clock: GatewayClock
    universe: Universe
    exchange: Exchange
    pacer: HistoryPacingRules
    faults: FaultState
    clients: ClientTable
    save: Callable[[], None]

    @property
    def connectivity_ok(self) -> bool:
        return not self.faults.connectivity_lost

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def hhmm(self, now_ns: int) -> str:
        return f"{pd.Timestamp(now_ns, tz='UTC').tz_convert(self.config.time_zone):%H:%M}"

    def no_security(self, conn: ClientConnection, req_id: int, symbol: str) -> None:
        """Error 200, with a suggestion when the symbol looks like a known one."""
        hint = self.universe.book.suggest(symbol) if symbol else None
        extra = f" (did you mean {hint}?)" if hint and hint != symbol.upper() else ""
        conn.send(msg.error(req_id, Code.NO_SECURITY, f"No security definition has been found for the request{extra}"))

    def resolve(self, conn: ClientConnection, req_id: int, contract: ContractQuery) -> Instrument | None:
        """The one instrument ``contract`` names, or None after sending error 200 (unknown or ambiguous)."""
        if contract.sec_type == "OPT" or contract.con_id > 0:
            self.universe.options.register(contract, self.now_ns())  # list the option chains it may name
        found = self.universe.book.resolve(contract)
        if isinstance(found, Instrument):
            return found
        if found:
            conn.send(msg.error(req_id, Code.NO_SECURITY, f"The contract description specified for "
                                f"{contract.symbol} is ambiguous."))
        else:
            self.no_security(conn, req_id, contract.symbol)
        return None

    def series(self, conn: ClientConnection, req_id: int,
               contract: ContractQuery) -> tuple[Instrument, Series] | tuple[None, None]:
        """The instrument and its price series, or (None, None) after sending error 200 or 162."""
        inst = self.resolve(conn, req_id, contract)
        if inst is None:
            return None, None
        series = self.universe.market.series(inst)
        if series is None:
            conn.send(msg.error(req_id, Code.HISTORICAL_DATA, "Historical Market Data Service error message:"
                                f"No market data permissions for {inst.symbol}"))
            return None, None
        return inst, series


class Registry(Generic[T]):
    """One area's subscriptions: for each client connection, its subscriptions by request id."""

    def __init__(self) -> None:
        self._subs: dict[ClientConnection, dict[int, T]] = {}

    def add(self, conn: ClientConnection, req_id: int, sub: T) -> None:
        self._subs.setdefault(conn, {})[req_id] = sub

    def pop(self, conn: ClientConnection, req_id: int) -> T | None:
        subs = self._subs.get(conn)
        return subs.pop(req_id, None) if subs else None

    def of(self, conn: ClientConnection) -> list[tuple[int, T]]:
        """The connection's subscriptions (a copy: handlers may add or remove while iterating)."""
        subs = self._subs.get(conn)
        return list(subs.items()) if subs else []

    def count(self, conn: ClientConnection) -> int:
        return len(self._subs.get(conn) or ())

    def drop(self, conn: ClientConnection) -> int:
        """Forget the connection's subscriptions; returns how many there were."""
        return len(self._subs.pop(conn, None) or ())

    def __iter__(self) -> Iterator[ClientConnection]:
        return iter(list(self._subs))


__all__ = ["Desk", "Registry"]
