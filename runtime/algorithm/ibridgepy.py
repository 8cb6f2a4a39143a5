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

import math
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runtime.algorithm.frames import for_algorithm
from runtime.core.assets import Asset, SecType
from runtime.core.ib_mapping import ContractSpec, normalize_bar_size, parse_duration, parse_ib_time, super_symbol
from runtime.core.orders import ExecutionStyle, Order, OrderStatus, TimeInForce, resolve_style
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

#: IBridgePy's order status strings (IB's ``orderStatus`` values) for the runtime's statuses.
IB_ORDER_STATUS: dict[OrderStatus, str] = {
    OrderStatus.OPEN: "Submitted",
    OrderStatus.HELD: "PreSubmitted",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.REJECTED: "Inactive",
}

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
    return ", ".join(repr(b) for b in HISTORY_BAR_MINUTES)


class IBridgePyHelpers:
    """IBridgePy's helpers, mixed into the AlgorithmAPI (which provides ``_engine``, ``symbol``, ``order_target``)."""

    #: the helpers injected into the algorithm's namespace and reachable as context.<name>
    helper_names = frozenset(
        {
            "superSymbol", "show_real_time_size", "show_timestamp", "request_historical_data",
            "count_positions", "hold_any_position", "display_all", "display_positions", "display_orderStatus",
            "get_order_status", "get_all_open_orders", "get_all_orders", "close_all_positions_except",
            "rebalance_portfolio", "place_order_with_stoploss", "place_order_with_takeprofit",
            "place_order_with_stoploss_takeprofit",
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

        The bars hold no quotes or single trades, so in every mode all four answer with the current bar's volume
        (``data.current(security, 'volume')``: 0 for a bar without trades); the bid/ask/last sizes are a stand-in
        for "how much traded in this bar".
        """
        if param not in SIZE_PARAMS:
            raise AlgorithmApiError(f"show_real_time_size: unknown param {param!r}; use one of "
                                    f"{', '.join(SIZE_PARAMS)}")
        volume = float(self._engine.data.current(self.resolve_asset(security), "volume"))
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
        timezoneOfReturn: str = "US/Eastern",
    ) -> pd.DataFrame:
        """IBridgePy: bars of ``security`` as a DataFrame (columns open, high, low, close, volume; newest last).

        - ``barSize``: '1 day', '1 min', or a multiple of minutes up to '8 hours' ('5 mins', '1 hour'...), built by
          aggregating minute bars (minute runs only). Daily bars are indexed by their session date (midnight in
          ``timezoneOfReturn``), intraday bars by their START time (IB's label) in ``timezoneOfReturn``.
        - ``goBack``: an IB duration: 'n S' (the last n seconds of trading time), 'n D' (the last n sessions),
          'n W', 'n M', 'n Y' (calendar weeks, months, years).
        - ``endTime``: '' (now), or an earlier time ('20120105 16:00:00 US/Eastern', a Timestamp); later is
          clamped to now, so no bar from the future is ever returned.

        Built from ``data.history`` (the same values, split-adjusted as of now); bars without trades are left out
        like IB does. The data holds regular-hours trade bars only: ``useRTH=0`` gives the same bars and
        ``whatToShow`` may be '', 'TRADES', 'MIDPOINT' (FX data) or 'ADJUSTED_LAST'. In paper and live minute runs
        the minute bars start at today's open.
        """
        asset = self.resolve_asset(security)
        minutes = self._history_bar_minutes(barSize)
        if not isinstance(goBack, str):
            raise HistoryError(f"request_historical_data: goBack must be an IB duration string such as '5 D', "
                               f"'1 Y' or '3600 S', got {goBack!r}")
        try:
            n, unit = parse_duration(goBack)
        except ValueError as exc:
            raise HistoryError(f"request_historical_data: {exc}") from None
        what = str(whatToShow or "").strip().upper()
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
            return self._finish(frame, tz, intraday=True)
        return self._finish(self._daily_history(asset, n, unit, end_ns), tz, intraday=False)

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
    def count_positions(self, security: Any) -> int:
        """IBridgePy: the number of shares (contracts) held in ``security``: negative when short, 0 if none."""
        return int(self.portfolio.positions[self.resolve_asset(security)].amount)

    def hold_any_position(self) -> bool:
        """IBridgePy: whether any position is held."""
        return any(p.amount for p in self.portfolio.positions.values())

    def display_positions(self) -> str:
        """IBridgePy: log a table of the positions (symbol, amount, cost basis, last price, value); returns it."""
        rows = [
            (a.symbol, a.sec_type.value, p.amount, f"{p.cost_basis:.4f}", f"{p.last_sale_price:.4f}",
             f"{p.amount * p.last_sale_price * a.multiplier:.2f}")
            for a, p in sorted(self.portfolio.positions.items(), key=lambda item: item[0].symbol) if p.amount
        ]
        text = _table(("symbol", "secType", "amount", "cost_basis", "last_price", "value"), rows, "no positions")
        return self._show("positions:", text)

    def display_orderStatus(self) -> str:
        """IBridgePy: log a table of every order of this run (id, symbol, action, quantity, filled, type, prices,
        status as IB names it); returns it."""
        rows = []
        for record in self._engine.orders.values():
            rows.append((
                record.id, record.asset.symbol, "BUY" if record.amount > 0 else "SELL", abs(record.amount),
                abs(record.filled), record.kind.value, "" if record.limit is None else f"{record.limit:g}",
                "" if record.stop is None else f"{record.stop:g}", record.tif.value,
                IB_ORDER_STATUS[record.status],
            ))
        text = _table(("orderId", "symbol", "action", "quantity", "filled", "type", "limit", "stop", "tif",
                       "status"), rows, "no orders")
        return self._show("orders:", text)

    def display_all(self) -> str:
        """IBridgePy: log the account summary, the positions and the orders; returns the text."""
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
        return IB_ORDER_STATUS[self._record(orderId).status]

    def get_all_open_orders(self) -> dict[str, Order]:
        """IBridgePy: every open order of this run, as {orderId: Order}."""
        return {record.id: record.snapshot() for record in self._engine.open_orders()}

    def get_all_orders(self) -> dict[str, Order]:
        """IBridgePy: every order of this run (open and closed), as {orderId: Order}, oldest first."""
        return {key: record.snapshot() for key, record in self._engine.orders.items()}

    def close_all_positions_except(self, securities: Any) -> list[str | None]:
        """IBridgePy: market orders that flatten every position except those in ``securities`` (one asset or a
        list); returns the order ids."""
        if isinstance(securities, (Asset, str)):
            keep = {self.resolve_asset(securities)}
        elif isinstance(securities, Iterable):
            keep = {self.resolve_asset(s) for s in securities}
        else:
            raise AlgorithmApiError(f"close_all_positions_except takes an asset or a list of assets, got "
                                    f"{securities!r}")
        return [self.order_target(asset, 0) for asset, p in list(self.portfolio.positions.items())
                if p.amount and asset not in keep]

    def rebalance_portfolio(self, targets: Any) -> dict[Asset, str | None]:
        """IBridgePy: make each asset of ``targets`` ({asset: target fraction of the portfolio value, 0.25 = 25%})
        that fraction, and close every held position not named. Orders are market orders sized at the current
        price (closing orders first); open orders are not taken into account. Returns {asset: order id}."""
        if not isinstance(targets, dict) and not isinstance(targets, pd.Series):
            raise AlgorithmApiError(f"rebalance_portfolio takes a dict {{asset: target percent}}, e.g. "
                                    f"{{symbol('AAPL'): 0.5}}, got {targets!r}")
        wanted: dict[Asset, float] = {}
        for key, value in targets.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise AlgorithmApiError(f"rebalance_portfolio: the target of {key!r} must be a finite number (a "
                                        f"fraction, 0.25 = 25%), got {value!r}")
            wanted[self.resolve_asset(key)] = float(value)
        out: dict[Asset, str | None] = {}
        for asset, p in list(self.portfolio.positions.items()):
            if p.amount and asset not in wanted:
                out[asset] = self.order_target(asset, 0)
        for asset, value in wanted.items():
            out[asset] = self.order_target_percent(asset, value)
        return out

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
        ("modify_order", "Cancel it with cancel_order(orderId) and place a new order with the new quantity or prices."),
        ("order_status_monitor", "Orders fill on a later bar, so waiting inside handle_data cannot work: check "
                                 "get_order_status(orderId) in a later handle_data call instead."),
        ("create_order", "Place each leg with order(); legs are separate orders, not one combination order."),
        ("place_combination_orders", "Place each leg with order(); legs are separate orders, not one combination "
                                     "order."),
        ("get_option_info", "Option greeks and option prices are not in the data; there is no alternative yet."),
        ("get_scanner_results", "Pick the symbols yourself, e.g. symbols('AAPL', 'MSFT')."),
        ("get_contract_details", "Resolve the contract with superSymbol(...) and read its fields (asset.multiplier, "
                                 "asset.tick_size, asset.expiry, asset.con_id, asset.asset_name)."),
        ("send_email", "Write what you want to see with log.info(...) or record(...)."),
        ("TrailStopLimitOrder", "Use TrailStopOrder(trailing_amount=... or trailing_percent=...) or "
                                "StopLimitOrder(limit_price, stop_price)."),
        ("LimitOnOpenOrder", "Use LimitOrder(limit_price, tif='DAY'), or LimitOnCloseOrder(limit_price) for the "
                             "close."),
    )
}
