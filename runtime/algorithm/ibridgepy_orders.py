"""IBridgePy's order helpers: order status in IB's words, every order of the run, modify_order,
order_status_monitor, rebalancing and closing positions, and the bracket orders (``place_order_with_stoploss``,
``place_order_with_takeprofit``, ``place_order_with_stoploss_takeprofit``)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from runtime.algorithm.ibridgepy_options import NO_ORDER_PLACED, IBridgePyConventions
from runtime.core.assets import Asset
from runtime.core.orders import IB_STATUS_WORDS, Order, OrderKind, TimeInForce, check_price, round_amount
from runtime.core.styles import ExecutionStyle, LimitOrder, StopOrder, resolve_style
from runtime.errors import AlgorithmApiError, BadOrderError, NotAvailableError, OrderNotFoundError

if TYPE_CHECKING:
    from runtime.algorithm.api import AlgorithmAPI
    from runtime.engine.engine import Engine, OrderRecord


#: order kinds that a daily run's order executes at the next session's close (market orders of stocks are recorded
#: as market-on-close, as they are sent)
_NEXT_CLOSE = (OrderKind.MARKET, OrderKind.MARKET_ON_CLOSE)


class OrderStatusTimeoutError(AlgorithmApiError, TimeoutError):
    """order_status_monitor waited its ``waitingTimeInSeconds`` (or the order closed) without the status asked for."""



class IBridgePyOrders:
    """IBridgePy's order helpers, bound to the algorithm API they order through."""

    exported_names = frozenset(
        {
            "get_order_status", "get_all_open_orders", "get_all_orders", "close_all_positions_except",
            "rebalance_portfolio", "place_order_with_stoploss", "place_order_with_takeprofit",
            "place_order_with_stoploss_takeprofit", "modify_order", "order_status_monitor", "close_all_positions_LMT",
            "cancel_all_orders", "close_all_positions",
        }
    )

    def __init__(self, api: AlgorithmAPI, engine: Engine, conventions: IBridgePyConventions) -> None:
        self._api = api
        self._engine = engine
        self._ib = conventions

    # ------------------------------------------------------------------------------------------------ orders

    def record_of(self, order_id: Any) -> OrderRecord:
        """The engine's record of an order id (or Order); OrderNotFoundError for an id this run does not know."""
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
        return self.record_of(orderId).status.ib_status

    def get_all_open_orders(self, accountCode: str = "default") -> dict[str, Order]:
        """IBridgePy: every open order of this run, as {orderId: Order}."""
        account = self._ib.account_for(accountCode, "get_all_open_orders") or ""
        return {record.id: record.snapshot() for record in self._engine.open_orders() if record.account == account}

    def get_all_orders(self, accountCode: str = "default") -> dict[str, Order]:
        """IBridgePy: every order of this run (open and closed), as {orderId: Order}, oldest first."""
        account = self._ib.account_for(accountCode, "get_all_orders") or ""
        return {key: record.snapshot() for key, record in self._engine.orders.items() if record.account == account}

    def close_all_positions_except(self, securities: Any, orderStatusMonitor: bool = False,
                                   accountCode: str = "default") -> list[str | None]:
        """IBridgePy: market orders that flatten every position except those in ``securities`` (one asset or a
        list); returns the order ids (``orderStatusMonitor`` True: each waited for as order_status_monitor does)."""
        self._ib.account_for(accountCode, "close_all_positions_except")
        if isinstance(securities, (Asset, str)):
            keep = {self._api.resolve_asset(securities)}
        elif isinstance(securities, Iterable):
            keep = {self._api.resolve_asset(s) for s in securities}
        else:
            raise AlgorithmApiError(f"close_all_positions_except takes an asset or a list of assets, got "
                                    f"{securities!r}")
        ids = [self._api.ordering.order_target(asset, 0) for asset, p in list(self._api.portfolio.positions.items())
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
        self._ib.account_for(accountCode, "rebalance_portfolio")
        if not isinstance(targets, dict) and not isinstance(targets, pd.Series):
            raise AlgorithmApiError(f"rebalance_portfolio takes a dict {{asset: target}}, e.g. {{symbol('AAPL'): 100}} "
                                    f"(shares) or {{symbol('AAPL'): 0.5}} (50%), got {targets!r}")
        wanted: dict[Asset, float] = {}
        for key, value in targets.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise AlgorithmApiError(f"rebalance_portfolio: the target of {key!r} must be a finite number (shares, "
                                        f"or a fraction: 0.25 = 25%), got {value!r}")
            wanted[self._api.resolve_asset(key)] = float(value)
        as_shares = bool(targets) and all(isinstance(v, (int, np.integer)) or float(v).is_integer()
                                          for v in targets.values()) \
            and not all(isinstance(v, (float, np.floating)) and abs(v) <= 1 for v in targets.values())
        limits = buyAdvantage is not None or sellAdvantage is not None
        value = self._api.portfolio.portfolio_value
        plan: list[tuple[Asset, float]] = [(a, -float(p.amount)) for a, p in self._api.portfolio.positions.items()
                                           if p.amount and a not in wanted]
        for asset, target in wanted.items():
            if not as_shares:
                price = self._price_for(asset, "ask_price" if limits else "price")
                target = value * target / (price * asset.multiplier)
            plan.append((asset, target - float(self._api.portfolio.positions[asset].amount)))
        out: dict[Asset, str | None] = {}
        for asset, delta in sorted(plan, key=lambda item: item[1] > 0):  # sells first
            if round_amount(delta) == 0:
                continue
            if not limits:
                out[asset] = self._api.ordering.order(asset, delta)
                continue
            if delta > 0:
                price = self._price_for(asset, "ask_price") * (1.0 - float(buyAdvantage or 0.0))
            else:
                price = self._price_for(asset, "bid_price") * (1.0 + float(sellAdvantage or 0.0))
            out[asset] = self._api.ordering.order(asset, delta, style=LimitOrder(price, tif="GTC"))
        return out

    def _price_for(self, asset: Asset, param: str) -> float:
        price = self._api.ibridgepy.show_real_time_price(asset, param)
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
        record = self.record_of(orderId)
        amount = None
        if newQuantity is not None:
            quantity = round_amount(abs(self._api.ordering.order_amount(newQuantity)))
            amount = quantity if record.amount > 0 else -quantity
        limit = check_price(newLimitPrice, "modify_order: newLimitPrice")
        stop = check_price(newStopPrice, "modify_order: newStopPrice")
        is_buy = record.amount > 0
        tick = record.asset.tick_size
        if limit is not None:
            limit = LimitOrder(limit).limit_for(is_buy, tick)
        if stop is not None:
            stop = StopOrder(stop).stop_for(is_buy, tick)
        tif = None
        if newTif is not None:
            text = str(newTif).strip().upper()
            if text not in (TimeInForce.DAY.value, TimeInForce.GTC.value):
                raise BadOrderError(f"modify_order: newTif must be 'DAY' or 'GTC', got {newTif!r}")
            tif = TimeInForce(text)
        self._engine.modify_order(record.id, amount=amount, limit=limit, stop=stop, tif=tif)
        if newOrderRef is not None:
            self._engine.set_order_ref(record.id, str(newOrderRef))

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
        record = self.record_of(orderId)
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

    def close_all_positions_LMT(self, ls_excludeSecurities: Any = (), advantage: float = 0.0,
                                orderStatusMonitor: bool = False, accountCode: str = "default") -> list[str | None]:
        """IBridgePy: close every position not in ``ls_excludeSecurities`` with GTC limit orders: a long sells at
        bid x (1 + advantage), a short buys back at ask x (1 - advantage) (see show_real_time_price for what bid
        and ask are in each mode). Returns the order ids. ``orderStatusMonitor`` True waits for each fill as
        order_status_monitor does."""
        self._ib.account_for(accountCode, "close_all_positions_LMT")
        keep = {self._api.resolve_asset(s) for s in (ls_excludeSecurities or ())}
        ids: list[str | None] = []
        for asset, p in list(self._api.portfolio.positions.items()):
            if not p.amount or asset in keep:
                continue
            side = "bid_price" if p.amount > 0 else "ask_price"
            quote = self._api.ibridgepy.show_real_time_price(asset, side)
            price = quote * (1.0 + advantage if p.amount > 0 else 1.0 - advantage)
            ids.append(self._api.ordering.order(asset, -p.amount, style=LimitOrder(price, tif="GTC")))
        if orderStatusMonitor:
            for order_id in ids:
                self.order_status_monitor(order_id, "Filled")
        return ids

    def cancel_all_orders(self, accountCode: str = "default") -> None:
        """IBridgePy: cancel every open order."""
        account = self._ib.account_for(accountCode, "cancel_all_orders") or ""
        for record in list(self._engine.open_orders()):
            if record.account == account:
                self._engine.cancel_order(record.id)
        self._api.ordering.follow_up()

    def close_all_positions(self, orderStatusMonitor: bool = False, accountCode: str = "default",
                            ) -> list[str | None]:
        """IBridgePy: market orders that flatten every position; returns their ids. ``orderStatusMonitor`` True
        waits for each fill as order_status_monitor does."""
        account = self._ib.account_for(accountCode, "close_all_positions")
        positions = self._api.portfolio.positions if account is None else self._ib.account_positions(account)
        order_target = self._api.ordering.order_target
        ids = [order_target(asset, 0, accountCode=accountCode) for asset, p in list(positions.items()) if p.amount]
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
        self._ib.order_options(what, ib_options)
        text = str(tif).strip().upper() if isinstance(tif, (str, TimeInForce)) else ""
        if text not in (TimeInForce.DAY.value, TimeInForce.GTC.value):
            raise BadOrderError(f"{what}: tif must be 'DAY' or 'GTC', got {tif!r}")
        for name, value in (("stopLossPrice", stop_loss), ("takeProfitPrice", take_profit)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
                raise BadOrderError(f"{what}: {name} must be a number, got {value!r}")
        return self._engine.place_bracket(
            self._api.resolve_asset(security), self._api.ordering.order_amount(amount), entry, stop_loss=stop_loss,
            take_profit=take_profit,
            tif=TimeInForce(text), what=what,
            outside_rth=bool(ib_options.get("outsideRth", ib_options.get("outside_rth", False))),
        )
