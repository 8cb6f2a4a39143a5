"""Streams derived from the quote: market depth (reqMktDepth) and tick-by-tick data (reqTickByTickData).

The simulated market has one quote per instant (runtime/gateway/market.py), not an order book. Depth is built from
it by a stated rule: level ``k`` (0 = the inside quote) of the bid side is ``bid - k * minTick`` with size
``bid_size * (k + 1)``, the ask side mirrors it; SMART depth names a market maker (exchange) per level.
Tick-by-tick sends one tick per change of the last trade (Last/AllLast), of the bid/ask (BidAsk) or of the midpoint
(MidPoint), timed at the quote's time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from runtime.gateway import responses as msg
from runtime.gateway.contracts import Instrument
from runtime.gateway.market import NS_PER_SECOND, MarketQuote

Send = Callable[[bytes], None]
#: market makers named on SMART depth rows, by level
SMART_VENUES = ("NYSE", "ARCA", "BATS", "IEX", "EDGX", "NSDQ", "BYX", "MEMX", "PSX", "AMEX")
ASK, BID = 0, 1
INSERT, UPDATE, DELETE = 0, 1, 2
TICK_BY_TICK_TYPES = {"LAST": 1, "ALLLAST": 2, "BIDASK": 3, "MIDPOINT": 4}


def depth_levels(q: MarketQuote, inst: Instrument, rows: int) -> list[tuple[int, float, int]]:
    """(side, price, size) of every level, bids then asks, ``rows`` per side."""
    tick = inst.min_tick or 0.01
    lots = inst.md_size_multiplier or 1
    out: list[tuple[int, float, int]] = []
    for side, inside, size, step in ((BID, q.bid, q.bid_size, -tick), (ASK, q.ask, q.ask_size, tick)):
        base = max(size // lots, 1)
        for k in range(rows):
            price = round(inside + k * step, 10)
            if price > 0:
                out.append((side, price, base * (k + 1)))
    return out


@dataclass(slots=True, eq=False)
class DepthSubscription:
    """reqMktDepth: inserts for a new book, updates for the levels that changed."""

    req_id: int
    inst: Instrument
    rows: int
    smart: bool
    sent: dict[tuple[int, int], tuple[float, int]] = field(default_factory=dict)  # (side, level) -> (price, size)

    def emit(self, q: MarketQuote, send: Send) -> int:
        n = 0
        levels: dict[int, int] = {BID: 0, ASK: 0}
        for side, price, size in depth_levels(q, self.inst, self.rows):
            pos = levels[side]
            levels[side] += 1
            key = (side, pos)
            old = self.sent.get(key)
            if old == (price, size):
                continue
            op = INSERT if old is None else UPDATE
            if self.smart:
                send(msg.market_depth_l2(self.req_id, pos, SMART_VENUES[pos % len(SMART_VENUES)], op, side, price,
                                         size, True))
            else:
                send(msg.market_depth(self.req_id, pos, op, side, price, size))
            self.sent[key] = (price, size)
            n += 1
        return n


@dataclass(slots=True, eq=False)
class TickByTickSubscription:
    """reqTickByTickData: Last, AllLast, BidAsk or MidPoint, one message per change."""

    req_id: int
    inst: Instrument
    kind: int
    ignore_size: bool = False
    last: tuple = ()

    def emit(self, q: MarketQuote, send: Send) -> int:
        lots = self.inst.md_size_multiplier or 1
        if self.kind in (1, 2):
            if self.inst.sec_type == "CASH":
                return 0  # FX has no trades
            state: tuple = (q.last_trade_ns, q.last, q.last_size)
            if state == self.last:
                return 0
            self.last = state
            exchange = self.inst.primary_exchange if self.inst.is_stock else self.inst.exchange
            send(msg.tick_by_tick_last(self.req_id, self.kind, q.last_trade_ns // NS_PER_SECOND, q.last,
                                       q.last_size // lots, exchange))
            return 1
        t = q.time_ns // NS_PER_SECOND
        if self.kind == 3:
            sizes = (0, 0) if self.ignore_size else (q.bid_size // lots, q.ask_size // lots)
            state = (q.bid, q.ask, *sizes)
            if state == self.last:
                return 0
            self.last = state
            send(msg.tick_by_tick_bid_ask(self.req_id, t, q.bid, q.ask, *sizes))
            return 1
        mid = round((q.bid + q.ask) / 2, 10)
        if (mid,) == self.last:
            return 0
        self.last = (mid,)
        send(msg.tick_by_tick_midpoint(self.req_id, t, mid))
        return 1
