"""AssetFinder: symbol and sid lookups, typed errors with suggestions."""

from __future__ import annotations

import pytest

from runtime.core.assets import Asset
from runtime.data import AssetFinder, SidNotFoundError, SymbolNotFoundError, load_sample, synthetic_bars
from runtime.data.errors import AmbiguousSymbolError, DataError


@pytest.fixture(scope="module")
def finder() -> AssetFinder:
    fx = synthetic_bars(["EUR.USD", "ES", "BRK.B"], "2024-01-02", "2024-01-10")
    return AssetFinder(load_sample(), fx)


def test_lookup_by_symbol_is_case_insensitive(finder: AssetFinder) -> None:
    assert finder.lookup_symbol("AAPL").sid == 24
    assert finder.lookup_symbol("aapl").sid == 24
    assert finder.lookup_symbol(" msft ").sid == 5061
    assert finder.lookup_symbols(["ibm", "GOOG"]) == [finder.retrieve_asset(3766), finder.retrieve_asset(26578)]


def test_separators_and_other_spellings(finder: AssetFinder) -> None:
    eur = finder.lookup_symbol("EUR.USD")
    assert eur.symbol == "EUR" and eur.currency == "USD"
    assert finder.lookup_symbol("eur/usd") == eur and finder.lookup_symbol("EUR_USD") == eur
    assert finder.lookup_symbol("EUR") == eur  # unambiguous base currency
    assert finder.lookup_symbol("brk_b").symbol == "BRK.B"
    assert finder.lookup_symbol("STK,AAPL,USD").sid == 24
    assert finder.lookup_symbol("ES").multiplier == 50.0


@pytest.mark.parametrize(("typo", "suggestion"), [("APPL", "AAPL"), ("MSTF", "MSFT"), ("GOOGL", "GOOG")])
def test_unknown_symbol_suggests_close_matches(finder: AssetFinder, typo: str, suggestion: str) -> None:
    with pytest.raises(SymbolNotFoundError) as info:
        finder.lookup_symbol(typo)
    assert suggestion in info.value.suggestions
    assert f"did you mean {suggestion}" in str(info.value)
    assert isinstance(info.value, DataError) and isinstance(info.value, LookupError)


def test_unknown_symbol_without_matches(finder: AssetFinder) -> None:
    with pytest.raises(SymbolNotFoundError, match="not found") as info:
        finder.lookup_symbol("ZZZZZZ")
    assert info.value.suggestions == () and "did you mean" not in str(info.value)


def test_sids_and_listing(finder: AssetFinder) -> None:
    assert finder.retrieve_asset(42950).symbol == "FB"
    with pytest.raises(SidNotFoundError):
        finder.retrieve_asset(1)
    assert len(finder) == 8 and finder.sids == tuple(sorted(finder.sids))
    assert [a.sid for a in finder.assets] == sorted(a.sid for a in finder.assets)
    assert "EUR.USD" in finder.symbols and "AAPL" in finder and 24 in finder


def test_same_symbol_for_two_sids_is_ambiguous() -> None:
    with pytest.raises(AmbiguousSymbolError):
        AssetFinder([Asset(1, "XYZ"), Asset(2, "xyz")])


def test_same_sid_in_two_stores_is_one_asset() -> None:
    daily = load_sample()
    minute = synthetic_bars(["AAPL"], "2024-01-02", "2024-01-03")
    finder = AssetFinder(daily, minute)
    assert finder.lookup_symbol("AAPL").sid == 24 and len(finder) == 5
