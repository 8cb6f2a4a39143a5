"""AssetFinder: look assets up by symbol or sid over the loaded bar stores.

Symbols match case-insensitively, and '.', '_', '/', '-' and ' ' are interchangeable (``brk_b`` finds BRK.B,
``eur/usd`` finds EUR.USD). An FX pair is found by its pair name (``EUR.USD``) and, when unambiguous, by its base
currency; any asset also by its IBridgePy string (``STK,AAPL,USD``). An unknown symbol raises
:class:`SymbolNotFoundError` with close matches: ``symbol('APPL')`` -> "did you mean AAPL?".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

import pandas as pd

from runtime.core.assets import Asset, SecType
from runtime.data.errors import AmbiguousSymbolError, SidNotFoundError, SymbolNotFoundError
from runtime.data.store import BarArrays

_SEPARATORS = re.compile(r"[._/\- ]+")


def canonical_symbol(symbol: str) -> str:
    """The lookup key of a symbol: upper case, separators unified to '.'."""
    return _SEPARATORS.sub(".", symbol.strip().upper())


class AssetFinder:
    """Assets of one or more BarArrays (or plain asset lists), by symbol and by sid.

    The same sid may appear in several stores (the daily and the minute store of a run); one symbol naming two
    different sids is an :class:`AmbiguousSymbolError`.
    """

    def __init__(self, *sources: BarArrays | Iterable[Asset]) -> None:
        self._by_sid: dict[int, Asset] = {}
        for source in sources:
            for asset in source.assets if isinstance(source, BarArrays) else source:
                self._by_sid.setdefault(asset.sid, asset)
        self._by_key: dict[str, Asset] = {}
        aliases: dict[str, set[int]] = {}
        for asset in self._by_sid.values():
            key = canonical_symbol(asset.local_symbol if asset.sec_type is SecType.CASH else asset.symbol)
            other = self._by_key.get(key)
            if other is not None and other.sid != asset.sid:
                raise AmbiguousSymbolError(f"symbol {key} names two assets: {other!r} and {asset!r}")
            self._by_key[key] = asset
            for alias in (canonical_symbol(asset.symbol), canonical_symbol(asset.ib_string())):
                aliases.setdefault(alias, set()).add(asset.sid)
        for alias, sids in aliases.items():
            if alias not in self._by_key and len(sids) == 1:
                self._by_key[alias] = self._by_sid[next(iter(sids))]

    @property
    def assets(self) -> tuple[Asset, ...]:
        """All assets, ordered by sid."""
        return tuple(sorted(self._by_sid.values()))

    @property
    def sids(self) -> tuple[int, ...]:
        return tuple(sorted(self._by_sid))

    @property
    def symbols(self) -> tuple[str, ...]:
        """The primary symbols (FX pairs as 'EUR.USD'), sorted."""
        return tuple(sorted(a.local_symbol if a.sec_type is SecType.CASH else a.symbol for a in self._by_sid.values()))

    def __len__(self) -> int:
        return len(self._by_sid)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Asset):
            return item.sid in self._by_sid
        if isinstance(item, str):
            return canonical_symbol(item) in self._by_key
        return isinstance(item, int) and item in self._by_sid

    def lookup_symbol(self, symbol: str, as_of_date: pd.Timestamp | None = None) -> Asset:
        """The asset trading as ``symbol`` (case-insensitive); SymbolNotFoundError with suggestions otherwise.

        ``as_of_date`` is accepted for zipline compatibility; a symbol names one asset in this data whatever the
        date (check ``asset.start_date``/``end_date`` or ``data.can_trade`` for whether it is listed).
        """
        if not isinstance(symbol, str) or not symbol.strip():
            raise SymbolNotFoundError(str(symbol), ())
        key = canonical_symbol(symbol)
        try:
            return self._by_key[key]
        except KeyError:
            raise SymbolNotFoundError(symbol, self.suggestions(symbol)) from None

    def lookup_symbols(self, symbols: Iterable[str], as_of_date: pd.Timestamp | None = None) -> list[Asset]:
        """:meth:`lookup_symbol` for each symbol, in order."""
        return [self.lookup_symbol(s, as_of_date) for s in symbols]

    def retrieve_asset(self, sid: int) -> Asset:
        """The asset with security id ``sid``; SidNotFoundError otherwise."""
        try:
            return self._by_sid[int(sid)]
        except (KeyError, TypeError, ValueError):
            raise SidNotFoundError(sid) from None

    def retrieve_all(self, sids: Iterable[int]) -> list[Asset]:
        return [self.retrieve_asset(s) for s in sids]

    def suggestions(self, symbol: str, n: int = 3) -> list[str]:
        """Up to ``n`` known symbols that look like ``symbol`` (closest first)."""
        names = {canonical_symbol(s): s for s in self.symbols}
        return [names[m] for m in difflib.get_close_matches(canonical_symbol(symbol), list(names), n=n, cutoff=0.6)]
