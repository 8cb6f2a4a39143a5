"""Market scanners over the gateway's own universe at its clock's time (reqScannerSubscription).

Each scan code ranks the stocks the gateway trades by a stated measure of their quotes:

| scan code | ranks by (descending unless said) |
|---|---|
| TOP_PERC_GAIN / TOP_PERC_LOSE | change from the previous close, % (LOSE: ascending) |
| TOP_OPEN_PERC_GAIN / TOP_OPEN_PERC_LOSE | change from today's open, % (LOSE: ascending) |
| MOST_ACTIVE | today's volume (shares) |
| MOST_ACTIVE_USD | today's volume x last price |
| HOT_BY_VOLUME | today's volume / average daily volume of the previous 10 sessions |
| HOT_BY_PRICE | absolute change from the previous close, % |
| TOP_PRICE_RANGE | (high - low) / previous close, % |
| HIGH_VS_52W_HL / LOW_VS_52W_HL | last / 52-week high (LOW: last / 52-week low, ascending) |

Filters: abovePrice, belowPrice, aboveVolume (and the location: STK.US / STK.US.MAJOR take every stock,
STK.NASDAQ, STK.NYSE ... the stocks of that primary exchange).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np

from runtime.gateway.contracts import Instrument
from runtime.gateway.market import Market, MarketQuote, Series


@dataclass(frozen=True)
class ScanCode:
    code: str
    name: str
    descending: bool


SCAN_CODES: tuple[ScanCode, ...] = (
    ScanCode("TOP_PERC_GAIN", "Top % Gainers", True),
    ScanCode("TOP_PERC_LOSE", "Top % Losers", False),
    ScanCode("TOP_OPEN_PERC_GAIN", "Top % Gainers Since Open", True),
    ScanCode("TOP_OPEN_PERC_LOSE", "Top % Losers Since Open", False),
    ScanCode("MOST_ACTIVE", "Most Active", True),
    ScanCode("MOST_ACTIVE_USD", "Most Active ($)", True),
    ScanCode("HOT_BY_VOLUME", "Hot Contracts by Volume", True),
    ScanCode("HOT_BY_PRICE", "Hot Contracts by Price", True),
    ScanCode("TOP_PRICE_RANGE", "Top Price Range", True),
    ScanCode("HIGH_VS_52W_HL", "Near 52 Week High", True),
    ScanCode("LOW_VS_52W_HL", "Near 52 Week Low", False),
)
BY_CODE = {s.code: s for s in SCAN_CODES}
LOCATIONS = ("STK.US", "STK.US.MAJOR", "STK.NASDAQ", "STK.NYSE", "STK.ARCA", "STK.AMEX")
FILTERS = ("priceAbove", "priceBelow", "volumeAbove")


def _pct(a: float, b: float) -> float:
    return (a - b) / b * 100.0 if b else 0.0


def _session(series: Series, now_ns: int) -> int:
    return int(np.searchsorted(series.calendar.opens, now_ns, side="right")) - 1


def _hot_by_volume(series: Series, q: MarketQuote, now_ns: int) -> float:
    k = _session(series, now_ns)
    past = series.daily_bars(k - 10, k - 1)
    avg = float(np.nanmean(past.volume)) if len(past) else 0.0
    return q.volume / avg if avg > 0 else 0.0


def _vs_52w(series: Series, q: MarketQuote, now_ns: int, high: bool) -> float:
    k = _session(series, now_ns)
    past = series.daily_bars(k - 252, k - 1)
    if not len(past):
        return 0.0
    ref = float(np.nanmax(past.high)) if high else float(np.nanmin(past.low))
    return q.last / ref if ref > 0 else 0.0


MEASURES: dict[str, Callable[[Series, MarketQuote, int], float]] = {
    "TOP_PERC_GAIN": lambda s, q, t: _pct(q.last, q.prev_close),
    "TOP_PERC_LOSE": lambda s, q, t: _pct(q.last, q.prev_close),
    "TOP_OPEN_PERC_GAIN": lambda s, q, t: _pct(q.last, q.open),
    "TOP_OPEN_PERC_LOSE": lambda s, q, t: _pct(q.last, q.open),
    "MOST_ACTIVE": lambda s, q, t: q.volume,
    "MOST_ACTIVE_USD": lambda s, q, t: q.volume * q.last,
    "HOT_BY_VOLUME": _hot_by_volume,
    "HOT_BY_PRICE": lambda s, q, t: abs(_pct(q.last, q.prev_close)),
    "TOP_PRICE_RANGE": lambda s, q, t: (q.high - q.low) / q.prev_close * 100.0 if q.prev_close else 0.0,
    "HIGH_VS_52W_HL": lambda s, q, t: _vs_52w(s, q, t, True),
    "LOW_VS_52W_HL": lambda s, q, t: _vs_52w(s, q, t, False),
}


@dataclass(frozen=True)
class ScanFilter:
    above_price: float | None = None
    below_price: float | None = None
    above_volume: int | None = None

    def accepts(self, q: MarketQuote) -> bool:
        if self.above_price is not None and not q.last > self.above_price:
            return False
        if self.below_price is not None and not q.last < self.below_price:
            return False
        return not (self.above_volume is not None and not q.volume > self.above_volume)


def in_location(inst: Instrument, location: str) -> bool:
    if location in ("", "STK.US", "STK.US.MAJOR"):
        return inst.currency == "USD"
    return location.startswith("STK.") and inst.primary_exchange == location[4:]


def scan(market: Market, instruments: Sequence[Instrument], code: str, location: str, flt: ScanFilter,
         rows: int, now_ns: int) -> list[Instrument]:
    """The first ``rows`` stocks of ``instruments`` by the scan code's measure at ``now_ns`` (ties by symbol)."""
    spec = BY_CODE[code]
    measure = MEASURES[code]
    scored: list[tuple[float, str, Instrument]] = []
    for inst in instruments:
        if not inst.is_stock or not in_location(inst, location):
            continue
        series = market.series(inst)
        q = market.quote(inst, now_ns)
        if series is None or q is None or not flt.accepts(q):
            continue
        value = measure(series, q, now_ns)
        if np.isfinite(value):
            scored.append((-value if spec.descending else value, inst.symbol, inst))
    scored.sort(key=lambda x: (x[0], x[1]))
    return [inst for _, _, inst in scored[:rows]]


def parameters_xml() -> str:
    """The reqScannerParameters document: instrument, locations, scan codes and filters the gateway serves."""
    scans = "".join(f"<ScanType><vendor>SIM</vendor><displayName>{escape(s.name)}</displayName>"
                    f"<scanCode>{s.code}</scanCode><instruments>STK</instruments></ScanType>" for s in SCAN_CODES)
    locations = "".join(f"<Location><displayName>{loc}</displayName><locationCode>{loc}</locationCode>"
                        f"<instruments>STK</instruments></Location>" for loc in LOCATIONS)
    filters = "".join(f"<SimpleFilter><id>{f}</id><category>Price/Volume</category></SimpleFilter>"
                      for f in FILTERS)
    return ('<?xml version="1.0" encoding="UTF-8"?><ScanParameterResponse>'
            "<InstrumentList><Instrument><name>US Stocks</name><type>STK</type></Instrument></InstrumentList>"
            f"<LocationTree>{locations}</LocationTree><ScanTypeList>{scans}</ScanTypeList>"
            f"<FilterList>{filters}</FilterList></ScanParameterResponse>")
