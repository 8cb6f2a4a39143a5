"""zipline's order functions (``order``, ``order_value``, ``order_percent``, ``order_target*``,
``batch_market_order``, the open-order queries, ``cancel_order``) and Quantopian's optimize functions
(``calculate_optimal_portfolio``, ``run_optimization``, ``order_optimal_portfolio``), as a part of the algorithm
API. IBridgePy's keywords (``orderRef``, ``outsideRth``, ``accountCode``) follow the run's conventions."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from runtime.algorithm.ibridgepy_options import NO_ORDER_PLACED, IBridgePyConventions
from runtime.core.assets import Asset
from runtime.core.orders import Order, round_amount
from runtime.core.styles import ExecutionStyle, MarketOrder, resolve_style
from runtime.engine.state import Phase
from runtime.errors import BadOrderError

if TYPE_CHECKING:
    from runtime.algorithm.api import AlgorithmAPI
    from runtime.engine.engine import Engine

#: the style of every plain market order (immutable, so one instance serves them all)
_MARKET = MarketOrder()


class OrderFunctions:
    """The order and optimize functions of the algorithm API."""

    exported_names = frozenset(
        {
            "order", "order_value", "order_percent", "order_target", "order_target_value", "order_target_percent",
            "batch_market_order", "get_open_orders", "get_order", "cancel_order", "calculate_optimal_portfolio",
            "run_optimization", "order_optimal_portfolio",
        }
    )

    def __init__(self, api: AlgorithmAPI, engine: Engine, conventions: IBridgePyConventions) -> None:
        self._api = api
        self._engine = engine
        self._ib = conventions

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
        options = self._ib.order_options("order()", ib_options)
        return self._engine.place_order(
            self._api.resolve_asset(asset), self.order_amount(amount), resolved, outside_rth=options["outside_rth"],
            order_ref=options["order_ref"], default_tif=self._ib.default_tif(), account=options["account"],
        )

    @staticmethod
    def order_amount(amount: object) -> float:
        """``amount`` as a float; BadOrderError for anything that is not a finite number."""
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
        value = self.order_amount(value)
        return value / (self._price_for_sizing(asset) * asset.multiplier)

    def order_value(self, asset: Any, value: float, limit_price: float | None = None,
                    stop_price: float | None = None, style: ExecutionStyle | None = None,
                    **ib_options: Any) -> str | None:
        """Order ``value`` worth of the asset (shares = value / current price; negative sells). The style as in
        :meth:`order` (also positional, IBridgePy's ``order_value(sec, 5000, LimitOrder(p))``)."""
        a = self._api.resolve_asset(asset)
        resolved = self._style("order_value()", limit_price, stop_price, style)
        return self.order(a, self._value_to_amount(a, value), style=resolved, **ib_options)

    def order_percent(self, asset: Any, percent: float, limit_price: float | None = None,
                      stop_price: float | None = None, style: ExecutionStyle | None = None,
                      **ib_options: Any) -> str | None:
        """Order ``percent`` of the portfolio value (a fraction: 0.5 = 50%). The style as in :meth:`order`."""
        resolved = self._style("order_percent()", limit_price, stop_price, style)
        return self.order_value(asset, self._portfolio_value(ib_options) * self.order_amount(percent),
                                style=resolved, **ib_options)

    def _portfolio_value(self, ib_options: dict[str, Any]) -> float:
        """The portfolio value percent sizing uses: the run's, or IB's NetLiquidation of another account."""
        account = self._ib.account_for(ib_options.get("accountCode"), "order sizing")
        if account is None:
            return self._engine.ledger.portfolio_value
        return self._ib.account_value(account, "NetLiquidation")

    def order_target(self, asset: Any, target: float, limit_price: float | None = None,
                     stop_price: float | None = None, style: ExecutionStyle | None = None,
                     **ib_options: Any) -> str | None:
        """Order what it takes to hold ``target`` shares. Open orders are NOT taken into account (zipline's rule:
        two calls in one bar order twice). The style as in :meth:`order` (also positional, IBridgePy's
        ``order_target(sec, 50, StopOrder(p))``). When nothing needs ordering it returns None, and in an
        IBridgePy-style file IBridgePy's ``'NoOrderPlaced'``."""
        a = self._api.resolve_asset(asset)
        resolved = self._style("order_target()", limit_price, stop_price, style)
        account = self._ib.account_for(ib_options.get("accountCode"), "order_target()")
        if account is None:
            held = self._engine.ledger.amount(a.sid)
        else:
            held = self._ib.account_position(account, a).amount
        delta = self.order_amount(target) - held
        if round_amount(delta) == 0 and self._ib.ibridgepy_style:
            self._ib.order_options("order_target()", ib_options)
            return NO_ORDER_PLACED
        return self.order(a, delta, style=resolved, **ib_options)

    def order_target_value(self, asset: Any, target: float, limit_price: float | None = None,
                           stop_price: float | None = None, style: ExecutionStyle | None = None,
                           **ib_options: Any) -> str | None:
        """Order what it takes to hold ``target`` worth of the asset (open orders ignored). The style as in
        :meth:`order`."""
        a = self._api.resolve_asset(asset)
        resolved = self._style("order_target_value()", limit_price, stop_price, style)
        return self.order_target(a, self._value_to_amount(a, target), style=resolved, **ib_options)

    def order_target_percent(self, asset: Any, target: float, limit_price: float | None = None,
                             stop_price: float | None = None, style: ExecutionStyle | None = None,
                             **ib_options: Any) -> str | None:
        """Order what it takes for the asset to be ``target`` of the portfolio value (0.1 = 10%; open orders
        ignored). The style as in :meth:`order`."""
        resolved = self._style("order_target_percent()", limit_price, stop_price, style)
        return self.order_target_value(asset, self._portfolio_value(ib_options) * self.order_amount(target),
                                       style=resolved, **ib_options)

    def batch_market_order(self, share_counts: pd.Series | dict) -> list[str | None]:
        """Market orders for many assets at once: ``share_counts`` maps asset -> shares."""
        items = share_counts.items() if hasattr(share_counts, "items") else share_counts
        return [self.order(asset, amount) for asset, amount in items]

    def get_open_orders(self, asset: Any = None, accountCode: str = "default",
                        ) -> dict[Asset, list[Order]] | list[Order]:
        """Open orders: a dict {asset: [Order, ...]} of assets with open orders, or a list for one asset."""
        if accountCode not in (None, "", "default"):
            account = self._ib.account_for(accountCode, "get_open_orders") or ""
            records = [r for r in self._engine.open_orders(None if asset is None else self._api.resolve_asset(asset))
                       if r.account == account]
            if asset is not None:
                return [r.snapshot() for r in records]
            grouped: dict[Asset, list[Order]] = {}
            for r in records:
                grouped.setdefault(r.asset, []).append(r.snapshot())
            return grouped
        if asset is not None:
            return [r.snapshot() for r in self._engine.open_orders(self._api.resolve_asset(asset))]
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
        self._api.ibridgepy_orders.record_of(key)
        self._engine.cancel_order(key)
        self.follow_up()

    def follow_up(self) -> None:
        """Paper and live runs: hand the broker what was sent and book its answers so far."""
        if self._engine.wait_for_broker is not None:
            self._engine.wait_for_broker()

    # ------------------------------------------------------------------------------------------------ optimize
    def current_weights(self) -> pd.Series:
        """The portfolio's current weights (asset -> position value / portfolio value; shorts negative), the
        ``current_portfolio`` of an optimization."""
        portfolio = self._api.portfolio
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
