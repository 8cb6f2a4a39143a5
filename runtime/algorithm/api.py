"""The API an algorithm file calls: Quantopian/zipline names (and IBridgePy's), bound to one engine.

Every exported function is injected into the algorithm's namespace (no imports needed), offered by the
``zipline.api`` / ``quantopian.algorithm`` shims, and reachable as ``context.<name>``. This module holds the API
object with its own functions (assets, setup, record, pipelines, time, portfolio, scheduling); its parts hold the
rest: the order functions (:mod:`~runtime.algorithm.ordering`), IBridgePy's helpers
(:mod:`~runtime.algorithm.ibridgepy`, :mod:`~runtime.algorithm.ibridgepy_orders`, :mod:`~runtime.algorithm.ib_history`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runtime.algorithm.fetcher import FetchedData, load_fetch
from runtime.algorithm.ib_history import HistoricalData
from runtime.algorithm.ibridgepy import IBridgePyHelpers
from runtime.algorithm.ibridgepy_options import IBridgePyConventions
from runtime.algorithm.ibridgepy_orders import IBridgePyOrders
from runtime.algorithm.models import AlgoLog, EODCancel, NeverCancel, check_model
from runtime.algorithm.ordering import OrderFunctions
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
from runtime.core.ledger import Account, Portfolio
from runtime.data.errors import SidNotFoundError, SymbolNotFoundError
from runtime.data.finder import AssetFinder
from runtime.engine.state import CancelPolicy, Phase
from runtime.errors import AlgorithmApiError, IbAlgoError, ScheduleError

if TYPE_CHECKING:
    from runtime.engine.engine import Engine

_Part = type[OrderFunctions] | type[IBridgePyHelpers] | type[IBridgePyOrders] | type[HistoricalData]
#: the parts of the API that offer more of its functions: (attribute of the API, class)
_PARTS: tuple[tuple[str, _Part], ...] = (
    ("ordering", OrderFunctions), ("ibridgepy", IBridgePyHelpers), ("ibridgepy_orders", IBridgePyOrders),
    ("ib_history", HistoricalData),
)


class AlgorithmAPI:
    """The functions an algorithm calls, bound to an engine.

    Its parts: :attr:`ordering` (zipline's order and optimize functions), :attr:`ibridgepy` (IBridgePy's
    contracts, market data, positions, account values, mail), :attr:`ibridgepy_orders` (IBridgePy's order helpers
    and brackets), :attr:`ib_history` (request_historical_data), all following the run's :attr:`conventions`
    (IBridgePy options, accounts). :meth:`exported` finds any exported name on the part that offers it."""

    #: the API object's own exported names
    own_names = frozenset(
        {
            "symbol", "symbols", "sid", "set_symbol_lookup_date", "set_cancel_policy",
            "record", "get_datetime", "get_environment", "set_commission", "set_slippage", "set_benchmark",
            "set_max_order_size", "set_max_position_size", "set_max_order_count", "set_long_only",
            "set_do_not_order_list", "set_asset_restrictions", "set_max_leverage", "set_min_leverage",
            "schedule_function", "portfolio", "account", "fetch_csv", "attach_pipeline", "pipeline_output",
            "history", "future_symbol",
        }
    )
    #: every name injected into the algorithm's namespace and reachable as context.<name>
    exported_names = own_names.union(*(part.exported_names for _, part in _PARTS))

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
        #: the run's IBridgePy options and conventions (dialect, default tif, accounts), and IBridgePy's helpers
        self.conventions = IBridgePyConventions(engine, self.resolve_asset, lambda: self.portfolio)
        self.ordering = OrderFunctions(self, engine, self.conventions)
        self.ibridgepy = IBridgePyHelpers(self, engine, self.conventions)
        self.ibridgepy_orders = IBridgePyOrders(self, engine, self.conventions)
        self.ib_history = HistoricalData(engine, self.resolve_asset)

    def exported(self, name: str) -> Any:
        """The exported function ``name`` (see :attr:`exported_names`), bound to the part that offers it."""
        for attribute, part in _PARTS:
            if name in part.exported_names:
                return getattr(getattr(self, attribute), name)
        if name in self.own_names:
            return getattr(self, name)
        raise AttributeError(name)

    @classmethod
    def function_doc(cls, name: str) -> str | None:
        """The docstring of the exported function ``name`` (None if there is none)."""
        for _, part in _PARTS:
            if name in part.exported_names:
                return getattr(part, name).__doc__
        return getattr(getattr(cls, name, None), "__doc__", None)

    @property
    def finder(self) -> AssetFinder:
        """The assets the data holds, by symbol and sid."""
        return self._finder

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
        except SidNotFoundError:
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

    def set_cancel_policy(self, policy: EODCancel | NeverCancel) -> None:
        """EODCancel() cancels open orders at each session's end; NeverCancel() (the default) keeps them."""
        self._setup_only("set_cancel_policy")
        if isinstance(policy, type):
            raise AlgorithmApiError("set_cancel_policy needs an instance: EODCancel() or NeverCancel()")
        if isinstance(policy, EODCancel):
            self._engine.set_cancel_policy(CancelPolicy.EOD)
        elif isinstance(policy, NeverCancel):
            self._engine.set_cancel_policy(CancelPolicy.NEVER)
        else:
            raise AlgorithmApiError(f"unknown cancel policy {policy!r}: use EODCancel() or NeverCancel()")

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
        self._engine.require_phase(name, (Phase.INITIALIZE,))

    def set_commission(self, us_equities: Any = None, us_futures: Any = None, **kwargs: Any) -> None:
        """Set the commission model: ``set_commission(commission.PerShare(cost=0.001, min_trade_cost=0))``
        (positional or ``us_equities=``)."""
        self._setup_only("set_commission")
        model = check_model(us_equities, kwargs.get("us_equities"), "commission", costs.CommissionModel)
        if model is not None:
            self._engine.broker.set_models(commission=model)

    def set_slippage(self, us_equities: Any = None, us_futures: Any = None, **kwargs: Any) -> None:
        """Set the slippage model: ``set_slippage(slippage.FixedSlippage(spread=0.02))``."""
        self._setup_only("set_slippage")
        model = check_model(us_equities, kwargs.get("us_equities"), "slippage", costs.SlippageModel)
        if model is not None:
            self._engine.broker.set_models(slippage=model)

    def set_benchmark(self, benchmark: Any) -> None:
        """Compare returns with an asset's (``set_benchmark(symbol('IBM'))``)."""
        self._setup_only("set_benchmark")
        self._engine.set_benchmark(self.resolve_asset(benchmark))

    def _asset_or_none(self, asset: Any) -> Asset | None:
        return None if asset is None else self.resolve_asset(asset)

    def set_max_order_size(self, asset: Any = None, max_shares: float | None = None,
                           max_notional: float | None = None, on_error: str = "fail") -> None:
        """No single order above ``max_shares`` shares or ``max_notional`` value (for one asset, or all)."""
        self._setup_only("set_max_order_size")
        self._engine.add_control(MaxOrderSize(on_error, self._asset_or_none(asset), max_shares, max_notional))

    def set_max_position_size(self, asset: Any = None, max_shares: float | None = None,
                              max_notional: float | None = None, on_error: str = "fail") -> None:
        """No position above ``max_shares``/``max_notional`` after an order (open orders ignored)."""
        self._setup_only("set_max_position_size")
        self._engine.add_control(MaxPositionSize(on_error, self._asset_or_none(asset), max_shares, max_notional))

    def set_max_order_count(self, max_count: int, on_error: str = "fail") -> None:
        """At most ``max_count`` orders per session."""
        self._setup_only("set_max_order_count")
        self._engine.add_control(MaxOrderCount(on_error, int(max_count)))

    def set_long_only(self, on_error: str = "fail") -> None:
        """Refuse orders that would leave a short position."""
        self._setup_only("set_long_only")
        self._engine.add_control(LongOnly(on_error))

    def set_do_not_order_list(self, restricted_list: Iterable[Any], on_error: str = "fail") -> None:
        """Refuse orders in these assets (they are also not ``data.can_trade``)."""
        self._setup_only("set_do_not_order_list")
        assets = frozenset(self.resolve_asset(a) for a in restricted_list)
        self._engine.restricted |= set(assets)
        self._engine.add_control(RestrictedList(on_error, assets))

    def set_asset_restrictions(self, restrictions: Iterable[Any], on_error: str = "fail") -> None:
        """zipline's newer spelling of :meth:`set_do_not_order_list` (a list of assets)."""
        self.set_do_not_order_list(restrictions, on_error)

    def set_max_leverage(self, max_leverage: float) -> None:
        """Gross leverage above this at a session's end stops a backtest (and is logged live)."""
        self._setup_only("set_max_leverage")
        self._engine.set_max_leverage(MaxLeverage(max_leverage))

    def set_min_leverage(self, min_leverage: float, grace_period: Any) -> None:
        """Leverage below this after ``grace_period`` (a timedelta or a number of sessions) is a violation."""
        self._setup_only("set_min_leverage")
        days = grace_period.days if hasattr(grace_period, "days") else int(grace_period)
        self._engine.set_min_leverage(MinLeverage(float(min_leverage), days))

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
            self._engine.record(name, value)

    # ------------------------------------------------------------------------------------------------ pipeline
    def attach_pipeline(self, pipeline: Any, name: str, chunks: Any = None, eager: bool = True) -> Any:
        """Register ``pipeline`` under ``name`` (in initialize); it is computed once per session, before
        before_trading_start, from data through the previous session's close. Returns the pipeline.

        ``chunks`` (sessions computed at once in a backtest) and ``eager`` (compute even if pipeline_output is not
        called) change only the timing, never the values.
        """
        self._engine.require_phase("attach_pipeline()", (Phase.INITIALIZE,))
        self.pipelines.attach(pipeline, name, chunks, eager)
        self._engine.add_session_start_hook(self.pipelines.on_session_start)
        return pipeline

    def pipeline_output(self, name: str) -> pd.DataFrame:
        """Today's output of the pipeline attached as ``name``: a DataFrame indexed by asset (rows passing the
        screen), one column per pipeline column; the same frame all session. Not available in initialize."""
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
        if zone is None and self.conventions.ibridgepy_style:
            zone = self.conventions.options.show_time_zone
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
        self._engine.schedule(rule, func)

