"""Contracts: :class:`ContractSpec` (the fields of an ibapi ``Contract``) from an :class:`Asset`, from IBridgePy's
``'CASH,EUR,USD'`` strings and from ``superSymbol(...)`` arguments; assets from IB's contract details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.core.assets import Asset, SecType, stable_sid


@dataclass(frozen=True)
class ContractSpec:
    """The fields of an IB contract description (snake_case names of ibapi ``Contract`` attributes).

    ``expiry`` is IB's ``lastTradeDateOrContractMonth``; ``strike`` 0.0 and empty strings mean "not given".
    """

    sec_type: str
    symbol: str = ""
    currency: str = "USD"
    exchange: str = "SMART"
    primary_exchange: str = ""
    expiry: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    local_symbol: str = ""
    con_id: int = 0
    trading_class: str = ""
    include_expired: bool = False

    def describe(self) -> str:
        """A short human description, e.g. 'AAPL STK SMART/USD' or 'ES FUT 202412 CME/USD'."""
        name = self.local_symbol or self.symbol or f"conId {self.con_id}"
        parts = [name, self.sec_type]
        if self.expiry:
            parts.append(self.expiry)
        if self.strike:
            parts.append(f"{self.strike:g}{self.right}")
        venue = self.exchange + (f" ({self.primary_exchange})" if self.primary_exchange else "")
        return " ".join(parts) + f" {venue}/{self.currency}"


_DEFAULT_EXCHANGE = {"STK": "SMART", "CASH": "IDEALPRO", "FUT": "", "OPT": "SMART", "IND": "", "CFD": "SMART",
                     "CMDTY": "SMART", "FOP": "", "BOND": "SMART", "WAR": "SMART"}


def contract_spec_for(asset: Asset) -> ContractSpec:
    """The contract description of an asset; with a known conId, the conId plus the exchange suffice."""
    sec = asset.sec_type.value
    multiplier = "" if sec in ("STK", "CASH") or asset.multiplier == 1.0 else f"{asset.multiplier:g}"
    primary = asset.primary_exchange if sec == "STK" else ""
    exchange = asset.exchange or _DEFAULT_EXCHANGE.get(sec, "SMART")
    if sec == "CASH":
        return ContractSpec("CASH", asset.symbol, asset.currency, exchange or "IDEALPRO", con_id=asset.con_id)
    return ContractSpec(sec, asset.symbol, asset.currency, exchange, primary, asset.expiry, 0.0, "", multiplier,
                        asset.local_symbol if sec != "STK" else "", asset.con_id)


def parse_ib_string(text: str) -> ContractSpec:
    """IBridgePy's string forms: ``'CASH,EUR,USD'``, ``'STK,AAPL,USD'``, ``'FUT,ES,USD,202412'``,
    ``'OPT,AAPL,USD,20241220,200,C'``, ``'EUR.USD'`` and a plain stock symbol ``'AAPL'``.

    >>> parse_ib_string('CASH,EUR,USD').exchange
    'IDEALPRO'
    """
    parts = [p.strip() for p in text.strip().split(",")]
    if len(parts) == 1:
        token = parts[0].upper()
        m = re.fullmatch(r"([A-Z]{3})\.([A-Z]{3})", token)
        if m:
            return ContractSpec("CASH", m.group(1), m.group(2), "IDEALPRO")
        return ContractSpec("STK", token, "USD", "SMART")
    sec = parts[0].upper()
    if len(parts) < 3 or sec not in _DEFAULT_EXCHANGE:
        raise ValueError(
            f"cannot read {text!r}: use 'SECTYPE,SYMBOL,CURRENCY' such as 'STK,AAPL,USD' or 'CASH,EUR,USD' "
            "(futures: 'FUT,ES,USD,202412'; options: 'OPT,AAPL,USD,20241220,200,C')"
        )
    symbol, currency = parts[1].upper(), parts[2].upper()
    expiry = parts[3] if len(parts) > 3 else ""
    strike = float(parts[4]) if len(parts) > 4 and parts[4] else 0.0
    right = parts[5].upper()[:1] if len(parts) > 5 else ""
    return ContractSpec(sec, symbol, currency, _DEFAULT_EXCHANGE[sec], expiry=expiry, strike=strike, right=right)


def super_symbol(
    sec_type: str | None = None,
    symbol: str | None = None,
    currency: str = "USD",
    exchange: str = "",
    primary_exchange: str = "",
    expiry: str = "",
    strike: float = 0.0,
    right: str = "",
    multiplier: str = "",
    local_symbol: str = "",
    include_expired: bool = False,
) -> ContractSpec:
    """IBridgePy's ``superSymbol(secType, symbol, currency, exchange, primaryExchange, expiry, strike, right,
    multiplier, localSymbol, includeExpired)`` as a contract description (snake_case arguments here; resolve the
    result through the broker to get an Asset).

    A missing exchange gets IB's usual one (SMART for stocks and options, IDEALPRO for FX); ``right`` accepts
    'CALL'/'PUT' as well as 'C'/'P'.
    """
    if not sec_type or not (symbol or local_symbol):
        raise ValueError("superSymbol needs secType and symbol (or localSymbol), e.g. superSymbol(secType='FUT', "
                         "symbol='ES', exchange='CME', expiry='202412')")
    sec = sec_type.strip().upper()
    right_text = (right or "").strip().upper()
    right_text = {"CALL": "C", "PUT": "P"}.get(right_text, right_text)
    return ContractSpec(
        sec, (symbol or "").strip().upper(), (currency or "USD").strip().upper(),
        (exchange or _DEFAULT_EXCHANGE.get(sec, "SMART")).strip().upper(), (primary_exchange or "").strip().upper(),
        str(expiry or "").strip(), float(strike or 0.0), right_text, str(multiplier or "").strip(),
        (local_symbol or "").strip(), include_expired=bool(include_expired),
    )


@dataclass(frozen=True)
class ContractFacts:
    """What a contract-details answer tells about one contract (a plain copy of the ibapi fields we keep)."""

    con_id: int
    symbol: str
    sec_type: str
    currency: str
    exchange: str
    primary_exchange: str
    local_symbol: str
    trading_class: str
    min_tick: float
    multiplier: str
    expiry: str
    strike: float
    right: str
    long_name: str
    time_zone_id: str = ""
    md_size_multiplier: int = 1  # market data sizes come in lots of this many before server version 163


def asset_from_facts(facts: ContractFacts) -> Asset:
    """A runtime :class:`Asset` for a resolved IB contract: conId, primaryExchange and minTick kept.

    The sid is the runtime's stable id for (sec type, symbol, currency), so a stock has the same sid in a backtest
    and live (futures and options add their local symbol, so two expiries are two assets).
    """
    try:
        sec = SecType(facts.sec_type)
    except ValueError:
        sec = SecType.STOCK if facts.sec_type == "" else SecType.INDEX
    key = facts.symbol if sec in (SecType.STOCK, SecType.CASH) else (facts.local_symbol or facts.symbol)
    multiplier = float(facts.multiplier) if facts.multiplier not in ("", None) else 1.0
    primary = facts.primary_exchange or (facts.exchange if sec is not SecType.STOCK else "")
    exchange = "SMART" if sec is SecType.STOCK else facts.exchange
    return Asset(
        sid=stable_sid(key, sec.value, facts.currency),
        symbol=facts.symbol,
        exchange=exchange,
        primary_exchange=primary,
        sec_type=sec,
        currency=facts.currency,
        asset_name=facts.long_name,
        tick_size=facts.min_tick if facts.min_tick > 0 else 0.01,
        multiplier=multiplier,
        con_id=facts.con_id,
        local_symbol=facts.local_symbol,
        expiry=facts.expiry,
    )
