"""Contract resolution through reqContractDetails, cached.

``resolve(spec)`` returns an :class:`Asset` carrying IB's conId, primaryExchange and minTick. No match is a
:class:`ContractNotFoundError` naming what was asked (and IB's own hint); several matches an
:class:`AmbiguousContractError` listing the candidates and what to add to pick one.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from runtime.brokers.ib.errors import AmbiguousContractError, ContractNotFoundError
from runtime.core.assets import Asset, SecType
from runtime.core.ib.contracts import ContractFacts, ContractSpec, asset_from_facts, contract_spec_for, parse_ib_string

Fetch = Callable[[ContractSpec, float], list[ContractFacts]]


def _describe_candidate(f: ContractFacts) -> str:
    extra = f" {f.expiry}" if f.expiry else ""
    extra += f" {f.strike:g}{f.right}" if f.strike else ""
    prim = f" ({f.primary_exchange})" if f.primary_exchange else ""
    return f"{f.local_symbol or f.symbol} {f.sec_type}{extra} {f.exchange}{prim}/{f.currency} conId={f.con_id}"


class ContractResolver:
    """Contract details by description, cached per description and per conId."""

    def __init__(self, fetch: Fetch, timeout_s: float = 20.0) -> None:
        self._fetch = fetch
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._by_spec: dict[ContractSpec, Asset] = {}
        self._by_con_id: dict[int, Asset] = {}
        self._facts: dict[int, ContractFacts] = {}
        self.requests = 0

    def details(self, spec: ContractSpec, timeout: float | None = None) -> list[ContractFacts]:
        """Every contract matching ``spec`` (uncached; raises ContractNotFoundError for none)."""
        self.requests += 1
        try:
            rows = self._fetch(spec, timeout or self.timeout_s)
        except ContractNotFoundError as exc:
            raise ContractNotFoundError(
                f"no security definition for {spec.describe()} (IB error 200: {exc.text or 'not found'}). Check the "
                "symbol, security type, currency and exchange.", 200, exc.text, exc.req_id) from None
        if not rows:
            raise ContractNotFoundError(f"no security definition for {spec.describe()}", 200)
        with self._lock:
            for f in rows:
                self._facts[f.con_id] = f
        return rows

    def resolve(self, spec: ContractSpec, timeout: float | None = None) -> Asset:
        """The one contract ``spec`` describes, as an Asset (cached)."""
        with self._lock:
            hit = self._by_spec.get(spec)
        if hit is not None:
            return hit
        rows = self.details(spec, timeout)
        if len(rows) > 1 and spec.primary_exchange:
            rows = [r for r in rows if r.primary_exchange == spec.primary_exchange] or rows
        if len(rows) > 1 and spec.sec_type == "STK":
            rows = [r for r in rows if r.currency == spec.currency] or rows
        if len({r.con_id for r in rows}) > 1:
            candidates = [_describe_candidate(r) for r in rows]
            hint = "primaryExchange" if spec.sec_type == "STK" else "expiry, strike, right, multiplier or localSymbol"
            raise AmbiguousContractError(
                f"{spec.describe()} is ambiguous: {len(candidates)} contracts match: " + "; ".join(candidates[:10])
                + ("; ..." if len(candidates) > 10 else "") + f". Add {hint} (or use the conId) to pick one.",
                candidates)
        asset = asset_from_facts(rows[0])
        with self._lock:
            self._by_spec[spec] = asset
            self._by_con_id.setdefault(asset.con_id, asset)
        return asset

    def resolve_asset(self, asset: Asset, timeout: float | None = None) -> Asset:
        """``asset`` with IB's conId, primaryExchange, minTick and name filled in (its sid is kept)."""
        if asset.con_id:
            with self._lock:
                known = self._by_con_id.get(asset.con_id)
            if known is not None and known.sid == asset.sid:
                return known
        spec = contract_spec_for(asset)
        if asset.sec_type is SecType.STOCK:
            spec = dataclasses.replace(spec, primary_exchange="", con_id=asset.con_id)
        found = self.resolve(spec, timeout)
        merged = dataclasses.replace(
            asset, con_id=found.con_id, primary_exchange=found.primary_exchange or asset.primary_exchange,
            tick_size=found.tick_size, asset_name=asset.asset_name or found.asset_name,
            local_symbol=found.local_symbol or asset.local_symbol, multiplier=found.multiplier)
        with self._lock:
            self._by_con_id[merged.con_id] = merged
        return merged

    def symbol(self, text: str, timeout: float | None = None) -> Asset:
        """An Asset for 'AAPL', 'STK,AAPL,USD', 'CASH,EUR,USD', 'EUR.USD', 'FUT,ES,USD,202412'..."""
        return self.resolve(parse_ib_string(text), timeout)

    def asset_for(self, facts: ContractFacts) -> Asset:
        """An Asset for a contract IB reported (position, execution): the resolved one if known, else built."""
        with self._lock:
            known = self._by_con_id.get(facts.con_id)
            if known is not None:
                return known
            full = self._facts.get(facts.con_id)
        asset = asset_from_facts(full or facts)
        with self._lock:
            return self._by_con_id.setdefault(asset.con_id, asset)

    def size_multiplier(self, con_id: int) -> int:
        """Market-data lot size of a resolved contract (1 if unknown)."""
        with self._lock:
            f = self._facts.get(con_id)
        return max(f.md_size_multiplier, 1) if f is not None else 1

    def remember(self, asset: Asset) -> None:
        """Prefer ``asset`` (e.g. the engine's own) for its conId."""
        if asset.con_id:
            with self._lock:
                self._by_con_id[asset.con_id] = asset
