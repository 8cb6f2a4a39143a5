"""Streaming market data: reqMktData (live, delayed, snapshots), reqMarketDataType, reqRealTimeBars,
reqMktDepth (depth built from the quote) and reqTickByTickData (Last, AllLast, BidAsk, MidPoint). reqMktData on
an option adds its tickOptionComputation stream (runtime/gateway/options.py).

Subscriptions live in per-connection registries and are fed by :meth:`MarketDataHandlers.pump` as the gateway's
clock moves: a tick only when a value changes, a real-time bar every 5 seconds of the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.gateway import requests as rq
from runtime.gateway import requests_data as rd
from runtime.gateway import responses as msg
from runtime.gateway.connection import ClientConnection, Route
from runtime.gateway.handlers.base import Desk, Registry
from runtime.gateway.ids import NO_ID, Code, In, MinVersion
from runtime.gateway.market import NS_PER_SECOND, MarketQuote
from runtime.gateway.options import OptionTickStream
from runtime.gateway.streams import TICK_BY_TICK_TYPES, DepthSubscription, TickByTickSubscription
from runtime.gateway.subscriptions import BarSubscription, TickSubscription

#: at most this many depth rows per side (IB's books show up to 10 for most exchanges)
MAX_DEPTH_ROWS = 10


@dataclass
class DataType:
    """A connection's reqMarketDataType (1 live, 2 frozen, 3 delayed, 4 delayed frozen)."""

    kind: int = 1
    requested: bool = False


class MarketDataHandlers:
    """reqMktData/cancelMktData, reqMarketDataType, reqRealTimeBars/cancelRealTimeBars, reqMktDepth/cancelMktDepth,
    reqMktDepthExchanges, reqTickByTickData/cancelTickByTickData."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.ticks: Registry[TickSubscription] = Registry()
        self.bars: Registry[BarSubscription] = Registry()
        self.depth: Registry[DepthSubscription] = Registry()
        self.tick_by_tick: Registry[TickByTickSubscription] = Registry()
        #: the tickOptionComputation streams of reqMktData on options
        self.option_ticks: Registry[OptionTickStream] = Registry()
        self.data_types: dict[ClientConnection, DataType] = {}

    def routes(self) -> dict[int, Route]:
        return {
            In.REQ_MKT_DATA: Route(rq.req_mkt_data, self.market_data),
            In.CANCEL_MKT_DATA: Route(rq.cancel_by_req_id, self.cancel_market_data),
            In.REQ_MARKET_DATA_TYPE: Route(rq.req_market_data_type, self.market_data_type),
            In.REQ_REAL_TIME_BARS: Route(rq.req_real_time_bars, self.real_time_bars),
            In.CANCEL_REAL_TIME_BARS: Route(rq.cancel_by_req_id, self.cancel_real_time_bars),
            In.REQ_MKT_DEPTH: Route(rd.req_mkt_depth, self.market_depth, versioned=True),
            In.CANCEL_MKT_DEPTH: Route(rd.cancel_mkt_depth, self.cancel_market_depth),
            In.REQ_MKT_DEPTH_EXCHANGES: Route(rq.no_arguments, self.market_depth_exchanges),
            In.REQ_TICK_BY_TICK_DATA: Route(rd.req_tick_by_tick, self.tick_by_tick_data,
                                            min_version=MinVersion.TICK_BY_TICK_IGNORE_SIZE, id_at=1),
            In.CANCEL_TICK_BY_TICK_DATA: Route(rd.cancel_tick_by_tick, self.cancel_tick_by_tick,
                                               min_version=MinVersion.TICK_BY_TICK, id_at=1),
        }

    def drop(self, conn: ClientConnection) -> None:
        """Forget a closed connection."""
        self.drop_streams(conn)
        self.data_types.pop(conn, None)

    def drop_streams(self, conn: ClientConnection) -> None:
        """End the connection's streams (connectivity restored with data lost: clients must resubscribe)."""
        self.ticks.drop(conn)
        self.bars.drop(conn)
        self.depth.drop(conn)
        self.tick_by_tick.drop(conn)
        self.option_ticks.drop(conn)

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
        greeks = (OptionTickStream(req.req_id, inst, desk.universe.options, delayed, conn.version)
                  if inst.is_option else None)
        if req.snapshot or req.regulatory_snapshot:
            if quote is not None:
                sub.emit(quote, conn.send)
                if greeks is not None:
                    greeks.emit(desk.now_ns(), conn.send)
            conn.send(msg.tick_snapshot_end(req.req_id))
            return
        self.ticks.add(conn, req.req_id, sub)
        if greeks is not None:
            self.option_ticks.add(conn, req.req_id, greeks)
        if quote is not None and desk.connectivity_ok:
            sub.emit(quote, conn.send)
            if greeks is not None:
                greeks.emit(desk.now_ns(), conn.send)

    def cancel_market_data(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.ticks.pop(conn, req.req_id)
        self.option_ticks.pop(conn, req.req_id)

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

    def market_depth(self, conn: ClientConnection, req: rd.MktDepthRequest) -> None:
        inst = self.desk.resolve(conn, req.req_id, req.contract)
        if inst is None:
            return
        rows = min(max(req.num_rows, 1), MAX_DEPTH_ROWS)
        sub = DepthSubscription(req.req_id, inst, rows, req.smart_depth)
        self.depth.add(conn, req.req_id, sub)
        quote = self.desk.universe.market.quote(inst, self.desk.now_ns())
        if quote is not None and self.desk.connectivity_ok:
            sub.emit(quote, conn.send)

    def cancel_market_depth(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.depth.pop(conn, req.req_id)

    def market_depth_exchanges(self, conn: ClientConnection, req: rq.NoArguments) -> None:
        conn.send(msg.error(NO_ID, Code.VALIDATION, "Error validating request:-'82' : cause - depth exchanges are "
                            "not listed by the simulated gateway (depth of any instrument: reqMktDepth)"))

    def tick_by_tick_data(self, conn: ClientConnection, req: rd.TickByTickRequest) -> None:
        kind = TICK_BY_TICK_TYPES.get(req.tick_type.replace(" ", "").upper())
        if kind is None:
            conn.send(msg.error(req.req_id, Code.VALIDATION, f"Error validating request:-'tickType' : cause - "
                                f"{req.tick_type!r} is not Last, AllLast, BidAsk or MidPoint"))
            return
        inst = self.desk.resolve(conn, req.req_id, req.contract)
        if inst is None:
            return
        sub = TickByTickSubscription(req.req_id, inst, kind, req.ignore_size)
        self.tick_by_tick.add(conn, req.req_id, sub)
        quote = self.desk.universe.market.quote(inst, self.desk.now_ns())
        if quote is not None and self.desk.connectivity_ok:
            sub.emit(quote, conn.send)

    def cancel_tick_by_tick(self, conn: ClientConnection, req: rq.CancelRequest) -> None:
        self.tick_by_tick.pop(conn, req.req_id)

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
        for _, greeks in self.option_ticks.of(conn):
            greeks.emit(now_ns, conn.send_market)
        for _, bar_sub in self.bars.of(conn):
            bar_sub.emit(now_ns, conn.send_market)
        for registry in (self.depth, self.tick_by_tick):
            for _, stream in registry.of(conn):
                con_id = stream.inst.con_id
                if con_id not in quotes:
                    quotes[con_id] = market.quote(stream.inst, now_ns)
                q = quotes[con_id]
                if q:
                    stream.emit(q, conn.send_market)
