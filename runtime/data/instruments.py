"""Instruments beyond US stocks: FX pairs and futures roots with documented price levels, the seeded synthetic
series anchored on them, and non-US stock listings with their exchange calendars.

Levels. :data:`YEAR_START_LEVELS` holds, for each pair and root, its approximate close on the first trading day of
each year 2000-2025 (spot FX rates; for futures the level of the underlying index or of the front contract),
rounded to a few significant digits, as published in the usual public histories. They are anchors, not a price
history: :func:`level_at` interpolates log-linearly between the two years around a date, so a replay of 2012
starts EUR.USD near 1.30 and ES near 1,260, not at today's levels.

Synthetic series. When a user has no data for an FX pair or a future, :func:`anchored_bars` makes daily bars:
a geometric random walk with the instrument's annual volatility (``runtime.data.contracts``), starting at
``level_at(first session)``, whose draws are a pure function of (seed, instrument, session), so the same seed and
sessions give the same series, in the backtester and in the simulated gateway alike.

Listings. :data:`LISTINGS` maps (symbol, IB exchange) of a few non-US stocks to their currency and the
exchange_calendars name of their exchange (``BP.`` on ``LSE`` in GBP on ``XLON``, ``SAP`` on ``IBIS`` (Xetra) in
EUR on ``XETR``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from runtime.core.assets import stable_sid
from runtime.data import counter_rng
from runtime.data.contracts import FUTURES, FX

FIRST_YEAR = 2000

# fmt: off
#: approximate close on the first trading day of each year 2000..2025 (index 0 is 2000)
YEAR_START_LEVELS: dict[str, tuple[float, ...]] = {
    "EUR.USD": (1.007, 0.94, 0.89, 1.05, 1.26, 1.36, 1.18, 1.32, 1.46, 1.40, 1.43, 1.34, 1.30,
                1.32, 1.38, 1.21, 1.09, 1.05, 1.20, 1.15, 1.12, 1.22, 1.14, 1.07, 1.10, 1.04),
    "GBP.USD": (1.61, 1.49, 1.45, 1.61, 1.79, 1.92, 1.72, 1.96, 1.98, 1.46, 1.61, 1.56, 1.55,
                1.62, 1.65, 1.56, 1.47, 1.23, 1.35, 1.28, 1.32, 1.37, 1.35, 1.21, 1.27, 1.25),
    "USD.JPY": (102.0, 114.0, 131.0, 119.0, 107.0, 103.0, 118.0, 119.0, 112.0, 91.0, 93.0, 81.0, 77.0,
                87.0, 105.0, 120.0, 120.0, 117.0, 113.0, 109.0, 109.0, 103.0, 115.0, 131.0, 141.0, 157.0),
    "AUD.USD": (0.656, 0.56, 0.51, 0.56, 0.75, 0.78, 0.73, 0.79, 0.88, 0.70, 0.90, 1.02, 1.02,
                1.04, 0.89, 0.82, 0.73, 0.72, 0.78, 0.70, 0.70, 0.77, 0.73, 0.68, 0.68, 0.62),
    "USD.CHF": (1.60, 1.62, 1.67, 1.39, 1.24, 1.14, 1.31, 1.22, 1.13, 1.07, 1.03, 0.93, 0.94,
                0.92, 0.89, 0.99, 1.00, 1.02, 0.97, 0.98, 0.97, 0.88, 0.91, 0.92, 0.84, 0.91),
    "USD.CAD": (1.44, 1.50, 1.59, 1.57, 1.29, 1.20, 1.16, 1.16, 0.99, 1.22, 1.05, 1.00, 1.02,
                0.99, 1.06, 1.16, 1.38, 1.34, 1.25, 1.36, 1.30, 1.27, 1.26, 1.36, 1.32, 1.44),
    "ES": (1469.0, 1320.0, 1148.0, 880.0, 1112.0, 1212.0, 1248.0, 1418.0, 1468.0, 903.0, 1115.0, 1258.0,
           1258.0, 1426.0, 1848.0, 2059.0, 2044.0, 2239.0, 2674.0, 2507.0, 3231.0, 3756.0, 4766.0, 3840.0,
           4770.0, 5882.0),
    "NQ": (3708.0, 2342.0, 1578.0, 984.0, 1468.0, 1622.0, 1645.0, 1757.0, 2085.0, 1212.0, 1860.0, 2218.0,
           2278.0, 2661.0, 3592.0, 4236.0, 4593.0, 4864.0, 6397.0, 6330.0, 8733.0, 12888.0, 16320.0, 10940.0,
           16826.0, 21012.0),
    "CL": (25.6, 26.8, 19.8, 31.2, 32.5, 43.5, 61.0, 61.1, 96.0, 44.6, 79.4, 91.4, 98.8, 91.8, 98.4, 53.3,
           37.0, 53.7, 60.4, 45.4, 61.1, 48.5, 75.2, 80.3, 71.7, 71.7),
    "GC": (288.0, 272.0, 279.0, 347.0, 416.0, 438.0, 517.0, 632.0, 834.0, 870.0, 1097.0, 1421.0, 1531.0,
           1675.0, 1202.0, 1184.0, 1061.0, 1146.0, 1303.0, 1282.0, 1517.0, 1895.0, 1829.0, 1824.0, 2064.0,
           2625.0),
}
# fmt: on

LAST_YEAR = FIRST_YEAR + len(YEAR_START_LEVELS["EUR.USD"]) - 1
#: annual volatility used for instruments the contract tables do not know
DEFAULT_ANNUAL_VOL = 0.10
_STREAM = 0x4E57  # the counter-RNG stream of anchored series (distinct from runtime.data.synthetic's)


def _key(name: str) -> str:
    text = name.strip().upper()
    if text.startswith("CASH,"):
        parts = text.split(",")
        text = f"{parts[1]}.{parts[2]}"
    if text.startswith("FUT,"):
        text = text.split(",")[1]
    return text


def known_levels() -> list[str]:
    """Names with documented levels (``'EUR.USD'``, ``'ES'``, ...)."""
    return sorted(YEAR_START_LEVELS)


def level_at(name: str, day: pd.Timestamp | str) -> float:
    """The documented level of an FX pair (``'EUR.USD'``) or futures root (``'ES'``) on ``day``: log-linear between
    the year-start levels around it; before 2000 the 2000 level, after the last year the last level.

    KeyError (naming the known ones) for an instrument without documented levels."""
    key = _key(name)
    if key not in YEAR_START_LEVELS:
        raise KeyError(f"no documented levels for {name!r}; known: {', '.join(known_levels())}")
    levels = YEAR_START_LEVELS[key]
    ts = pd.Timestamp(day)
    ts = ts.tz_localize(None) if ts.tzinfo is not None else ts
    if ts.year < FIRST_YEAR:
        return levels[0]
    if ts.year >= LAST_YEAR:
        return levels[-1]
    i = ts.year - FIRST_YEAR
    start, end = pd.Timestamp(ts.year, 1, 1), pd.Timestamp(ts.year + 1, 1, 1)
    w = (ts - start) / (end - start)
    return float(math.exp((1 - w) * math.log(levels[i]) + w * math.log(levels[i + 1])))


@dataclass(frozen=True)
class SeriesSpec:
    """Tick size, annual volatility and daily volume of a synthetic series."""

    tick_size: float
    annual_vol: float
    daily_volume: float


def series_spec(name: str) -> SeriesSpec:
    """The synthetic-series parameters of an FX pair or futures root (from ``runtime.data.contracts``)."""
    key = _key(name)
    prof = FX.get(key) or FUTURES.get(key)
    if prof is None:
        return SeriesSpec(0.0001 if "." in key else 0.01, DEFAULT_ANNUAL_VOL, 0.0)
    return SeriesSpec(prof.tick_size, prof.annual_vol, prof.daily_volume)


def anchored_bars(name: str, sessions: Sequence | pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    """Daily open/high/low/close/volume bars of ``name`` over ``sessions``, starting at its documented level on the
    first session.

    A geometric random walk with the instrument's annual volatility; every draw is a pure function of
    (seed, instrument, session date), so the same seed and sessions give the same bars. Prices are rounded to the
    instrument's tick."""
    index = pd.DatetimeIndex(sessions)
    if len(index) == 0:
        return pd.DataFrame(columns=["open", "high", "low", "close", "volume"], index=index, dtype=float)
    spec = series_spec(name)
    key = _key(name)
    sid = np.array([stable_sid(key, "ANCHOR", "")], dtype=np.int64)
    days = (index.tz_localize(None) if index.tz is not None else index).normalize()
    ticks = days.values.astype("datetime64[D]").astype(np.int64)
    z = counter_rng.normal(seed, _STREAM, sid, ticks)[:, 0]
    u = counter_rng.uniform(seed, _STREAM + 1, sid, ticks)[:, 0]
    w = counter_rng.uniform(seed, _STREAM + 2, sid, ticks)[:, 0]
    sigma = spec.annual_vol / math.sqrt(252.0)
    steps = sigma * z - 0.5 * sigma * sigma
    steps[0] = 0.0
    close = level_at(key, days[0]) * np.exp(np.cumsum(steps))
    opens = np.empty_like(close)
    opens[0] = close[0] * math.exp(-0.5 * sigma * (u[0] - 0.5))
    opens[1:] = close[:-1] * np.exp(0.25 * sigma * (u[1:] - 0.5))
    top = np.maximum(opens, close) * np.exp(sigma * 0.5 * w)
    bottom = np.minimum(opens, close) * np.exp(-sigma * 0.5 * (1.0 - w))
    tick = spec.tick_size
    decimals = max(math.ceil(-math.log10(tick)) + 1, 0)

    def rnd(x: np.ndarray) -> np.ndarray:
        return np.round(np.round(x / tick) * tick, decimals)

    o, c = rnd(opens), rnd(close)
    h = np.maximum(rnd(top), np.maximum(o, c))
    lo = np.minimum(rnd(bottom), np.minimum(o, c))
    vol = np.round(spec.daily_volume * (0.6 + 0.8 * u)) if spec.daily_volume else np.zeros(len(c))
    return pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "volume": vol}, index=index)


# ---------------------------------------------------------------------------------------------- non-US listings
@dataclass(frozen=True)
class Listing:
    """A stock listed outside the US: IB symbol, IB exchange code, currency, exchange_calendars name, name."""

    symbol: str
    exchange: str
    currency: str
    calendar: str
    name: str
    price: float  # a typical price level in the listing currency (synthetic bars start near it)


LISTINGS: dict[tuple[str, str], Listing] = {
    (li.symbol, li.exchange): li
    for li in (
        Listing("BP.", "LSE", "GBP", "XLON", "BP PLC", 4.80),
        Listing("VOD", "LSE", "GBP", "XLON", "VODAFONE GROUP PLC", 0.70),
        Listing("HSBA", "LSE", "GBP", "XLON", "HSBC HOLDINGS PLC", 6.50),
        Listing("SAP", "IBIS", "EUR", "XETR", "SAP SE", 140.0),
        Listing("SIE", "IBIS", "EUR", "XETR", "SIEMENS AG", 160.0),
        Listing("NESN", "EBS", "CHF", "XSWX", "NESTLE SA-REG", 100.0),
        Listing("MC", "SBF", "EUR", "XPAR", "LVMH MOET HENNESSY LOUIS VUI", 700.0),
        Listing("ASML", "AEB", "EUR", "XAMS", "ASML HOLDING NV", 650.0),
        Listing("7203", "TSEJ", "JPY", "XTKS", "TOYOTA MOTOR CORP", 2500.0),
        Listing("RY", "TSE", "CAD", "XTSE", "ROYAL BANK OF CANADA", 130.0),
    )
}

#: other names users give the exchanges -> IB's code
EXCHANGE_ALIASES = {"XETRA": "IBIS", "XETR": "IBIS", "XLON": "LSE", "SIX": "EBS", "XSWX": "EBS",
                    "EURONEXT": "SBF", "XPAR": "SBF", "XAMS": "AEB", "TSX": "TSE", "XTSE": "TSE",
                    "XTKS": "TSEJ", "TSE.JPN": "TSEJ"}  # fmt: skip

#: IB exchange code -> exchange_calendars name (for listings not in LISTINGS)
EXCHANGE_CALENDARS = {"LSE": "XLON", "IBIS": "XETR", "EBS": "XSWX", "SBF": "XPAR", "AEB": "XAMS", "TSEJ": "XTKS",
                      "TSE": "XTSE", "SEHK": "XHKG", "ASX": "XASX"}  # fmt: skip
EXCHANGE_CURRENCIES = {"LSE": "GBP", "IBIS": "EUR", "EBS": "CHF", "SBF": "EUR", "AEB": "EUR", "TSEJ": "JPY",
                       "TSE": "CAD", "SEHK": "HKD", "ASX": "AUD"}  # fmt: skip


def ib_exchange(exchange: str) -> str:
    """IB's code for an exchange name (``'XETRA'`` -> ``'IBIS'``); unknown names come back upper-cased."""
    text = exchange.strip().upper()
    return EXCHANGE_ALIASES.get(text, text)


def find_listing(symbol: str, exchange: str, currency: str = "") -> Listing | None:
    """The listing of ``symbol`` on ``exchange`` (IB code or alias): from :data:`LISTINGS`, else a generic one
    built from the exchange's calendar and currency; None when the exchange is not a known non-US one or the
    currency given contradicts the exchange's."""
    code = ib_exchange(exchange)
    sym = symbol.strip().upper()
    known = LISTINGS.get((sym, code))
    if known is None and code in EXCHANGE_CALENDARS:
        known = Listing(sym, code, EXCHANGE_CURRENCIES[code], EXCHANGE_CALENDARS[code], sym, 50.0)
    if known is None:
        return None
    if currency and currency.strip().upper() != known.currency:
        return None
    return known
