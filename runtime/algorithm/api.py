"""The API an algorithm file calls: Quantopian/zipline names (and IBridgePy's), bound to one engine.

Every function here is injected into the algorithm's namespace (no imports needed), offered by the
``zipline.api`` / ``quantopian.algorithm`` shims, and reachable as ``context.<name>``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from runtime.algorithm.ibridgepy import IBridgePyHelpers
from runtime.core import costs
from runtime.core.assets import Asset
from runtime.core.controls import (
    LongOnly,
    MaxLeverage,
    MaxOrderCount,
    MaxOrderSize,
    MaxPositionSize,
    MinLeverage,
    RestrictedList,
)
from runtime.core.ib_mapping import ACCOUNT_TAGS
from runtime.core.ledger import Account, Portfolio, Position
from runtime.core.orders import ExecutionStyle, MarketOrder, Order, resolve_style
from runtime.data.errors import SidNotFound, SymbolNotFound
from runtime.data.finder import AssetFinder
from runtime.errors import AlgorithmApiError, BadOrderError, ScheduleError

if TYPE_CHECKING:
    from runtime.engine.engine import Engine

#: the style of every plain market order (immutable, so one instance serves them all)
_MARKET = MarketOrder()


class SymbolNotFoundError(AlgorithmApiError, LookupError):
    """``symbol('XYZ')`` named something the data does not hold."""


class EODCancel:
    """Cancel policy: cancel every open order at the end of each session (Quantopian live trading did this)."""

    def __init__(self, warn_on_cancel: bool = True) -> None:
        self.warn_on_cancel = warn_on_cancel


class NeverCancel:
    """Cancel policy: open orders stay open across sessions (zipline's default)."""


class cancel_policy:
    EODCancel = EODCancel
    NeverCancel = NeverCancel


class commission:
    PerShare = costs.PerShare
    PerTrade = costs.PerTrade
    PerDollar = costs.PerDollar
    PerContract = costs.PerContract
    NoCommission = costs.NoCommission
    CommissionModel = costs.CommissionModel


class slippage:
    FixedSlippage = costs.FixedSlippage
    FixedBasisPointsSlippage = costs.FixedBasisPointsSlippage
    VolumeShareSlippage = costs.VolumeShareSlippage
    NoSlippage = costs.NoSlippage
    SlippageModel = costs.SlippageModel


class AlgoLog:
    """Quantopian's ``log``: ``log.info(...)``, ``log.warn(...)``, ``log.error(...)``, stamped with algorithm time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _emit(self, level: int, msg: object, *args: object) -> None:
        self._engine.algo_log.log(level, str(msg), *args)

    def debug(self, msg: object, *args: object) -> None:
        self._emit(10, msg, *args)

    def info(self, msg: object, *args: object) -> None:
        self._emit(20, msg, *args)

    def notice(self, msg: object, *args: object) -> None:
        self._emit(20, msg, *args)

    def warn(self, msg: object, *args: object) -> None:
        self._emit(30, msg, *args)

    warning = warn

    def error(self, msg: object, *args: object) -> None:
        self._emit(40, msg, *args)

    def critical(self, msg: object, *args: object) -> None:
        self._emit(50, msg, *args)


def _model(positional: object, us_equities: object, kind: str, base: type) -> object | None:
    model = us_equities if us_equities is not None else positional
    if model is None:
        return None
    if isinstance(model, type) and issubclass(model, base):
        raise AlgorithmApiError(f"set_{kind} needs a model instance: did you forget the parentheses, e.g. "
                                f"{model.__name__}()?")
    if not isinstance(model, base):
        raise AlgorithmApiError(f"set_{kind} got {model!r}, which is not a {kind} model")
    return model


class AlgorithmAPI(IBridgePyHelpers):
    """The functions an algorithm calls, bound to an engine (IBridgePy's helpers come from
    :class:`~runtime.algorithm.ibridgepy.IBridgePyHelpers`)."""

    #: names injected into the algorithm's namespace and reachable as context.<name>
    exported_names = frozenset(
        {
            "symbol", "symbols", "sid", "set_symbol_lookup_date",
            "order", "order_value", "order_percent", "order_target", "order_target_value", "order_target_percent",
            "batch_market_order", "get_open_orders", "get_order", "cancel_order", "set_cancel_policy",
            "record", "get_datetime", "get_environment", "set_commission", "set_slippage", "set_benchmark",
            "set_max_order_size", "set_max_position_size", "set_max_order_count", "set_long_only",
            "set_do_not_order_list", "set_asset_restrictions", "set_max_leverage", "set_min_leverage",
            "schedule_function", "portfolio", "account",
            "isTradingDay", "isEarlyClose", "get_position", "get_all_positions", "show_account_info",
            "show_real_time_price", "cancel_all_orders", "close_all_positions", "end",
            "history", "future_symbol",
        }
    ) | IBridgePyHelpers.helper_names

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.log = AlgoLog(engine)
        self._finder = AssetFinder(engine.portal.assets)
        #: live runs: resolves a symbol the data does not hold yet through the broker (and adds it to the data)
        self.symbol_source: Callable[[str], Asset] | None = None
        #: live runs: resolves superSymbol's contract through the broker (and adds it to the data)
        self.super_symbol_source: Callable[..., Asset] | None = None
        self._portfolio_cache: tuple[int, int, Portfolio] | None = None
        #: every asset symbol()/symbols()/sid() returned, in first-lookup order (the old history() covers them)
        self._referenced: dict[int, Asset] = {}

    # ------------------------------------------------------------------------------------------------ assets
    def resolve_asset(self, value: object) -> Asset:
        """An Asset from an Asset, a symbol string (also 'STK,AAPL,USD' / 'CASH,EUR,USD') or a sid."""
        if isinstance(value, Asset):
            return value
        if isinstance(value, str):
            return self.symbol(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return self.sid(value)
        raise AlgorithmApiError(f"expected an asset such as symbol('AAPL'), got {value!r}")

    def symbol(self, symbol_str: str, country_code: str | None = None) -> Asset:
        """The asset for a ticker, e.g. ``symbol('AAPL')``; also IBridgePy's ``'STK,AAPL,USD'`` and
        ``'CASH,EUR,USD'`` forms. An unknown ticker raises an error that suggests close matches."""
        if not isinstance(symbol_str, str):
            raise AlgorithmApiError(f"symbol() takes a ticker string, got {symbol_str!r}")
        try:
            asset = self._finder.lookup_symbol(symbol_str)
            self._referenced.setdefault(asset.sid, asset)
            return asset
        except SymbolNotFound as exc:
            if self.symbol_source is not None:
                return self._add_from_source(symbol_str)
            known = ", ".join(self._finder.symbols[:20])
            hint = f" Did you mean {' or '.join(exc.suggestions)}?" if exc.suggestions else ""
            raise SymbolNotFoundError(
                f"no data for symbol {symbol_str!r}.{hint} Symbols in the data: {known}"
            ) from None

    def _add_from_source(self, symbol_str: str) -> Asset:
        assert self.symbol_source is not None
        asset = self.symbol_source(symbol_str)
        self._finder = AssetFinder(self._finder.assets, [asset])
        return asset

    def add_assets(self, assets: list[Asset]) -> None:
        """Make ``assets`` known to symbol()/sid() (live runs: positions held at the broker)."""
        self._finder = AssetFinder(self._finder.assets, assets)

    def symbols(self, *symbols: str, **kwargs: Any) -> list[Asset]:
        """Several assets at once: ``symbols('AAPL', 'MSFT')``."""
        return [self.symbol(s) for s in symbols]

    def sid(self, sid: int) -> Asset:
        """The asset with a security id (the bundled tickers keep Quantopian's: ``sid(24)`` is AAPL)."""
        try:
            asset = self._finder.retrieve_asset(sid)
            self._referenced.setdefault(asset.sid, asset)
            return asset
        except SidNotFound:
            raise SymbolNotFoundError(f"no asset with sid {sid}; known: {list(self._finder.sids)}") from None

    def history(self, bar_count: int, frequency: str = "1d", field: str = "price", ffill: bool = True) -> Any:
        """Quantopian's pre-2016 ``history(bar_count, frequency, field)``: a DataFrame (bars x assets) of every asset
        looked up so far with ``symbol``/``symbols``/``sid``. Today's form is
        ``data.history(context.assets, field, bar_count, frequency)``, which names its assets."""
        assets = list(self._referenced.values())
        if not assets:
            raise AlgorithmApiError("history(bar_count, frequency, field) covers the assets looked up with symbol() "
                                    "or sid(), and there are none yet: use data.history(assets, field, bar_count, "
                                    "frequency)")
        return self._engine.data.history(assets, field, bar_count, frequency)

    def future_symbol(self, symbol: str) -> Asset:
        """zipline's ``future_symbol('ESZ12')``: the futures contract of that symbol when the data holds it (load
        futures data, see the README); otherwise an error naming ``superSymbol(secType='FUT', ...)``."""
        try:
            asset = self._finder.lookup_symbol(symbol)
        except SymbolNotFound:
            asset = None
        if asset is None or asset.sec_type.value != "FUT":
            raise SymbolNotFoundError(
                f"future_symbol({symbol!r}): the data holds no futures contract {symbol!r}; load futures data and use "
                "superSymbol(secType='FUT', symbol=ROOT, exchange=..., expiry='YYYYMM')"
            )
        return asset

    def set_symbol_lookup_date(self, dt: object) -> None:
        """Accepted for compatibility; symbols resolve against the loaded data."""

    # ------------------------------------------------------------------------------------------------ orders
    def order(
        self, asset: Any, amount: float, limit_price: float | None = None, stop_price: float | None = None,
        style: ExecutionStyle | None = None, **ib_options: Any,
    ) -> str | None:
        """Place an order for ``amount`` shares (negative sells). Returns the order id, or None if the amount
        rounds to 0 (within 1e-4 of an integer rounds to it, otherwise truncates toward zero).

        ``limit_price``/``stop_price`` are shorthands for LimitOrder/StopOrder/StopLimitOrder; don't combine them
        with ``style``. Orders fill at the next bar at the earliest. Not allowed in initialize or
        before_trading_start.
        """
        if style is None and limit_price is None and stop_price is None:
            resolved = _MARKET
        else:
            resolved = resolve_style(limit_price, stop_price, style)
        return self._engine.place_order(
            self.resolve_asset(asset), self._amount(amount), resolved,
            outside_rth=bool(ib_options.get("outsideRth", ib_options.get("outside_rth", False))),
        )

    @staticmethod
    def _amount(amount: object) -> float:
        try:
            value = float(amount)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise BadOrderError(f"order amount must be a number, got {amount!r}") from None
        if not math.isfinite(value):
            raise BadOrderError(f"order amount must be finite, got {amount!r}")
        return value

    def _price_for_sizing(self, asset: Asset) -> float:
        price = self._engine.current_price(asset)
        if not math.isfinite(price) or price <= 0:
            raise BadOrderError(
                f"cannot size an order for {asset.symbol} at {self._engine.now}: it has no price yet "
                "(check data.can_trade(asset) first)"
            )
        return price

    def _value_to_amount(self, asset: Asset, value: float) -> float:
        value = self._amount(value)
        return value / (self._price_for_sizing(asset) * asset.multiplier)

    def order_value(self, asset: Any, value: float, limit_price: float | None = None,
                    stop_price: float | None = None, style: ExecutionStyle | None = None) -> str | None:
        """Order ``value`` worth of the asset (shares = value / current price; negative sells)."""
        a = self.resolve_asset(asset)
        return self.order(a, self._value_to_amount(a, value), limit_price, stop_price, style)

    def order_percent(self, asset: Any, percent: float, limit_price: float | None = None,
                      stop_price: float | None = None, style: ExecutionStyle | None = None) -> str | None:
        """Order ``percent`` of the portfolio value (a fraction: 0.5 = 50%)."""
        return self.order_value(asset, self._engine.ledger.portfolio_value * self._amount(percent),
                                limit_price, stop_price, style)

    def order_target(self, asset: Any, target: float, limit_price: float | None = None,
                     stop_price: float | None = None, style: ExecutionStyle | None = None) -> str | None:
        """Order what it takes to hold ``target`` shares. Open orders are NOT taken into account (zipline's rule:
        two calls in one bar order twice)."""
        a = self.resolve_asset(asset)
        return self.order(a, self._amount(target) - self._engine.ledger.amount(a.sid), limit_price, stop_price, style)

    def order_target_value(self, asset: Any, target: float, limit_price: float | None = None,
                           stop_price: float | None = None, style: ExecutionStyle | None = None) -> str | None:
        """Order what it takes to hold ``target`` worth of the asset (open orders ignored)."""
        a = self.resolve_asset(asset)
        return self.order_target(a, self._value_to_amount(a, target), limit_price, stop_price, style)

    def order_target_percent(self, asset: Any, target: float, limit_price: float | None = None,
                             stop_price: float | None = None, style: ExecutionStyle | None = None) -> str | None:
        """Order what it takes for the asset to be ``target`` of the portfolio value (0.1 = 10%; open orders
        ignored)."""
        return self.order_target_value(asset, self._engine.ledger.portfolio_value * self._amount(target),
                                       limit_price, stop_price, style)

    def batch_market_order(self, share_counts: pd.Series | dict) -> list[str | None]:
        """Market orders for many assets at once: ``share_counts`` maps asset -> shares."""
        items = share_counts.items() if hasattr(share_counts, "items") else share_counts
        return [self.order(asset, amount) for asset, amount in items]

    def get_open_orders(self, asset: Any = None) -> dict[Asset, list[Order]] | list[Order]:
        """Open orders: a dict {asset: [Order, ...]} of assets with open orders, or a list for one asset."""
        if asset is not None:
            return [r.snapshot() for r in self._engine.open_orders(self.resolve_asset(asset))]
        out: dict[Asset, list[Order]] = {}
        for record in self._engine.open_orders():
            out.setdefault(record.asset, []).append(record.snapshot())
        return out

    def get_order(self, order_id: Any) -> Order | None:
        """The order with this id (open or closed), or None."""
        key = order_id.id if isinstance(order_id, Order) else order_id
        record = self._engine.orders.get(key)
        return None if record is None else record.snapshot()

    def cancel_order(self, order_param: Any) -> None:
        """Cancel an order by id or Order; unknown or closed orders are ignored."""
        key = order_param.id if isinstance(order_param, Order) else order_param
        self._engine.cancel_order(key)

    def set_cancel_policy(self, policy: EODCancel | NeverCancel) -> None:
        """EODCancel() cancels open orders at each session's end; NeverCancel() (the default) keeps them."""
        from runtime.engine.engine import CancelPolicy

        self._setup_only("set_cancel_policy")
        if isinstance(policy, type):
            raise AlgorithmApiError("set_cancel_policy needs an instance: EODCancel() or NeverCancel()")
        if isinstance(policy, EODCancel):
            self._engine.cancel_policy = CancelPolicy.EOD
        elif isinstance(policy, NeverCancel):
            self._engine.cancel_policy = CancelPolicy.NEVER
        else:
            raise AlgorithmApiError(f"unknown cancel policy {policy!r}: use EODCancel() or NeverCancel()")

    # ------------------------------------------------------------------------------------------------ setup
    def _setup_only(self, name: str) -> None:
        from runtime.engine.engine import Phase

        self._engine.require_phase(name, (Phase.INITIALIZE,))

    def set_commission(self, us_equities: Any = None, us_futures: Any = None, **kwargs: Any) -> None:
        """Set the commission model: ``set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))``
        (positional or ``us_equities=``)."""
        self._setup_only("set_commission")
        model = _model(us_equities, kwargs.get("us_equities"), "commission", costs.CommissionModel)
        if model is not None and hasattr(self._engine.broker, "set_models"):
            self._engine.broker.set_models(commission=model)

    def set_slippage(self, us_equities: Any = None, us_futures: Any = None, **kwargs: Any) -> None:
        """Set the slippage model: ``set_slippage(slippage.FixedSlippage(spread=0.02))``."""
        self._setup_only("set_slippage")
        model = _model(us_equities, kwargs.get("us_equities"), "slippage", costs.SlippageModel)
        if model is not None and hasattr(self._engine.broker, "set_models"):
            self._engine.broker.set_models(slippage=model)

    def set_benchmark(self, benchmark: Any) -> None:
        """Compare returns with an asset's (``set_benchmark(symbol('IBM'))``)."""
        self._setup_only("set_benchmark")
        self._engine.benchmark = self.resolve_asset(benchmark)

    def _asset_or_none(self, asset: Any) -> Asset | None:
        return None if asset is None else self.resolve_asset(asset)

    def set_max_order_size(self, asset: Any = None, max_shares: float | None = None,
                           max_notional: float | None = None, on_error: str = "fail") -> None:
        """No single order above ``max_shares`` shares or ``max_notional`` value (for one asset, or all)."""
        self._setup_only("set_max_order_size")
        self._engine.controls.append(MaxOrderSize(on_error, self._asset_or_none(asset), max_shares, max_notional))

    def set_max_position_size(self, asset: Any = None, max_shares: float | None = None,
                              max_notional: float | None = None, on_error: str = "fail") -> None:
        """No position above ``max_shares``/``max_notional`` after an order (open orders ignored)."""
        self._setup_only("set_max_position_size")
        self._engine.controls.append(MaxPositionSize(on_error, self._asset_or_none(asset), max_shares, max_notional))

    def set_max_order_count(self, max_count: int, on_error: str = "fail") -> None:
        """At most ``max_count`` orders per session."""
        self._setup_only("set_max_order_count")
        self._engine.controls.append(MaxOrderCount(on_error, int(max_count)))

    def set_long_only(self, on_error: str = "fail") -> None:
        """Refuse orders that would leave a short position."""
        self._setup_only("set_long_only")
        self._engine.controls.append(LongOnly(on_error))

    def set_do_not_order_list(self, restricted_list: Iterable[Any], on_error: str = "fail") -> None:
        """Refuse orders in these assets (they are also not ``data.can_trade``)."""
        self._setup_only("set_do_not_order_list")
        assets = frozenset(self.resolve_asset(a) for a in restricted_list)
        self._engine.restricted |= set(assets)
        self._engine.controls.append(RestrictedList(on_error, assets))

    def set_asset_restrictions(self, restrictions: Iterable[Any], on_error: str = "fail") -> None:
        """zipline's newer spelling of :meth:`set_do_not_order_list` (a list of assets)."""
        self.set_do_not_order_list(restrictions, on_error)

    def set_max_leverage(self, max_leverage: float) -> None:
        """Gross leverage above this at a session's end stops a backtest (and is logged live)."""
        self._setup_only("set_max_leverage")
        self._engine.max_leverage = MaxLeverage(max_leverage)

    def set_min_leverage(self, min_leverage: float, grace_period: Any) -> None:
        """Leverage below this after ``grace_period`` (a timedelta or a number of sessions) is a violation."""
        self._setup_only("set_min_leverage")
        days = grace_period.days if hasattr(grace_period, "days") else int(grace_period)
        self._engine.min_leverage = MinLeverage(float(min_leverage), days)

    # ------------------------------------------------------------------------------------------------ misc
    def record(self, *args: Any, **kwargs: Any) -> None:
        """Record values by name (``record(x=1, y=2)`` or ``record('x', 1)``); each becomes a results column
        holding the session's last recorded value."""
        if len(args) % 2:
            raise AlgorithmApiError("record() takes name, value pairs or keyword arguments")
        for name, value in zip(args[::2], args[1::2]):
            if not isinstance(name, str):
                raise AlgorithmApiError(f"record(): names must be strings, got {name!r}")
            self._engine.recorded[name] = value
        self._engine.recorded.update(kwargs)

    def get_datetime(self, tz: Any = None) -> pd.Timestamp:
        """The current algorithm time, in UTC unless ``tz`` is given."""
        now = self._engine.now
        return now.tz_convert(tz) if tz is not None else now

    def get_environment(self, field: str = "platform") -> Any:
        """'arena' (backtest/live), 'data_frequency', 'start', 'end', 'capital_base', 'platform', or '*'."""
        e = self._engine
        env = {
            "arena": e.mode,
            "data_frequency": e.frequency,
            "start": pd.Timestamp(e.calendar.opens[e.start_session], tz="UTC"),
            "end": pd.Timestamp(e.calendar.closes[e.end_session], tz="UTC"),
            "capital_base": e.ledger.starting_cash,
            "platform": "ibalgo",
        }
        if field == "*":
            return env
        if field not in env:
            raise AlgorithmApiError(f"unknown environment field {field!r}: use one of {sorted(env)} or '*'")
        return env[field]

    @property
    def portfolio(self) -> Portfolio:
        ledger = self._engine.ledger
        key = (ledger.version, self._engine.clock.now_ns)
        cached = self._portfolio_cache
        if cached is not None and cached[:2] == key:
            return cached[2]
        snapshot = ledger.portfolio()
        self._portfolio_cache = (*key, snapshot)
        return snapshot

    @property
    def account(self) -> Account:
        return self._engine.ledger.account()

    def schedule_function(self, func: Any, date_rule: Any = None, time_rule: Any = None, half_days: bool = True,
                          calendar: Any = None) -> None:
        """Run ``func(context, data)`` by market time, at most once per session: e.g.
        ``schedule_function(rebalance, date_rules.week_start(), time_rules.market_open(minutes=30))``.
        Only in initialize. In daily mode the time rule is ignored (the function runs at the daily bar)."""
        from runtime.core.rules import EventRule

        self._setup_only("schedule_function")
        if not callable(func):
            raise ScheduleError(f"schedule_function needs a function as its first argument, got {func!r}")
        rule = EventRule(date_rule, time_rule, half_days=half_days, calendar=calendar)
        self._engine.scheduled.append((rule, func))

    # ------------------------------------------------------------------------------------------------ IBridgePy
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

    def get_position(self, security: Any) -> Position:
        """IBridgePy: the position in ``security`` (an empty one if none)."""
        return self.portfolio.positions[self.resolve_asset(security)]

    def get_all_positions(self) -> dict[Asset, Position]:
        """IBridgePy: every open position."""
        return dict(self.portfolio.positions)

    def show_account_info(self, field: str) -> Any:
        """IBridgePy: an account value by IB tag (NetLiquidation, AvailableFunds, BuyingPower, ...) or zipline
        name."""
        account = self.account
        tags: dict[str, str] = {}
        for name, ib_tags in ACCOUNT_TAGS.items():  # the adapter's table, read backwards: IB tag -> zipline field
            for tag in ib_tags:
                tags.setdefault(tag, name)
        name = tags.get(field, field)
        if not hasattr(account, name):
            raise AlgorithmApiError(f"unknown account field {field!r}; known IB tags: {sorted(tags)}")
        return getattr(account, name)

    def show_real_time_price(self, security: Any, param: str = "price") -> float:
        """IBridgePy: the latest price of ``security`` (param: price, last_price, open, high, low, close, volume)."""
        field = {"last_price": "price", "ask_price": "price", "bid_price": "price"}.get(param, param)
        return float(self._engine.data.current(self.resolve_asset(security), field))

    def cancel_all_orders(self) -> None:
        """IBridgePy: cancel every open order."""
        for record in list(self._engine.open_orders()):
            self._engine.cancel_order(record.id)

    def close_all_positions(self) -> list[str | None]:
        """IBridgePy: market orders that flatten every position."""
        return [self.order_target(asset, 0) for asset in list(self.portfolio.positions)]

    def end(self) -> None:
        """IBridgePy: stop the run after the current event (positions are kept; results are written)."""
        self._engine.stop_requested = "the algorithm called end()"
