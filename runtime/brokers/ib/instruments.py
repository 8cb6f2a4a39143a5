"""IB's option, scanner and what-if messages, translated to and from the runtime's values.

What the IB adapter sends and receives for options, scanners and margin checks, kept apart from the connection
code: request objects (``Contract`` of an option, ``ScannerSubscription``, a what-if ``Order``) built from the
runtime's values, and the answers (``securityDefinitionOptionParameter``, ``tickOptionComputation``, ``scannerData``,
the ``OrderState`` of a what-if ``openOrder``) read into them (:class:`OptionParams`, the chain DataFrame of
:meth:`runtime.core.options.OptionChain.frame`, :class:`~runtime.core.options.OptionValue`,
:class:`~runtime.core.margin.WhatIf`). IB's "not computed" markers (``-1``, ``-2`` and ``Double.MAX_VALUE``, sent
as numbers or strings) become NaN.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from ibapi.contract import Contract
from ibapi.order import Order
from ibapi.scanner import ScannerSubscription

from runtime.core import margin
from runtime.core.assets import Asset, SecType
from runtime.core.options import OptionValue, Right

#: IB's "unset" double (Double.MAX_VALUE)
_UNSET = 1.7976931348623157e308


def ib_number(value: Any) -> float:
    """An IB double (number or decimal string) as a float; IB's unset markers (Double.MAX_VALUE, empty) as NaN."""
    if value is None or value == "":
        return math.nan
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return math.nan if (not math.isfinite(x) or abs(x) >= _UNSET * 0.999) else x


def _greek(value: Any) -> float:
    """tickOptionComputation's fields: -1 and -2 mean "not computed"."""
    x = ib_number(value)
    return math.nan if x in (-1.0, -2.0) else x


@dataclass(frozen=True)
class OptionParams:
    """One ``securityDefinitionOptionParameter`` row: the expiries and strikes of a trading class on an exchange."""

    exchange: str
    underlying_con_id: int
    trading_class: str
    multiplier: str
    expirations: tuple[str, ...]
    strikes: tuple[float, ...]


def option_params(exchange: str, underlyingConId: int, tradingClass: str, multiplier: str,
                  expirations: Iterable[str], strikes: Iterable[float]) -> OptionParams:  # fmt: skip
    """The row of a ``securityDefinitionOptionParameter`` callback (expiries and strikes sorted)."""
    expiries = tuple(sorted(str(e) for e in expirations))
    return OptionParams(str(exchange), int(underlyingConId), str(tradingClass), str(multiplier), expiries,
                        tuple(sorted(float(k) for k in strikes)))


def chain_frame(rows: Iterable[OptionParams], underlying: str, currency: str = "USD",
                exchange: str = "SMART") -> pd.DataFrame:  # fmt: skip
    """The chain of the rows for ``exchange`` (or every exchange's, deduplicated) with the columns of
    :meth:`runtime.core.options.OptionChain.frame` (no conIds: IB gives them in contract details)."""
    chosen = [r for r in rows if r.exchange == exchange] or list(rows)
    seen: set[tuple[str, float, str]] = set()
    out = []
    for r in chosen:
        for e in r.expirations:
            for k in r.strikes:
                for right in (Right.CALL, Right.PUT):
                    key = (e, k, right.value)
                    if key in seen:
                        continue
                    seen.add(key)
                    occ = f"{underlying.upper():<6}{e[2:8]}{right.value}{round(k * 1000):08d}"
                    out.append({"secType": "OPT", "symbol": underlying.upper(), "lastTradeDateOrContractMonth": e,
                                "expiry": e, "strike": k, "right": right.value, "multiplier": r.multiplier,
                                "currency": currency, "exchange": exchange, "localSymbol": occ,
                                "tradingClass": r.trading_class})  # fmt: skip
    frame = pd.DataFrame(out, columns=["secType", "symbol", "lastTradeDateOrContractMonth", "expiry", "strike",
                                       "right", "multiplier", "currency", "exchange", "localSymbol",
                                       "tradingClass"])  # fmt: skip
    return frame.sort_values(["expiry", "strike", "right"], kind="stable").reset_index(drop=True)


def option_value(impliedVol: Any, delta: Any, optPrice: Any, gamma: Any, vega: Any, theta: Any,
                 undPrice: Any) -> OptionValue:  # fmt: skip
    """A ``tickOptionComputation`` as an :class:`OptionValue` (IB's units: vega per vol point, theta per day)."""
    return OptionValue(_greek(optPrice), _greek(delta), _greek(gamma), _greek(vega), _greek(theta),
                       _greek(impliedVol), _greek(undPrice))  # fmt: skip


def option_contract(asset: Asset) -> Contract:
    """IB's Contract of an option asset (strike and right from the asset's fields or its OCC local symbol)."""
    if asset.sec_type is not SecType.OPTION:
        raise ValueError(f"{asset!r} is not an option")
    extra = asset.extra or {}
    c = Contract()
    c.secType = "OPT"
    c.symbol = extra.get("underlying", asset.symbol)
    c.currency = asset.currency
    c.exchange = asset.exchange or "SMART"
    c.lastTradeDateOrContractMonth = asset.expiry
    c.multiplier = f"{asset.multiplier:g}"
    occ = asset.local_symbol
    if "strike" in extra and "right" in extra:
        c.strike, c.right = float(extra["strike"]), Right.parse(extra["right"]).value
    elif len(occ) == 21:
        c.strike, c.right = int(occ[13:]) / 1000.0, occ[12]
    c.localSymbol = occ
    if asset.con_id:
        c.conId = asset.con_id
    return c


def scanner_subscription(scanCode: str, numberOfRows: int = 50, abovePrice: float | None = None,
                         belowPrice: float | None = None, aboveVolume: float | None = None, instrument: str = "STK",
                         locationCode: str = "STK.US.MAJOR") -> ScannerSubscription:  # fmt: skip
    """IB's ScannerSubscription for ``get_scanner_results``' fields (unset filters stay IB's unset values)."""
    s = ScannerSubscription()
    s.scanCode = str(scanCode).upper()
    s.numberOfRows = int(numberOfRows)
    s.instrument = instrument
    s.locationCode = locationCode
    if abovePrice is not None:
        s.abovePrice = float(abovePrice)
    if belowPrice is not None:
        s.belowPrice = float(belowPrice)
    if aboveVolume is not None:
        s.aboveVolume = int(aboveVolume)
    return s


def what_if_copy(order: Order) -> Order:
    """A copy of ``order`` with ``whatIf=True`` (IB answers with an openOrder whose OrderState has the margins)."""
    probe = copy.copy(order)
    probe.whatIf = True
    return probe


def what_if_from_state(order_state: Any) -> margin.WhatIf:
    """The :class:`~runtime.core.margin.WhatIf` of a what-if ``openOrder``'s OrderState (IB sends the margins as
    decimal strings; unset values become NaN, a warningText is kept as the refusal)."""
    def field(name: str) -> float:
        return ib_number(getattr(order_state, name, None))

    commission = field("commission")
    return margin.WhatIf(
        field("initMarginBefore"), field("maintMarginBefore"), field("equityWithLoanBefore"),
        field("initMarginAfter"), field("maintMarginAfter"), field("equityWithLoanAfter"),
        0.0 if math.isnan(commission) else commission, str(getattr(order_state, "warningText", "") or ""),
        str(getattr(order_state, "commissionCurrency", "") or "USD"))  # fmt: skip
