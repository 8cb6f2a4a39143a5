"""Historical data: reqHistoricalData (with keepUpToDate updates), cancelHistoricalData, reqHeadTimeStamp.

Bars are built by runtime/gateway/history.py from the market's series; IB's pacing rules (error 162) are the
desk's :class:`~runtime.gateway.pacing.HistoryPacingRules`, which also counts the open keepUpToDate requests.
"""

from __future__ import annotations

from runtime.gateway import requests as rq
from runtime.gateway import responses as msg
from runtime.gateway.connection import ClientConnection, Route
from runtime.gateway.handlers.base import Desk, Registry
from runtime.gateway.history import (
    HistoryRequestError,
    build_bars,
    check_what_to_show,
    format_rows,
    format_time,
    parse_bar_size,
    parse_duration,
    parse_end,
    window_start,
    window_text,
)
from runtime.gateway.ids import Code, In
from runtime.gateway.subscriptions import HistorySubscription


class HistoryHandlers:
    """reqHistoricalData, cancelHistoricalData, reqHeadTimeStamp."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.updates: Registry[HistorySubscription] = Registry()

    def routes(self) -> dict[int, Route]:
        return {
            In.REQ_HISTORICAL_DATA: Route(rq.req_historical_data, self.historical_data),
            In.CANCEL_HISTORICAL_DATA: Route(rq.cancel_by_req_id, self.cancel_historical_data),
            In.REQ_HEAD_TIMESTAMP: Route(rq.req_head_timestamp, self.head_timestamp),
        }

    def drop(self, conn: ClientConnection) -> None:
        """Forget a closed connection (its keepUpToDate requests no longer count as open)."""
        pacer = self.desk.pacer
        pacer.open_requests = max(pacer.open_requests - self.updates.drop(conn), 0)

    def drop_streams(self, conn: ClientConnection) -> None:
        """End the connection's keepUpToDate updates (connectivity restored with data lost)."""
        self.updates.drop(conn)

    def historical_data(self, conn: ClientConnection, req: rq.HistoricalRequest) -> None:
        inst, series = self.desk.series(conn, req.req_id, req.contract)
        if inst is None or series is None:
            return
        desk = self.desk
        tz = desk.config.time_zone
        try:
            check_what_to_show(inst, req.what_to_show)
            bar_seconds = parse_bar_size(req.bar_size)
            duration = parse_duration(req.duration)
            if req.keep_up_to_date and req.end:
                raise HistoryRequestError(Code.VALIDATION, "Error validating request:-'bP' : cause - End date not "
                                   "supported with live updates")
            now = desk.now_ns()
            decision = desk.pacer.check(
                (inst.con_id, req.end, req.bar_size, req.duration, req.what_to_show, req.use_rth, req.format_date),
                (inst.con_id, inst.exchange, req.what_to_show), 2 if req.what_to_show == "BID_ASK" else 1)
            if not decision.allowed:
                raise HistoryRequestError(Code.HISTORICAL_DATA, decision.reason)
            end = parse_end(req.end, now, tz)
            start = window_start(series, end, duration)
            rows = build_bars(series, bar_seconds, start, end, req.use_rth, now, tz)
        except HistoryRequestError as exc:
            conn.send(msg.error(req.req_id, exc.code, exc.text))
            return
        if not len(rows):
            conn.send(msg.error(req.req_id, Code.HISTORICAL_DATA, "Historical Market Data Service error "
                                f"message:HMDS query returned no data: {inst.local_symbol}@{inst.exchange} "
                                f"{req.what_to_show.title()}"))
            return
        formatted = format_rows(rows, inst, req.what_to_show, req.format_date, tz)
        conn.send(msg.historical_data(req.req_id, window_text(start, tz), window_text(end, tz), formatted))
        if req.keep_up_to_date:
            sub = HistorySubscription(req.req_id, inst, series, bar_seconds, req.what_to_show, req.use_rth,
                                      req.format_date, tz)
            sub.last = (formatted[-1][0], *formatted[-1][1:])
            self.updates.add(conn, req.req_id, sub)
            desk.pacer.open_requests += 1

    def cancel_historical_data(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        if self.updates.pop(conn, req.req_id) is not None:
            pacer = self.desk.pacer
            pacer.open_requests = max(pacer.open_requests - 1, 0)

    def head_timestamp(self, conn: ClientConnection, req: rq.HeadTimestampRequest) -> None:
        inst, series = self.desk.series(conn, req.req_id, req.contract)
        if inst is None or series is None:
            return
        text = format_time(series.first_ns, req.format_date, self.desk.config.time_zone, False)
        conn.send(msg.head_timestamp(req.req_id, text))

    def pump(self, conn: ClientConnection, now_ns: int) -> None:
        """historicalDataUpdate for the connection's keepUpToDate requests whose bar in progress changed."""
        for _, sub in self.updates.of(conn):
            sub.emit(now_ns, conn.send_market)
