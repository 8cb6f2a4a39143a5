"""Interactive Brokers tables and mappings, as pure functions: no ``ibapi`` import, no I/O, no clock.

What lives here:
- IB order status strings -> :class:`~runtime.core.orders.OrderStatus`;
- the error / notice code table (what a code means and what to do about it);
- IB account tags -> zipline's ``context.account`` fields;
- contracts: :class:`ContractSpec` (the fields of an ibapi ``Contract``) from an :class:`Asset`, from IBridgePy's
  ``'CASH,EUR,USD'`` strings and from ``superSymbol(...)`` arguments;
- orders: :class:`OrderSpec` (the fields of an ibapi ``Order``) from an order request, and the ``orderRef`` that
  lets a runtime recognise its own orders after a restart;
- history: bar sizes, durations and IB's time strings; IB labels bars by their START, the runtime by their END.

The IB adapter (``runtime.brokers.ib``) turns these values into ibapi objects; everything that can be decided
without a connection is decided here and tested with tables.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from runtime.core.assets import Asset, SecType, stable_sid
from runtime.core.ledger import Account
from runtime.core.orders import OrderKind, OrderStatus, TimeInForce

# ------------------------------------------------------------------------------------------------ order status
#: IB's order status strings and the zipline status each one means (the other direction, a status's IB words, is
#: :data:`runtime.core.orders.IB_STATUS_WORDS`).
STATUS_FROM_IB: dict[str, OrderStatus] = {
    "ApiPending": OrderStatus.HELD,
    "PendingSubmit": OrderStatus.HELD,
    "PreSubmitted": OrderStatus.HELD,
    "PendingCancel": OrderStatus.HELD,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Submitted": OrderStatus.OPEN,
    "Filled": OrderStatus.FILLED,
    "Inactive": OrderStatus.REJECTED,
}


def order_status_from_ib(status: str) -> OrderStatus | None:
    """The zipline status of an IB status string; None for a string IB has not documented.

    >>> order_status_from_ib("PreSubmitted"), order_status_from_ib("Filled")
    (<OrderStatus.HELD: 4>, <OrderStatus.FILLED: 1>)
    """
    return STATUS_FROM_IB.get(status.strip())


# --------------------------------------------------------------------------------------------------- errors
class ErrorKind(str, Enum):
    """How the adapter treats an IB error code."""

    INFO = "info"  # a notice (farm connected...): log at debug level
    WARNING = "warning"  # worth telling the user, nothing failed
    CONNECTION = "connection"  # the link to TWS/IB is down or restored
    REQUEST = "request"  # the request with this id failed
    ORDER = "order"  # the order with this id was rejected or cancelled


@dataclass(frozen=True)
class ErrorInfo:
    """One IB error code: what it means and what to do about it."""

    code: int
    kind: ErrorKind
    meaning: str
    action: str = ""


DEFAULT_PORTS: dict[int, str] = {
    7497: "TWS paper trading",
    7496: "TWS live trading",
    4002: "IB Gateway paper trading",
    4001: "IB Gateway live trading",
}
LIVE_PORTS = frozenset({7496, 4001})


def default_ports_text() -> str:
    """'7497 (TWS paper trading), 7496 (TWS live trading), ...' for error messages."""
    return ", ".join(f"{port} ({what})" for port, what in DEFAULT_PORTS.items())


_E = ErrorKind
IB_ERRORS: dict[int, ErrorInfo] = {e.code: e for e in (
    ErrorInfo(100, _E.WARNING, "max rate of messages per second exceeded",
              "the runtime paces itself below 50 messages/s; another program on the same client id may be sending"),
    ErrorInfo(103, _E.ORDER, "duplicate order id", "the order id was used before; the runtime asks for new ids"),
    ErrorInfo(104, _E.ORDER, "cannot modify a filled order"),
    ErrorInfo(110, _E.ORDER, "the price does not conform to the minimum price variation",
              "round limit/stop prices to the contract's tick size"),
    ErrorInfo(161, _E.ORDER, "cancel attempted when the order is not in a cancellable state"),
    ErrorInfo(162, _E.REQUEST, "historical market data service error",
              "pacing violation, no data for the period, or no market data permissions (see the text)"),
    ErrorInfo(165, _E.INFO, "historical market data service query message"),
    ErrorInfo(200, _E.REQUEST, "no security definition found, or the contract description is ambiguous",
              "check symbol, security type, currency and exchange; add primaryExchange for ambiguous stocks"),
    ErrorInfo(201, _E.ORDER, "order rejected", "the reason is in the text"),
    ErrorInfo(202, _E.ORDER, "order cancelled"),
    ErrorInfo(300, _E.REQUEST, "cannot find the ticker id to cancel"),
    ErrorInfo(321, _E.REQUEST, "error validating the request", "the text names the wrong field"),
    ErrorInfo(322, _E.REQUEST, "error processing the request"),
    ErrorInfo(326, _E.CONNECTION, "the client id is already in use",
              "another program (or a crashed run still holding the socket) uses it: choose another client id"),
    ErrorInfo(354, _E.REQUEST, "not subscribed to the requested market data",
              "subscribe in Account Management, or use delayed data (the runtime falls back to it)"),
    ErrorInfo(366, _E.REQUEST, "no historical data query found for the ticker id"),
    ErrorInfo(399, _E.WARNING, "order message (often a warning, e.g. the order will be held until the open)"),
    ErrorInfo(434, _E.ORDER, "the order size cannot be zero"),
    ErrorInfo(502, _E.CONNECTION, "could not connect to TWS / IB Gateway",
              "start TWS or IB Gateway, enable 'ActiveX and Socket Clients' in its API settings and use its port"),
    ErrorInfo(503, _E.REQUEST, "TWS is out of date and must be upgraded for this request"),
    ErrorInfo(504, _E.CONNECTION, "not connected"),
    ErrorInfo(507, _E.CONNECTION, "bad message length (the connection is broken)"),
    ErrorInfo(1100, _E.CONNECTION, "connectivity between IB and TWS has been lost",
              "orders cannot be sent until it is restored; the runtime waits and reconciles afterwards"),
    ErrorInfo(1101, _E.CONNECTION, "connectivity restored, data lost", "market data must be requested again"),
    ErrorInfo(1102, _E.CONNECTION, "connectivity restored, data maintained"),
    ErrorInfo(1300, _E.CONNECTION, "TWS socket port has been reset", "reconnect on the new port"),
    ErrorInfo(2100, _E.INFO, "account data subscription superseded by a new one"),
    ErrorInfo(2103, _E.WARNING, "market data farm connection is broken"),
    ErrorInfo(2104, _E.INFO, "market data farm connection is OK"),
    ErrorInfo(2105, _E.WARNING, "historical data farm connection is broken"),
    ErrorInfo(2106, _E.INFO, "historical data farm connection is OK"),
    ErrorInfo(2107, _E.INFO, "historical data farm connection is inactive but available on demand"),
    ErrorInfo(2108, _E.INFO, "market data farm connection is inactive but available on demand"),
    ErrorInfo(2109, _E.WARNING, "order event warning: outsideRth is ignored for this order type"),
    ErrorInfo(2119, _E.INFO, "market data farm is connecting"),
    ErrorInfo(2137, _E.WARNING, "the order would cross a related resting order"),
    ErrorInfo(2157, _E.WARNING, "sec-def data farm connection is broken"),
    ErrorInfo(2158, _E.INFO, "sec-def data farm connection is OK"),
    ErrorInfo(10090, _E.WARNING, "part of the requested market data is not subscribed"),
    ErrorInfo(10147, _E.ORDER, "the order to cancel was not found"),
    ErrorInfo(10148, _E.ORDER, "the order cannot be cancelled in its current state (already filled or cancelled)"),
    ErrorInfo(10167, _E.WARNING, "displaying delayed market data: no real-time subscription"),
    ErrorInfo(10168, _E.REQUEST, "delayed market data is not enabled"),
    ErrorInfo(10197, _E.WARNING, "no market data during a competing live session"),
    ErrorInfo(10268, _E.ORDER, "the 'EtradeOnly' order attribute is not supported"),
    ErrorInfo(10269, _E.ORDER, "the 'firmQuoteOnly' order attribute is not supported"),
)}


def error_info(code: int) -> ErrorInfo:
    """What IB's ``code`` means; an unknown code in the order range counts as an order problem.

    >>> error_info(2104).kind, error_info(326).kind
    (<ErrorKind.INFO: 'info'>, <ErrorKind.CONNECTION: 'connection'>)
    """
    info = IB_ERRORS.get(code)
    if info is not None:
        return info
    if 2100 <= code < 2200:
        return ErrorInfo(code, ErrorKind.WARNING, "warning")
    return ErrorInfo(code, ErrorKind.REQUEST, "error")


# -------------------------------------------------------------------------------------------------- account
#: zipline ``context.account`` field -> IB account tags, first present wins.
ACCOUNT_TAGS: dict[str, tuple[str, ...]] = {
    "settled_cash": ("SettledCash", "TotalCashValue"),
    "accrued_interest": ("AccruedCash",),
    "buying_power": ("BuyingPower",),
    "equity_with_loan": ("EquityWithLoanValue",),
    "total_positions_value": ("StockMarketValue", "GrossPositionValue"),
    "total_positions_exposure": ("GrossPositionValue",),
    "regt_equity": ("RegTEquity", "ReqTEquity"),
    "regt_margin": ("RegTMargin", "ReqTMargin"),
    "initial_margin_requirement": ("FullInitMarginReq", "InitMarginReq"),
    "maintenance_margin_requirement": ("FullMaintMarginReq", "MaintMarginReq"),
    "available_funds": ("FullAvailableFunds", "AvailableFunds"),
    "excess_liquidity": ("FullExcessLiquidity", "ExcessLiquidity"),
    "cushion": ("Cushion",),
    "day_trades_remaining": ("DayTradesRemaining",),
    "leverage": ("Leverage-S", "Leverage"),
    "net_liquidation": ("NetLiquidation",),
}


def ib_number(text: str) -> float | None:
    """An IB account value as a float (None if it is not a number, e.g. 'true' or '')."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def account_from_tags(values: Mapping[str, float]) -> Account:
    """zipline's :class:`Account` from IB account values keyed by tag (missing ones are 0.0, NaN for leverage).

    ``net_leverage`` is not an IB tag: it is the stock market value (long minus short) over the net liquidation.
    """

    def pick(name: str) -> float:
        for tag in ACCOUNT_TAGS[name]:
            if tag in values:
                return float(values[tag])
        return 0.0

    net_liq = pick("net_liquidation")
    exposure = pick("total_positions_exposure")
    leverage = pick("leverage") if any(t in values for t in ACCOUNT_TAGS["leverage"]) else (
        exposure / net_liq if net_liq else 0.0)
    net_value = float(values.get("StockMarketValue", exposure))
    return Account(
        settled_cash=pick("settled_cash"),
        accrued_interest=pick("accrued_interest"),
        buying_power=pick("buying_power"),
        equity_with_loan=pick("equity_with_loan"),
        total_positions_value=pick("total_positions_value"),
        total_positions_exposure=exposure,
        regt_equity=pick("regt_equity"),
        regt_margin=pick("regt_margin"),
        initial_margin_requirement=pick("initial_margin_requirement"),
        maintenance_margin_requirement=pick("maintenance_margin_requirement"),
        available_funds=pick("available_funds"),
        excess_liquidity=pick("excess_liquidity"),
        cushion=pick("cushion"),
        day_trades_remaining=pick("day_trades_remaining"),
        leverage=leverage,
        net_leverage=net_value / net_liq if net_liq else 0.0,
        net_liquidation=net_liq,
    )


# ------------------------------------------------------------------------------------------------ contracts
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


# --------------------------------------------------------------------------------------------------- orders
ORDER_REF_PREFIX = "ibalgo"


def order_ref(run_id: str, order_id: str) -> str:
    """The ``orderRef`` that marks an order as the runtime's: ``'ibalgo:<run_id>:<order id>'``."""
    if ":" in run_id:
        raise ValueError(f"a run id must not contain ':', got {run_id!r}")
    return f"{ORDER_REF_PREFIX}:{run_id}:{order_id}"


def parse_order_ref(ref: str) -> tuple[str, str] | None:
    """``(run_id, order_id)`` of one of the runtime's orderRefs, None for anybody else's."""
    parts = (ref or "").split(":", 2)
    if len(parts) != 3 or parts[0] != ORDER_REF_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


@dataclass(frozen=True)
class OrderSpec:
    """The fields of an ibapi ``Order`` the runtime sets (snake_case names of the ibapi attributes).

    ``aux_price`` is the stop price of STP/STP LMT and the trailing amount of TRAIL / TRAIL LIMIT;
    ``trail_stop_price`` is a trailing order's initial stop, ``limit_price_offset`` a trailing stop-limit's limit
    distance from its stop (ibapi's ``lmtPriceOffset``). ``transmit`` False keeps a bracket parent at TWS until its
    last child arrives.
    """

    action: str
    quantity: float
    order_type: str
    tif: str
    order_ref: str
    limit_price: float | None = None
    aux_price: float | None = None
    trailing_percent: float | None = None
    trail_stop_price: float | None = None
    limit_price_offset: float | None = None
    outside_rth: bool = False
    oca_group: str = ""
    oca_type: int = 0
    account: str = ""
    transmit: bool = True
    parent_ib_id: int = 0


#: IB's time in force of an order for the opening auction (with orderType LMT: limit-on-open)
IB_TIF_OPENING = "OPG"

#: OCA type 1: cancel the other orders of the group when one fills (with block: no overfill).
OCA_CANCEL_WITH_BLOCK = 1


def order_spec_for(
    *,
    amount: int,
    kind: OrderKind,
    limit: float | None,
    stop: float | None,
    tif: TimeInForce,
    ref: str,
    trailing_amount: float | None = None,
    trailing_percent: float | None = None,
    limit_offset: float | None = None,
    outside_rth: bool = False,
    oca_group: str | None = None,
    account: str = "",
    transmit: bool = True,
    parent_ib_id: int = 0,
) -> OrderSpec:
    """The IB order for one runtime order. Raises ValueError when the runtime order cannot be expressed.

    - MKT; LMT (limit); STP (stop -> auxPrice); STP LMT (both); TRAIL (trailing amount -> auxPrice, or
      trailingPercent; an initial stop -> trailStopPrice); TRAIL LIMIT (as TRAIL, plus the limit offset ->
      lmtPriceOffset); MOC; LOC (limit); limit-on-open (LMT with tif OPG);
    - MOC and LOC are day orders by nature (tif DAY);
    - an OCA group cancels the other members when one fills (ocaType 1).
    """
    if amount == 0:
        raise ValueError("an order needs a non-zero amount")
    action = "BUY" if amount > 0 else "SELL"
    qty = float(abs(amount))
    lmt = aux = pct = trail_stop = offset = None
    order_type = kind.value
    if kind in (OrderKind.LIMIT, OrderKind.STOP_LIMIT, OrderKind.LIMIT_ON_CLOSE, OrderKind.LIMIT_ON_OPEN):
        if limit is None:
            raise ValueError(f"a {kind.value} order needs a limit price")
        lmt = limit
    if kind in (OrderKind.STOP, OrderKind.STOP_LIMIT):
        if stop is None:
            raise ValueError(f"a {kind.value} order needs a stop price")
        aux = stop
    if kind in (OrderKind.TRAIL, OrderKind.TRAIL_LIMIT):
        if (trailing_amount is None) == (trailing_percent is None):
            raise ValueError(f"a {kind.value} order needs exactly one of a trailing amount or a trailing percent")
        aux, pct, trail_stop = trailing_amount, trailing_percent, stop
    if kind is OrderKind.TRAIL_LIMIT:
        if limit_offset is None:
            raise ValueError("a TRAIL LIMIT order needs a limit offset")
        offset = limit_offset
    tif_text = tif.value
    if kind in (OrderKind.MARKET_ON_CLOSE, OrderKind.LIMIT_ON_CLOSE):
        tif_text = TimeInForce.DAY.value
    if kind is OrderKind.LIMIT_ON_OPEN:
        order_type, tif_text = OrderKind.LIMIT.value, IB_TIF_OPENING
    return OrderSpec(
        action=action, quantity=qty, order_type=order_type, tif=tif_text, order_ref=ref, limit_price=lmt,
        aux_price=aux, trailing_percent=pct, trail_stop_price=trail_stop, limit_price_offset=offset,
        outside_rth=outside_rth,
        oca_group=oca_group or "", oca_type=OCA_CANCEL_WITH_BLOCK if oca_group else 0, account=account,
        transmit=transmit, parent_ib_id=parent_ib_id,
    )


# -------------------------------------------------------------------------------------------------- history
NS_PER_SECOND = 1_000_000_000

#: IB's bar sizes and their length in seconds (what reqHistoricalData accepts).
BAR_SIZES: dict[str, int] = {
    "1 secs": 1, "5 secs": 5, "10 secs": 10, "15 secs": 15, "30 secs": 30,
    "1 min": 60, "2 mins": 120, "3 mins": 180, "5 mins": 300, "10 mins": 600, "15 mins": 900, "20 mins": 1200,
    "30 mins": 1800, "1 hour": 3600, "2 hours": 7200, "3 hours": 10800, "4 hours": 14400, "8 hours": 28800,
    "1 day": 86400, "1 week": 604800, "1 month": 2592000,
}
_BAR_ALIASES = {"1m": "1 min", "minute": "1 min", "1d": "1 day", "daily": "1 day", "day": "1 day",
                "1 sec": "1 secs", "1 mins": "1 min", "1 hours": "1 hour", "1h": "1 hour", "30m": "30 mins",
                "5m": "5 mins", "15m": "15 mins"}


def normalize_bar_size(bar_size: str) -> str:
    """IB's spelling of a bar size ('1m' -> '1 min', '1d' -> '1 day'); ValueError listing the valid ones."""
    text = " ".join(str(bar_size).strip().lower().split())
    text = _BAR_ALIASES.get(text, text)
    if text not in BAR_SIZES:
        raise ValueError(f"unknown bar size {bar_size!r}: use one of {', '.join(BAR_SIZES)} (or '1m', '1d')")
    return text


def bar_seconds(bar_size: str) -> int:
    """Length of an IB bar size in seconds."""
    return BAR_SIZES[normalize_bar_size(bar_size)]


_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$", re.IGNORECASE)


def parse_duration(duration: str) -> tuple[int, str]:
    """``'5 D'`` -> ``(5, 'D')``; ValueError for anything IB would refuse."""
    m = _DURATION.match(str(duration))
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"bad IB duration {duration!r}: use '<n> S|D|W|M|Y', e.g. '30 D' or '1 Y'")
    return int(m.group(1)), m.group(2).upper()


def duration_for_sessions(n_sessions: int) -> str:
    """A duration that covers at least ``n_sessions`` trading sessions back from now (daily bars).

    Weekends and holidays are padded for (7/5 calendar days per session, plus 10 days); IB wants years above 365
    days.
    """
    if n_sessions <= 0:
        raise ValueError("n_sessions must be positive")
    days = math.ceil(n_sessions * 7 / 5) + 10
    return f"{days} D" if days <= 365 else f"{math.ceil(days / 365)} Y"


def duration_for_bars(n_bars: int, seconds: int, rth_seconds_per_day: int = 23_400) -> str:
    """A duration covering at least ``n_bars`` intraday bars of ``seconds`` each (regular hours assumed).

    Up to one day of bars is asked as seconds ('S', at most 86400); more as days with weekend padding.
    """
    if n_bars <= 0:
        raise ValueError("n_bars must be positive")
    total = n_bars * seconds
    if total <= rth_seconds_per_day:
        return f"{max(total, 60)} S" if total < 86_400 else "1 D"
    sessions = math.ceil(total / rth_seconds_per_day) + 1
    return duration_for_sessions(sessions)


def ib_end_time(ns: int | None) -> str:
    """reqHistoricalData's endDateTime for an instant: '' for now, else 'yyyymmdd-hh:mm:ss' (UTC)."""
    if ns is None:
        return ""
    return pd.Timestamp(int(ns), tz="UTC").strftime("%Y%m%d-%H:%M:%S")


_IB_TZ = {"EST": "US/Eastern", "EDT": "US/Eastern", "CST": "US/Central", "CDT": "US/Central", "GMT": "UTC",
          "MET": "MET", "JST": "Asia/Tokyo", "HKT": "Asia/Hong_Kong"}


@functools.lru_cache(maxsize=64)
def ib_time_zone(name: str, default: str = "US/Eastern") -> str:
    """A time zone name pandas understands for one IB uses ('EST' -> 'US/Eastern'); ``default`` if unknown."""
    name = (name or "").strip()
    if not name:
        return default
    if name in _IB_TZ:
        return _IB_TZ[name]
    try:
        pd.Timestamp(0, tz=name)
    except Exception:
        return default
    return name


def parse_ib_time(text: str, default_tz: str) -> int:
    """An IB time string as int64 ns UTC.

    Accepts epoch seconds ('1352817000', formatDate=2), 'yyyymmdd', 'yyyymmdd  hh:mm:ss' (two spaces, in
    ``default_tz``, IB's "TWS time zone"), 'yyyymmdd hh:mm:ss Zone/Name' and 'yyyymmdd-hh:mm:ss' (UTC).
    """
    s = str(text).strip()
    head = s.split()[0] if s else s
    if head.isdigit() and len(head) != 8:
        return int(head) * NS_PER_SECOND
    if "-" in s and len(s) == 17:
        return pd.Timestamp(s.replace("-", " "), tz="UTC").value
    parts = s.split()
    tz = default_tz
    if len(parts) == 3:
        tz = _IB_TZ.get(parts[2], parts[2])
        parts = parts[:2]
    if len(parts) == 1:
        return pd.Timestamp(parts[0]).tz_localize(tz).value
    return pd.Timestamp(f"{parts[0]} {parts[1]}").tz_localize(tz).value


def end_labels_intraday(start_ns: np.ndarray, seconds: int, session_closes: np.ndarray) -> np.ndarray:
    """END labels of intraday bars from IB's START labels: start + bar length, never past the session's close.

    ``session_closes`` (int64 ns UTC, ascending) are the closes of the calendar the bars belong to.
    """
    start = np.asarray(start_ns, dtype=np.int64)
    end = start + np.int64(seconds) * NS_PER_SECOND
    if len(session_closes) == 0 or len(start) == 0:
        return end
    i = np.minimum(np.searchsorted(session_closes, start, side="right"), len(session_closes) - 1)
    close = session_closes[i]
    return np.where((close > start) & (close < end), close, end)


def end_labels_daily(dates: list[str] | np.ndarray, sessions: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """END labels of daily bars: the close of each bar's session. Dates are 'yyyymmdd' strings.

    A date that is not a session of the calendar (IB reports a weekend bar for some markets) is labelled at its
    UTC midnight plus one day.
    """
    days = pd.to_datetime(pd.Series(list(dates), dtype=str), format="%Y%m%d").to_numpy().astype("datetime64[ns]")
    idx = np.searchsorted(sessions, days)
    idx_c = np.minimum(idx, len(sessions) - 1)
    hit = (idx < len(sessions)) & (sessions[idx_c] == days)
    fallback = days.astype(np.int64) + 86_400 * NS_PER_SECOND
    return np.where(hit, closes[idx_c], fallback).astype(np.int64)


#: The whatToShow of the price history of each security type (reqHistoricalData). IB has no TRADES (and no
#: ADJUSTED_LAST) bars for currency pairs: it answers error 162 and serves MIDPOINT, BID, ASK and BID_ASK for CASH;
#: MIDPOINT bars carry no volume (-1).
HISTORY_WHAT_TO_SHOW: dict[SecType, str] = {SecType.CASH: "MIDPOINT"}


def history_what_to_show(sec_type: SecType | str) -> str:
    """The whatToShow of a security type's price history: MIDPOINT for currency pairs, TRADES otherwise."""
    try:
        key = SecType(sec_type)
    except ValueError:
        return "TRADES"
    return HISTORY_WHAT_TO_SHOW.get(key, "TRADES")


def session_end_labels(dates: np.ndarray, sessions: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """END labels on a calendar of daily bars given by their trade date (datetime64, IB's label of a daily bar):
    the close of that calendar's session of the same date, -1 where the date is not one of its sessions."""
    days = np.asarray(dates).astype("datetime64[D]").astype("datetime64[ns]")
    sess = np.asarray(sessions).astype("datetime64[ns]")
    if not len(sess) or not len(days):
        return np.full(len(days), -1, dtype=np.int64)
    idx = np.searchsorted(sess, days)
    idx_c = np.minimum(idx, len(sess) - 1)
    hit = (idx < len(sess)) & (sess[idx_c] == days)
    return np.where(hit, np.asarray(closes, dtype=np.int64)[idx_c], -1).astype(np.int64)


def mask_account(code: str | None) -> str:
    """An account code as logs show it: the first two and last three characters (``DU1234567`` -> ``DU***567``);
    logs are shared and pasted, account codes identify a customer at IB."""
    text = str(code or "")
    if len(text) <= 5:
        return text[:1] + "***" if text else ""
    return f"{text[:2]}***{text[-3:]}"


def mask_accounts(codes: object) -> str:
    """Comma-separated masked account codes (see :func:`mask_account`)."""
    return ",".join(mask_account(c) for c in codes)  # type: ignore[attr-defined]
