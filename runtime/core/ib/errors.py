"""IB's error and notice codes: what each means and what to do about it, and the API ports of TWS / IB Gateway."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ErrorKind(str, Enum):
    """How the adapter treats an IB error code."""

    INFO = "info"  # a notice (farm connected...): log at debug level
    WARNING = "warning"  # worth telling the user, nothing failed
    CONNECTION = "connection"  # the link to TWS/IB is down or restored
    REQUEST = "request"  # the request with this id failed
    ORDER = "order"  # the order with this id was rejected or cancelled


@dataclass(frozen=True)
class ErrorInfo:
    """One IB error code: what it means and what to do about it."""

    code: int
    kind: ErrorKind
    meaning: str
    action: str = ""


DEFAULT_PORTS: dict[int, str] = {
    7497: "TWS paper trading",
    7496: "TWS live trading",
    4002: "IB Gateway paper trading",
    4001: "IB Gateway live trading",
}
LIVE_PORTS = frozenset({7496, 4001})


def default_ports_text() -> str:
    """'7497 (TWS paper trading), 7496 (TWS live trading), ...' for error messages."""
    return ", ".join(f"{port} ({what})" for port, what in DEFAULT_PORTS.items())


_E = ErrorKind
IB_ERRORS: dict[int, ErrorInfo] = {e.code: e for e in (
    ErrorInfo(100, _E.WARNING, "max rate of messages per second exceeded",
              "the runtime paces itself below 50 messages/s; another program on the same client id may be sending"),
    ErrorInfo(103, _E.ORDER, "duplicate order id", "the order id was used before; the runtime asks for new ids"),
    ErrorInfo(104, _E.ORDER, "cannot modify a filled order"),
    ErrorInfo(110, _E.ORDER, "the price does not conform to the minimum price variation",
              "round limit/stop prices to the contract's tick size"),
    ErrorInfo(161, _E.ORDER, "cancel attempted when the order is not in a cancellable state"),
    ErrorInfo(162, _E.REQUEST, "historical market data service error",
              "pacing violation, no data for the period, or no market data permissions (see the text)"),
    ErrorInfo(165, _E.INFO, "historical market data service query message"),
    ErrorInfo(200, _E.REQUEST, "no security definition found, or the contract description is ambiguous",
              "check symbol, security type, currency and exchange; add primaryExchange for ambiguous stocks"),
    ErrorInfo(201, _E.ORDER, "order rejected", "the reason is in the text"),
    ErrorInfo(202, _E.ORDER, "order cancelled"),
    ErrorInfo(300, _E.REQUEST, "cannot find the ticker id to cancel"),
    ErrorInfo(321, _E.REQUEST, "error validating the request", "the text names the wrong field"),
    ErrorInfo(322, _E.REQUEST, "error processing the request"),
    ErrorInfo(326, _E.CONNECTION, "the client id is already in use",
              "another program (or a crashed run still holding the socket) uses it: choose another client id"),
    ErrorInfo(354, _E.REQUEST, "not subscribed to the requested market data",
              "subscribe in Account Management, or use delayed data (the runtime falls back to it)"),
    ErrorInfo(366, _E.REQUEST, "no historical data query found for the ticker id"),
    ErrorInfo(399, _E.WARNING, "order message (often a warning, e.g. the order will be held until the open)"),
    ErrorInfo(434, _E.ORDER, "the order size cannot be zero"),
    ErrorInfo(502, _E.CONNECTION, "could not connect to TWS / IB Gateway",
              "start TWS or IB Gateway, enable 'ActiveX and Socket Clients' in its API settings and use its port"),
    ErrorInfo(503, _E.REQUEST, "TWS is out of date and must be upgraded for this request"),
    ErrorInfo(504, _E.CONNECTION, "not connected"),
    ErrorInfo(507, _E.CONNECTION, "bad message length (the connection is broken)"),
    ErrorInfo(1100, _E.CONNECTION, "connectivity between IB and TWS has been lost",
              "orders cannot be sent until it is restored; the runtime waits and reconciles afterwards"),
    ErrorInfo(1101, _E.CONNECTION, "connectivity restored, data lost", "market data must be requested again"),
    ErrorInfo(1102, _E.CONNECTION, "connectivity restored, data maintained"),
    ErrorInfo(1300, _E.CONNECTION, "TWS socket port has been reset", "reconnect on the new port"),
    ErrorInfo(2100, _E.INFO, "account data subscription superseded by a new one"),
    ErrorInfo(2103, _E.WARNING, "market data farm connection is broken"),
    ErrorInfo(2104, _E.INFO, "market data farm connection is OK"),
    ErrorInfo(2105, _E.WARNING, "historical data farm connection is broken"),
    ErrorInfo(2106, _E.INFO, "historical data farm connection is OK"),
    ErrorInfo(2107, _E.INFO, "historical data farm connection is inactive but available on demand"),
    ErrorInfo(2108, _E.INFO, "market data farm connection is inactive but available on demand"),
    ErrorInfo(2109, _E.WARNING, "order event warning: outsideRth is ignored for this order type"),
    ErrorInfo(2119, _E.INFO, "market data farm is connecting"),
    ErrorInfo(2137, _E.WARNING, "the order would cross a related resting order"),
    ErrorInfo(2157, _E.WARNING, "sec-def data farm connection is broken"),
    ErrorInfo(2158, _E.INFO, "sec-def data farm connection is OK"),
    ErrorInfo(10090, _E.WARNING, "part of the requested market data is not subscribed"),
    ErrorInfo(10147, _E.ORDER, "the order to cancel was not found"),
    ErrorInfo(10148, _E.ORDER, "the order cannot be cancelled in its current state (already filled or cancelled)"),
    ErrorInfo(10167, _E.WARNING, "displaying delayed market data: no real-time subscription"),
    ErrorInfo(10168, _E.REQUEST, "delayed market data is not enabled"),
    ErrorInfo(10197, _E.WARNING, "no market data during a competing live session"),
    ErrorInfo(10268, _E.ORDER, "the 'EtradeOnly' order attribute is not supported"),
    ErrorInfo(10269, _E.ORDER, "the 'firmQuoteOnly' order attribute is not supported"),
)}


def error_info(code: int) -> ErrorInfo:
    """What IB's ``code`` means; an unknown code in the order range counts as an order problem.

    >>> error_info(2104).kind, error_info(326).kind
    (<ErrorKind.INFO: 'info'>, <ErrorKind.CONNECTION: 'connection'>)
    """
    info = IB_ERRORS.get(code)
    if info is not None:
        return info
    if 2100 <= code < 2200:
        return ErrorInfo(code, ErrorKind.WARNING, "warning")
    return ErrorInfo(code, ErrorKind.REQUEST, "error")
