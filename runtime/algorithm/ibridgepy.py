"""IBridgePy's own helpers (beyond the Quantopian names), with IBridgePy's signatures and camelCase keywords.

The algorithm API composes them (:class:`~runtime.algorithm.api.AlgorithmAPI`), so every helper works the same in
a backtest, a paper replay and a live run: contracts (``superSymbol``), market data (``show_real_time_size``,
``show_timestamp``), positions and account tables (``count_positions``, the ``display_*`` tables,
``calculate_profit``) and ``send_email``. The order helpers are in :mod:`runtime.algorithm.ibridgepy_orders`,
``request_historical_data`` in :mod:`runtime.algorithm.ib_history`, the run's IBridgePy options and conventions in
:mod:`runtime.algorithm.ibridgepy_options`.

IBridgePy functions this version cannot offer are in :data:`UNAVAILABLE`: each one raises
:class:`~runtime.errors.NotAvailableError` naming itself and what to use instead, never a NameError.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from runtime.algorithm.ibridgepy_options import IBridgePyConventions, ledger_tags
from runtime.algorithm.mail import send_mail
from runtime.core.assets import Asset, SecType
from runtime.core.ib.account import ACCOUNT_TAGS
from runtime.core.ib.contracts import ContractSpec, super_symbol
from runtime.core.ledger import Position
from runtime.errors import AlgorithmApiError, ContractNotInDataError, NotAvailableError

if TYPE_CHECKING:
    from runtime.algorithm.api import AlgorithmAPI
    from runtime.engine.engine import Engine


#: what ``show_real_time_size`` accepts
SIZE_PARAMS = ("bid_size", "ask_size", "last_size", "volume")

#: ``show_timestamp`` params (every one answers with the time of the asset's last trade in the data)
TIMESTAMP_PARAMS = ("last_price", "price", "ask_price", "bid_price", "open", "high", "low", "close", "volume",
                    "bid_size", "ask_size", "last_size", "last_traded")

_SEC_TYPES = tuple(t.value for t in SecType)


def _text(value: object, name: str, where: str = "superSymbol") -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AlgorithmApiError(f"{where}: {name} must be a string, got {value!r}")
    return str(value).strip()



class IBridgePyHelpers:
    """IBridgePy's contract, market data, position, account and mail helpers, bound to the algorithm API."""

    exported_names = frozenset(
        {
            "superSymbol", "show_real_time_size", "show_timestamp", "count_positions", "hold_any_position",
            "display_all", "display_positions", "display_orderStatus", "send_email", "display_account_info",
            "calculate_profit", "isTradingDay", "isEarlyClose", "get_position", "get_all_positions",
            "show_account_info", "show_real_time_price", "end",
        }
    )

    def __init__(self, api: AlgorithmAPI, engine: Engine, conventions: IBridgePyConventions) -> None:
        self._api = api
        self._engine = engine
        self._ib = conventions

    # ------------------------------------------------------------------------------------------------ contracts

    def superSymbol(
        self,
        secType: str | None = None,
        symbol: str | None = None,
        currency: str = "USD",
        exchange: str = "",
        primaryExchange: str = "",
        localSymbol: str = "",
        expiry: str = "",
        strike: float = 0.0,
        right: str = "",
        multiplier: str = "",
        includeExpired: bool = False,
    ) -> Asset:
        """IBridgePy: the asset of any contract described by its IB fields, e.g.
        ``superSymbol(secType='CASH', symbol='EUR', currency='USD', exchange='IDEALPRO')`` or
        ``superSymbol(secType='FUT', symbol='ES', exchange='CME', expiry='20120316')``.

        secType is one of STK, CASH, FUT, OPT, IND. In paper and live runs IB resolves the contract (an ambiguous
        description, e.g. a future without expiry, raises an error listing the candidates) and its prices are
        streamed from then on. In a backtest a stock resolves like ``symbol()``; any other contract resolves to the
        loaded data's asset of that type, symbol and currency (its expiry, when the data has dated contracts), else
        :class:`~runtime.errors.ContractNotInDataError` says which data file the backtest would need.
        """
        sec = _text(secType, "secType").upper()
        if sec not in _SEC_TYPES:
            raise AlgorithmApiError(f"superSymbol: secType must be one of {', '.join(_SEC_TYPES)}, got {secType!r}, "
                                    "e.g. superSymbol(secType='FUT', symbol='ES', exchange='CME', expiry='20120316')")
        if isinstance(strike, bool) or not isinstance(strike, (int, float, str)):
            raise AlgorithmApiError(f"superSymbol: strike must be a number, got {strike!r}")
        try:
            strike_value = float(strike or 0.0)
        except ValueError:
            raise AlgorithmApiError(f"superSymbol: strike must be a number, got {strike!r}") from None
        fields: dict[str, Any] = {
            "sec_type": sec,
            "symbol": _text(symbol, "symbol"),
            "currency": _text(currency, "currency") or "USD",
            "exchange": _text(exchange, "exchange"),
            "primary_exchange": _text(primaryExchange, "primaryExchange"),
            "local_symbol": _text(localSymbol, "localSymbol"),
            "expiry": _text(expiry, "expiry"),
            "strike": strike_value,
            "right": _text(right, "right"),
            "multiplier": _text(multiplier, "multiplier"),
            "include_expired": bool(includeExpired),
        }
        try:
            spec = super_symbol(**fields)
        except ValueError as exc:
            raise AlgorithmApiError(str(exc)) from None
        if self._api.super_symbol_source is not None:
            return self._api.super_symbol_source(**fields)
        return self._contract_from_data(spec)

    def _contract_from_data(self, spec: ContractSpec) -> Asset:
        modelled = self._api.instruments.contract_from_model(spec)  # options and non-US listings
        if modelled is not None:
            return modelled
        if spec.sec_type == SecType.STOCK.value:
            asset = self._api.symbol(spec.symbol or spec.local_symbol)
            if asset.currency != spec.currency:
                raise ContractNotInDataError(
                    f"{self._ib.call_site()}: superSymbol({spec.describe()}): the data's {asset.symbol} trades in "
                    f"{asset.currency}, not {spec.currency}; drop currency= or load bars of that listing")
            return asset
        sec = SecType(spec.sec_type)
        name = spec.local_symbol or spec.symbol
        found = [a for a in self._api.finder.assets
                 if a.sec_type is sec and a.currency == spec.currency
                 and (a.symbol == spec.symbol or (spec.local_symbol and a.local_symbol.upper() == name.upper()))]
        dated = [a for a in found if a.expiry]
        if spec.expiry and dated:
            found = [a for a in dated if a.expiry.startswith(spec.expiry) or spec.expiry.startswith(a.expiry)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listed = ", ".join(f"{a.local_symbol or a.symbol} {a.expiry}".strip() for a in found)
            raise ContractNotInDataError(
                f"{self._ib.call_site()}: superSymbol({spec.describe()}) matches {len(found)} assets of the data "
                f"({listed}); add expiry= or localSymbol= to pick one")
        if sec is SecType.CASH:
            needed = f"'{spec.symbol}.{spec.currency}.csv'"
        else:
            needed = f"'{sec.value},{spec.symbol},{spec.currency}.csv'"
        held = ", ".join(self._api.finder.symbols[:20])
        raise ContractNotInDataError(
            f"{self._ib.call_site()}: superSymbol({spec.describe()}): the backtest data has no {sec.value} contract "
            f"{name} in {spec.currency}. A backtest of it needs its bars: put a file named {needed} in a data folder "
            f"and pass --data DIR (or run it in paper/live, where IB resolves it). The data holds: {held}"
        )

    # ------------------------------------------------------------------------------------------------ market data

    def show_real_time_size(self, security: Any, param: str) -> int:
        """IBridgePy: a size of ``security`` now. param: 'volume', 'bid_size', 'ask_size', 'last_size'.

        Paper and live runs: IB's streaming sizes (the bid and ask sizes, the last trade's size, the day's volume),
        falling back to the bar data before the first quote. Backtests: the bars hold no quotes or single trades,
        so all four answer with the current bar's volume (``data.current(security, 'volume')``: 0 for a bar without
        trades); the bid/ask/last sizes are a stand-in for "how much traded in this bar".
        """
        if param not in SIZE_PARAMS:
            raise AlgorithmApiError(f"show_real_time_size: unknown param {param!r}; use one of "
                                    f"{', '.join(SIZE_PARAMS)}")
        asset = self._api.resolve_asset(security)
        source = self._engine.quote_source
        quote = source(asset) if source is not None else None
        value = getattr(quote, param, None) if quote is not None else None
        if value is not None and value == value and value >= 0:
            return int(value)
        volume = float(self._engine.data.current(asset, "volume"))
        return int(volume) if math.isfinite(volume) else 0

    def show_timestamp(self, security: Any, param: str = "last_price") -> pd.Timestamp | None:
        """IBridgePy: when ``security``'s ``param`` was last updated, in exchange time (None if it never traded).

        The data's bars are the only updates, so every param answers with the end of the last bar in which the asset
        traded (``data.current(security, 'last_traded')``).
        """
        if param not in TIMESTAMP_PARAMS:
            raise AlgorithmApiError(f"show_timestamp: unknown param {param!r}; use one of "
                                    f"{', '.join(TIMESTAMP_PARAMS)}")
        stamp = self._engine.data.current(self._api.resolve_asset(security), "last_traded")
        if stamp is None or pd.isna(stamp):
            return None
        return pd.Timestamp(stamp).tz_convert(self._engine.calendar.tz)

    # ------------------------------------------------------------------------------------------------ positions

    def count_positions(self, security: Any, accountCode: str = "default") -> int:
        """IBridgePy: the number of shares (contracts) held in ``security``: negative when short, 0 if none."""
        account = self._ib.account_for(accountCode, "count_positions")
        return int(self._ib.account_position(account, self._api.resolve_asset(security)).amount)

    def hold_any_position(self, accountCode: str = "default") -> bool:
        """IBridgePy: whether any position is held."""
        account = self._ib.account_for(accountCode, "hold_any_position")
        positions = self._api.portfolio.positions if account is None else self._ib.account_positions(account)
        return any(p.amount for p in positions.values())

    def display_positions(self, accountCode: str = "default") -> str:
        """IBridgePy: log a table of the positions (symbol, amount, cost basis, last price, value); returns it."""
        account = self._ib.account_for(accountCode, "display_positions")
        positions = self._api.portfolio.positions if account is None else self._ib.account_positions(account)
        rows = [
            (a.symbol, a.sec_type.value, p.amount, f"{p.cost_basis:.4f}", f"{p.last_sale_price:.4f}",
             f"{p.amount * p.last_sale_price * a.multiplier:.2f}")
            for a, p in sorted(positions.items(), key=lambda item: item[0].symbol) if p.amount
        ]
        text = _table(("symbol", "secType", "amount", "cost_basis", "last_price", "value"), rows, "no positions")
        return self._ib.show("positions:", text)

    def display_orderStatus(self, accountCode: str = "default") -> str:
        """IBridgePy: log a table of every order of this run (id, symbol, action, quantity, filled, type, prices,
        status as IB names it); returns it."""
        account = self._ib.account_for(accountCode, "display_orderStatus") or ""
        rows = []
        for record in self._engine.orders.values():
            if record.account != account:
                continue
            rows.append((
                record.id, record.asset.symbol, "BUY" if record.amount > 0 else "SELL", abs(record.amount),
                abs(record.filled), record.kind.value, "" if record.limit is None else f"{record.limit:g}",
                "" if record.stop is None else f"{record.stop:g}", record.tif.value,
                record.status.ib_status,
            ))
        text = _table(("orderId", "symbol", "action", "quantity", "filled", "type", "limit", "stop", "tif",
                       "status"), rows, "no orders")
        return self._ib.show("orders:", text)

    def display_all(self, accountCode: str = "default") -> str:
        """IBridgePy: log the account summary, the positions and the orders; returns the text."""
        account = self._ib.account_for(accountCode, "display_all")
        if account is not None:
            return "\n".join([f"account {account}", self.display_account_info(account),
                              self.display_positions(account), self.display_orderStatus(account)])
        portfolio = self._api.portfolio
        account = self._api.account
        summary = _table(
            ("NetLiquidation", "TotalCashValue", "GrossPositionValue", "BuyingPower"),
            [(f"{account.net_liquidation:.2f}", f"{portfolio.cash:.2f}", f"{portfolio.positions_exposure:.2f}",
              f"{account.buying_power:.2f}")],
            "",
        )
        self._ib.show("account:", summary)
        return "\n".join([summary, self.display_positions(), self.display_orderStatus()])

    def display_account_info(self, accountCode: str = "default") -> str:
        """IBridgePy: log the account's cash, portfolio value and positions value; returns the text."""
        account = self._ib.account_for(accountCode, "display_account_info")
        if account is None:
            p = self._api.portfolio
            cash, value, positions = p.cash, p.portfolio_value, p.positions_value
        else:
            cash, value, positions = (self._ib.account_value(account, tag) for tag in
                                      ("TotalCashValue", "NetLiquidation", "GrossPositionValue"))
        text = f"CASH={cash:.2f}\nportfolio_value={value:.2f}\npositions_value={positions:.2f}"
        return self._ib.show(f"account balance{'' if account is None else ' ' + account}:", text)

    def calculate_profit(self, security: Any, accountCode: str = "default") -> float:
        """The open profit of the position in ``security``: (current price - average cost) x shares x multiplier
        (0.0 without a position)."""
        account = self._ib.account_for(accountCode, "calculate_profit")
        p = self._ib.account_position(account, self._api.resolve_asset(security))
        if not p.amount:
            return 0.0
        return float((p.last_sale_price - p.cost_basis) * p.amount * p.asset.multiplier)

    # ------------------------------------------------------------------------------------------------ mail

    def send_email(self, emailTitle: str, emailBody: str, toEmail: str | list[str] | None = None) -> bool:
        """IBridgePy: send a mail over the SMTP server of settings.py (SMTP_HOST, SMTP_PORT, SMTP_USER,
        SMTP_PASSWORD, SMTP_STARTTLS, EMAIL_FROM; to ``toEmail`` or EMAIL_TO). Returns True when the server took
        it. Never fatal: without SMTP_HOST the mail is logged instead, and a failure (server down, refused login)
        is logged as an error and returns False. The call waits for the server (at most 10 s)."""
        return send_mail(self._ib.options, emailTitle, emailBody, toEmail)

    # ------------------------------------------------------------------------------------------------ queries
    def isTradingDay(self) -> bool:
        """Whether today (exchange time) is a trading session."""
        e = self._engine
        day = pd.Timestamp(e.clock.now_ns, tz="UTC").tz_convert(e.calendar.tz).normalize().tz_localize(None)
        return e.calendar.is_session(day)

    def isEarlyClose(self) -> bool:
        """Whether today is an early-close session (e.g. the day after Thanksgiving)."""
        e = self._engine
        day = pd.Timestamp(e.clock.now_ns, tz="UTC").tz_convert(e.calendar.tz).normalize().tz_localize(None)
        if not e.calendar.is_session(day):
            return False
        return bool(e.calendar.early_close[e.calendar.session_index_on_or_after(day)])

    def get_position(self, security: Any, accountCode: str = "default") -> Position:
        """IBridgePy: the position in ``security`` (an empty one if none): ``amount``, ``price`` (IBridgePy's
        name for the average cost, = ``cost_basis``), ``last_sale_price``."""
        account = self._ib.account_for(accountCode, "get_position")
        return self._ib.account_position(account, self._api.resolve_asset(security))

    def get_all_positions(self, accountCode: str = "default") -> dict[Asset, Position]:
        """IBridgePy: every open position."""
        account = self._ib.account_for(accountCode, "get_all_positions")
        return dict(self._api.portfolio.positions) if account is None else self._ib.account_positions(account)

    def show_account_info(self, field: str, meta: str = "value", accountCode: str = "default") -> Any:
        """IBridgePy: an account value by IB tag (NetLiquidation, AvailableFunds, BuyingPower, TotalCashValue,
        GrossPositionValue, UnrealizedPnL, RealizedPnL, CashBalance, ExcessLiquidity, ...) or zipline name
        (``portfolio_value``, ``positions_value``, ``cash`` as IBridgePy maps them).

        Paper and live runs: the value IB (or the simulated gateway) reports for the account, as a number when it
        is one; a tag IB does not send raises an error listing the ones it does. Backtests: the account's simulated
        ledger (no margin: BuyingPower and AvailableFunds are the cash)."""
        account = self._ib.account_for(accountCode, "show_account_info")
        field = {"portfolio_value": "NetLiquidation", "positions_value": "GrossPositionValue",
                 "cash": "TotalCashValue"}.get(field, field)
        source = self._engine.account_value_source
        if source is not None:
            text = source(field) if account is None else source(field, account)
            if text is not None:
                try:
                    return float(text)
                except (TypeError, ValueError):
                    return text
            known = sorted(self._engine.account_value_tags())
            if known:
                raise AlgorithmApiError(f"show_account_info: IB sends no account value {field!r}; it sends: "
                                        f"{', '.join(known)}")
        if account is not None:  # a backtest's other account: its simulated ledger
            return self._ib.account_value(account, field)
        tags: dict[str, str] = {}
        for name, ib_tags in ACCOUNT_TAGS.items():  # the adapter's table, read backwards: IB tag -> zipline field
            for tag in ib_tags:
                tags.setdefault(tag, name)
        ledger = ledger_tags(self._api.portfolio)
        if field in ledger:
            return ledger[field]
        account = self._api.account
        name = tags.get(field, field)
        if not hasattr(account, name):
            known = sorted(set(tags) | set(ledger))
            raise AlgorithmApiError(f"unknown account field {field!r}; known IB tags: {known}")
        return getattr(account, name)

    def show_real_time_price(self, security: Any, param: str = "price") -> float:
        """IBridgePy: the latest price of ``security``. param: price / last_price (the last trade), ask_price,
        bid_price, open, high, low, close, volume.

        Paper and live runs: IB's streaming quote of the asset (bid, ask, last trade, the day's open/high/low and
        the previous close), falling back to the bar data before the first quote. Backtests: the bars hold trades
        only, so bid and ask are the last trade's price (no spread) and the other params come from the current
        bar (``data.current``)."""
        fields = {"last_price": "price", "ask_price": "price", "bid_price": "price", "price": "price", "open": "open",
                  "high": "high", "low": "low", "close": "close", "volume": "volume"}
        if param not in fields:
            raise AlgorithmApiError(f"show_real_time_price: unknown param {param!r}; use one of {', '.join(fields)}")
        asset = self._api.resolve_asset(security)
        quote = self._engine.quote_source(asset) if self._engine.quote_source is not None else None
        if quote is not None:
            value = {"ask_price": quote.ask, "bid_price": quote.bid, "last_price": quote.price, "price": quote.price,
                     "open": getattr(quote, "open", None), "high": quote.high, "low": quote.low,
                     "close": getattr(quote, "close", None), "volume": quote.volume}[param]
            if value is not None and value == value and (value > 0 or param == "volume"):
                return float(value)
        return float(self._engine.data.current(asset, fields[param]))

    def end(self) -> None:
        """IBridgePy: stop the run at once, after the current call returns: the session so far is closed as at its
        end (its results row is written, DAY orders expire), positions are kept. ``exit()`` in algorithm code
        does the same (it never ends the process)."""
        self._engine.request_stop("the algorithm called end()")


def _table(header: tuple[str, ...], rows: list[tuple], empty: str) -> str:
    """A plain text table (left-aligned columns), or ``empty`` when there are no rows."""
    if not rows:
        return empty
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def _unavailable(name: str, instead: str) -> Callable[..., Any]:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise NotAvailableError(f"{name}() is not available in this version of ibalgo. {instead}")

    unavailable.__name__ = unavailable.__qualname__ = name
    unavailable.__doc__ = f"IBridgePy's {name}: not available in this version (raises NotAvailableError). {instead}"
    return unavailable


#: IBridgePy functions this version does not offer, each raising NotAvailableError with an alternative
UNAVAILABLE: dict[str, Callable[..., Any]] = {
    name: _unavailable(name, instead)
    for name, instead in (
        ("create_order", "Place each leg with order(); legs are separate orders, not one combination order."),
        ("place_combination_orders", "Place each leg with order(); legs are separate orders, not one combination "
                                     "order."),
    )
}
