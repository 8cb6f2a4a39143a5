"""Streaming subscriptions of one client: market data ticks, 5-second bars, keepUpToDate history.

Each subscription remembers what it last sent, so every pump of the gateway only sends what changed (as TWS does:
a tick when a value changes, a real-time bar every 5 seconds of the gateway's clock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from runtime.gateway import responses as msg
from runtime.gateway.contracts import Instrument
from runtime.gateway.history import DAY, BarRows, build_bars, format_time, transform
from runtime.gateway.ids import Tick
from runtime.gateway.market import NS_PER_SECOND, Bars, MarketQuote, Series

Send = Callable[[bytes], None]


@dataclass(slots=True, eq=False)
class TickSubscription:
    """reqMktData: bid/ask/last with sizes, volume, open/high/low/close, last timestamp."""

    req_id: int
    inst: Instrument
    delayed: bool = False
    snapshot: bool = False
    sent: dict[int, float] = field(default_factory=dict)

    def _tick(self, t: Tick) -> int:
        return int(t.delayed()) if self.delayed else int(t)

    def emit(self, q: MarketQuote, send: Send) -> int:
        """Send the ticks whose values changed since the last call; returns how many messages were sent."""
        n = 0
        sent = self.sent
        lots = self.inst.md_size_multiplier or 1
        fx = self.inst.sec_type == "CASH"
        pairs: list[tuple[Tick, float, int, Tick]] = [
            (Tick.BID, q.bid, q.bid_size // lots, Tick.BID_SIZE),
            (Tick.ASK, q.ask, q.ask_size // lots, Tick.ASK_SIZE),
        ]
        if not fx:
            pairs.append((Tick.LAST, q.last, q.last_size // lots, Tick.LAST_SIZE))
        for price_type, price, size, size_type in pairs:
            key_p, key_s = int(price_type), int(size_type)
            if sent.get(key_p) != price:
                send(msg.tick_price(self.req_id, self._tick(price_type), price, size, 0))
                sent[key_p] = price
                sent[key_s] = size
                n += 1
            elif sent.get(key_s) != size:
                send(msg.tick_size(self.req_id, self._tick(size_type), size))
                sent[key_s] = size
                n += 1
        for price_type, value in ((Tick.HIGH, q.high), (Tick.LOW, q.low), (Tick.OPEN, q.open),
                                  (Tick.CLOSE, q.prev_close)):
            if sent.get(int(price_type)) != value:
                send(msg.tick_price(self.req_id, self._tick(price_type), value, 0, 0))
                sent[int(price_type)] = value
                n += 1
        if not fx:
            vol = int(q.volume // lots)
            if sent.get(int(Tick.VOLUME)) != vol:
                send(msg.tick_size(self.req_id, self._tick(Tick.VOLUME), vol))
                sent[int(Tick.VOLUME)] = vol
                n += 1
            stamp = q.last_trade_ns // NS_PER_SECOND
            if sent.get(int(Tick.LAST_TIMESTAMP)) != stamp:
                send(msg.tick_string(self.req_id, self._tick(Tick.LAST_TIMESTAMP), str(stamp)))
                sent[int(Tick.LAST_TIMESTAMP)] = stamp
                n += 1
        return n


@dataclass(slots=True, eq=False)
class BarSubscription:
    """reqRealTimeBars: one 5-second bar per 5 seconds of the gateway's clock."""

    req_id: int
    inst: Instrument
    series: Series
    what: str
    use_rth: bool
    next_end_ns: int

    def emit(self, now_ns: int, send: Send, limit: int = 100) -> int:
        step = 5 * NS_PER_SECOND
        if now_ns < self.next_end_ns:
            return 0
        if (now_ns - self.next_end_ns) // step > limit:  # far behind (a clock jump): only the latest bars
            self.next_end_ns = now_ns - now_ns % step - (limit - 1) * step
        n = 0
        start = self.next_end_ns - step
        secs = self.series.seconds_between(start, now_ns - now_ns % step)
        lots = (self.inst.md_size_multiplier or 1) if self.what == "TRADES" else 1
        while self.next_end_ns <= now_ns:
            end = self.next_end_ns
            chunk = secs.between(end - step, end)
            if len(chunk):
                rows = BarRows(chunk.end_ns[:1] - NS_PER_SECOND, chunk.open[:1], chunk.high.max(keepdims=True),
                               chunk.low.min(keepdims=True), chunk.close[-1:], chunk.volume.sum(keepdims=True), False)
                f = transform(rows, self.inst, self.what)[0]
                vol = round(float(chunk.volume.sum()) / lots) if self.what == "TRADES" else -1
                wap = float(f[6]) if self.what == "TRADES" else -1.0
                count = max(int(chunk.volume.sum() // 100), 1) if self.what == "TRADES" else -1
                send(msg.realtime_bar(self.req_id, (end - step) // NS_PER_SECOND, float(f[1]), float(f[2]),
                                      float(f[3]), float(f[4]), vol, wap, count))
                n += 1
            self.next_end_ns += step
        return n


@dataclass(slots=True, eq=False)
class HistorySubscription:
    """reqHistoricalData with keepUpToDate: historicalDataUpdate for the bar in progress whenever it changes."""

    req_id: int
    inst: Instrument
    series: Series
    bar_seconds: int
    what: str
    use_rth: bool
    format_date: int
    time_zone: str
    last: tuple = ()

    def emit(self, now_ns: int, send: Send) -> int:
        span = max(self.bar_seconds, 60) * 2 * NS_PER_SECOND
        if self.bar_seconds >= DAY:
            span = 8 * DAY * NS_PER_SECOND
        rows = build_bars(self.series, self.bar_seconds, now_ns - span, now_ns, self.use_rth, now_ns, self.time_zone)
        if not len(rows):
            return 0
        f = transform(rows, self.inst, self.what)[-1]
        date = format_time(int(rows.start_ns[-1]), self.format_date, self.time_zone, rows.daily)
        state = (date, *f[1:])
        if state == self.last:
            return 0
        self.last = state
        send(msg.historical_data_update(self.req_id, int(f[7]) if f[7] != "-1" else -1, date, float(f[1]),
                                        float(f[4]), float(f[2]), float(f[3]), float(f[6]), int(f[5])))
        return 1


__all__ = ["BarSubscription", "Bars", "HistorySubscription", "TickSubscription"]
