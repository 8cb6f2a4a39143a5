"""Turn a symbol spec ('AAPL', 'EUR.USD', 'FUT,ES,USD', 'CASH,EUR,USD') into an :class:`Asset`.

Used for file names in a data folder and for the symbols of the synthetic generator. The tables hold the contract
facts and the typical price level and volatility of a few liquid FX pairs and futures, so synthetic prices look
like the real thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from runtime.core.assets import Asset, SecType, stable_sid


@dataclass(frozen=True)
class ContractProfile:
    """Contract facts and synthetic-price defaults of one instrument kind."""

    exchange: str
    tick_size: float
    multiplier: float
    name: str
    price: float  # a typical price level
    annual_vol: float
    daily_volume: float


FUTURES: dict[str, ContractProfile] = {
    "ES": ContractProfile("CME", 0.25, 50.0, "E-mini S&P 500", 4500.0, 0.18, 1_500_000),
    "NQ": ContractProfile("CME", 0.25, 20.0, "E-mini Nasdaq-100", 15000.0, 0.24, 600_000),
    "YM": ContractProfile("CBOT", 1.0, 5.0, "E-mini Dow", 35000.0, 0.16, 150_000),
    "RTY": ContractProfile("CME", 0.1, 50.0, "E-mini Russell 2000", 2000.0, 0.24, 150_000),
    "CL": ContractProfile("NYMEX", 0.01, 1000.0, "Crude Oil", 75.0, 0.35, 400_000),
    "GC": ContractProfile("COMEX", 0.1, 100.0, "Gold", 1900.0, 0.15, 200_000),
}

FX: dict[str, ContractProfile] = {
    "EUR.USD": ContractProfile("IDEALPRO", 0.00005, 1.0, "EUR.USD", 1.10, 0.07, 0),
    "GBP.USD": ContractProfile("IDEALPRO", 0.00005, 1.0, "GBP.USD", 1.27, 0.08, 0),
    "USD.JPY": ContractProfile("IDEALPRO", 0.005, 1.0, "USD.JPY", 140.0, 0.09, 0),
    "AUD.USD": ContractProfile("IDEALPRO", 0.00005, 1.0, "AUD.USD", 0.67, 0.10, 0),
    "USD.CHF": ContractProfile("IDEALPRO", 0.00005, 1.0, "USD.CHF", 0.90, 0.08, 0),
    "USD.CAD": ContractProfile("IDEALPRO", 0.00005, 1.0, "USD.CAD", 1.35, 0.06, 0),
}

STOCK = ContractProfile("SMART", 0.01, 1.0, "", 50.0, 0.30, 5_000_000)
_FX_PAIR = re.compile(r"^([A-Z]{3})\.([A-Z]{3})$")


#: (primary exchange, company name) of US stocks the runtime knows by name (the bundled sample's tickers).
KNOWN_LISTINGS: dict[str, tuple[str, str]] = {
    "AAPL": ("NASDAQ", "APPLE INC"),
    "IBM": ("NYSE", "INTERNATIONAL BUSINESS MACHINES CORP"),
    "MSFT": ("NASDAQ", "MICROSOFT CORP"),
    "GOOG": ("NASDAQ", "GOOGLE INC"),
    "FB": ("NASDAQ", "FACEBOOK INC"),
}


def _fx_profile(pair: str) -> ContractProfile:
    return FX.get(pair) or ContractProfile("IDEALPRO", 0.00005, 1.0, pair, 1.0, 0.08, 0)


def _future_profile(root: str) -> ContractProfile:
    return FUTURES.get(root) or ContractProfile("CME", 0.01, 1.0, root, 100.0, 0.20, 100_000)


def profile_of(asset: Asset) -> ContractProfile:
    """The profile of an asset (generic defaults for anything not in the tables)."""
    if asset.sec_type is SecType.FUTURE:
        return _future_profile(asset.symbol)
    if asset.sec_type is SecType.CASH:
        return _fx_profile(f"{asset.symbol}.{asset.currency}")
    return STOCK


def asset_from_spec(
    spec: str,
    *,
    futures_roots: bool = False,
    start_date: pd.Timestamp | None = None,
    end_date: pd.Timestamp | None = None,
) -> Asset:
    """An Asset for a spec.

    - ``'EUR.USD'`` (two 3-letter codes) or ``'CASH,EUR,USD'``: an IDEALPRO FX pair (symbol EUR, currency USD);
    - ``'FUT,ES,USD'``, or a bare futures root such as ``'ES'`` when ``futures_roots`` is true: a continuous future
      with the root's multiplier and tick size;
    - anything else (``'AAPL'``, ``'BRK.B'``, ``'STK,AAPL,USD'``): a US stock with its stable sid.
    """
    text = spec.strip().upper()
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 3 and parts[0] in {t.value for t in SecType}:
        kind, symbol, currency = SecType(parts[0]), parts[1], parts[2]
    elif _FX_PAIR.match(text):
        kind, symbol, currency = SecType.CASH, text[:3], text[4:]
    elif futures_roots and text in FUTURES:
        kind, symbol, currency = SecType.FUTURE, text, "USD"
    else:
        kind, symbol, currency = SecType.STOCK, text, "USD"
    sid = stable_sid(symbol, kind.value, currency)
    if kind is SecType.CASH:
        pair = f"{symbol}.{currency}"
        prof = _fx_profile(pair)
        return Asset(sid, symbol, exchange="IDEALPRO", primary_exchange="", sec_type=kind, currency=currency,
                     asset_name=pair, start_date=start_date, end_date=end_date, tick_size=prof.tick_size,
                     local_symbol=pair)  # fmt: skip
    if kind is SecType.FUTURE:
        prof = _future_profile(symbol)
        return Asset(sid, symbol, exchange=prof.exchange, primary_exchange=prof.exchange, sec_type=kind,
                     currency=currency, asset_name=prof.name, start_date=start_date, end_date=end_date,
                     tick_size=prof.tick_size, multiplier=prof.multiplier, local_symbol=symbol)  # fmt: skip
    primary, name = KNOWN_LISTINGS.get(symbol, ("NASDAQ", ""))
    return Asset(sid, symbol, primary_exchange=primary, sec_type=kind, currency=currency, asset_name=name,
                 start_date=start_date, end_date=end_date)  # fmt: skip
