"""The in-process simulated broker used by backtests.

It keeps a :class:`~runtime.core.matching.MatchingEngine` (the same matcher the simulated IB Gateway uses) and feeds
it the bars of the data store as the simulation clock passes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from runtime.brokers.base import BrokerEvent, OrderRejected, OrderRequest
from runtime.core.costs import CommissionModel, SlippageModel
from runtime.core.matching import Cancelled, MatchingEngine, WorkingOrder
from runtime.core.orders import TimeInForce
from runtime.data.store import BarArrays
from runtime.errors import BadOrderError


def session_last_rows(session_row_start: np.ndarray) -> frozenset[int]:
    """The store rows that end a session (``session_row_start`` as in :class:`~runtime.data.store.BarArrays`)."""
    return frozenset((np.asarray(session_row_start[1:], dtype=np.int64) - 1).tolist())


def session_first_rows(session_row_start: np.ndarray) -> frozenset[int]:
    """The store rows that open a session (each session's first bar; every row of a daily store)."""
    return frozenset(np.asarray(session_row_start[:-1], dtype=np.int64).tolist())


class SimBroker:
    """Simulated executions against the bars of one store (daily or minute): a :class:`~runtime.brokers.base.Broker`."""

    def __init__(self, bars: BarArrays, slippage: SlippageModel, commission: CommissionModel) -> None:
        self.bars = bars
        self.matcher = MatchingEngine(slippage, commission)
        self._pending: list[BrokerEvent] = []
        self._session_last_rows = session_last_rows(bars.session_row_start)
        self._session_first_rows = session_first_rows(bars.session_row_start)

    def set_models(self, slippage: SlippageModel | None = None, commission: CommissionModel | None = None) -> None:
        """The cost models fills are priced and charged with from now on (None keeps the current one)."""
        if slippage is not None:
            self.matcher.slippage = slippage
        if commission is not None:
            self.matcher.commission = commission

    # -------------------------------------------------------------------------------------------- interface
    def place_order(self, request: OrderRequest) -> None:
        """Into the matcher; rejected (as an event) when the asset has no data."""
        if request.asset.sid not in self.bars.sid_to_col:
            self._pending.append(
                OrderRejected(request.id, request.asset, request.created_ns, f"no data for {request.asset.symbol}")
            )
            return
        self._submit(request)

    def place_bracket(self, parent: OrderRequest, children: Sequence[OrderRequest]) -> None:
        """The parent and its children into the matcher together (the children work once the parent has filled;
        a fill of one child cancels the others of its OCA group); all rejected when the asset has no data."""
        if parent.asset.sid not in self.bars.sid_to_col:
            reason = f"no data for {parent.asset.symbol}"
            self._pending.extend(OrderRejected(r.id, r.asset, r.created_ns, reason) for r in (parent, *children))
            return
        self._submit(parent)
        for child in children:
            self._submit(child if child.parent_id == parent.id else dataclasses.replace(child, parent_id=parent.id))

    def _submit(self, request: OrderRequest) -> None:
        self.matcher.submit(
            WorkingOrder(
                id=request.id,
                asset=request.asset,
                amount=request.amount,
                kind=request.kind,
                limit=request.limit,
                stop=request.stop,
                tif=request.tif,
                created_ns=request.created_ns,
                trail_amount=request.trail_amount,
                trail_percent=request.trail_percent,
                limit_offset=request.limit_offset,
                parent_id=request.parent_id,
                oca_group=request.oca_group,
                outside_rth=request.outside_rth,
            )
        )

    def modify_order(self, order_id: str, *, amount: int | None = None, limit: float | None = None,
                     stop: float | None = None, tif: TimeInForce | None = None, now_ns: int = 0) -> None:
        """Change a working order in place (as IB does when the same order id is sent again); it is matched with
        its new terms from the next bar on. BadOrderError if it is not working or the new quantity is below its
        fill."""
        if not self.matcher.is_working(order_id):
            raise BadOrderError(f"order {order_id} is not working: it cannot be modified")
        try:
            self.matcher.modify(order_id, now_ns, amount=amount, limit=limit, stop=stop, tif=tif)
        except ValueError as exc:
            raise BadOrderError(f"order {order_id} cannot be modified: {exc}") from None

    def cancel_order(self, order_id: str, now_ns: int) -> None:
        """Out of the matcher (with its bracket children); the cancellations are the next events polled."""
        for order in self.matcher.cancel(order_id, now_ns, "cancelled by the algorithm"):
            self._pending.append(Cancelled(order.id, order.asset, now_ns, order.reason or "cancelled"))

    def poll_events(self, now_ns: int) -> list[BrokerEvent]:
        """Rejections and cancellations since the last poll."""
        out, self._pending = self._pending, []
        return out

    @property
    def has_open_orders(self) -> bool:
        """Whether the matcher holds any working order."""
        return len(self.matcher) > 0

    # ------------------------------------------------------------------------------------------- simulation
    def process_bar(self, row: int) -> list[BrokerEvent]:
        """Match working orders against bar ``row`` of the store (the bar that just ended)."""
        matcher = self.matcher
        if not len(matcher):
            return self.poll_events(0)
        bars = self.bars
        now_ns = bars.times.item(row)
        session_close = row in self._session_last_rows
        opens_session = row in self._session_first_rows
        events: list[BrokerEvent] = self._pending
        self._pending = []
        sid_to_col, close_at, volume_at, open_at = bars.sid_to_col, bars.close.item, bars.volume.item, bars.open.item
        for sid, orders in matcher.working_by_sid():
            if not orders:
                continue
            col = sid_to_col[sid]
            close = close_at(row, col)
            volume = volume_at(row, col)
            if close != close or not volume > 0:
                continue
            events.extend(matcher.match_orders(orders, close, volume, now_ns, session_close,
                                               open_at(row, col) if opens_session else None))
        return events

    def end_of_session(self, now_ns: int) -> list[BrokerEvent]:
        """Expire DAY orders at the session's end."""
        return list(self.matcher.end_of_session(now_ns))

    def apply_split(self, sid: int, ratio: float) -> None:
        """Adjust working orders for a split, as zipline does: amounts times ratio, prices divided by it."""
        self.matcher.apply_split(sid, ratio)
