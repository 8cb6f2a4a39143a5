"""Streaming market data: reqMktData (live, delayed, snapshots), reqMarketDataType, reqRealTimeBars.

Subscriptions live in per-connection registries and are fed by :meth:`MarketDataHandlers.pump` as the gateway's
clock moves: a tick only when a value changes, a real-time bar every 5 seconds of the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.gateway import requests as rq
from runtime.gateway import responses as msg
from runtime.gateway.connection import ClientConnection, Route
from runtime.gateway.handlers.base import Desk, Registry
from runtime.gateway.ids import Code, In
from runtime.gateway.market import NS_PER_SECOND, MarketQuote
from runtime.gateway.subscriptions import BarSubscription, TickSubscription


@dataclass
class DataType:
    """A connection's reqMarketDataType (1 live, 2 frozen, 3 delayed, 4 delayed frozen)."""

    kind: int = 1
    requested: bool = False


class MarketDataHandlers:
    """reqMktData/cancelMktData, reqMarketDataType, reqRealTimeBars/cancelRealTimeBars, reqMktDepth (refused)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.ticks: Registry[TickSubscription] = Registry()
        self.bars: Registry[BarSubscription] = Registry()
        self.data_types: dict[ClientConnection, DataType] = {}

    def routes(self) -> dict[int, Route]:
        return {
            In.REQ_MKT_DATA: Route(rq.req_mkt_data, self.market_data),
            In.CANCEL_MKT_DATA: Route(rq.cancel_by_req_id, self.cancel_market_data),
            In.REQ_MARKET_DATA_TYPE: Route(rq.req_market_data_type, self.market_data_type),
            In.REQ_REAL_TIME_BARS: Route(rq.req_real_time_bars, self.real_time_bars),
            In.CANCEL_REAL_TIME_BARS: Route(rq.cancel_by_req_id, self.cancel_real_time_bars),
            In.REQ_MKT_DEPTH: Route(rq.req_mkt_depth, self.market_depth),
            In.CANCEL_MKT_DEPTH: Route(rq.no_arguments, lambda conn, req: None),
        }

    def drop(self, conn: ClientConnection) -> None:
        """Forget a closed connection."""
        self.drop_streams(conn)
        self.data_types.pop(conn, None)

    def drop_streams(self, conn: ClientConnection) -> None:
        """End the connection's streams (connectivity restored with data lost: clients must resubscribe)."""
        self.ticks.drop(conn)
        self.bars.drop(conn)

    # ------------------------------------------------------------------------------------------------ requests
    def market_data_type(self, conn: ClientConnection, req: rq.MarketDataTypeRequest) -> None:
        self.data_types[conn] = DataType(req.data_type, True)

    def market_data(self, conn: ClientConnection, req: rq.MktDataRequest) -> None:
        desk = self.desk
        inst = desk.resolve(conn, req.req_id, req.contract)
        if inst is None:
            return
        dt = self.data_types.get(conn) or DataType()
        delayed = dt.kind in (3, 4)
        conn.send(msg.tick_req_params(req.req_id, inst.min_tick, "9c0001" if inst.is_stock else "", 3))
        if dt.requested and dt.kind != 1:
            conn.send(msg.market_data_type(req.req_id, dt.kind))
        sub = TickSubscription(req.req_id, inst, delayed=delayed, snapshot=req.snapshot or req.regulatory_snapshot)
        quote = desk.universe.market.quote(inst, desk.now_ns())
        if req.snapshot or req.regulatory_snapshot:
            if quote is not None:
                sub.emit(quote, conn.send)
            conn.send(msg.tick_snapshot_end(req.req_id))
            return
        self.ticks.add(conn, req.req_id, sub)
        if quote is not None and desk.connectivity_ok:
            sub.emit(quote, conn.send)

    def cancel_market_data(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.ticks.pop(conn, req.req_id)

    def real_time_bars(self, conn: ClientConnection, req: rq.RealTimeBarsRequest) -> None:
        desk = self.desk
        inst, series = desk.series(conn, req.req_id, req.contract)
        if inst is None or series is None:
            return
        if req.bar_size != 5:
            conn.send(msg.error(req.req_id, Code.VALIDATION, "Error validating request:-'bar size' : cause - "
                                "real-time bars are 5 seconds only"))
            return
        if req.what_to_show not in ("TRADES", "MIDPOINT", "BID", "ASK"):
            conn.send(msg.error(req.req_id, Code.VALIDATION, f"Error validating request:-'whatToShow' : cause "
                                f"- {req.what_to_show!r} is not TRADES, MIDPOINT, BID or ASK"))
            return
        now = desk.now_ns()
        step = 5 * NS_PER_SECOND
        self.bars.add(conn, req.req_id, BarSubscription(req.req_id, inst, series, req.what_to_show, req.use_rth,
                                                        now - now % step + step))

    def cancel_real_time_bars(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.bars.pop(conn, req.req_id)

    def market_depth(self, conn: ClientConnection, req: rq.MktDepthRequest) -> None:
        conn.send(msg.error(req.req_id, 10092, "Deep market data is not supported by the simulated gateway."))

    # ---------------------------------------------------------------------------------------------------- pump
    def pump(self, conn: ClientConnection, now_ns: int, quotes: dict[int, MarketQuote | None]) -> None:
        """Send one ready connection what changed (``quotes``: this pump's quotes by conId, filled as needed)."""
        market = self.desk.universe.market
        for _, sub in self.ticks.of(conn):
            con_id = sub.inst.con_id
            if con_id in quotes:
                q = quotes[con_id]
            else:
                q = quotes[con_id] = market.quote(sub.inst, now_ns)
            if q:
                sub.emit(q, conn.send_market)
        for _, bar_sub in self.bars.of(conn):
            bar_sub.emit(now_ns, conn.send_market)
