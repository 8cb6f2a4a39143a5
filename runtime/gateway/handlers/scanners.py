"""Market scanners: reqScannerParameters, reqScannerSubscription and its cancel.

The ranking is :mod:`runtime.gateway.scanner`'s over the gateway's stocks at the clock's time. As at IB a
subscription is answered at once and then again when its rows change, looked at every 30 seconds of the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.gateway import requests as rq
from runtime.gateway import requests_data as rd
from runtime.gateway import responses as msg
from runtime.gateway.connection import ClientConnection, Route
from runtime.gateway.handlers.base import Desk, Registry
from runtime.gateway.ids import Code, In
from runtime.gateway.market import NS_PER_SECOND
from runtime.gateway.scanner import BY_CODE, LOCATIONS, ScanFilter, parameters_xml, scan

REFRESH_NS = 30 * NS_PER_SECOND
MAX_ROWS = 50


@dataclass(slots=True, eq=False)
class ScannerSubscription:
    req: rd.ScannerRequest
    rows: tuple[int, ...] = ()  # conIds last sent
    next_ns: int = 0


class ScannerHandlers:
    """reqScannerParameters, reqScannerSubscription, cancelScannerSubscription."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.scans: Registry[ScannerSubscription] = Registry()

    def routes(self) -> dict[int, Route]:
        return {
            In.REQ_SCANNER_PARAMETERS: Route(rq.no_arguments, self.parameters),
            In.REQ_SCANNER_SUBSCRIPTION: Route(rd.req_scanner_subscription, self.subscribe, versioned=True,
                                               id_at=1),
            In.CANCEL_SCANNER_SUBSCRIPTION: Route(rd.cancel_scanner_subscription, self.cancel),
        }

    def drop(self, conn: ClientConnection) -> None:
        self.scans.drop(conn)

    def parameters(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        conn.send(msg.scanner_parameters(parameters_xml()))

    def subscribe(self, conn: ClientConnection, req: rd.ScannerRequest) -> None:
        if req.instrument not in ("", "STK"):
            conn.send(msg.error(req.req_id, Code.VALIDATION, f"Error validating request:-'instrument' : cause - "
                                f"{req.instrument!r}: the simulated gateway scans stocks (STK) only"))
            return
        if req.scan_code not in BY_CODE:
            conn.send(msg.error(req.req_id, Code.VALIDATION, f"Error validating request:-'scanCode' : cause - "
                                f"{req.scan_code!r} is not one of {', '.join(BY_CODE)}"))
            return
        if req.location and req.location not in LOCATIONS:
            conn.send(msg.error(req.req_id, Code.VALIDATION, f"Error validating request:-'locationCode' : cause - "
                                f"{req.location!r} is not one of {', '.join(LOCATIONS)}"))
            return
        sub = ScannerSubscription(req)
        self.scans.add(conn, req.req_id, sub)
        self._send(conn, sub, self.desk.now_ns(), force=True)

    def cancel(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.scans.pop(conn, req.req_id)

    def _send(self, conn: ClientConnection, sub: ScannerSubscription, now_ns: int, force: bool = False) -> None:
        r = sub.req
        found = scan(self.desk.universe.market, list(self.desk.universe.book), r.scan_code, r.location,
                     ScanFilter(r.above_price, r.below_price, r.above_volume), min(r.rows, MAX_ROWS), now_ns)
        rows = tuple(i.con_id for i in found)
        sub.next_ns = now_ns + REFRESH_NS
        if force or rows != sub.rows:
            sub.rows = rows
            conn.send(msg.scanner_data(r.req_id, list(enumerate(found))))

    def pump(self, conn: ClientConnection, now_ns: int) -> None:
        for _, sub in self.scans.of(conn):
            if now_ns >= sub.next_ns:
                self._send(conn, sub, now_ns)
