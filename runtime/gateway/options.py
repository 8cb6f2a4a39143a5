"""Listed options at the simulated gateway: the contracts of each underlying's chain, their quotes and greeks from
the model of runtime/core/options.py, the fills' price rule, IB's option commissions and expiration.

The rules, stated once:

- **Contracts**: the chain of :func:`runtime.core.options.option_chain` of a stock of the book, listed on the
  session of the gateway's clock with the underlying at its last price (expiries on the exchange calendar,
  strikes around the spot). Each contract is secType OPT, exchange SMART, multiplier 100, tradingClass the
  underlying's symbol, the OCC localSymbol, lastTradeDateOrContractMonth ``YYYYMMDD``, underConId the stock's
  conId. Its conId is :func:`runtime.core.assets.stable_sid` of the OCC symbol (the same id in every process,
  and the one the backtester's option assets carry). A contract once listed stays known (a strike the spot moved
  away from can still be quoted and traded) until it expires.
- **Quotes**: the model price ``P`` is Black-Scholes with the volatility rule (the underlying's last 30 daily
  closes before the session), the time to 16:00 New York of the expiry day, rate and dividend 0. The tick is
  IB's market rule for US options: $0.01 below $3.00, $0.05 from $3.00 (:data:`OPTION_TICKS`). The spread rule:
  a half-spread of ``max(one tick, 1% of P)``; bid ``P - half`` rounded down to the tick (never below 0), ask
  ``P + half`` rounded up (at least one tick), last ``P`` rounded to the tick (at least one tick while ``P`` is
  above 0); 10 contracts on each side.
  Quotes follow the underlying's quote (its trading flag, before the expiry instant only).
- **Greeks**: ``tickOptionComputation`` for the bid (10), ask (11), last (12) and model (13): the implied
  volatility of that price (-1 and -2 "not computed" when no volatility gives it), and delta, gamma, vega, theta
  at it, the price, pvDividend 0 and the underlying's price.
- **Fills**: a buy fills at the ask, a sell at the bid (market orders at once, limit orders when marketable, at the
  quote), no slippage, no volume limit.
- **Commissions**: IB's fixed pricing for US options (runtime/gateway/commissions.py).
- **Expiration** (:func:`expiring`): at 16:00 New York of the expiry day, a position in the money by $0.01 or more
  at the underlying's close is exercised (long) or assigned (short): 100 shares a contract bought (call) or sold
  (put) at the strike; anything else expires worthless. The option position closes at 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from runtime.core import options as opt
from runtime.core.assets import Asset, SecType, stable_sid
from runtime.core.costs import SlippageModel, SlipResult
from runtime.gateway import responses as msg
from runtime.gateway.contracts import OPTION_EXCHANGES, OPTION_ORDER_TYPES, ContractBook, ContractQuery, Instrument
from runtime.gateway.listings import LISTINGS
from runtime.gateway.market import Market, MarketQuote
from runtime.gateway.protocol import SERVER_VERSION

#: IB's market rule for US options (rule 32): (price from, increment)
OPTION_TICKS = ((0.0, 0.01), (3.0, 0.05))
#: the half-spread as a fraction of the model price (at least one tick)
HALF_SPREAD = 0.01
#: contracts shown on each side of the quote
QUOTE_SIZE = 10
#: the volume a quote offers the matcher (no volume limit for options in practice)
QUOTE_VOLUME = 1e9
#: tickOptionComputation tick types: bid, ask, last and model computations (delayed data: 70 more, 80..83)
BID_COMPUTATION, ASK_COMPUTATION, LAST_COMPUTATION, MODEL_COMPUTATION = 10, 11, 12, 13
DELAYED_COMPUTATION_OFFSET = 70
#: seconds between two computations of an unchanged quote (the greeks move with time)
COMPUTATION_REFRESH_S = 60
NS_PER_SECOND = 1_000_000_000


def option_tick(price: float) -> float:
    """The price increment at ``price`` (:data:`OPTION_TICKS`)."""
    tick = OPTION_TICKS[0][1]
    for low, inc in OPTION_TICKS:
        if price >= low:
            tick = inc
    return tick


def quote_prices(model_price: float) -> tuple[float, float, float]:
    """(bid, ask, last) around a model price by the spread rule of the module docstring."""
    p = max(float(model_price), 0.0)
    tick = option_tick(p)
    half = max(tick, HALF_SPREAD * p)
    bid_raw = max(p - half, 0.0)
    bid_tick = option_tick(bid_raw)
    bid = math.floor(bid_raw / bid_tick + 1e-9) * bid_tick
    ask_tick = option_tick(p + half)
    ask = max(math.ceil((p + half) / ask_tick - 1e-9) * ask_tick, OPTION_TICKS[0][1])
    last = max(round(p / tick) * tick, OPTION_TICKS[0][1]) if p > 0 else 0.0
    return round(bid, 2), round(ask, 2), round(last, 2)


def option_con_id(local_symbol: str, currency: str = "USD") -> int:
    """The stable conId of an option (its OCC symbol's :func:`~runtime.core.assets.stable_sid`)."""
    return stable_sid(local_symbol, "OPT", currency)


def option_instrument(under: Instrument, contract: opt.OptionContract) -> Instrument:
    """The instrument of one listed option on ``under``."""
    occ = contract.local_symbol
    con_id = option_con_id(occ, under.currency)
    strike = float(contract.strike)
    asset = Asset(con_id, under.symbol, exchange="SMART", primary_exchange="", sec_type=SecType.OPTION,
                  currency=under.currency, asset_name=f"{under.symbol} {contract.expiry} {strike:g} "
                  f"{contract.right.value}", tick_size=0.01, multiplier=float(contract.multiplier), con_id=con_id,
                  local_symbol=occ, expiry=contract.expiry,
                  extra={"strike": f"{strike:g}", "right": contract.right.value, "underlying": under.symbol})
    return Instrument(
        con_id=con_id, symbol=under.symbol, sec_type="OPT", exchange="SMART", primary_exchange="",
        currency=under.currency, local_symbol=occ, trading_class=contract.trading_class, min_tick=0.01,
        multiplier=float(contract.multiplier), long_name=under.long_name, calendar_name=under.calendar_name,
        last_trade_date=contract.expiry, md_size_multiplier=1, industry=under.industry, category=under.category,
        subcategory=under.subcategory, valid_exchanges=",".join(("SMART", *OPTION_EXCHANGES)),
        order_types=OPTION_ORDER_TYPES, asset=asset, strike=strike, right=contract.right.value,
        under_con_id=under.con_id, under_symbol=under.symbol, under_sec_type=under.sec_type,
    )


@dataclass(frozen=True)
class OptionQuote:
    """An option's quote with the model behind it."""

    quote: MarketQuote
    model: opt.OptionValue
    years: float
    spot: float


class OptionMarket:
    """The option chains of the book's stocks and the model quotes of their contracts."""

    def __init__(self, book: ContractBook, market: Market) -> None:
        self.book = book
        self.market = market
        self._listed: set[tuple[int, int]] = set()  # (underlying conId, session) chains already registered
        self._vols: dict[tuple[int, int], float] = {}

    # ------------------------------------------------------------------------------------------------ contracts
    def underlyings(self, symbol: str | None = None) -> list[Instrument]:
        """The US stocks of the book (named ``symbol``, or all): options are listed on them only."""
        found = self.book.search(ContractQuery(symbol=symbol, sec_type="STK")) if symbol else list(self.book)
        return [i for i in found if i.is_stock and i.currency == "USD" and i.primary_exchange not in LISTINGS]

    def register(self, q: ContractQuery, now_ns: int) -> None:
        """List the chains a request names: its underlying symbol, the underlying of its OCC localSymbol, or, for
        a conId the book does not know yet, every chain (a conId is stable: a client may have kept it)."""
        if q.con_id > 0:
            if self.book.by_con_id(q.con_id) is None:
                for under in self.underlyings():
                    self.list_chain(under, now_ns)
            return
        symbol = q.symbol or (q.local_symbol[:6].strip() if len(q.local_symbol.replace(" ", "")) > 15 else "")
        if not symbol:
            return
        for under in self.underlyings(symbol):
            self.list_chain(under, now_ns)

    def list_chain(self, under: Instrument, now_ns: int) -> opt.OptionChain | None:
        """The chain of ``under`` on the clock's session, its contracts registered in the book (None: no price)."""
        spot = self._spot(under, now_ns)
        if spot is None:
            return None
        day = _ny_day(now_ns)
        chain = opt.option_chain(under.symbol, spot, day, opt.SessionCalendar(under.calendar.sessions),
                                 currency=under.currency)
        key = (under.con_id, int(day.value // 86_400_000_000_000))
        if key not in self._listed:
            self._listed.add(key)
            for c in chain.contracts:
                self.book.add(option_instrument(under, c))
        return chain

    def search(self, q: ContractQuery, now_ns: int, include_expired: bool = False) -> list[Instrument]:
        """The options a reqContractDetails designates (all strikes and rights of what it leaves out)."""
        self.register(q, now_ns)
        found = [i for i in self.book.search(q) if i.is_option]
        if not include_expired:
            found = [i for i in found if not self.expired(i, now_ns)]
        return found

    @staticmethod
    def expired(inst: Instrument, now_ns: int) -> bool:
        return opt.expiry_instant(inst.last_trade_date).value <= now_ns

    def underlying(self, inst: Instrument) -> Instrument | None:
        return self.book.by_con_id(inst.under_con_id)

    # ---------------------------------------------------------------------------------------------------- prices
    def _spot(self, under: Instrument, now_ns: int) -> float | None:
        q = self.market.quote(under, now_ns)
        return q.last if q is not None and q.last > 0 else None

    def volatility(self, under: Instrument, now_ns: int) -> float:
        """The volatility rule on the underlying's daily closes of the sessions that ended before ``now_ns``."""
        series = self.market.series(under)
        if series is None:
            return opt.DEFAULT_VOL
        cal = series.calendar
        k = int(np.searchsorted(cal.closes, now_ns, side="right")) - 1
        key = (under.con_id, k)
        vol = self._vols.get(key)
        if vol is None:
            bars = series.daily_bars(max(k - opt.VOL_WINDOW, 0), k, as_of_ns=now_ns) if k >= 0 else None
            vol = opt.historical_volatility(bars.close) if bars is not None and len(bars) else opt.DEFAULT_VOL
            self._vols[key] = vol
        return vol

    def option_quote(self, inst: Instrument, now_ns: int) -> OptionQuote | None:
        """The model quote of an option at ``now_ns`` (None when its underlying has no price yet)."""
        under = self.underlying(inst)
        if under is None:
            return None
        uq = self.market.quote(under, now_ns)
        if uq is None or not uq.last > 0:
            return None
        years = opt.year_fraction(pd.Timestamp(now_ns, tz="UTC"), inst.last_trade_date)
        value = opt.black_scholes(inst.right, uq.last, inst.strike, years, self.volatility(under, now_ns))
        bid, ask, last = quote_prices(value.price)
        trading = uq.trading and years > 0
        q = MarketQuote(now_ns, last, 1, bid, QUOTE_SIZE, ask, QUOTE_SIZE, 0.0, last, last, last, last, trading,
                        QUOTE_VOLUME, uq.last_trade_ns)
        return OptionQuote(q, value, years, uq.last)

    def quote(self, inst: Instrument, now_ns: int) -> MarketQuote | None:
        """:meth:`option_quote`'s market quote (what the market serves for an option)."""
        oq = self.option_quote(inst, now_ns)
        return oq.quote if oq is not None else None

    def computations(self, inst: Instrument, now_ns: int) -> list[tuple[int, OptionComputation]]:
        """(tick type, computation) for the bid, ask, last and model of an option."""
        oq = self.option_quote(inst, now_ns)
        if oq is None:
            return []
        out = [(tick, implied(inst, price, oq)) for tick, price in
               ((BID_COMPUTATION, oq.quote.bid), (ASK_COMPUTATION, oq.quote.ask), (LAST_COMPUTATION, oq.quote.last))]
        m = oq.model
        out.append((MODEL_COMPUTATION, OptionComputation(m.implied_vol, m.delta, m.price, m.gamma, m.vega, m.theta,
                                                         oq.spot)))
        return out


@dataclass(frozen=True)
class OptionComputation:
    """The fields of one tickOptionComputation (None: "not computed")."""

    implied_vol: float | None
    delta: float | None
    price: float
    gamma: float | None
    vega: float | None
    theta: float | None
    und_price: float

    def message(self, req_id: int, tick_type: int, server_version: int = SERVER_VERSION) -> bytes:
        def nc(x: float | None, marker: float) -> float:
            return marker if x is None else x

        return msg.tick_option_computation(req_id, tick_type, True, nc(self.implied_vol, -1.0), nc(self.delta, -2.0),
                                           self.price, 0.0, nc(self.gamma, -2.0), nc(self.vega, -2.0),
                                           nc(self.theta, -2.0), self.und_price, server_version)


def implied(inst: Instrument, price: float, oq: OptionQuote) -> OptionComputation:
    """The computation at a quoted price: its implied volatility and the greeks there."""
    try:
        vol = opt.implied_volatility(price, inst.right, oq.spot, inst.strike, oq.years)
    except ValueError:
        return OptionComputation(None, None, price, None, None, None, oq.spot)
    v = opt.black_scholes(inst.right, oq.spot, inst.strike, oq.years, vol)
    return OptionComputation(vol, v.delta, price, v.gamma, v.vega, v.theta, oq.spot)


@dataclass(slots=True, eq=False)
class OptionTickStream:
    """The tickOptionComputation part of a reqMktData on an option: sent when the quote or the underlying's price
    changed, and at least every :data:`COMPUTATION_REFRESH_S` seconds of the clock while it runs."""

    req_id: int
    inst: Instrument
    options: OptionMarket
    delayed: bool = False
    #: the connection's negotiated server version (the message layout depends on it)
    server_version: int = SERVER_VERSION
    last: tuple = ()
    sent_ns: int = field(default=-(1 << 62))

    def emit(self, now_ns: int, send: Callable[[bytes], None]) -> int:
        oq = self.options.option_quote(self.inst, now_ns)
        if oq is None:
            return 0
        state = (oq.quote.bid, oq.quote.ask, oq.quote.last, oq.spot)
        if state == self.last and now_ns - self.sent_ns < COMPUTATION_REFRESH_S * NS_PER_SECOND:
            return 0
        self.last, self.sent_ns = state, now_ns
        rows = self.options.computations(self.inst, now_ns)
        offset = DELAYED_COMPUTATION_OFFSET if self.delayed else 0
        for tick, comp in rows:
            send(comp.message(self.req_id, tick + offset, self.server_version))
        return len(rows)


# ------------------------------------------------------------------------------------------------ fills and fees
class AtQuote(SlippageModel):
    """The fill rule of options: the whole order at the price given (the ask for a buy, the bid for a sell)."""

    def fill(self, direction, open_amount, price, volume, volume_used):
        return SlipResult(price, abs(int(open_amount))) if open_amount else None


# ---------------------------------------------------------------------------------------------------- expiration
@dataclass(frozen=True)
class Delivery:
    """What expiration (or an exercise) does to one option position of one account."""

    account: str
    option: Instrument
    contracts: int  # signed position
    underlying: Instrument | None
    shares: int  # signed, for the account: + bought, - sold
    strike: float
    exercised: bool
    und_close: float


def expiring(positions: list[tuple[str, Instrument, int]], market: Market, now_ns: int,
             lapse: frozenset[tuple[str, int]] = frozenset()) -> list[Delivery]:
    """The deliveries of every (account, option, signed contracts) whose expiry instant is at or before ``now_ns``,
    by the exercise-by-exception rule at the underlying's price at the expiry instant; a long position the account
    asked to lapse (exerciseOptions action 2: (account, conId) in ``lapse``) expires unexercised."""
    out: list[Delivery] = []
    for account, inst, contracts in positions:
        if not inst.is_option or not contracts or not OptionMarket.expired(inst, now_ns):
            continue
        under = market.instrument(inst.under_con_id)
        at = opt.expiry_instant(inst.last_trade_date).value
        uq = market.quote(under, at) if under is not None else None
        close = uq.last if uq is not None else 0.0
        settle = opt.settle_at_expiry(inst.right, inst.strike, contracts, close, int(inst.multiplier)) \
            if close > 0 else opt.Exercise(False, 0, 0.0)
        if contracts > 0 and (account, inst.con_id) in lapse:
            settle = opt.Exercise(False, 0, 0.0)
        out.append(Delivery(account, inst, contracts, under, settle.shares, inst.strike, settle.exercised, close))
    return out


def exercise(account: str, inst: Instrument, contracts: int, market: Market) -> Delivery:
    """The delivery of an early exercise of ``contracts`` (> 0) long options: the option position shrinks by them
    and 100 shares a contract are bought (call) or sold (put) at the strike."""
    direction = 1 if inst.right == "C" else -1
    return Delivery(account, inst, contracts, market.instrument(inst.under_con_id),
                    direction * contracts * int(inst.multiplier), inst.strike, True, 0.0)


def _ny_day(now_ns: int) -> pd.Timestamp:
    return pd.Timestamp(now_ns, tz="UTC").tz_convert(opt.EXPIRY_TZ).tz_localize(None).normalize()


__all__ = [
    "OPTION_TICKS",
    "AtQuote",
    "Delivery",
    "OptionComputation",
    "OptionMarket",
    "OptionQuote",
    "OptionTickStream",
    "exercise",
    "expiring",
    "option_instrument",
    "quote_prices",
]
