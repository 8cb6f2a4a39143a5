"""IBridgePy's own helpers (beyond the Quantopian names), with IBridgePy's signatures and camelCase keywords.

:class:`IBridgePyHelpers` is mixed into :class:`~runtime.algorithm.api.AlgorithmAPI`, so every helper works the
same in a backtest, a paper replay and a live run: contracts (``superSymbol``), market data (``show_real_time_size``,
``show_timestamp``, ``request_historical_data``), positions and orders (``count_positions``, ``get_order_status``,
``rebalance_portfolio``, the ``display_*`` tables, the bracket orders ``place_order_with_stoploss``,
``place_order_with_takeprofit`` and ``place_order_with_stoploss_takeprofit``).

IBridgePy functions this version cannot offer are in :data:`UNAVAILABLE`: each one raises
:class:`~runtime.errors.NotAvailableError` naming itself and what to use instead, never a NameError.
"""

from __future__ import annotations

import ast
import logging
import math
import smtplib
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runtime.algorithm.frames import for_algorithm
from runtime.core.assets import Asset, SecType
from runtime.core.ib_mapping import ContractSpec, normalize_bar_size, parse_duration, parse_ib_time, super_symbol
from runtime.core.orders import (
    IB_STATUS_WORDS,
    ExecutionStyle,
    LimitOrder,
    Order,
    OrderKind,
    TimeInForce,
    check_price,
    resolve_style,
    round_amount,
)
from runtime.errors import (
    AlgorithmApiError,
    BadOrderError,
    ContractNotInDataError,
    HistoryError,
    NotAvailableError,
    OrderNotFoundError,
)

if TYPE_CHECKING:
    from runtime.core.ledger import Account, Portfolio
    from runtime.data.finder import AssetFinder
    from runtime.engine.engine import Engine, OrderRecord

#: what IBridgePy's order_target & co. return when nothing needed ordering (IBridgePy-style files)
NO_ORDER_PLACED = "NoOrderPlaced"

_email_log = logging.getLogger("ibalgo.email")


@dataclass(frozen=True)
class IBridgePyOptions:
    """The run options IBridgePy's helpers read (from settings.py; see runtime.config.Settings)."""

    #: time zone of get_datetime() in IBridgePy-style files (SHOW_TIME_ZONE / showTimeZone)
    show_time_zone: str = "US/Eastern"
    #: the run's account codes (ACCOUNT_CODE, a list for several); the first is the default
    account_codes: tuple[str, ...] = ()
    #: "ibridgepy", "zipline", or None: decided from the algorithm file (see :func:`file_dialect`)
    dialect: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    email_from: str | None = None
    email_to: str | None = None

    def __repr__(self) -> str:
        return (f"IBridgePyOptions(show_time_zone={self.show_time_zone!r}, accounts={len(self.account_codes)}, "
                f"dialect={self.dialect!r}, smtp_host={self.smtp_host!r})")

    @classmethod
    def from_settings(cls, settings: Any) -> IBridgePyOptions:
        """The options of a :class:`runtime.config.Settings`."""
        return cls(
            show_time_zone=str(settings.show_time_zone), account_codes=tuple(settings.account_codes),
            dialect=settings.algorithm_style,
            smtp_host=settings.smtp_host, smtp_port=int(settings.smtp_port), smtp_user=settings.smtp_user,
            smtp_password=settings.smtp_password, smtp_starttls=bool(settings.smtp_starttls),
            email_from=settings.email_from, email_to=settings.email_to,
        )


_DEFAULT_OPTIONS = IBridgePyOptions()


#: names only IBridgePy files use: a file that uses one (and imports nothing from zipline/quantopian) is
#: IBridgePy-style
IBRIDGEPY_ONLY_NAMES = frozenset({
    "show_real_time_price", "show_real_time_size", "show_timestamp", "request_historical_data", "superSymbol",
    "order_status_monitor", "get_order_status", "get_all_open_orders", "get_all_orders", "get_position",
    "get_all_positions", "count_positions", "hold_any_position", "display_all", "display_positions",
    "display_orderStatus", "display_account_info", "show_account_info", "modify_order", "close_all_positions",
    "close_all_positions_except", "close_all_positions_LMT", "rebalance_portfolio", "place_order_with_stoploss",
    "place_order_with_takeprofit", "place_order_with_stoploss_takeprofit", "send_email", "isTradingDay",
    "isEarlyClose", "end", "calculate_profit", "get_contract_details", "cancel_all_orders",
})


def file_dialect(path: str) -> str:
    """'ibridgepy' when the algorithm file imports nothing from zipline/quantopian and uses one of IBridgePy's own
    helpers (:data:`IBRIDGEPY_ONLY_NAMES`), else 'zipline'. Decides IBridgePy's conventions (get_datetime in the
    show time zone, 'NoOrderPlaced', DAY orders) without changing zipline files."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return "zipline"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("zipline", "quantopian"):
            return "zipline"
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in ("zipline", "quantopian") for a in node.names):
            return "zipline"
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "context":
            names.add(node.attr)
    return "ibridgepy" if names & IBRIDGEPY_ONLY_NAMES else "zipline"


#: order kinds that a daily run's order executes at the next session's close (market orders of stocks are recorded
#: as market-on-close, as they are sent)
_NEXT_CLOSE = (OrderKind.MARKET, OrderKind.MARKET_ON_CLOSE)


class OrderStatusTimeoutError(AlgorithmApiError, TimeoutError):
    """order_status_monitor waited its ``waitingTimeInSeconds`` (or the order closed) without the status asked for."""


#: what ``show_real_time_size`` accepts
SIZE_PARAMS = ("bid_size", "ask_size", "last_size", "volume")

#: ``show_timestamp`` params (every one answers with the time of the asset's last trade in the data)
TIMESTAMP_PARAMS = ("last_price", "price", "ask_price", "bid_price", "open", "high", "low", "close", "volume",
                    "bid_size", "ask_size", "last_size", "last_traded")

#: IB bar sizes request_historical_data serves: minutes per bar (0: daily bars)
HISTORY_BAR_MINUTES: dict[str, int] = {
    "1 min": 1, "2 mins": 2, "3 mins": 3, "5 mins": 5, "10 mins": 10, "15 mins": 15, "20 mins": 20, "30 mins": 30,
    "1 hour": 60, "2 hours": 120, "3 hours": 180, "4 hours": 240, "8 hours": 480, "1 day": 0,
}

#: whatToShow values served from the data's bars (they hold trades; FX data holds midpoints)
_WHAT_TO_SHOW = ("", "TRADES", "MIDPOINT", "ADJUSTED_LAST")

HISTORY_FIELDS = ["open", "high", "low", "close", "volume"]

_SEC_TYPES = tuple(t.value for t in SecType)
_NS_PER_MINUTE = 60_000_000_000


def _text(value: object, name: str, where: str = "superSymbol") -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AlgorithmApiError(f"{where}: {name} must be a string, got {value!r}")
    return str(value).strip()


def _supported_bar_sizes() -> str:
    return ", ".join(repr(b) for b in (*HISTORY_BAR_MINUTES, "1 week", "1 month")) + (
        " (second bars are not in a backtest's data; paper and live runs get every IB bar size from IB)")


class IBridgePyHelpers:
    """IBridgePy's helpers, mixed into the AlgorithmAPI (which provides ``_engine``, ``symbol``, ``order_target``)."""

    #: the helpers injected into the algorithm's namespace and reachable as context.<name>
    helper_names = frozenset(
        {
            "superSymbol", "show_real_time_size", "show_timestamp", "request_historical_data",
            "count_positions", "hold_any_position", "display_all", "display_positions", "display_orderStatus",
            "get_order_status", "get_all_open_orders", "get_all_orders", "close_all_positions_except",
            "rebalance_portfolio", "place_order_with_stoploss", "place_order_with_takeprofit",
            "place_order_with_stoploss_takeprofit", "modify_order", "order_status_monitor", "send_email",
            "display_account_info", "calculate_profit", "close_all_positions_LMT",
        }
    )

    _engine: Engine
    _finder: AssetFinder
    super_symbol_source: Callable[..., Asset] | None

    if TYPE_CHECKING:
        portfolio: Portfolio
        account: Account

        def resolve_asset(self, value: object) -> Asset: ...
        def symbol(self, symbol_str: str, country_code: str | None = None) -> Asset: ...
        def order_target(self, asset: Any, target: float) -> str | None: ...
        def order_target_percent(self, asset: Any, target: float) -> str | None: ...
        @staticmethod
        def _amount(amount: object) -> float: ...
        def order(self, asset: Any, amount: float, *args: Any, **kwargs: Any) -> str | None: ...
        def show_real_time_price(self, security: Any, param: str = "price") -> float: ...

    # ------------------------------------------------------------------------------------------------ options
    @property
    def ibridgepy_options(self) -> IBridgePyOptions:
        options = self._engine.ibridgepy_options
        return options if isinstance(options, IBridgePyOptions) else _DEFAULT_OPTIONS

    @cached_property
    def _dialect(self) -> str:
        return self.ibridgepy_options.dialect or file_dialect(self._engine.functions.path)

    @property
    def ibridgepy_style(self) -> bool:
        """Whether the algorithm is an IBridgePy-style file (see :func:`file_dialect`)."""
        if self._engine.functions.path == "<not loaded>":
            return self.ibridgepy_options.dialect == "ibridgepy"
        return self._dialect == "ibridgepy"

    def _ibridgepy_tif(self) -> TimeInForce | None:
        """IBridgePy's default time in force for an order whose style has none: DAY, in minute runs of IBridgePy
        files (a daily run's orders fill at the next session's close, so DAY would expire them first: there the
        cancel policy decides, as for zipline files)."""
        if self.ibridgepy_style and self._engine.frequency == "minute":
            return TimeInForce.DAY
        return None

    def _account(self, accountCode: Any, what: str) -> str | None:
        """Check IBridgePy's ``accountCode=`` against the run's accounts (ACCOUNT_CODE): None for the run's own
        account (the first; the one ``context.portfolio`` and the results follow), else the other account's code.

        Another account is served by the broker in paper and live runs (orders are sent for it, its positions and
        values are IB's); a backtest simulates one account, so there another account raises NotAvailableError."""
        codes = self.ibridgepy_options.account_codes
        if accountCode in (None, "", "default"):
            return None
        if not isinstance(accountCode, str):
            raise AlgorithmApiError(f"{what}: accountCode must be an account code string, got {accountCode!r}")
        if codes and accountCode not in codes:
            raise AlgorithmApiError(f"{what}: accountCode {accountCode!r} is not one of this run's accounts "
                                    f"({', '.join(codes)}; ACCOUNT_CODE in settings.py)")
        if not codes or accountCode == codes[0]:
            return None
        if self._engine.positions_source is None:
            raise NotAvailableError(f"{what}: accountCode {accountCode!r}: a backtest simulates one account per run "
                                    f"(the first of ACCOUNT_CODE, {codes[0]!r}); paper and live runs trade every "
                                    "account of ACCOUNT_CODE")
        return accountCode

    def _account_positions(self, account: str) -> dict[Asset, Any]:
        """IB's positions of another account, as zipline Positions keyed by the run's assets."""
        from runtime.core.ledger import Position

        source = self._engine.positions_source
        assert source is not None
        out: dict[Asset, Any] = {}
        for p in source(account):
            if not p.amount:
                continue
            try:
                asset = self.resolve_asset(p.asset.symbol) if p.asset.sec_type is SecType.STOCK else p.asset
            except AlgorithmApiError:
                asset = p.asset
            mult = asset.multiplier or 1.0
            cost = float(p.avg_cost) / mult
            out[asset] = Position(asset, round(p.amount), cost,
                                  float(p.market_price) if p.market_price else cost)
        return out

    def _account_position(self, account: str | None, asset: Asset) -> Any:
        if account is None:
            return self.portfolio.positions[asset]
        from runtime.core.ledger import Position

        return self._account_positions(account).get(asset, Position(asset))

    def _account_value(self, account: str, tag: str) -> float:
        source = self._engine.account_value_source
        text = source(tag, account) if source is not None else None
        try:
            return float(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise AlgorithmApiError(f"IB sends no account value {tag!r} for account {account!r}") from None

    def _order_options(self, what: str, options: dict[str, Any]) -> dict[str, Any]:
        """IBridgePy's order keywords, checked: orderRef, outsideRth, accountCode, hidden, followUp,
        waitForFeedbackInSeconds (zipline spellings outside_rth / order_ref too)."""
        known = {"orderRef", "order_ref", "outsideRth", "outside_rth", "accountCode", "hidden", "followUp",
                 "waitForFeedbackInSeconds", "ocaGroup"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise AlgorithmApiError(f"{what}: unknown keyword {unknown[0]!r}; IBridgePy's are orderRef, outsideRth, "
                                    "accountCode, hidden, followUp, waitForFeedbackInSeconds")
        if options.get("hidden"):
            raise NotAvailableError(f"{what}: hidden=True orders are not available in this version")
        ref = options.get("orderRef", options.get("order_ref", "")) or ""
        if not isinstance(ref, str):
            raise AlgorithmApiError(f"{what}: orderRef must be a string, got {ref!r}")
        account = self._account(options.get("accountCode"), what)
        return {"order_ref": ref, "outside_rth": bool(options.get("outsideRth", options.get("outside_rth", False))),
                "account": account or ""}

    # ------------------------------------------------------------------------------------------------ helpers
    def _call_site(self) -> str:
        """``file:line`` of the innermost algorithm line on the call stack (the file alone if none)."""
        path = self._engine.functions.path
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == path:
                return f"{path}:{frame.f_lineno}"
            frame = frame.f_back
        return path

    def _show(self, title: str, text: str) -> str:
        self._engine.algo_log.info("%s\n%s", title, text)
        return text

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
        if self.super_symbol_source is not None:
            return self.super_symbol_source(**fields)
        return self._contract_from_data(spec)

    def _contract_from_data(self, spec: ContractSpec) -> Asset:
        if spec.sec_type == SecType.STOCK.value:
            asset = self.symbol(spec.symbol or spec.local_symbol)
            if asset.currency != spec.currency:
                raise ContractNotInDataError(
                    f"{self._call_site()}: superSymbol({spec.describe()}): the data's {asset.symbol} trades in "
                    f"{asset.currency}, not {spec.currency}; drop currency= or load bars of that listing")
            return asset
        sec = SecType(spec.sec_type)
        name = spec.local_symbol or spec.symbol
        found = [a for a in self._finder.assets
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
                f"{self._call_site()}: superSymbol({spec.describe()}) matches {len(found)} assets of the data "
                f"({listed}); add expiry= or localSymbol= to pick one")
        if sec is SecType.CASH:
            needed = f"'{spec.symbol}.{spec.currency}.csv'"
        else:
            needed = f"'{sec.value},{spec.symbol},{spec.currency}.csv'"
        held = ", ".join(self._finder.symbols[:20])
        raise ContractNotInDataError(
            f"{self._call_site()}: superSymbol({spec.describe()}): the backtest data has no {sec.value} contract "
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
        asset = self.resolve_asset(security)
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
        stamp = self._engine.data.current(self.resolve_asset(security), "last_traded")
        if stamp is None or pd.isna(stamp):
            return None
        return pd.Timestamp(stamp).tz_convert(self._engine.calendar.tz)

    def request_historical_data(
        self,
        security: Any,
        barSize: str,
        goBack: str,
        endTime: Any = "",
        whatToShow: str = "",
        useRTH: int = 1,
        waitForFeedbackInSeconds: float = 30,
        timezoneOfReturn: Any = "US/Eastern",
        formatDate: int = 1,
        **unused: Any,
    ) -> pd.DataFrame:
        """IBridgePy: bars of ``security`` as a DataFrame (columns open, high, low, close, volume; newest last).

        - ``barSize``: '1 day', '1 min', or a multiple of minutes up to '8 hours' ('5 mins', '1 hour'...), built by
          aggregating minute bars (minute runs only). Daily bars are indexed by their session date (midnight in
          ``timezoneOfReturn``), intraday bars by their START time (IB's label) in ``timezoneOfReturn``.
        - ``goBack``: an IB duration: 'n S' (the last n seconds of trading time), 'n D' (the last n sessions),
          'n W', 'n M', 'n Y' (calendar weeks, months, years).
        - ``endTime``: '' (now), or an earlier time ('20120105 16:00:00 US/Eastern', a Timestamp); later is
          clamped to now, so no bar from the future is ever returned.

        - ``timezoneOfReturn``: a time zone name or a pytz time zone (IBridgePy's default:
          ``pytz.timezone('US/Eastern')``). ``formatDate=2`` indexes the bars by epoch seconds instead (IB's form 2).

        Paper and live runs: the bars come from IB (the simulated gateway serves its data the same way) through
        the adapter's paced, cached history requests, as deep as ``goBack`` asks, with every IB bar size ('1 secs'
        to '1 month'), ``whatToShow`` ('TRADES', 'MIDPOINT', 'BID', 'ASK', 'BID_ASK', ...) and ``useRTH`` as IB
        serves them; the call waits for IB's answer (up to ``waitForFeedbackInSeconds``), other algorithm code does
        not run meanwhile; an IB error raises HistoryError.

        Backtests: built from ``data.history`` (the same values, split-adjusted as of now); bars without trades
        are left out like IB does; '1 week' and '1 month' bars are made from the daily bars (labelled by their
        first session). The data holds regular-hours trade bars only: ``useRTH=0`` gives the same bars, and
        'BID', 'ASK' and 'BID_ASK' give the trade bars (no spread, as show_real_time_price's bid and ask);
        second bars are not in the data.
        """
        if unused:
            raise HistoryError(f"request_historical_data: unknown keyword {sorted(unused)[0]!r}")
        if formatDate not in (1, 2):
            raise HistoryError(f"request_historical_data: formatDate must be 1 (times) or 2 (epoch seconds), got "
                               f"{formatDate!r}")
        asset = self.resolve_asset(security)
        source = self._engine.history_source
        if source is not None:
            frame = self._broker_history(source, asset, barSize, goBack, endTime, whatToShow, useRTH,
                                         self._return_tz(timezoneOfReturn))
            return self._format_dates(frame, formatDate)
        if isinstance(barSize, str) and barSize.strip().lower() in ("1 week", "1 month"):
            frame = self.request_historical_data(asset, "1 day", goBack, endTime, whatToShow, useRTH,
                                                 waitForFeedbackInSeconds, timezoneOfReturn)
            return self._format_dates(_resample_days(frame, barSize.strip().lower()), formatDate)
        minutes = self._history_bar_minutes(barSize)
        if not isinstance(goBack, str):
            raise HistoryError(f"request_historical_data: goBack must be an IB duration string such as '5 D', "
                               f"'1 Y' or '3600 S', got {goBack!r}")
        try:
            n, unit = parse_duration(goBack)
        except ValueError as exc:
            raise HistoryError(f"request_historical_data: {exc}") from None
        what = str(whatToShow or "").strip().upper()
        if what in ("BID", "ASK", "BID_ASK"):
            what = ""  # the data's trade bars: the backtest's bid and ask are the trade price
        if what not in _WHAT_TO_SHOW:
            raise HistoryError(f"request_historical_data: whatToShow {whatToShow!r} is not in the data (it holds "
                               "trade bars): use '' or 'TRADES' ('MIDPOINT' for FX data)")
        if isinstance(waitForFeedbackInSeconds, bool) or not isinstance(waitForFeedbackInSeconds, (int, float)):
            raise HistoryError(f"request_historical_data: waitForFeedbackInSeconds must be a number of seconds, got "
                               f"{waitForFeedbackInSeconds!r}")
        tz = self._return_tz(timezoneOfReturn)
        end_ns = self._history_end(endTime)
        if minutes:
            frame = self._minute_history(asset, minutes, n, unit, end_ns, barSize)
            return self._format_dates(self._finish(frame, tz, intraday=True), formatDate)
        return self._format_dates(self._finish(self._daily_history(asset, n, unit, end_ns), tz, intraday=False),
                                  formatDate)

    @staticmethod
    def _format_dates(frame: pd.DataFrame, format_date: int) -> pd.DataFrame:
        if format_date == 2 and len(frame):
            out = frame.copy()
            out.index = pd.Index(pd.DatetimeIndex(frame.index).asi8 // 1_000_000_000, name="time")
            return out
        return frame

    def _broker_history(self, source: Callable[..., Any], asset: Asset, bar_size: Any, go_back: Any, end_time: Any,
                        what_to_show: Any, use_rth: Any, tz: str) -> pd.DataFrame:
        """request_historical_data in paper and live runs: IB's bars through the adapter (see the docstring)."""
        from runtime.core.ib_mapping import BAR_SIZES

        try:
            size = normalize_bar_size(str(bar_size))
            parse_duration(str(go_back))
        except ValueError as exc:
            raise HistoryError(f"request_historical_data: {exc}") from None
        what = str(what_to_show or "").strip().upper() or ("MIDPOINT" if asset.sec_type is SecType.CASH else "TRADES")
        end = None if end_time is None or (isinstance(end_time, str) and not end_time.strip()) \
            else self._history_end(end_time)
        try:
            bars = source(asset, str(go_back), size, what, bool(use_rth), end, self._engine.clock.now_ns)
        except Exception as exc:  # IB's answer (error 162, pacing, timeout): a typed error for the algorithm
            raise HistoryError(f"request_historical_data({asset.symbol}, {size!r}, {go_back!r}): {exc}") from None
        seconds = BAR_SIZES[size]
        if bars.dates is not None:
            index = pd.DatetimeIndex(bars.dates).tz_localize(tz)
        else:
            cal = self._engine.calendar
            ends = np.asarray(bars.end_ns, dtype=np.int64)
            # the adapter labels a bar by its END (start + size, or the session's close): back to IB's START label
            k = np.minimum(np.searchsorted(cal.closes, ends, side="left"), len(cal.closes) - 1)
            opens, closes = cal.opens[k], cal.closes[k]
            local = pd.DatetimeIndex(ends - 1, tz="UTC").tz_convert(cal.tz)
            floored = local.floor(f"{seconds}s", ambiguous=False, nonexistent="shift_forward").asi8
            starts = np.where(ends == closes, floored, ends - seconds * 1_000_000_000)
            starts = np.where((ends > opens) & (starts < opens), opens, starts)
            index = pd.DatetimeIndex(starts, tz="UTC").tz_convert(tz)
        frame = pd.DataFrame({"open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
                              "volume": bars.volume}, index=index.rename("time"))
        return frame[frame["close"].notna()]

    @staticmethod
    def _history_bar_minutes(bar_size: object) -> int:
        if not isinstance(bar_size, str):
            raise HistoryError(f"request_historical_data: barSize must be a string such as '1 day' or '1 min', got "
                               f"{bar_size!r}")
        try:
            name = normalize_bar_size(bar_size)
        except ValueError:
            name = ""
        if name not in HISTORY_BAR_MINUTES:
            raise HistoryError(f"request_historical_data: bar size {bar_size!r} is not available; use one of "
                               f"{_supported_bar_sizes()}")
        return HISTORY_BAR_MINUTES[name]

    @staticmethod
    def _return_tz(name: object) -> str:
        if name is not None and not isinstance(name, str) and hasattr(name, "utcoffset"):
            name = getattr(name, "zone", None) or getattr(name, "key", None) or str(name)  # pytz / zoneinfo
        if not isinstance(name, str) or not name.strip():
            raise HistoryError(f"request_historical_data: timezoneOfReturn must be a time zone name such as "
                               f"'US/Eastern' or 'UTC', got {name!r}")
        try:
            pd.Timestamp(0, tz=name.strip())
        except Exception:
            raise HistoryError(f"request_historical_data: unknown time zone {name!r}; use a name such as "
                               "'US/Eastern', 'Europe/London' or 'UTC'") from None
        return name.strip()

    def _history_end(self, end_time: Any) -> int:
        """The instant bars may end at: now, or an earlier ``endTime`` (a later one is clamped to now)."""
        now = self._engine.clock.now_ns
        if end_time is None or (isinstance(end_time, str) and not end_time.strip()):
            return now
        try:
            if isinstance(end_time, str):
                ns = parse_ib_time(end_time, self._engine.calendar.tz)
            else:
                ts = pd.Timestamp(end_time)
                ns = (ts if ts.tzinfo is not None else ts.tz_localize(self._engine.calendar.tz)).value
        except (ValueError, TypeError):
            raise HistoryError(f"request_historical_data: cannot read endTime {end_time!r}; use '' (now) or "
                               "'yyyymmdd hh:mm:ss US/Eastern'") from None
        return min(int(ns), now)

    def _daily_history(self, asset: Asset, n: int, unit: str, end_ns: int) -> pd.DataFrame:
        e = self._engine
        cal = e.calendar
        k_now = max(e.clock.session, 0)
        k_end = k_now if end_ns >= e.clock.now_ns else int(np.searchsorted(cal.closes, end_ns, side="right")) - 1
        if k_end < 0:
            return pd.DataFrame(columns=HISTORY_FIELDS, dtype=float)
        if unit in ("D", "S"):
            sessions = n if unit == "D" else math.ceil(n / 86_400)
            first = k_end - sessions + 1
        else:
            first = cal.session_index_on_or_before(cal.session_label(k_end) - self._offset(unit, n))
        count = max(min(k_now - max(first, 0) + 2, k_now + 1), 1)
        frame = e.data.history(asset, HISTORY_FIELDS, count, "1d")
        labels = frame.index.tz_localize(None) if frame.index.tz is not None else frame.index
        frame = frame[labels <= cal.session_label(k_end)]
        if not len(frame):
            return frame
        if unit in ("D", "S"):
            return frame.iloc[-(k_end - first + 1):]
        last = pd.Timestamp(frame.index[-1])
        last = last.tz_localize(None) if last.tzinfo is not None else last
        labels = frame.index.tz_localize(None) if frame.index.tz is not None else frame.index
        return frame[labels > last - self._offset(unit, n)]

    @staticmethod
    def _offset(unit: str, n: int) -> pd.DateOffset:
        return pd.DateOffset(**{{"W": "weeks", "M": "months", "Y": "years"}[unit]: n})

    def _minute_history(self, asset: Asset, minutes: int, n: int, unit: str, end_ns: int, bar_size: str
                        ) -> pd.DataFrame:
        e = self._engine
        cal = e.calendar
        if e.frequency != "minute" or e.portal.minute is None:
            raise HistoryError(f"request_historical_data: bar size {bar_size!r} needs minute bars and this run has "
                               "daily bars: run with --frequency minute, or ask for '1 day' bars")
        now = e.clock.now_ns
        k_end = cal.last_session_started_by(end_ns)
        if k_end < 0 or e.clock.minute_row < 0:
            return pd.DataFrame(columns=HISTORY_FIELDS, dtype=float)
        if unit == "S":
            need = math.ceil(n / 60)
            span = math.ceil(need / max(cal.minutes_in_session(k_end), 1)) + 1
            ends = cal.minutes_between(max(k_end - span, 0), k_end)
            ends = ends[ends <= end_ns][-need:]
            first_end = int(ends[0]) if len(ends) else end_ns
        elif unit == "D":
            first_end = int(cal.session_minutes(max(k_end - n + 1, 0))[0])
        else:
            end_ts = pd.Timestamp(end_ns, tz="UTC").tz_convert(cal.tz)
            cutoff = end_ts - self._offset(unit, n)
            first_end = cutoff.value + _NS_PER_MINUTE
        k_first = max(cal.last_session_started_by(first_end), 0)
        k_now = max(cal.last_session_started_by(now), k_first)
        all_ends = cal.minutes_between(k_first, k_now)
        count = int(((all_ends >= first_end) & (all_ends <= now)).sum())
        count = min(count, e.clock.minute_row + 1)
        if count < 1:
            return pd.DataFrame(columns=HISTORY_FIELDS, dtype=float)
        frame = e.data.history(asset, HISTORY_FIELDS, count, "1m")
        stamps = frame.index.asi8
        frame = frame[(stamps >= first_end) & (stamps <= end_ns)]
        return self._aggregate(frame, minutes)

    def _aggregate(self, frame: pd.DataFrame, minutes: int) -> pd.DataFrame:
        """Minute bars (END labels, UTC) as ``minutes``-minute bars labelled by their START (UTC), clock-aligned
        in exchange time and never before the session's open."""
        cal = self._engine.calendar
        ends = frame.index.asi8
        starts = ends - _NS_PER_MINUTE
        opens = cal.opens[np.minimum(np.searchsorted(cal.closes, ends, side="left"), len(cal.closes) - 1)]
        if minutes == 1:
            out = frame.copy()
            out.index = pd.DatetimeIndex(starts, tz="UTC")
            return out
        local = pd.DatetimeIndex(starts, tz="UTC").tz_convert(cal.tz)
        bucket = local.floor(f"{minutes}min", ambiguous=False, nonexistent="shift_forward").asi8
        bucket = np.maximum(bucket, opens)
        grouped = frame.groupby(bucket, sort=True)
        out = pd.DataFrame({"open": grouped["open"].first(), "high": grouped["high"].max(),
                            "low": grouped["low"].min(), "close": grouped["close"].last(),
                            "volume": grouped["volume"].sum()})
        out.index = pd.DatetimeIndex(out.index.to_numpy(dtype=np.int64), tz="UTC")
        return out

    @staticmethod
    def _finish(frame: pd.DataFrame, tz: str, *, intraday: bool) -> pd.DataFrame:
        frame = frame[HISTORY_FIELDS].astype(float)
        frame = frame[frame["close"].notna()]
        if intraday:
            index = pd.DatetimeIndex(frame.index).tz_convert(tz)
        else:
            labels = pd.DatetimeIndex(frame.index)
            labels = labels.tz_localize(None) if labels.tz is not None else labels
            index = labels.tz_localize(tz)
        out = frame.copy()
        out.index = index.rename("time")
        return for_algorithm(out)  # integer keys positional, as the frames data.history gives

    # ------------------------------------------------------------------------------------------------ positions
    def count_positions(self, security: Any, accountCode: str = "default") -> int:
        """IBridgePy: the number of shares (contracts) held in ``security``: negative when short, 0 if none."""
        account = self._account(accountCode, "count_positions")
        return int(self._account_position(account, self.resolve_asset(security)).amount)

    def hold_any_position(self, accountCode: str = "default") -> bool:
        """IBridgePy: whether any position is held."""
        account = self._account(accountCode, "hold_any_position")
        positions = self.portfolio.positions if account is None else self._account_positions(account)
        return any(p.amount for p in positions.values())

    def display_positions(self, accountCode: str = "default") -> str:
        """IBridgePy: log a table of the positions (symbol, amount, cost basis, last price, value); returns it."""
        account = self._account(accountCode, "display_positions")
        positions = self.portfolio.positions if account is None else self._account_positions(account)
        rows = [
            (a.symbol, a.sec_type.value, p.amount, f"{p.cost_basis:.4f}", f"{p.last_sale_price:.4f}",
             f"{p.amount * p.last_sale_price * a.multiplier:.2f}")
            for a, p in sorted(positions.items(), key=lambda item: item[0].symbol) if p.amount
        ]
        text = _table(("symbol", "secType", "amount", "cost_basis", "last_price", "value"), rows, "no positions")
        return self._show("positions:", text)

    def display_orderStatus(self, accountCode: str = "default") -> str:
        """IBridgePy: log a table of every order of this run (id, symbol, action, quantity, filled, type, prices,
        status as IB names it); returns it."""
        account = self._account(accountCode, "display_orderStatus") or ""
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
        return self._show("orders:", text)

    def display_all(self, accountCode: str = "default") -> str:
        """IBridgePy: log the account summary, the positions and the orders; returns the text."""
        account = self._account(accountCode, "display_all")
        if account is not None:
            return "\n".join([f"account {account}", self.display_account_info(account),
                              self.display_positions(account), self.display_orderStatus(account)])
        portfolio = self.portfolio
        account = self.account
        summary = _table(
            ("NetLiquidation", "TotalCashValue", "GrossPositionValue", "BuyingPower"),
            [(f"{account.net_liquidation:.2f}", f"{portfolio.cash:.2f}", f"{portfolio.positions_exposure:.2f}",
              f"{account.buying_power:.2f}")],
            "",
        )
        self._show("account:", summary)
        return "\n".join([summary, self.display_positions(), self.display_orderStatus()])

    # ------------------------------------------------------------------------------------------------ orders
    def _record(self, order_id: Any) -> OrderRecord:
        key = order_id.id if isinstance(order_id, Order) else order_id
        if not isinstance(key, str):
            raise AlgorithmApiError(f"an order id is the string order() returned, got {order_id!r}")
        record = self._engine.orders.get(key)
        if record is None:
            raise OrderNotFoundError(f"no order {key!r} in this run: use the id order() returned (orders placed "
                                     "by another program are not tracked)")
        return record

    def get_order_status(self, orderId: Any) -> str:
        """IBridgePy: the status of an order as IB names it: 'Submitted' (working, also when partly filled),
        'PreSubmitted' (held), 'Filled', 'Cancelled', 'Inactive' (rejected)."""
        return self._record(orderId).status.ib_status

    def get_all_open_orders(self, accountCode: str = "default") -> dict[str, Order]:
        """IBridgePy: every open order of this run, as {orderId: Order}."""
        account = self._account(accountCode, "get_all_open_orders") or ""
        return {record.id: record.snapshot() for record in self._engine.open_orders() if record.account == account}

    def get_all_orders(self, accountCode: str = "default") -> dict[str, Order]:
        """IBridgePy: every order of this run (open and closed), as {orderId: Order}, oldest first."""
        account = self._account(accountCode, "get_all_orders") or ""
        return {key: record.snapshot() for key, record in self._engine.orders.items() if record.account == account}

    def close_all_positions_except(self, securities: Any, orderStatusMonitor: bool = False,
                                   accountCode: str = "default") -> list[str | None]:
        """IBridgePy: market orders that flatten every position except those in ``securities`` (one asset or a
        list); returns the order ids (``orderStatusMonitor`` True: each waited for as order_status_monitor does)."""
        self._account(accountCode, "close_all_positions_except")
        if isinstance(securities, (Asset, str)):
            keep = {self.resolve_asset(securities)}
        elif isinstance(securities, Iterable):
            keep = {self.resolve_asset(s) for s in securities}
        else:
            raise AlgorithmApiError(f"close_all_positions_except takes an asset or a list of assets, got "
                                    f"{securities!r}")
        ids = [self.order_target(asset, 0) for asset, p in list(self.portfolio.positions.items())
               if p.amount and asset not in keep]
        if orderStatusMonitor:
            for order_id in ids:
                self.order_status_monitor(order_id, "Filled")
        return ids

    def rebalance_portfolio(self, targets: Any, buyAdvantage: float | None = None, sellAdvantage: float | None = None,
                            accountCode: str = "default") -> dict[Asset, str | None]:
        """IBridgePy: make the portfolio hold ``targets`` and close every held position not named (closing and
        reducing orders first); open orders are not taken into account. Returns {asset: order id}.

        - ``targets`` values: share counts, as IBridgePy 18 takes them, when every value is a whole number
          (``{symbol('SPY'): 100}``; ``1`` is one share); otherwise fractions of the portfolio value
          (``{symbol('SPY'): 0.5}`` = 50%, ``1.0`` = 100%).
        - Without ``buyAdvantage``/``sellAdvantage`` the orders are market orders (fractions sized at the current
          price). With them (IBridgePy's keywords) they are GTC limit orders: buys at ask x (1 - buyAdvantage),
          sells at bid x (1 + sellAdvantage) (0.001 = 0.1% better than the quote; negative pays up).
        """
        self._account(accountCode, "rebalance_portfolio")
        if not isinstance(targets, dict) and not isinstance(targets, pd.Series):
            raise AlgorithmApiError(f"rebalance_portfolio takes a dict {{asset: target}}, e.g. {{symbol('AAPL'): 100}} "
                                    f"(shares) or {{symbol('AAPL'): 0.5}} (50%), got {targets!r}")
        wanted: dict[Asset, float] = {}
        for key, value in targets.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise AlgorithmApiError(f"rebalance_portfolio: the target of {key!r} must be a finite number (shares, "
                                        f"or a fraction: 0.25 = 25%), got {value!r}")
            wanted[self.resolve_asset(key)] = float(value)
        as_shares = bool(targets) and all(isinstance(v, (int, np.integer)) or float(v).is_integer()
                                          for v in targets.values()) \
            and not all(isinstance(v, (float, np.floating)) and abs(v) <= 1 for v in targets.values())
        limits = buyAdvantage is not None or sellAdvantage is not None
        value = self.portfolio.portfolio_value
        plan: list[tuple[Asset, float]] = [(a, -float(p.amount)) for a, p in self.portfolio.positions.items()
                                           if p.amount and a not in wanted]
        for asset, target in wanted.items():
            if not as_shares:
                price = self._price_for(asset, "ask_price" if limits else "price")
                target = value * target / (price * asset.multiplier)
            plan.append((asset, target - float(self.portfolio.positions[asset].amount)))
        out: dict[Asset, str | None] = {}
        for asset, delta in sorted(plan, key=lambda item: item[1] > 0):  # sells first
            if round_amount(delta) == 0:
                continue
            if not limits:
                out[asset] = self.order(asset, delta)
                continue
            if delta > 0:
                price = self._price_for(asset, "ask_price") * (1.0 - float(buyAdvantage or 0.0))
            else:
                price = self._price_for(asset, "bid_price") * (1.0 + float(sellAdvantage or 0.0))
            out[asset] = self.order(asset, delta, style=LimitOrder(price, tif="GTC"))
        return out

    def _price_for(self, asset: Asset, param: str) -> float:
        price = self.show_real_time_price(asset, param)
        if not (math.isfinite(price) and price > 0):
            raise BadOrderError(f"rebalance_portfolio: {asset.symbol} has no price yet (check data.can_trade first)")
        return price

    def modify_order(self, orderId: Any, newQuantity: float | None = None, newLimitPrice: float | None = None,
                     newStopPrice: float | None = None, newTif: str | None = None, newOrderRef: str | None = None,
                     **unsupported: Any) -> None:
        """IBridgePy: change a working order: ``newQuantity`` (shares, unsigned: the order keeps its side),
        ``newLimitPrice``, ``newStopPrice``, ``newTif`` ('DAY' or 'GTC'), ``newOrderRef``. In every mode: at IB the
        same order id is sent again; in a backtest the simulated broker changes the working order, which is
        matched with its new terms from the next bar. An order that is not working (filled, cancelled) raises
        BadOrderError (IBridgePy stops the program there); an unknown id raises OrderNotFoundError."""
        if unsupported:
            raise NotAvailableError(f"modify_order: {', '.join(sorted(unsupported))} cannot be changed in this version")
        record = self._record(orderId)
        amount = None
        if newQuantity is not None:
            quantity = round_amount(abs(self._amount(newQuantity)))
            amount = quantity if record.amount > 0 else -quantity
        limit = check_price(newLimitPrice, "modify_order: newLimitPrice")
        stop = check_price(newStopPrice, "modify_order: newStopPrice")
        is_buy = record.amount > 0
        tick = record.asset.tick_size
        if limit is not None:
            limit = LimitOrder(limit).limit_for(is_buy, tick)
        if stop is not None:
            from runtime.core.orders import StopOrder

            stop = StopOrder(stop).stop_for(is_buy, tick)
        tif = None
        if newTif is not None:
            text = str(newTif).strip().upper()
            if text not in (TimeInForce.DAY.value, TimeInForce.GTC.value):
                raise BadOrderError(f"modify_order: newTif must be 'DAY' or 'GTC', got {newTif!r}")
            tif = TimeInForce(text)
        self._engine.modify_order(record.id, amount=amount, limit=limit, stop=stop, tif=tif)
        if newOrderRef is not None:
            record.order_ref = str(newOrderRef)

    def order_status_monitor(self, orderId: Any, target_status: Any, waitingTimeInSeconds: float = 30) -> bool:
        """IBridgePy: wait until the order's status (IB's words: 'Filled', 'Submitted', 'PreSubmitted',
        'Cancelled', 'Inactive'; one or a list) is reached; returns True. ``'NoOrderPlaced'`` returns at once.

        - Paper and live runs: the call waits up to ``waitingTimeInSeconds`` (wall-clock seconds) while the broker's
          reports are applied (fills, statuses, positions); no other algorithm code runs meanwhile and the run's
          clock does not move. Market orders fill on arrival at the simulated gateway and at IB, so
          ``order_status_monitor(order(...), 'Filled')`` returns when the fill is booked.
        - On timeout, or when the order closes with another status, IBridgePy stops the whole program; here
          OrderStatusTimeoutError is raised into the algorithm: the rest of that handle_data call does not run, the
          error is logged with its file:line, and the run goes on (positions stay managed).
        - Backtests, and market orders of daily runs (they go as market-on-close and fill at the next close): the
          order cannot change before a later bar, so the call returns at once with the status the order will have:
          True for an open order asked to become 'Filled', 'Submitted' or 'PreSubmitted' (it fills at the next bar
          when the market allows), True/False by its actual status once it is closed.
        """
        if orderId in (NO_ORDER_PLACED, None):
            return True
        wanted = [target_status] if isinstance(target_status, str) else list(target_status) \
            if isinstance(target_status, (list, tuple, set)) else None
        words = {w for ws in IB_STATUS_WORDS.values() for w in ws}
        if not wanted or any(w not in words for w in wanted):
            raise AlgorithmApiError(f"order_status_monitor: target_status must be one of IB's status words "
                                    f"{sorted(words)} or a list of them, got {target_status!r}")
        record = self._record(orderId)
        if record.status in wanted:
            return True
        e = self._engine
        wait = e.wait_for_broker
        if wait is None or (e.frequency == "daily" and record.kind in _NEXT_CLOSE):
            if record.status.is_open:
                return any(w in ("Filled", "Submitted", "PreSubmitted") for w in wanted)
            return False
        deadline = time.monotonic() + max(float(waitingTimeInSeconds), 0.0)
        while True:
            wait()
            if record.status in wanted:
                return True
            if not record.status.is_open:
                raise OrderStatusTimeoutError(f"order_status_monitor: order {record.id} is {record.status.ib_status}, "
                                              f"not {target_status!r} ({record.reason or 'no reason given'})")
            if time.monotonic() >= deadline:
                raise OrderStatusTimeoutError(
                    f"order_status_monitor: order {record.id} is still {record.status.ib_status} after "
                    f"{waitingTimeInSeconds} s, not {target_status!r}")
            time.sleep(0.02)

    def send_email(self, emailTitle: str, emailBody: str, toEmail: str | list[str] | None = None) -> bool:
        """IBridgePy: send a mail over the SMTP server of settings.py (SMTP_HOST, SMTP_PORT, SMTP_USER,
        SMTP_PASSWORD, SMTP_STARTTLS, EMAIL_FROM; to ``toEmail`` or EMAIL_TO). Returns True when the server took
        it. Never fatal: without SMTP_HOST the mail is logged instead, and a failure (server down, refused login)
        is logged as an error and returns False. The call waits for the server (at most 10 s)."""
        o = self.ibridgepy_options
        to = toEmail if toEmail is not None else o.email_to
        recipients = [a.strip() for a in (to.split(",") if isinstance(to, str) else to or []) if a and a.strip()]
        if not o.smtp_host or not recipients:
            _email_log.info("send_email (no %s set, not sent): %s\n%s",
                            "SMTP_HOST" if not o.smtp_host else "EMAIL_TO or toEmail", emailTitle, emailBody)
            return False
        msg = EmailMessage()
        msg["Subject"] = str(emailTitle)
        msg["From"] = o.email_from or o.smtp_user or "ibalgo@localhost"
        msg["To"] = ", ".join(recipients)
        msg.set_content(str(emailBody))
        try:
            with smtplib.SMTP(o.smtp_host, int(o.smtp_port), timeout=10) as smtp:
                if o.smtp_starttls:
                    smtp.starttls()
                if o.smtp_user:
                    smtp.login(o.smtp_user, o.smtp_password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            _email_log.error("send_email failed (%s:%s): %s: %s; the run goes on", o.smtp_host, o.smtp_port,
                             type(exc).__name__, exc)
            return False
        _email_log.info("mail sent to %s: %s", ", ".join(recipients), emailTitle)
        return True

    def display_account_info(self, accountCode: str = "default") -> str:
        """IBridgePy: log the account's cash, portfolio value and positions value; returns the text."""
        account = self._account(accountCode, "display_account_info")
        if account is None:
            p = self.portfolio
            cash, value, positions = p.cash, p.portfolio_value, p.positions_value
        else:
            cash, value, positions = (self._account_value(account, tag) for tag in
                                      ("TotalCashValue", "NetLiquidation", "GrossPositionValue"))
        text = f"CASH={cash:.2f}\nportfolio_value={value:.2f}\npositions_value={positions:.2f}"
        return self._show(f"account balance{'' if account is None else ' ' + account}:", text)

    def calculate_profit(self, security: Any, accountCode: str = "default") -> float:
        """The open profit of the position in ``security``: (current price - average cost) x shares x multiplier
        (0.0 without a position)."""
        account = self._account(accountCode, "calculate_profit")
        p = self._account_position(account, self.resolve_asset(security))
        if not p.amount:
            return 0.0
        return float((p.last_sale_price - p.cost_basis) * p.amount * p.asset.multiplier)

    def close_all_positions_LMT(self, ls_excludeSecurities: Any = (), advantage: float = 0.0,
                                orderStatusMonitor: bool = False, accountCode: str = "default") -> list[str | None]:
        """IBridgePy: close every position not in ``ls_excludeSecurities`` with GTC limit orders: a long sells at
        bid x (1 + advantage), a short buys back at ask x (1 - advantage) (see show_real_time_price for what bid
        and ask are in each mode). Returns the order ids. ``orderStatusMonitor`` True waits for each fill as
        order_status_monitor does."""
        self._account(accountCode, "close_all_positions_LMT")
        keep = {self.resolve_asset(s) for s in (ls_excludeSecurities or ())}
        ids: list[str | None] = []
        for asset, p in list(self.portfolio.positions.items()):
            if not p.amount or asset in keep:
                continue
            side = "bid_price" if p.amount > 0 else "ask_price"
            price = self.show_real_time_price(asset, side) * (1.0 + advantage if p.amount > 0 else 1.0 - advantage)
            ids.append(self.order(asset, -p.amount, style=LimitOrder(price, tif="GTC")))
        if orderStatusMonitor:
            for order_id in ids:
                self.order_status_monitor(order_id, "Filled")
        return ids

    # ------------------------------------------------------------------------------------------------ brackets
    def place_order_with_stoploss(
        self, security: Any, amount: float, stopLossPrice: float, style: ExecutionStyle | None = None,
        tif: str = "DAY", **ib_options: Any,
    ) -> tuple[str, str]:
        """IBridgePy: an entry order (``style``, default MarketOrder()) for ``amount`` shares with a protective STP
        at ``stopLossPrice`` for the same quantity on the other side, working (time in force ``tif``: 'DAY' or
        'GTC') once the entry has filled completely. Returns ``(entry id, stop-loss id)`` as IBridgePy does.

        See :meth:`place_order_with_stoploss_takeprofit` for the rules."""
        ids = self._bracket("place_order_with_stoploss", security, amount, stopLossPrice, None, style, tif,
                            ib_options)
        return ids[0], ids[1]

    def place_order_with_takeprofit(
        self, security: Any, amount: float, takeProfitPrice: float, style: ExecutionStyle | None = None,
        tif: str = "DAY", **ib_options: Any,
    ) -> tuple[str, str]:
        """IBridgePy: an entry order (``style``, default MarketOrder()) for ``amount`` shares with a LMT at
        ``takeProfitPrice`` for the same quantity on the other side, working (time in force ``tif``: 'DAY' or
        'GTC') once the entry has filled completely. Returns ``(entry id, take-profit id)`` as IBridgePy does.

        See :meth:`place_order_with_stoploss_takeprofit` for the rules."""
        ids = self._bracket("place_order_with_takeprofit", security, amount, None, takeProfitPrice, style, tif,
                            ib_options)
        return ids[0], ids[1]

    def place_order_with_stoploss_takeprofit(
        self, security: Any, amount: float, stopLossPrice: float, takeProfitPrice: float,
        style: ExecutionStyle | None = None, tif: str = "DAY", **ib_options: Any,
    ) -> tuple[str, str, str]:
        """IBridgePy: an entry order (``style``, default MarketOrder()) with two exits for the same quantity on the
        other side: a STP at ``stopLossPrice`` and a LMT at ``takeProfitPrice``, in one OCA group (a fill of one
        cancels the other). Returns ``(entry id, stop-loss id, take-profit id)``, IBridgePy's order.

        - The exits are HELD (``get_order_status``: 'PreSubmitted') until the entry has filled completely, then
          OPEN ('Submitted'); they are open orders from the start (``get_open_orders``).
        - ``tif`` ('DAY' or 'GTC', IBridgePy's default 'DAY') is the exits'; the entry's comes from ``style``. DAY
          exits expire at the session's close: in a daily run, where the entry fills at the next session's close,
          pass ``tif='GTC'``.
        - ``cancel_order(entry id)`` before the entry fills cancels the exits too (IB's rule); cancelling an exit
          leaves the other working.
        - For a buy the stop must be below the entry price and the take-profit above it; for a sell (negative
          ``amount``) the reverse. The entry price is the style's limit price, else its stop price, else the
          current price. Wrong prices raise BadOrderError and nothing is placed.
        - All orders of the bracket reach the broker together: IB activates nothing before the last one has arrived.
        """
        ids = self._bracket("place_order_with_stoploss_takeprofit", security, amount, stopLossPrice,
                            takeProfitPrice, style, tif, ib_options)
        return ids[0], ids[1], ids[2]

    def _bracket(self, what: str, security: Any, amount: float, stop_loss: Any, take_profit: Any,
                 style: ExecutionStyle | None, tif: Any, ib_options: dict[str, Any]) -> tuple[str, ...]:
        entry = resolve_style(None, None, style)
        self._order_options(what, ib_options)
        text = str(tif).strip().upper() if isinstance(tif, (str, TimeInForce)) else ""
        if text not in (TimeInForce.DAY.value, TimeInForce.GTC.value):
            raise BadOrderError(f"{what}: tif must be 'DAY' or 'GTC', got {tif!r}")
        for name, value in (("stopLossPrice", stop_loss), ("takeProfitPrice", take_profit)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
                raise BadOrderError(f"{what}: {name} must be a number, got {value!r}")
        return self._engine.place_bracket(
            self.resolve_asset(security), self._amount(amount), entry, stop_loss=stop_loss, take_profit=take_profit,
            tif=TimeInForce(text), what=what,
            outside_rth=bool(ib_options.get("outsideRth", ib_options.get("outside_rth", False))),
        )


def _resample_days(frame: pd.DataFrame, bar_size: str) -> pd.DataFrame:
    """Daily bars as weekly ('1 week') or monthly bars, each labelled by its first session."""
    if not len(frame):
        return frame
    index = pd.DatetimeIndex(frame.index)
    naive = index.tz_localize(None)
    key = naive.to_period("W-SUN" if "w" in bar_size else "M")
    grouped = frame.groupby(key, sort=True)
    out = pd.DataFrame({"open": grouped["open"].first(), "high": grouped["high"].max(), "low": grouped["low"].min(),
                        "close": grouped["close"].last(), "volume": grouped["volume"].sum()})
    firsts = pd.Series(index, index=key).groupby(level=0).first()
    out.index = pd.DatetimeIndex(firsts.loc[out.index].to_numpy()).rename("time")
    if index.tz is not None and out.index.tz is None:
        out.index = out.index.tz_localize(index.tz)
    return out


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
        ("get_option_info", "Option greeks and option prices are not in the data; there is no alternative yet."),
        ("get_scanner_results", "Pick the symbols yourself, e.g. symbols('AAPL', 'MSFT')."),
        ("get_contract_details", "Resolve the contract with superSymbol(...) and read its fields (asset.multiplier, "
                                 "asset.tick_size, asset.expiry, asset.con_id, asset.asset_name)."),
    )
}
