"""The API an algorithm file calls: Quantopian/zipline names (and IBridgePy's), bound to one engine.

Every function here is injected into the algorithm's namespace (no imports needed), offered by the
``zipline.api`` / ``quantopian.algorithm`` shims, and reachable as ``context.<name>``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runtime.algorithm.fetcher import FetchedData, load_fetch
from runtime.algorithm.ibridgepy import NO_ORDER_PLACED, IBridgePyHelpers
from runtime.algorithm.pipelines import PipelineHost
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
from runtime.core.orders import ExecutionStyle, MarketOrder, Order, resolve_style, round_amount
from runtime.data.errors import SidNotFound, SymbolNotFoundError
from runtime.data.finder import AssetFinder
from runtime.errors import AlgorithmApiError, BadOrderError, IbAlgoError, ScheduleError

if TYPE_CHECKING:
    from runtime.engine.engine import Engine

#: the style of every plain market order (immutable, so one instance serves them all)
_MARKET = MarketOrder()


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
            "order_optimal_portfolio", "fetch_csv",
            "attach_pipeline", "pipeline_output",
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
        #: what fetch_csv loaded (None until the algorithm calls it)
        self.fetched: FetchedData | None = None
        #: the attached pipelines (over the data portal's daily bars unless a run configures another store)
        self.pipelines = PipelineHost(lambda: engine.portal.daily.bars, live=engine.mode != "backtest")
        #: every asset symbol()/symbols()/sid() returned, in first-lookup order (the old history() covers them)
        self._referenced: dict[int, Asset] = {}

    # ------------------------------------------------------------------------------------------------ assets
    def resolve_asset(self, value: object) -> Asset:
        """An Asset from an Asset, a symbol string (also 'STK,AAPL,USD' / 'CASH,EUR,USD') or a sid."""
        if isinstance(value, Asset):
            return value
        if isinstance(value, str):
            pseudo = self.fetched.lookup(value) if self.fetched is not None else None
            return pseudo if pseudo is not None else self.symbol(value)
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
        except SymbolNotFoundError as exc:
            if self.symbol_source is not None:
                return self._add_from_source(symbol_str)
            known = ", ".join(self._finder.symbols[:20])
            hint = f" Did you mean {' or '.join(exc.suggestions)}?" if exc.suggestions else ""
            raise SymbolNotFoundError(
                symbol_str, exc.suggestions, f"no data for symbol {symbol_str!r}.{hint} Symbols in the data: {known}"
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
            raise SymbolNotFoundError(str(sid), (),
                                      f"no asset with sid {sid}; known: {list(self._finder.sids)}") from None

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
        except SymbolNotFoundError:
            asset = None
        if asset is None or asset.sec_type.value != "FUT":
            raise SymbolNotFoundError(
                symbol, (), f"future_symbol({symbol!r}): the data holds no futures contract {symbol!r}; load futures "
                "data and use superSymbol(secType='FUT', symbol=ROOT, exchange=..., expiry='YYYYMM')"
            )
        return asset

    def set_symbol_lookup_date(self, dt: object) -> None:
        """Accepted for compatibility; symbols resolve against the loaded data."""

    # ------------------------------------------------------------------------------------------------ orders
    def _style(self, what: str, limit_price: Any, stop_price: Any, style: Any) -> ExecutionStyle:
        """One style from zipline's keywords or IBridgePy's positional style (``order(sec, 100, LimitOrder(p))``:
        the style arrives where zipline has ``limit_price``)."""
        for name, value in (("limit_price", limit_price), ("stop_price", stop_price)):
            if isinstance(value, ExecutionStyle) or (isinstance(value, type) and issubclass(value, ExecutionStyle)):
                if style is not None:
                    raise BadOrderError(f"{what}: two order styles given ({value!r} and style={style!r})")
                style = value
                if name == "limit_price":
                    limit_price = None
                else:
                    stop_price = None
        if style is None and limit_price is None and stop_price is None:
            return _MARKET
        return resolve_style(limit_price, stop_price, style)

    def order(
        self, asset: Any, amount: float, limit_price: float | None = None, stop_price: float | None = None,
        style: ExecutionStyle | None = None, **ib_options: Any,
    ) -> str | None:
        """Place an order for ``amount`` shares (negative sells). Returns the order id, or None if the amount
        rounds to 0 (within 1e-4 of an integer rounds to it, otherwise truncates toward zero).

        The style: zipline's ``limit_price=``/``stop_price=`` shorthands or ``style=``, or IBridgePy's positional
        style, ``order(sec, 100, LimitOrder(10.5))``; don't combine them. IBridgePy's keywords: ``orderRef`` (kept
        on the order: ``get_order(id).orderRef``), ``outsideRth``, ``accountCode`` (one of the run's accounts),
        ``followUp``/``waitForFeedbackInSeconds`` (accepted: orders are always followed). In an IBridgePy-style
        file of a minute run a style without a tif is a DAY order (IBridgePy's default); otherwise the cancel
        policy decides. Orders fill at the next bar at the earliest. Not allowed in initialize or
        before_trading_start.
        """
        resolved = self._style("order()", limit_price, stop_price, style)
        options = self._order_options("order()", ib_options)
        return self._engine.place_order(
            self.resolve_asset(asset), self._amount(amount), resolved, outside_rth=options["outside_rth"],
            order_ref=options["order_ref"], default_tif=self._ibridgepy_tif(), account=options["account"],
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
                    stop_price: float | None = None, style: ExecutionStyle | None = None,
                    **ib_options: Any) -> str | None:
        """Order ``value`` worth of the asset (shares = value / current price; negative sells). The style as in
        :meth:`order` (also positional, IBridgePy's ``order_value(sec, 5000, LimitOrder(p))``)."""
        a = self.resolve_asset(asset)
        resolved = self._style("order_value()", limit_price, stop_price, style)
        return self.order(a, self._value_to_amount(a, value), style=resolved, **ib_options)

    def order_percent(self, asset: Any, percent: float, limit_price: float | None = None,
                      stop_price: float | None = None, style: ExecutionStyle | None = None,
                      **ib_options: Any) -> str | None:
        """Order ``percent`` of the portfolio value (a fraction: 0.5 = 50%). The style as in :meth:`order`."""
        resolved = self._style("order_percent()", limit_price, stop_price, style)
        return self.order_value(asset, self._portfolio_value(ib_options) * self._amount(percent),
                                style=resolved, **ib_options)

    def _portfolio_value(self, ib_options: dict[str, Any]) -> float:
        """The portfolio value percent sizing uses: the run's, or IB's NetLiquidation of another account."""
        account = self._account(ib_options.get("accountCode"), "order sizing")
        if account is None:
            return self._engine.ledger.portfolio_value
        return self._account_value(account, "NetLiquidation")

    def order_target(self, asset: Any, target: float, limit_price: float | None = None,
                     stop_price: float | None = None, style: ExecutionStyle | None = None,
                     **ib_options: Any) -> str | None:
        """Order what it takes to hold ``target`` shares. Open orders are NOT taken into account (zipline's rule:
        two calls in one bar order twice). The style as in :meth:`order` (also positional, IBridgePy's
        ``order_target(sec, 50, StopOrder(p))``). When nothing needs ordering it returns None, and in an
        IBridgePy-style file IBridgePy's ``'NoOrderPlaced'``."""
        a = self.resolve_asset(asset)
        resolved = self._style("order_target()", limit_price, stop_price, style)
        account = self._account(ib_options.get("accountCode"), "order_target()")
        held = self._engine.ledger.amount(a.sid) if account is None else self._account_position(account, a).amount
        delta = self._amount(target) - held
        if round_amount(delta) == 0 and self.ibridgepy_style:
            self._order_options("order_target()", ib_options)
            return NO_ORDER_PLACED
        return self.order(a, delta, style=resolved, **ib_options)

    def order_target_value(self, asset: Any, target: float, limit_price: float | None = None,
                           stop_price: float | None = None, style: ExecutionStyle | None = None,
                           **ib_options: Any) -> str | None:
        """Order what it takes to hold ``target`` worth of the asset (open orders ignored). The style as in
        :meth:`order`."""
        a = self.resolve_asset(asset)
        resolved = self._style("order_target_value()", limit_price, stop_price, style)
        return self.order_target(a, self._value_to_amount(a, target), style=resolved, **ib_options)

    def order_target_percent(self, asset: Any, target: float, limit_price: float | None = None,
                             stop_price: float | None = None, style: ExecutionStyle | None = None,
                             **ib_options: Any) -> str | None:
        """Order what it takes for the asset to be ``target`` of the portfolio value (0.1 = 10%; open orders
        ignored). The style as in :meth:`order`."""
        resolved = self._style("order_target_percent()", limit_price, stop_price, style)
        return self.order_target_value(asset, self._portfolio_value(ib_options) * self._amount(target),
                                       style=resolved, **ib_options)

    def batch_market_order(self, share_counts: pd.Series | dict) -> list[str | None]:
        """Market orders for many assets at once: ``share_counts`` maps asset -> shares."""
        items = share_counts.items() if hasattr(share_counts, "items") else share_counts
        return [self.order(asset, amount) for asset, amount in items]

    def get_open_orders(self, asset: Any = None, accountCode: str = "default",
                        ) -> dict[Asset, list[Order]] | list[Order]:
        """Open orders: a dict {asset: [Order, ...]} of assets with open orders, or a list for one asset."""
        if accountCode not in (None, "", "default"):
            account = self._account(accountCode, "get_open_orders") or ""
            records = [r for r in self._engine.open_orders(None if asset is None else self.resolve_asset(asset))
                       if r.account == account]
            if asset is not None:
                return [r.snapshot() for r in records]
            grouped: dict[Asset, list[Order]] = {}
            for r in records:
                grouped.setdefault(r.asset, []).append(r.snapshot())
            return grouped
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
        """Cancel an order by id or Order. An order that is already closed (filled, cancelled, rejected) is left
        alone; an id this run never returned raises OrderNotFoundError (a typo must not pass silently).

        Paper and live runs: the call waits for the broker's answer so far (one round trip, as IBridgePy follows up
        on a cancel): an order the broker confirmed cancelled is closed when the call returns."""
        key = order_param.id if isinstance(order_param, Order) else order_param
        self._record(key)
        self._engine.cancel_order(key)
        self._follow_up()

    def _follow_up(self) -> None:
        if self._engine.wait_for_broker is not None:
            self._engine.wait_for_broker()

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

    # ------------------------------------------------------------------------------------------------ optimize
    def current_weights(self) -> pd.Series:
        """The portfolio's current weights (asset -> position value / portfolio value; shorts negative), the
        ``current_portfolio`` of an optimization."""
        portfolio = self.portfolio
        value = portfolio.portfolio_value
        if not value or not math.isfinite(value):
            return pd.Series(dtype=float)
        weights = {asset: pos.amount * pos.last_sale_price * asset.multiplier / value
                   for asset, pos in portfolio.positions.items() if pos.amount}
        return pd.Series(weights, dtype=float)

    def calculate_optimal_portfolio(self, objective: Any, constraints: Any, current_portfolio: Any = None) -> pd.Series:
        """Quantopian's ``quantopian.optimize.calculate_optimal_portfolio``: the optimal weights (Series asset ->
        weight) without placing orders. ``current_portfolio`` defaults to the algorithm's current weights.
        Raises ``InfeasibleConstraints`` (naming the conflicting constraints) or ``UnboundedObjective``."""
        from runtime.optimize import calculate_optimal_portfolio

        if current_portfolio is None:
            current_portfolio = self.current_weights()
        return calculate_optimal_portfolio(objective, constraints, current_portfolio)

    def run_optimization(self, objective: Any, constraints: Any, current_portfolio: Any = None) -> Any:
        """Quantopian's ``quantopian.optimize.run_optimization``: an ``OptimizationResult`` (``success``,
        ``new_weights``, ``status``, ``raise_for_status()``) instead of an exception when the optimization fails;
        ``current_portfolio`` defaults to the algorithm's current weights."""
        from runtime.optimize import run_optimization

        if current_portfolio is None:
            current_portfolio = self.current_weights()
        return run_optimization(objective, constraints, current_portfolio)

    def order_optimal_portfolio(self, objective: Any, constraints: Any) -> pd.Series:
        """Compute the optimal portfolio and order toward it: for each asset of the result (the objective's and
        the held ones), ``order_target_percent(asset, weight)``, so the order is the target minus the current
        holding, rounded to whole shares as zipline rounds; open orders are not taken into account (as
        order_target_percent). Returns a Series asset -> order id of the orders placed (none for an asset already
        at its target). Not allowed in initialize or before_trading_start, like every order function.
        """
        from runtime.engine.engine import Phase

        self._engine.require_phase("order_optimal_portfolio", (Phase.HANDLE_DATA, Phase.SCHEDULED))
        current = self.current_weights()
        weights = self.calculate_optimal_portfolio(objective, constraints, current)
        unpriced = [a for a, w in weights.items() if w != current.get(a, 0.0)
                    and not (math.isfinite(p := self._engine.current_price(a)) and p > 0)]
        if unpriced:
            names = ", ".join(getattr(a, "symbol", str(a)) for a in unpriced[:10])
            raise BadOrderError(f"order_optimal_portfolio: no price now for {names}, so nothing was ordered; leave "
                                "such assets out of the objective (check data.can_trade) or hold them with Frozen")
        placed: dict[Asset, str] = {}
        for asset, weight in weights.items():
            order_id = self.order_target_percent(asset, float(weight))
            if order_id is not None:
                placed[asset] = order_id
        return pd.Series(placed, dtype=object)

    # ------------------------------------------------------------------------------------------------ fetcher
    def fetch_csv(self, url: str, pre_func: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                  post_func: Callable[[pd.DataFrame], pd.DataFrame] | None = None, date_column: str = "date",
                  date_format: str | None = None, timezone: str = "UTC", symbol: str | None = None,
                  symbol_column: str | None = None, mask: bool = True, **kwargs: Any) -> pd.DataFrame:
        """Quantopian's Fetcher: load a CSV file (a local path, or an http(s) URL where the network allows) whose
        rows, keyed by ``date_column`` (and by ``symbol_column``, default 'symbol', mapped to assets), become
        visible through ``data.current(asset, 'column')``. Only in initialize.

        ``symbol='NAME'`` makes the rows data about a pseudo-asset read as ``data.current('NAME', 'column')``
        (not tradable). ``pre_func(df)`` runs on the raw frame, ``post_func(df)`` on the frame indexed by UTC
        time with a ``sid`` column of assets. ``mask=True`` drops rows of tickers the data does not hold (logged);
        ``mask=False`` keeps them as pseudo-assets. Dates without a time zone are read in ``timezone``. Other
        keyword arguments go to ``pandas.read_csv``. A row dated D is visible from session D on in daily runs
        (a row stamped after 16:00 exchange time: the next session), from its timestamp in minute runs; values
        are forward-filled; ``data.history`` does not include fetched columns. Returns the processed frame.
        """
        self._setup_only("fetch_csv")
        if self.fetched is None:
            self.fetched = FetchedData()
            self._engine.data.set_fetched(self.fetched)
        engine = self._engine

        def resolve(name: str) -> Asset | None:
            try:
                return self._finder.lookup_symbol(name)
            except SymbolNotFoundError:
                if self.symbol_source is None:
                    return None
            try:  # live runs: ask the broker, as symbol() does
                return self.symbol(name)
            except (IbAlgoError, LookupError):
                return None

        from pathlib import Path

        path = Path(engine.functions.path)
        return load_fetch(
            str(url), pre_func=pre_func, post_func=post_func, date_column=date_column, date_format=date_format,
            timezone=timezone, symbol=symbol, symbol_column=symbol_column, mask=mask, resolve=resolve,
            store=self.fetched, sessions=engine.calendar.sessions, exchange_tz=engine.calendar.tz,
            daily=engine.frequency == "daily", first_session=engine.calendar.session_label(engine.start_session),
            base_dir=path.parent if path.is_file() else None, kwargs=kwargs,
        )

    # ------------------------------------------------------------------------------------------------ setup
    def _setup_only(self, name: str) -> None:
        from runtime.engine.engine import Phase

        self._engine.require_phase(name, (Phase.INITIALIZE,))

    def set_commission(self, us_equities: Any = None, us_futures: Any = None, **kwargs: Any) -> None:
        """Set the commission model: ``set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))``
        (positional or ``us_equities=``)."""
        self._setup_only("set_commission")
        model = _model(us_equities, kwargs.get("us_equities"), "commission", costs.CommissionModel)
        if model is not None:
            self._engine.broker.set_models(commission=model)

    def set_slippage(self, us_equities: Any = None, us_futures: Any = None, **kwargs: Any) -> None:
        """Set the slippage model: ``set_slippage(slippage.FixedSlippage(spread=0.02))``."""
        self._setup_only("set_slippage")
        model = _model(us_equities, kwargs.get("us_equities"), "slippage", costs.SlippageModel)
        if model is not None:
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
        holding the session's last recorded value.

        Values must be numbers (int, float, bool, numpy scalars) or None (NaN), as in zipline: a string, a list or an
        object raises AlgorithmApiError naming the value (its repr would otherwise end up in the results).
        """
        if len(args) % 2:
            raise AlgorithmApiError("record() takes name, value pairs or keyword arguments")
        pairs = list(zip(args[::2], args[1::2])) + list(kwargs.items())
        for name, value in pairs:
            if not isinstance(name, str):
                raise AlgorithmApiError(f"record(): names must be strings, got {name!r}")
            if value is not None and not isinstance(value, (numbers.Number, np.bool_)):
                raise AlgorithmApiError(
                    f"record({name}=...): values must be numbers, got {type(value).__name__} {value!r:.60}; record "
                    "a number (e.g. len(x), float(x)) or keep other values in context")
        for name, value in pairs:
            self._engine.recorded[name] = value

    # ------------------------------------------------------------------------------------------------ pipeline
    def attach_pipeline(self, pipeline: Any, name: str, chunks: Any = None, eager: bool = True) -> Any:
        """Register ``pipeline`` under ``name`` (in initialize); it is computed once per session, before
        before_trading_start, from data through the previous session's close. Returns the pipeline.

        ``chunks`` (sessions computed at once in a backtest) and ``eager`` (compute even if pipeline_output is not
        called) change only the timing, never the values.
        """
        from runtime.engine.engine import Phase

        self._engine.require_phase("attach_pipeline()", (Phase.INITIALIZE,))
        self.pipelines.attach(pipeline, name, chunks, eager)
        hook = self.pipelines.on_session_start
        if hook not in self._engine.session_start_hooks:
            self._engine.session_start_hooks.append(hook)
        return pipeline

    def pipeline_output(self, name: str) -> pd.DataFrame:
        """Today's output of the pipeline attached as ``name``: a DataFrame indexed by asset (rows passing the
        screen), one column per pipeline column; the same frame all session. Not available in initialize."""
        from runtime.engine.engine import Phase

        self._engine.require_phase("pipeline_output()", (Phase.BEFORE_TRADING_START, Phase.HANDLE_DATA,
                                                         Phase.SCHEDULED, Phase.SESSION_END))
        session = self._engine.clock.session
        self.pipelines.last_session = max(self.pipelines.last_session, self._engine.end_session)
        return self.pipelines.output(name, session)

    def get_datetime(self, tz: Any = None, timezone: Any = "default") -> pd.Timestamp:
        """The current algorithm time (the broker's clock in paper and live runs).

        zipline-style files: in UTC unless ``tz`` is given (zipline's rule). IBridgePy-style files: in the run's
        SHOW_TIME_ZONE (default US/Eastern) unless ``timezone`` (IBridgePy's keyword: a name such as
        'US/Pacific' or a pytz time zone) is given, so ``get_datetime().hour == 15`` means 15:00 in New York, as in
        IBridgePy."""
        now = self._engine.now
        zone = tz if tz is not None else None if timezone in (None, "default") else timezone
        if zone is None and self.ibridgepy_style:
            zone = self.ibridgepy_options.show_time_zone
        try:
            return now.tz_convert(zone) if zone is not None else now
        except Exception:
            raise AlgorithmApiError(f"get_datetime: unknown time zone {zone!r}: use a name such as 'US/Eastern'") \
                from None

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
        """zipline's context.account: in paper and live runs from IB's account values (Reg T buying power,
        available funds, ...); in backtests from the run's ledger."""
        source = self._engine.account_snapshot_source
        if source is not None:
            snapshot = source()
            if snapshot is not None and getattr(snapshot, "net_liquidation", 0):
                return snapshot
        return self._engine.ledger.account()

    def schedule_function(self, func: Any, date_rule: Any = None, time_rule: Any = None, half_days: bool = True,
                          calendar: Any = None) -> None:
        """Run ``func(context, data)`` by market time, at most once per session: e.g.
        ``schedule_function(rebalance, date_rules.week_start(), time_rules.market_open(minutes=30))``.
        Only in initialize. In daily mode the time rule is ignored (the function runs at the daily bar)."""
        from runtime.core.rules import EventRule

        self._setup_only("schedule_function")
        if calendar is None and not isinstance(half_days, bool) and half_days is not None:
            # IBridgePy's and Quantopian's order: schedule_function(f, date_rule, time_rule, calendars.US_EQUITIES)
            calendar, half_days = half_days, True
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

    def get_position(self, security: Any, accountCode: str = "default") -> Position:
        """IBridgePy: the position in ``security`` (an empty one if none): ``amount``, ``price`` (IBridgePy's
        name for the average cost, = ``cost_basis``), ``last_sale_price``."""
        account = self._account(accountCode, "get_position")
        return self._account_position(account, self.resolve_asset(security))

    def get_all_positions(self, accountCode: str = "default") -> dict[Asset, Position]:
        """IBridgePy: every open position."""
        account = self._account(accountCode, "get_all_positions")
        return dict(self.portfolio.positions) if account is None else self._account_positions(account)

    def show_account_info(self, field: str, meta: str = "value", accountCode: str = "default") -> Any:
        """IBridgePy: an account value by IB tag (NetLiquidation, AvailableFunds, BuyingPower, TotalCashValue,
        GrossPositionValue, UnrealizedPnL, RealizedPnL, CashBalance, ExcessLiquidity, ...) or zipline name
        (``portfolio_value``, ``positions_value``, ``cash`` as IBridgePy maps them).

        Paper and live runs: the value IB (or the simulated gateway) reports for the account, as a number when it
        is one; a tag IB does not send raises an error listing the ones it does. Backtests: the run's ledger (the
        simulated account has no margin: BuyingPower and AvailableFunds are the cash)."""
        account = self._account(accountCode, "show_account_info")
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
        tags: dict[str, str] = {}
        for name, ib_tags in ACCOUNT_TAGS.items():  # the adapter's table, read backwards: IB tag -> zipline field
            for tag in ib_tags:
                tags.setdefault(tag, name)
        ledger = self._ledger_tags()
        if field in ledger:
            return ledger[field]
        account = self.account
        name = tags.get(field, field)
        if not hasattr(account, name):
            known = sorted(set(tags) | set(ledger))
            raise AlgorithmApiError(f"unknown account field {field!r}; known IB tags: {known}")
        return getattr(account, name)

    def _ledger_tags(self) -> dict[str, float]:
        """IB tags a backtest answers from its ledger."""
        p = self.portfolio
        unrealized = sum((pos.last_sale_price - pos.cost_basis) * pos.amount * pos.asset.multiplier
                         for pos in p.positions.values() if pos.amount)
        return {"NetLiquidation": p.portfolio_value, "TotalCashValue": p.cash, "CashBalance": p.cash,
                "GrossPositionValue": p.positions_exposure, "UnrealizedPnL": float(unrealized),
                "RealizedPnL": float(p.pnl - unrealized), "AvailableFunds": p.cash, "BuyingPower": p.cash,
                "ExcessLiquidity": p.cash}

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
        asset = self.resolve_asset(security)
        quote = self._engine.quote_source(asset) if self._engine.quote_source is not None else None
        if quote is not None:
            value = {"ask_price": quote.ask, "bid_price": quote.bid, "last_price": quote.price, "price": quote.price,
                     "open": getattr(quote, "open", None), "high": quote.high, "low": quote.low,
                     "close": getattr(quote, "close", None), "volume": quote.volume}[param]
            if value is not None and value == value and (value > 0 or param == "volume"):
                return float(value)
        return float(self._engine.data.current(asset, fields[param]))

    def cancel_all_orders(self, accountCode: str = "default") -> None:
        """IBridgePy: cancel every open order."""
        account = self._account(accountCode, "cancel_all_orders") or ""
        for record in list(self._engine.open_orders()):
            if record.account == account:
                self._engine.cancel_order(record.id)
        self._follow_up()

    def close_all_positions(self, orderStatusMonitor: bool = False, accountCode: str = "default",
                            ) -> list[str | None]:
        """IBridgePy: market orders that flatten every position; returns their ids. ``orderStatusMonitor`` True
        waits for each fill as order_status_monitor does."""
        account = self._account(accountCode, "close_all_positions")
        positions = self.portfolio.positions if account is None else self._account_positions(account)
        ids = [self.order_target(asset, 0, accountCode=accountCode) for asset, p in list(positions.items())
               if p.amount]
        if orderStatusMonitor:
            for order_id in ids:
                self.order_status_monitor(order_id, "Filled")
        return ids

    def end(self) -> None:
        """IBridgePy: stop the run at once, after the current call returns: the session so far is closed as at its
        end (its results row is written, DAY orders expire), positions are kept. ``exit()`` in algorithm code
        does the same (it never ends the process)."""
        self._engine.stop_requested = "the algorithm called end()"
