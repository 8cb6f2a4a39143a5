"""Streaming market data (reqMktData) kept as the latest quote per asset.

Ticks are folded into one :class:`Quote` per subscription on the message thread; the engine reads snapshots.
Delayed tick types (66..76, 88) fill the same fields and mark the quote ``delayed``. Sizes are in lots of the
contract's ``mdSizeMultiplier`` below server version 163 and are converted to shares here. A currency pair (CASH on
IDEALPRO) gets bid/ask ticks (and high/low/close) but no last price and no volume: :attr:`Quote.price` is then the
bid/ask midpoint.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from runtime.core.assets import Asset

#: tick type -> Quote field (live and delayed variants)
TICK_FIELDS: dict[int, str] = {
    0: "bid_size", 1: "bid", 2: "ask", 3: "ask_size", 4: "last", 5: "last_size", 6: "high", 7: "low", 8: "volume",
    9: "close", 14: "open",
    66: "bid", 67: "ask", 68: "last", 69: "bid_size", 70: "ask_size", 71: "last_size", 72: "high", 73: "low",
    74: "volume", 75: "close", 76: "open",
}
SIZE_FIELDS = frozenset({"bid_size", "ask_size", "last_size", "volume"})
DELAYED_TICKS = frozenset({*range(66, 77), 88})
LAST_TIMESTAMP_TICKS = frozenset({45, 88})
MIN_SERVER_VER_FRACTIONAL_SIZE = 163


@dataclass(frozen=True)
class Quote:
    """The latest market of one asset (None: not received yet). ``time_ns``: when the last tick arrived."""

    asset: Asset
    time_ns: int = 0
    last: float | None = None
    bid: float | None = None
    ask: float | None = None
    last_size: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    volume: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    last_trade_ns: int | None = None
    delayed: bool = False

    @property
    def midpoint(self) -> float | None:
        """The mid of bid and ask (None unless both are there), rounded to 10 decimals: 1.1188, not 1.1187999999999998
        (what IB's MIDPOINT bars show)."""
        if self.bid and self.ask and self.bid > 0 and self.ask > 0:
            return round((self.bid + self.ask) / 2, 10)
        return None

    @property
    def price(self) -> float | None:
        """zipline's 'price': the last trade, else the mid of bid/ask (a currency pair has no last trade at IB)."""
        if self.last is not None and self.last > 0:
            return self.last
        return self.midpoint


@dataclass
class _Ticker:
    req_id: int
    asset: Asset
    lot: int
    quote: Quote
    fresh: threading.Event = field(default_factory=threading.Event)


class MarketDataBook:
    """Subscriptions by request id and by asset sid (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_req: dict[int, _Ticker] = {}
        self._by_sid: dict[int, _Ticker] = {}
        self.server_version = 0

    def add(self, req_id: int, asset: Asset, lot: int = 1) -> None:
        with self._lock:
            old = self._by_sid.get(asset.sid)
            quote = old.quote if old is not None else Quote(asset)
            if old is not None:
                self._by_req.pop(old.req_id, None)
            t = _Ticker(req_id, asset, lot if self.server_version < MIN_SERVER_VER_FRACTIONAL_SIZE else 1, quote)
            if old is not None:
                t.fresh = old.fresh  # whoever waits for a first price keeps waiting on the same event
            self._by_req[req_id] = t
            self._by_sid[asset.sid] = t

    def remove(self, asset: Asset) -> int | None:
        """Forget a subscription; returns its request id (to cancel it at TWS)."""
        with self._lock:
            t = self._by_sid.pop(asset.sid, None)
            if t is None:
                return None
            self._by_req.pop(t.req_id, None)
            return t.req_id

    def req_id_of(self, asset: Asset) -> int | None:
        with self._lock:
            t = self._by_sid.get(asset.sid)
            return None if t is None else t.req_id

    def asset_of(self, req_id: int) -> Asset | None:
        with self._lock:
            t = self._by_req.get(req_id)
            return None if t is None else t.asset

    def assets(self) -> list[Asset]:
        with self._lock:
            return [t.asset for t in self._by_sid.values()]

    def on_tick(self, req_id: int, tick_type: int, value: float | None, now_ns: int) -> None:
        name = TICK_FIELDS.get(tick_type)
        if name is None or value is None:
            return
        with self._lock:
            t = self._by_req.get(req_id)
            if t is None:
                return
            if name in SIZE_FIELDS:
                value = value * t.lot
            elif value <= 0 and name in ("bid", "ask", "last"):
                return  # -1 / 0: no quote
            t.quote = replace(t.quote, time_ns=now_ns, delayed=t.quote.delayed or tick_type in DELAYED_TICKS,
                              **{name: value})
            if t.quote.price is not None or t.quote.close is not None:
                t.fresh.set()

    def on_tick_string(self, req_id: int, tick_type: int, value: str) -> None:
        if tick_type not in LAST_TIMESTAMP_TICKS or not value.strip().isdigit():
            return
        with self._lock:
            t = self._by_req.get(req_id)
            if t is not None:
                t.quote = replace(t.quote, last_trade_ns=int(value) * 1_000_000_000)

    def quote(self, asset: Asset) -> Quote | None:
        """The latest quote, None if the asset is not subscribed."""
        with self._lock:
            t = self._by_sid.get(asset.sid)
            return None if t is None else t.quote

    def wait_fresh(self, asset: Asset, timeout: float) -> bool:
        """Wait until a first price (last, bid, ask or close) has arrived for ``asset``."""
        with self._lock:
            t = self._by_sid.get(asset.sid)
        return t is not None and t.fresh.wait(timeout)
