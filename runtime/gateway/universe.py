"""What the gateway trades: the contract book and the price series of every instrument, built from bar stores.

Replay uses the bundled sample (or any daily store) for stocks; the FX pairs, the futures and the non-US stocks
(BP. on LSE, SAP on Xetra) always get seeded synthetic prices: no real data for them is bundled.
Real time (a wall clock) needs prices up to today, so stocks are synthetic there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from runtime.core.assets import Asset, SecType, stable_sid
from runtime.data.calendars import get_calendar
from runtime.data.sample import SAMPLE_SYMBOLS, load_sample
from runtime.data.store import DAILY, BarArrays
from runtime.data.synthetic import synthetic_bars
from runtime.gateway.contracts import (
    ContractBook,
    future_instrument,
    instrument_for_asset,
    quarterly_expiries,
)
from runtime.gateway.listings import INTERNATIONAL_STOCKS, LISTINGS
from runtime.gateway.market import Market, MinuteCache, Series
from runtime.gateway.options import OptionMarket


@dataclass(frozen=True, eq=False)
class Universe:
    """The contract book and the market (prices) of the gateway."""

    book: ContractBook
    market: Market
    #: the option chains of the book's stocks, quoted by the model (runtime/gateway/options.py)
    options: OptionMarket = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", OptionMarket(self.book, self.market))
        self.market.derive(self.options.quote)


def synthetic_store(symbols: Sequence[str], calendar_name: str, seed: int) -> BarArrays:
    """Seeded random-walk daily bars over a whole calendar (about 1995 to a year ahead)."""
    cal = get_calendar(calendar_name)
    return synthetic_bars(list(symbols), cal.session_label(0), cal.session_label(len(cal) - 1), DAILY, seed, cal)


def international_store(symbol: str, seed: int) -> BarArrays:
    """Seeded random-walk daily bars of a non-US stock (``INTERNATIONAL_STOCKS``) on its exchange's calendar."""
    primary, name = INTERNATIONAL_STOCKS[symbol]
    listing = LISTINGS[primary]
    cal = get_calendar(listing.calendar)
    asset = Asset(stable_sid(symbol, "STK", listing.currency), symbol, exchange="SMART", primary_exchange=primary,
                  sec_type=SecType.STOCK, currency=listing.currency, asset_name=name, tick_size=listing.tick)
    return synthetic_bars([asset], cal.session_label(0), cal.session_label(len(cal) - 1), DAILY, seed, cal)


def build_universe(
    now_ns: int,
    stores: Sequence[BarArrays] = (),
    seed: int = 0,
    fx_pairs: Sequence[str] = ("EUR.USD",),
    futures: Sequence[str] = ("ES",),
    futures_expiries: int = 2,
    minute_stores: Sequence[BarArrays] = (),
    international: Sequence[str] = tuple(INTERNATIONAL_STOCKS),
) -> Universe:
    """Instruments and series for the assets of ``stores`` plus synthetic FX pairs and futures.

    A continuous future in a store (an asset without expiry) becomes the next ``futures_expiries`` quarterly
    contracts, all priced from its series. Daily stores only: minute bars are expanded per session on demand.
    """
    book = ContractBook()
    market = Market()
    all_stores = list(stores)
    kinds = {a.sec_type for s in all_stores for a in s.assets}
    if fx_pairs and SecType.CASH not in kinds:
        all_stores.append(synthetic_store(fx_pairs, "24/5", seed))
    if futures and SecType.FUTURE not in kinds:
        all_stores.append(synthetic_store([f"FUT,{root},USD" for root in futures], "CMES", seed))
    for symbol in international:
        if any(a.symbol == symbol and a.sec_type is SecType.STOCK for s in stores for a in s.assets):
            continue
        all_stores.append(international_store(symbol, seed))
    minutes = list(minute_stores)
    for i, store in enumerate(all_stores):
        if store.frequency != DAILY:
            raise ValueError("the gateway needs daily bar stores (minute bars are derived per session)")
        cache = MinuteCache(store, seed, minutes[i] if i < len(minutes) else None)
        for col, asset in enumerate(store.assets):
            if asset.sec_type is SecType.FUTURE and not asset.expiry:
                instruments = [future_instrument(e, asset.symbol) for e in quarterly_expiries(now_ns, futures_expiries)]
            else:
                instruments = [instrument_for_asset(asset)]
            for inst in instruments:
                book.add(inst)
                market.add(Series(inst, cache, col, seed))
    return Universe(book, market)


def sample_universe(now_ns: int, seed: int = 0) -> Universe:
    """The bundled daily sample (AAPL, IBM, MSFT, GOOG, FB 2000-2013) plus synthetic EUR.USD and ES."""
    return build_universe(now_ns, [load_sample()], seed)


def synthetic_universe(now_ns: int, seed: int = 0, symbols: Sequence[str] = SAMPLE_SYMBOLS) -> Universe:
    """Seeded synthetic prices for ``symbols`` (stocks, up to a year ahead of today) plus EUR.USD and ES."""
    return build_universe(now_ns, [synthetic_store(symbols, "XNYS", seed)], seed)
