"""The matching engine: how working orders meet bars and become fills.

One implementation serves the in-process simulated broker (backtests) and the simulated IB Gateway, so an order
behaves the same whichever way it reaches the simulated market. It is pure: bars and instants are passed in.

Rules (zipline's, with IB's order types added):
- an order is considered from the first bar that ENDS after it was created (an order placed in bar t can fill in
  bar t+1 at the earliest);
- bars with no volume or no price are skipped (no triggers, no fills);
- triggers use the bar's close: a buy stop triggers at close >= stop, a sell stop at close <= stop; a buy limit
  fills at close <= limit, a sell limit at close >= limit; a triggered stop-limit becomes a limit order; a trailing
  stop's stop follows the close and triggers like a stop; a trailing stop-limit's stop follows the close the same
  way and, once reached, the order becomes a limit order at the stop minus its limit offset (a sell) or plus it (a
  buy);
- price and size come from the slippage model (volume limits leave the rest open for later bars); a fill is never
  worse than the order's limit: under a model with ``waits_for_limit`` (VolumeShareSlippage, as in zipline) a
  slipped price beyond the limit means no fill in this bar (the order waits and takes no volume), under the others
  it is clamped to the limit (zipline would fill beyond it);
- market-on-close and limit-on-close orders execute only on a session's last bar; limit-on-open orders only on a
  session's first bar, against that bar's open (the opening auction), and are cancelled there for what the open did
  not fill (one placed during a session waits overnight for the next open); IOC orders cancel what did not fill on
  their first bar; DAY orders expire at the session's end;
- bracket children work only after their parent has filled completely; a fill of one member of an OCA group cancels
  the other members.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from runtime.core.assets import Asset
from runtime.core.costs import LIQUIDITY_EXCEEDED, CommissionModel, SlippageModel, SlipResult
from runtime.core.orders import OrderKind, OrderStatus, TimeInForce


@dataclass(slots=True)
class WorkingOrder:
    """The matching engine's live state of one order (mutable; owned by whoever owns the engine)."""

    id: str
    asset: Asset
    amount: int
    kind: OrderKind = OrderKind.MARKET
    limit: float | None = None
    stop: float | None = None
    tif: TimeInForce = TimeInForce.GTC
    created_ns: int = 0
    trail_amount: float | None = None
    trail_percent: float | None = None
    #: a trailing stop-limit's distance of the limit from the stop once it triggers
    limit_offset: float | None = None
    parent_id: str | None = None
    oca_group: str | None = None
    outside_rth: bool = False
    filled: int = 0
    commission: float = 0.0
    avg_price: float = 0.0
    status: OrderStatus = OrderStatus.OPEN
    stop_reached: bool = False
    limit_reached: bool = False
    reason: str | None = None
    last_change_ns: int = 0
    seen_bar: bool = False
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def direction(self) -> int:
        return 1 if self.amount > 0 else -1

    @property
    def open_amount(self) -> int:
        return self.amount - self.filled

    @property
    def triggered(self) -> bool:
        """Whether price conditions allow a fill now (market orders always; stops once reached; limits when met)."""
        stop_ok = self.stop is None or self.stop_reached
        return stop_ok and (self.limit is None or self.limit_reached)


@dataclass(frozen=True, slots=True)
class BarQuote:
    """The part of a bar the matcher uses: the close, the volume, its end instant, whether it ends a session, and
    the bar's open when it opens a session (None otherwise: limit-on-open orders meet only that price)."""

    close: float
    volume: float
    time_ns: int
    session_close: bool = False
    session_open: float | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of (part of) an order."""

    order_id: str
    asset: Asset
    amount: int
    price: float
    commission: float
    time_ns: int
    cum_filled: int
    avg_price: float
    order_done: bool


@dataclass(frozen=True, slots=True)
class Cancelled:
    """An order the matcher cancelled (IOC remainder, DAY expiry, OCA sibling) with the reason."""

    order_id: str
    asset: Asset
    time_ns: int
    reason: str


MatchEvent = Fill | Cancelled

_ON_CLOSE = (OrderKind.MARKET_ON_CLOSE, OrderKind.LIMIT_ON_CLOSE)
_TRAIL, _TRAIL_LIMIT = OrderKind.TRAIL, OrderKind.TRAIL_LIMIT
_LOO, _IOC = OrderKind.LIMIT_ON_OPEN, TimeInForce.IOC


def _update_triggers(order: WorkingOrder, price: float) -> None:
    if order.kind is OrderKind.TRAIL:
        _update_trail(order, price)
        return
    if order.kind is OrderKind.TRAIL_LIMIT:
        _update_trail_limit(order, price)
        return
    buy = order.amount > 0
    if order.stop is not None and not order.stop_reached and (price >= order.stop if buy else price <= order.stop):
        order.stop_reached = True
        if order.kind is OrderKind.STOP_LIMIT:
            # zipline: a triggered stop-limit becomes a plain limit order
            order.stop = None
    if order.limit is not None and (order.stop is None or order.stop_reached):
        order.limit_reached = price <= order.limit if buy else price >= order.limit


def _update_trail(order: WorkingOrder, price: float) -> None:
    buy = order.amount > 0
    trail = order.trail_amount if order.trail_amount is not None else price * (order.trail_percent or 0.0) / 100.0
    if order.stop is None:
        order.stop = price + trail if buy else price - trail
        return
    if not order.stop_reached and (price >= order.stop if buy else price <= order.stop):
        order.stop_reached = True
        return
    order.stop = min(order.stop, price + trail) if buy else max(order.stop, price - trail)


def _on_tick(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 10) if tick > 0 else price


def _update_trail_limit(order: WorkingOrder, price: float) -> None:
    """A trailing stop-limit: trail until the stop is reached, then work as a limit order at stop -/+ offset."""
    buy = order.amount > 0
    if not order.stop_reached:
        trail = order.trail_amount if order.trail_amount is not None else price * (order.trail_percent or 0.0) / 100.0
        if order.stop is None:
            order.stop = price + trail if buy else price - trail
            return
        if not (price >= order.stop if buy else price <= order.stop):
            order.stop = min(order.stop, price + trail) if buy else max(order.stop, price - trail)
            return
        order.stop_reached = True
        offset = order.limit_offset or 0.0
        order.limit = _on_tick(order.stop + offset if buy else order.stop - offset, order.asset.tick_size)
    assert order.limit is not None
    order.limit_reached = price <= order.limit if buy else price >= order.limit


class MatchingEngine:
    """Holds working orders and matches them against bars, one asset at a time."""

    def __init__(self, slippage: SlippageModel, commission: CommissionModel) -> None:
        self.slippage = slippage
        self.commission = commission
        self._orders: dict[str, WorkingOrder] = {}
        self._by_sid: dict[int, list[WorkingOrder]] = {}
        self._sid_rank: dict[int, int] = {}
        self._active_sids: set[int] = set()

    # ---------------------------------------------------------------------------------------------------- book
    def submit(self, order: WorkingOrder) -> None:
        """Add a working order to the book."""
        if order.id in self._orders:
            raise ValueError(f"order id {order.id!r} is already working")
        order.last_change_ns = order.created_ns
        self._orders[order.id] = order
        sid = order.asset.sid
        orders = self._by_sid.get(sid)
        if orders is None:
            orders = self._by_sid[sid] = []
            self._sid_rank[sid] = len(self._sid_rank)
        orders.append(order)
        self._active_sids.add(sid)

    def get(self, order_id: str) -> WorkingOrder | None:
        return self._orders.get(order_id)

    def open_orders(self, asset: Asset | None = None) -> list[WorkingOrder]:
        """Working orders, in submission order, optionally of one asset."""
        if asset is None:
            return list(self._orders.values())
        return list(self._by_sid.get(asset.sid, ()))

    def sids_with_orders(self) -> list[int]:
        """The sids that have working orders, in the order the sids were first ordered."""
        return [sid for sid, _ in self.working_by_sid()]

    def __len__(self) -> int:
        """The number of working orders."""
        return len(self._orders)

    def is_working(self, order_id: str) -> bool:
        """Whether ``order_id`` is in the book (not filled, cancelled or expired)."""
        return order_id in self._orders

    def apply_split(self, sid: int, ratio: float) -> None:
        """Adjust the working orders of ``sid`` for a split, as zipline does: amounts times ``ratio``, prices
        divided by it (rounded to the cent)."""
        for order in self._by_sid.get(sid, ()):
            order.amount = int(order.amount * ratio)
            order.filled = int(order.filled * ratio)
            if order.limit is not None:
                order.limit = round(order.limit / ratio, 2)
            if order.stop is not None:
                order.stop = round(order.stop / ratio, 2)

    def modify(
        self, order_id: str, now_ns: int, amount: int | None = None, limit: float | None = None,
        stop: float | None = None, tif: TimeInForce | None = None,
    ) -> WorkingOrder:
        """Change a working order in place (IB's modify-by-replacing). The new amount may not be below the fill."""
        order = self._orders[order_id]
        if amount is not None:
            if abs(amount) < abs(order.filled) or (order.filled and (amount > 0) != (order.amount > 0)):
                raise ValueError("the new quantity is below what has already filled")
            order.amount = amount
        if limit is not None:
            order.limit = limit
            order.limit_reached = False
        if stop is not None:
            order.stop = stop
            order.stop_reached = False
        if tif is not None:
            order.tif = tif
        order.last_change_ns = now_ns
        return order

    def cancel(self, order_id: str, now_ns: int, reason: str | None = None) -> list[WorkingOrder]:
        """Remove a working order and its bracket children; returns them (status CANCELLED), the requested order
        first, or an empty list when it is not working."""
        order = self._orders.get(order_id)
        if order is None:
            return []
        self._remove(order)
        order.status = OrderStatus.CANCELLED
        order.reason = reason
        order.last_change_ns = now_ns
        out = [order]
        for child in [o for o in self._orders.values() if o.parent_id == order_id]:
            out.extend(self.cancel(child.id, now_ns, f"parent order {order_id} was cancelled"))
        return out

    def _remove(self, order: WorkingOrder) -> None:
        del self._orders[order.id]
        sid = order.asset.sid
        siblings = self._by_sid.get(sid)
        if siblings is not None:
            siblings.remove(order)
            if not siblings:
                self._active_sids.discard(sid)

    # -------------------------------------------------------------------------------------------------- matching
    def on_bar(self, asset: Asset, bar: BarQuote) -> list[MatchEvent]:
        """Match the working orders of ``asset`` against one bar; returns fills and cancellations in order."""
        orders = self._by_sid.get(asset.sid)
        if not orders:
            return []
        price, volume = bar.close, bar.volume
        if not volume or volume <= 0 or price is None or math.isnan(price):
            return []
        return self.match_orders(orders, price, volume, bar.time_ns, bar.session_close, bar.session_open)

    def working_by_sid(self) -> list[tuple[int, list[WorkingOrder]]]:
        """Each sid that has working orders with the live list of them, in the order the sids were first ordered.

        The lists are the engine's own (matching removes filled and cancelled orders from them); pass one to
        :meth:`match_orders`.
        """
        active, by_sid = self._active_sids, self._by_sid
        if len(active) <= 1:
            return [(sid, by_sid[sid]) for sid in active]
        return [(sid, by_sid[sid]) for sid in sorted(active, key=self._sid_rank.__getitem__)]

    def match_orders(
        self, orders: list[WorkingOrder], price: float, volume: float, time_ns: int, session_close: bool = False,
        session_open: float | None = None,
    ) -> list[MatchEvent]:
        """:meth:`on_bar` for one asset's working orders (a list from :meth:`working_by_sid`) and a bar with a price
        and a positive volume, given as numbers (``session_open``: the bar's open when it opens a session)."""
        live = self._orders
        events: list[MatchEvent] = []
        volume_used = 0
        bar_price = price
        for order in orders[:]:
            if order.created_ns >= time_ns or order.id not in live:
                continue
            if order.parent_id is not None and order.parent_id in live:
                continue  # a bracket child waits for its parent to fill completely
            kind = order.kind
            if kind in _ON_CLOSE and not session_close:
                continue
            if kind is _LOO:
                if session_open is None or session_open != session_open:
                    continue
                price = session_open  # the opening auction
            else:
                price = bar_price
            first_bar = not order.seen_bar
            order.seen_bar = True
            if kind is _TRAIL or kind is _TRAIL_LIMIT or order.stop is not None or order.limit is not None:
                _update_triggers(order, price)
                triggered = order.triggered
            else:
                triggered = True
            if triggered:
                direction = 1 if order.amount > 0 else -1
                result = self.slippage.fill(direction, order.amount - order.filled, price, volume, volume_used)
                if result.__class__ is not SlipResult and result == LIQUIDITY_EXCEEDED:
                    break
                if result is not None:
                    fill_price = result.price
                    limit = order.limit
                    if limit is not None and (fill_price > limit if direction > 0 else fill_price < limit):
                        if self.slippage.waits_for_limit:
                            result = None  # zipline: worse than the limit after slippage, so wait for a later bar
                        else:
                            fill_price = limit
                if result is not None:
                    events.append(self._execute(order, result.shares * direction, fill_price, time_ns))
                    volume_used += result.shares
                    if order.oca_group:
                        events.extend(self._cancel_oca(order, time_ns))
            if order.tif is _IOC and first_bar and order.id in live:
                events.extend(self._cancel_events(order.id, time_ns, "IOC remainder cancelled"))
            elif kind is _LOO and order.id in live:
                events.extend(self._cancel_events(order.id, time_ns, "limit-on-open order not filled at the open"))
        return events

    def _execute(self, order: WorkingOrder, amount: int, price: float, now_ns: int) -> Fill:
        commission = self.commission.calculate(order, price, amount)
        total = order.filled + amount
        order.avg_price = (order.avg_price * order.filled + price * amount) / total if total else 0.0
        order.filled = total
        order.commission += commission
        order.last_change_ns = now_ns
        done = order.filled == order.amount
        if done:
            order.status = OrderStatus.FILLED
            self._remove(order)
        return Fill(order.id, order.asset, amount, price, commission, now_ns, order.filled, order.avg_price, done)

    def _cancel_oca(self, filled: WorkingOrder, now_ns: int) -> list[Cancelled]:
        out: list[Cancelled] = []
        for other in list(self._orders.values()):
            if other.oca_group == filled.oca_group and other.id != filled.id and other.id in self._orders:
                out.extend(self._cancel_events(other.id, now_ns, f"OCA group {filled.oca_group} filled by {filled.id}"))
        return out

    def _cancel_events(self, order_id: str, now_ns: int, reason: str) -> list[Cancelled]:
        return [Cancelled(o.id, o.asset, now_ns, o.reason or reason) for o in self.cancel(order_id, now_ns, reason)]

    def end_of_session(self, now_ns: int) -> list[Cancelled]:
        """Expire DAY orders (and any MOC/LOC that could not execute) at the session's end. A limit-on-open order
        waits for the next session's opening auction (it is filled or cancelled there)."""
        out: list[Cancelled] = []
        if not self._orders:
            return out
        for order in list(self._orders.values()):
            if order.tif is TimeInForce.DAY and order.kind is not _LOO and order.id in self._orders:
                out.extend(self._cancel_events(order.id, now_ns, "DAY order expired at the close"))
        return out
