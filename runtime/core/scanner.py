"""Market scanners over a universe of assets at one instant: IB's common scan codes, as a pure ranking.

The algorithms' ``get_scanner_results`` ranks the data's stocks with :func:`scan`; the rules are:

- ``TOP_PERC_GAIN`` / ``TOP_PERC_LOSE``: change of the last price against the previous session's close, highest
  (lowest) first; assets without a previous close are left out;
- ``MOST_ACTIVE``: the session's volume so far, highest first;
- ``HOT_BY_VOLUME``: the session's volume against the average daily volume of the previous sessions, highest first;
- ``TOP_PRICE_RANGE``: (high - low) of the session against the previous close, highest first;
- ``HIGH_VS_52W_HL`` / ``LOW_VS_52W_HL``: the last price against the highest (lowest) close of the previous 252
  sessions, nearest the high (low) first.

Filters: ``abovePrice``, ``belowPrice`` (on the last price), ``aboveVolume`` (on the session's volume); ties keep
the universe's order. Pure: the caller passes the figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SCAN_CODES = ("TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE", "HOT_BY_VOLUME", "TOP_PRICE_RANGE", "HIGH_VS_52W_HL",
              "LOW_VS_52W_HL")  # fmt: skip


@dataclass(frozen=True)
class ScanInput:
    """One asset's figures at the scan instant (NaN when unknown)."""

    key: object
    last: float
    prev_close: float
    volume: float
    avg_volume: float = math.nan
    high: float = math.nan
    low: float = math.nan
    high_52w: float = math.nan
    low_52w: float = math.nan


@dataclass(frozen=True)
class ScanRow:
    """A ranked asset: rank 0 is the best match; ``value`` is the figure it was ranked by."""

    rank: int
    key: object
    value: float


def _measure(code: str, x: ScanInput) -> float:
    if code in ("TOP_PERC_GAIN", "TOP_PERC_LOSE"):
        return (x.last / x.prev_close - 1.0) * 100.0 if x.prev_close > 0 else math.nan
    if code == "MOST_ACTIVE":
        return x.volume
    if code == "HOT_BY_VOLUME":
        return x.volume / x.avg_volume if x.avg_volume > 0 else math.nan
    if code == "TOP_PRICE_RANGE":
        return (x.high - x.low) / x.prev_close * 100.0 if x.prev_close > 0 else math.nan
    if code == "HIGH_VS_52W_HL":
        return x.last / x.high_52w if x.high_52w > 0 else math.nan
    return x.last / x.low_52w if x.low_52w > 0 else math.nan  # LOW_VS_52W_HL


def scan(code: str, universe: Sequence[ScanInput], *, rows: int = 50, above_price: float | None = None,
         below_price: float | None = None, above_volume: float | None = None) -> list[ScanRow]:  # fmt: skip
    """The ``rows`` best matches of scan ``code`` among ``universe`` (see the module docstring)."""
    code = code.strip().upper()
    if code not in SCAN_CODES:
        raise ValueError(f"scan code {code!r} is not served; use one of {', '.join(SCAN_CODES)}")
    picked: list[tuple[float, int, ScanInput]] = []
    for i, x in enumerate(universe):
        if not (x.last > 0 and math.isfinite(x.last)):
            continue
        if above_price is not None and not x.last > above_price:
            continue
        if below_price is not None and not x.last < below_price:
            continue
        if above_volume is not None and not x.volume > above_volume:
            continue
        m = _measure(code, x)
        if math.isfinite(m):
            picked.append((m, i, x))
    descending = code != "LOW_VS_52W_HL" and code != "TOP_PERC_LOSE"
    picked.sort(key=lambda t: (-t[0] if descending else t[0], t[1]))
    return [ScanRow(r, x.key, m) for r, (m, _, x) in enumerate(picked[: max(int(rows), 0)])]
