"""The gateway's security master: instruments, contract matching and contract-detail fields.

Stocks come from the bar store's assets (SMART routing, primaryExchange, XNYS hours); the gateway adds FX pairs
(CASH on IDEALPRO), quarterly futures (ES on CME) and non-US stocks (BP. on LSE in GBP, SAP on Xetra (IBIS) in
EUR, on their exchanges' calendars) with synthetic prices so that other contracts are exercised.
conIds are stable across processes (:func:`runtime.core.assets.stable_sid` or the asset's ``con_id``).
Options are built from their chains by runtime/gateway/options.py and registered here: they match a request only
when it says secType OPT (or names their conId or OCC localSymbol).

Why this module stays long: the instrument, the rules by which a client's description designates it and the book
that searches by those rules are one matching contract; split apart, a field added to the instrument (a strike, an
underlying) and the matching that must honour it would drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from runtime.core.assets import Asset, SecType, stable_sid
from runtime.core.calendar import NS_PER_DAY, TradingCalendar
from runtime.data.calendars import get_calendar
from runtime.gateway.listings import LISTINGS

#: IB's time zone names for the calendars' zones.
IB_ZONE_NAMES = {"America/New_York": "US/Eastern", "America/Chicago": "US/Central", "UTC": "UTC",
                 "Europe/London": "GB", "Europe/Berlin": "MET"}
STOCK_ORDER_TYPES = "LMT,MKT,STP,STPLMT,TRAIL,MOC,LOC,DAY,GTC,IOC,OCA,WHATIF"
STOCK_EXCHANGES = "SMART,NYSE,NASDAQ,ARCA,BATS,IEX,ISLAND"
FUTURE_MONTH_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}
#: US option exchanges a SMART-routed option lists as valid (and accepts as the exchange of a request)
OPTION_EXCHANGES = ("CBOE", "AMEX", "ISE", "PHLX", "BOX", "NASDAQOM", "BATS", "MIAX", "C2", "ARCA", "EDGX", "GEMINI")
OPTION_ORDER_TYPES = "LMT,MKT,STP,STPLMT,TRAIL,DAY,GTC,IOC,OCA,WHATIF"


@dataclass(frozen=True)
class ContractQuery:
    """The contract fields a client sends with a request (reqContractDetails, reqMktData, placeOrder...)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float | None = None
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    sec_id_type: str = ""
    sec_id: str = ""

    def describe(self) -> str:
        """How IB names a contract in error texts."""
        parts = [self.symbol or self.local_symbol or str(self.con_id), self.sec_type, self.exchange, self.currency]
        return " ".join(p for p in parts if p)


@dataclass(frozen=True, eq=False)
class Instrument:
    """One tradable contract as the gateway knows it."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    min_tick: float
    multiplier: float
    long_name: str
    calendar_name: str
    last_trade_date: str = ""
    md_size_multiplier: int = 1
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    valid_exchanges: str = ""
    order_types: str = STOCK_ORDER_TYPES
    aliases: tuple[str, ...] = ()
    synthetic: bool = False
    asset: Asset | None = field(default=None, repr=False)
    #: options: strike, right ('C'/'P') and the underlying (0/"" for other kinds)
    strike: float = 0.0
    right: str = ""
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""

    def __hash__(self) -> int:
        return hash(self.con_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Instrument) and other.con_id == self.con_id

    @property
    def is_stock(self) -> bool:
        return self.sec_type == "STK"

    @property
    def is_option(self) -> bool:
        return self.sec_type == "OPT"

    @property
    def strike_text(self) -> str:
        """The strike field as IB sends it ("0" for contracts without one)."""
        return _number_text(self.strike) if self.strike else "0"

    @property
    def multiplier_text(self) -> str:
        """The multiplier field as IB sends it (empty for stocks and FX)."""
        if self.sec_type in ("STK", "CASH"):
            return ""
        m = self.multiplier
        return str(int(m)) if float(m).is_integer() else repr(m)

    @property
    def calendar(self) -> TradingCalendar:
        return _calendar(self.calendar_name)

    @property
    def time_zone_id(self) -> str:
        tz = self.calendar.tz
        return IB_ZONE_NAMES.get(tz, tz)

    def contract_fields_short(self) -> list[str]:
        """conId..tradingClass as used by openOrder/execDetails/position (11 fields, with multiplier)."""
        return [
            str(self.con_id),
            self.symbol,
            self.sec_type,
            self.last_trade_date,
            self.strike_text,
            self.right,
            self.multiplier_text,
            self.exchange,
            self.currency,
            self.local_symbol,
            self.trading_class,
        ]

    def matches(self, q: ContractQuery) -> bool:
        """Whether a client's contract description designates this instrument (IB's rules, simplified)."""
        if q.con_id > 0:
            return q.con_id == self.con_id
        if q.sec_id_type and q.sec_id:
            return False
        if q.sec_type and q.sec_type.upper() != self.sec_type:
            return False
        sym = q.symbol.upper()
        local = q.local_symbol.upper()
        if not sym and not local:
            return False
        if sym and sym != self.symbol and sym not in self.aliases:
            return False
        if local and local.replace(" ", "") != self.local_symbol.replace(" ", ""):
            return False
        if q.currency and q.currency.upper() != self.currency:
            return False
        if q.exchange:
            ex = q.exchange.upper()
            if ex not in self.exchanges_accepted():
                return False
        if q.primary_exchange and self.primary_exchange and q.primary_exchange.upper() not in (
            self.primary_exchange,
            "SMART",
            "ISLAND" if self.primary_exchange == "NASDAQ" else self.primary_exchange,
        ):
            return False
        if q.last_trade_date and not self.last_trade_date.startswith(q.last_trade_date.strip()[:8]):
            return False
        if q.trading_class and q.trading_class.upper() != self.trading_class:
            return False
        if q.strike and self.strike and abs(q.strike - self.strike) > 1e-6:
            return False
        if q.right and self.right and q.right.strip().upper()[:1] != self.right:
            return False
        return not (q.multiplier and self.multiplier_text and _float(q.multiplier) != self.multiplier)

    def exchanges_accepted(self) -> set[str]:
        if self.sec_type == "STK":
            listing = LISTINGS.get(self.primary_exchange)
            if listing is not None:
                return {"SMART", listing.exchange, *listing.aliases}
            return {"SMART", self.primary_exchange, *STOCK_EXCHANGES.split(",")}
        if self.sec_type == "CASH":
            return {"IDEALPRO", "SMART", "IDEAL"}
        if self.sec_type == "OPT":
            return {"SMART", *OPTION_EXCHANGES}
        return {self.exchange, "GLOBEX", "SMART"} if self.exchange == "CME" else {self.exchange, "SMART"}

    # ------------------------------------------------------------------------------------------------- hours
    def hours(self, now_ns: int, days: int = 7) -> tuple[str, str]:
        """``(tradingHours, liquidHours)`` in IB's format for the sessions around ``now_ns``.

        Format: ``20240102:0930-20240102:1600;20240103:CLOSED;...`` in the instrument's time zone.
        Stocks trade 04:00-20:00 (liquid 09:30-16:00, both shortened on early closes).
        """
        cal = self.calendar
        zone = cal.tz
        start_day = pd.Timestamp(now_ns, tz="UTC").tz_convert(zone).normalize().tz_localize(None)
        trading: list[str] = []
        liquid: list[str] = []
        for k in range(-1, days):
            day = start_day + pd.Timedelta(days=k)
            idx = cal.session_index_on_or_after(day)
            if idx >= len(cal) or pd.Timestamp(cal.sessions[idx]) != day:
                trading.append(f"{day:%Y%m%d}:CLOSED")
                liquid.append(f"{day:%Y%m%d}:CLOSED")
                continue
            o = pd.Timestamp(int(cal.opens[idx]), tz="UTC").tz_convert(zone)
            c = pd.Timestamp(int(cal.closes[idx]), tz="UTC").tz_convert(zone)
            liquid.append(f"{o:%Y%m%d:%H%M}-{c:%Y%m%d:%H%M}")
            if self.is_stock and self.primary_exchange not in LISTINGS:  # US stocks: 4:00-20:00
                pre = o.normalize() + pd.Timedelta(hours=4)
                post = c + pd.Timedelta(hours=4)
                trading.append(f"{pre:%Y%m%d:%H%M}-{post:%Y%m%d:%H%M}")
            else:
                trading.append(f"{o:%Y%m%d:%H%M}-{c:%Y%m%d:%H%M}")
        return ";".join(trading), ";".join(liquid)

    def extended_hours(self, session: int) -> tuple[int, int]:
        """The first and last instant (ns UTC) of trading outside regular hours for a session (stocks: 4:00-20:00)."""
        cal = self.calendar
        o, c = int(cal.opens[session]), int(cal.closes[session])
        if not self.is_stock or self.primary_exchange in LISTINGS:
            return o, c
        local_open = pd.Timestamp(o, tz="UTC").tz_convert(cal.tz)
        pre = (local_open.normalize() + pd.Timedelta(hours=4)).tz_convert("UTC").value
        return int(pre), c + 4 * 3_600_000_000_000


def _number_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _calendar(name: str) -> TradingCalendar:
    return get_calendar(name)  # the same cached calendar the bar stores use


# ------------------------------------------------------------------------------------------------------ factories
def stock_instrument(asset: Asset) -> Instrument:
    """The instrument for a stock asset of the bar store."""
    con_id = asset.con_id or stable_sid(asset.symbol, "STK", asset.currency)
    primary = asset.primary_exchange or "NASDAQ"
    listing = LISTINGS.get(primary)
    if listing is not None:
        return Instrument(
            con_id=con_id, symbol=asset.symbol.upper(), sec_type="STK", exchange="SMART", primary_exchange=primary,
            currency=listing.currency, local_symbol=asset.local_symbol or asset.symbol.upper(),
            trading_class=asset.symbol.upper(), min_tick=asset.tick_size or listing.tick, multiplier=1.0,
            long_name=asset.asset_name or asset.symbol.upper(), calendar_name=listing.calendar,
            md_size_multiplier=1, valid_exchanges=f"SMART,{primary}", asset=asset,
        )
    return Instrument(
        con_id=con_id,
        symbol=asset.symbol.upper(),
        sec_type="STK",
        exchange="SMART",
        primary_exchange=primary,
        currency=asset.currency,
        local_symbol=asset.local_symbol or asset.symbol.upper(),
        trading_class=primary if primary != "NASDAQ" else "NMS",
        min_tick=asset.tick_size or 0.01,
        multiplier=1.0,
        long_name=asset.asset_name or asset.symbol.upper(),
        calendar_name="XNYS",
        md_size_multiplier=100,
        industry="Technology",
        category="Computers",
        subcategory="Computers",
        valid_exchanges=STOCK_EXCHANGES,
        asset=asset,
    )


def fx_instrument(base: str = "EUR", quote: str = "USD", asset: Asset | None = None) -> Instrument:
    """A currency pair on IDEALPRO (``EUR.USD``), trading 24 hours on weekdays."""
    local = f"{base}.{quote}"
    con_id = (asset.con_id if asset and asset.con_id else 0) or stable_sid(base, "CASH", quote)
    synthetic = asset is None
    if asset is None:
        asset = Asset(con_id, base, exchange="IDEALPRO", primary_exchange="", sec_type=SecType.CASH, currency=quote,
                      asset_name=local, tick_size=0.00005, con_id=con_id, local_symbol=local)
    return Instrument(
        con_id=con_id,
        symbol=base,
        sec_type="CASH",
        exchange="IDEALPRO",
        primary_exchange="",
        currency=quote,
        local_symbol=local,
        trading_class=local,
        min_tick=0.00005,
        multiplier=1.0,
        long_name="European Monetary Union Euro" if base == "EUR" else f"{base} {quote}",
        calendar_name="24/5",
        order_types="LMT,MKT,STP,STPLMT,TRAIL,DAY,GTC,IOC,OCA",
        valid_exchanges="IDEALPRO",
        synthetic=synthetic,
        asset=asset,
    )


def quarterly_expiries(now_ns: int, count: int = 4) -> list[pd.Timestamp]:
    """The next ``count`` quarterly futures expiries (third Friday of Mar/Jun/Sep/Dec) from ``now_ns``."""
    now = pd.Timestamp(now_ns, tz="UTC").tz_convert("America/Chicago").tz_localize(None).normalize()
    out: list[pd.Timestamp] = []
    year, month = now.year, now.month
    while len(out) < count:
        if month in FUTURE_MONTH_CODES:
            first = pd.Timestamp(year=year, month=month, day=1)
            third_friday = first + pd.Timedelta(days=(4 - first.weekday()) % 7 + 14)
            if third_friday >= now:
                out.append(third_friday)
        month += 1
        if month > 12:
            month, year = 1, year + 1
    return out


def future_instrument(expiry: pd.Timestamp, symbol: str = "ES", asset: Asset | None = None) -> Instrument:
    """An E-mini S&P 500 style future on CME expiring on ``expiry`` (multiplier 50, tick 0.25)."""
    local = f"{symbol}{FUTURE_MONTH_CODES.get(expiry.month, 'Z')}{expiry.year % 10}"
    con_id = stable_sid(f"{symbol}{expiry:%Y%m%d}", "FUT", "USD")
    synthetic = asset is None
    # each expiry is its own asset (positions are per contract) even when prices come from one continuous series
    asset = Asset(con_id, symbol, exchange="CME", primary_exchange="CME", sec_type=SecType.FUTURE, currency="USD",
                  asset_name="E-mini S&P 500" if symbol == "ES" else symbol, tick_size=0.25, multiplier=50.0,
                  con_id=con_id, local_symbol=local, expiry=f"{expiry:%Y%m%d}")
    return Instrument(
        con_id=con_id,
        symbol=symbol,
        sec_type="FUT",
        exchange="CME",
        primary_exchange="",
        currency="USD",
        local_symbol=local,
        trading_class=symbol,
        min_tick=0.25,
        multiplier=50.0,
        long_name="E-mini S&P 500" if symbol == "ES" else symbol,
        calendar_name="CMES",
        last_trade_date=f"{expiry:%Y%m%d}",
        order_types="LMT,MKT,STP,STPLMT,TRAIL,DAY,GTC,IOC,OCA",
        valid_exchanges="CME",
        synthetic=synthetic,
        asset=asset,
    )


def instrument_for_asset(asset: Asset) -> Instrument:
    """The instrument for any asset of the bar store (stock, FX pair or future)."""
    if asset.sec_type is SecType.CASH:
        return fx_instrument(asset.symbol, asset.currency, asset)
    if asset.sec_type is SecType.FUTURE:
        expiry = pd.Timestamp(asset.expiry) if asset.expiry else pd.Timestamp("2099-12-18")
        return future_instrument(expiry, asset.symbol, asset)
    return stock_instrument(asset)


# ---------------------------------------------------------------------------------------------------- the book
class ContractBook:
    """All instruments the gateway serves, searchable by conId and by description."""

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_id: dict[int, Instrument] = {}
        self._by_symbol: dict[str, list[Instrument]] = {}
        self._options: dict[str, list[Instrument]] = {}
        for inst in instruments:
            self.add(inst)

    def add(self, inst: Instrument) -> None:
        if inst.con_id in self._by_id:
            return
        self._by_id[inst.con_id] = inst
        if inst.is_option:  # found by its underlying's symbol only when the request says secType OPT
            self._options.setdefault(inst.symbol, []).append(inst)
            keys = {inst.local_symbol.upper(), inst.local_symbol.replace(" ", "").upper()}
        else:
            keys = {inst.symbol, inst.local_symbol.upper(), *inst.aliases}
        for key in keys:
            self._by_symbol.setdefault(key, []).append(inst)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self):
        """The listed instruments, without the options registered from chains (see :meth:`options`)."""
        return iter([i for i in self._by_id.values() if not i.is_option])

    def options(self, underlying: str | None = None) -> list[Instrument]:
        """The option contracts registered so far (of one underlying symbol, or all)."""
        if underlying is not None:
            return list(self._options.get(underlying.upper(), ()))
        return [i for group in self._options.values() for i in group]

    def by_con_id(self, con_id: int) -> Instrument | None:
        return self._by_id.get(con_id)

    def symbols(self) -> list[str]:
        return sorted({i.symbol for i in self._by_id.values() if not i.is_option})

    def search(self, q: ContractQuery) -> list[Instrument]:
        """Every instrument the description designates (empty: unknown; several: ambiguous)."""
        if q.con_id > 0:
            inst = self._by_id.get(q.con_id)
            return [inst] if inst is not None and inst.matches(q) else []
        keys = {q.symbol.upper(), q.local_symbol.upper(), q.local_symbol.replace(" ", "").upper()} - {""}
        seen: dict[int, Instrument] = {}
        for key in keys:
            for inst in self._by_symbol.get(key, ()):
                if inst.matches(q):
                    seen[inst.con_id] = inst
        if q.sec_type.upper() == "OPT":
            for inst in self._options.get(q.symbol.upper(), ()):
                if inst.matches(q):
                    seen[inst.con_id] = inst
        return sorted(seen.values(), key=lambda i: (i.last_trade_date, i.strike, i.right, i.con_id))

    def resolve(self, q: ContractQuery) -> Instrument | list[Instrument]:
        """The one instrument a trading or data request designates, else the (empty or ambiguous) matches."""
        found = self.search(q)
        if len(found) == 1:
            return found[0]
        return found

    def suggest(self, symbol: str) -> str | None:
        """A known symbol close to ``symbol`` (for "did you mean" texts)."""
        import difflib

        hits = difflib.get_close_matches(symbol.upper(), self.symbols(), n=1)
        return hits[0] if hits else None


def default_book(assets: Sequence[Asset], now_ns: int, with_fx: bool = True, with_futures: bool = True) -> ContractBook:
    """The book for a bar store's assets plus the gateway's synthetic FX pair and futures."""
    book = ContractBook(instrument_for_asset(a) for a in assets)
    have_cash = any(i.sec_type == "CASH" for i in book)
    have_fut = any(i.sec_type == "FUT" for i in book)
    if with_fx and not have_cash:
        book.add(fx_instrument("EUR", "USD"))
    if with_futures and not have_fut:
        for expiry in quarterly_expiries(now_ns, 2):
            book.add(future_instrument(expiry))
    return book


def session_bounds(inst: Instrument, now_ns: int) -> tuple[int, int, int]:
    """``(session index, open ns, close ns)`` of the session at or after ``now_ns`` for the instrument."""
    cal = inst.calendar
    i = int(np.searchsorted(cal.closes, now_ns, side="left"))
    if i >= len(cal):
        i = len(cal) - 1
    return i, int(cal.opens[i]), int(cal.closes[i])


__all__ = [
    "NS_PER_DAY",
    "ContractBook",
    "ContractQuery",
    "Instrument",
    "default_book",
    "future_instrument",
    "fx_instrument",
    "instrument_for_asset",
    "quarterly_expiries",
    "session_bounds",
    "stock_instrument",
]
