"""Quantopian's tradable universes, rebuilt from their published liquidity rules over the run's own assets.

Quantopian computed these over its whole US equity database; here they are computed over the assets of the run's
daily bar store (the bundled stocks, a ``--data`` folder, or a synthetic universe), with these exact rules:

- ``Q500US()`` / ``Q1500US()``: on the first session of each month, among assets with at least 200 sessions of
  history before the session and a last close of at least $5, the 500 / 1500 with the highest 200-day average
  dollar volume (``AverageDollarVolume(window_length=200)``; ties to the lower sid); held for the month.
- ``QTradableStocksUS()``: each session, assets with at least 200 sessions of history, a last close of at least $5,
  a 200-day median daily dollar volume of at least $2.5M and, when the point-in-time table has a ``market_cap``
  column, a market cap of at least $500M (without that column the market-cap rule is not applied).

Quantopian's further rules (primary share class only, no ADRs/OTC/limited partnerships, a 30% sector cap for
Q500US/Q1500US) need reference data the run does not have and are not applied.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from runtime.pipeline.builtin_factors import AverageDollarVolume, _Builtin
from runtime.pipeline.data import EquityPricing
from runtime.pipeline.filters import Filter

if TYPE_CHECKING:
    from runtime.pipeline.engine import Workspace

log = logging.getLogger("ibalgo.pipeline")

HISTORY_SESSIONS = 200
MIN_PRICE = 5.0
QTU_MIN_MEDIAN_DOLLAR_VOLUME = 2.5e6
QTU_MIN_MARKET_CAP = 500e6

RULES = {
    "Q500US": "on the first session of each month, the 500 assets with the highest 200-day average dollar volume "
              "among those with >= 200 sessions of history and a last close >= $5, held for the month",
    "Q1500US": "on the first session of each month, the 1500 assets with the highest 200-day average dollar volume "
               "among those with >= 200 sessions of history and a last close >= $5, held for the month",
    "QTradableStocksUS": "assets with >= 200 sessions of history, a last close >= $5, a 200-day median daily "
                         "dollar volume >= $2.5M and (when the fundamentals table has market_cap) a market cap "
                         ">= $500M",
}


class ListedFor(Filter):
    """True where the asset's first bar is at least ``sessions`` sessions before the session computed."""

    window_length = 0
    params = ("sessions",)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        rows = np.arange(lo, hi, dtype=np.int64)[:, None]
        age = rows - ws.engine.first_row[None, :]
        return (age >= self.params["sessions"]) & ws.exists(lo, hi)


class MedianDollarVolume(_Builtin):
    """Median of close x volume over the window, ignoring NaN days."""

    inputs = (EquityPricing.close, EquityPricing.volume)

    def _compute_windows(self, windows: list[np.ndarray], **params: Any) -> np.ndarray:
        from runtime.pipeline.factors import quiet

        close, volume = windows
        with quiet():
            return np.nanmedian(close * volume, axis=1)


class UniverseFilter(Filter):
    """A named universe: computes like its rule and says once per run which rule it applied."""

    window_length = 0

    def __init__(self, name: str, rule: Filter) -> None:
        self._name = name
        super().__init__(inputs=[rule], window_length=0, mask=rule.mask)

    def _extra_identity(self) -> tuple:
        return (self._name,)

    def compute_term(self, ws: Workspace, lo: int, hi: int) -> np.ndarray:
        ws.engine.note_universe(self._name, RULES[self._name])
        return ws.values(self.inputs[0], lo, hi)

    def __repr__(self) -> str:
        return f"{self._name}()"


def _base() -> Filter:
    return ListedFor(sessions=HISTORY_SESSIONS) & (EquityPricing.close.latest >= MIN_PRICE)


def _top_liquid(name: str, n: int) -> Filter:
    adv = AverageDollarVolume(window_length=HISTORY_SESSIONS)
    return UniverseFilter(name, adv.top(n, mask=_base()).downsample("month_start"))


def Q500US(minimum_market_cap: Any = None) -> Filter:
    """Quantopian's Q500US rebuilt over the run's assets (see the module docstring for the exact rule)."""
    return _top_liquid("Q500US", 500)


def Q1500US(minimum_market_cap: Any = None) -> Filter:
    """Quantopian's Q1500US rebuilt over the run's assets (see the module docstring for the exact rule)."""
    return _top_liquid("Q1500US", 1500)


def make_qtu(market_cap: Any = None) -> Filter:
    """QTradableStocksUS; ``market_cap`` is the table's market-cap column when there is one."""
    rule = _base() & (MedianDollarVolume(window_length=HISTORY_SESSIONS) >= QTU_MIN_MEDIAN_DOLLAR_VOLUME)
    if market_cap is not None:
        rule = rule & (market_cap.latest >= QTU_MIN_MARKET_CAP)
    return UniverseFilter("QTradableStocksUS", rule)


def QTradableStocksUS() -> Filter:
    """Quantopian's QTradableStocksUS rebuilt over the run's assets, without a market-cap rule (the algorithm's
    namespace offers a version that applies it when the fundamentals table has ``market_cap``)."""
    return make_qtu(None)
