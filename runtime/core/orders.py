"""Orders: statuses, kinds, amount and price rounding, the order policy, and the order record users see (the
styles an algorithm writes are in :mod:`runtime.core.styles`).

Everything here is pure. The semantics are zipline's:
- amounts within 1e-4 of an integer round to it, anything else truncates toward zero (5.5 -> 5, -5.5 -> -5);
- limit prices round in the trader's favour (buy down, sell up), stop prices the other way, unless the price is
  within 5% of a tick of the other neighbour;
- ``Order.status`` values OPEN=0, FILLED=1, CANCELLED=2, REJECTED=3, HELD=4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Protocol

import pandas as pd

from runtime.core.assets import Asset, SecType
from runtime.errors import BadOrderError


class OrderStatus(IntEnum):
    """zipline's order statuses (the numbers are part of the API users compare against)."""

    OPEN = 0
    FILLED = 1
    CANCELLED = 2
    REJECTED = 3
    HELD = 4

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.OPEN, OrderStatus.HELD)

    @property
    def ib_status(self) -> str:
        """The status as IB (and IBridgePy) names it: 'Submitted', 'PreSubmitted', 'Filled', 'Cancelled',
        'Inactive'."""
        return IB_STATUS_WORDS[self][0]

    def __eq__(self, other: object) -> bool:
        # IBridgePy code compares statuses with IB's words (order.status == 'Filled'); zipline's with the numbers
        if isinstance(other, str):
            return other in IB_STATUS_WORDS[self]
        return int.__eq__(self, other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = int.__hash__


#: IB's order status words for each status (the first is the one shown); the others mean the same to IBridgePy code
IB_STATUS_WORDS: dict[OrderStatus, tuple[str, ...]] = {
    OrderStatus.OPEN: ("Submitted", "PendingSubmit", "ApiPending", "PendingCancel"),
    OrderStatus.HELD: ("PreSubmitted",),
    OrderStatus.FILLED: ("Filled",),
    OrderStatus.CANCELLED: ("Cancelled", "ApiCancelled"),
    OrderStatus.REJECTED: ("Inactive",),
}


class OrderKind(str, Enum):
    """The order types the runtime can express, named as IB names them."""

    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"
    TRAIL = "TRAIL"
    TRAIL_LIMIT = "TRAIL LIMIT"
    MARKET_ON_CLOSE = "MOC"
    LIMIT_ON_CLOSE = "LOC"
    #: limit-on-open: works only in the session's opening auction (IB: orderType LMT with time in force OPG)
    LIMIT_ON_OPEN = "LOO"

    @property
    def has_limit(self) -> bool:
        """Whether orders of this kind carry a limit price of their own (a trailing stop-limit's follows its stop)."""
        return self in _LIMIT_KINDS

    @property
    def has_stop(self) -> bool:
        """Whether orders of this kind carry a stop price (a trailing order's is its current stop)."""
        return self in _STOP_KINDS


_LIMIT_KINDS = frozenset({OrderKind.LIMIT, OrderKind.STOP_LIMIT, OrderKind.LIMIT_ON_CLOSE, OrderKind.LIMIT_ON_OPEN})
_STOP_KINDS = frozenset({OrderKind.STOP, OrderKind.STOP_LIMIT, OrderKind.TRAIL, OrderKind.TRAIL_LIMIT})


class TimeInForce(str, Enum):
    """How long an order works. ``None`` on a style means "decided by the cancel policy"."""

    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"


# ------------------------------------------------------------------------------------------------------- rounding
AMOUNT_EPSILON = 1e-4


def round_amount(amount: float) -> int:
    """Round an order amount as zipline does: snap within 1e-4 of an integer, else truncate toward zero.

    >>> round_amount(3.99995), round_amount(5.5), round_amount(-5.5), round_amount(0.4)
    (4, 5, -5, 0)
    """
    if not math.isfinite(amount):
        raise BadOrderError(f"order amount must be a finite number, got {amount!r}")
    nearest = round(amount)
    if abs(amount - nearest) < AMOUNT_EPSILON:
        return int(nearest)
    return int(amount)


def _decimals(tick: float) -> int:
    text = f"{tick:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def asymmetric_round_price(price: float, prefer_round_down: bool, tick_size: float = 0.01) -> float:
    """Round ``price`` to the tick, preferring one direction.

    A price rounds in the preferred direction unless it lies within 5% of a tick of the other neighbour
    (so a buy limit of 1.2345 becomes 1.23, a sell limit 1.24; a buy limit of 1.2396 becomes 1.24).
    """
    if price == 0:
        return 0.0
    ticks = price / tick_size
    lower = math.floor(ticks + 1e-9)
    upper = lower if abs(ticks - lower) < 1e-9 else lower + 1
    chosen = (upper if upper - ticks <= 0.05 + 1e-9 else lower) if prefer_round_down else (
        lower if ticks - lower <= 0.05 + 1e-9 else upper
    )
    return round(chosen * tick_size, _decimals(tick_size))


def check_price(value: float | None, what: str) -> float | None:
    """Validate a user price: finite and non-negative (zipline's rule), else a BadOrderError."""
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise BadOrderError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise BadOrderError(f"{what} must be a finite number >= 0, got {value!r}")
    return v


# --------------------------------------------------------------------------------------------------- order policy
class OrderPolicy(Protocol):
    """How the engine turns an order the algorithm placed into the order it sends (the record shows the result)."""

    def apply(self, asset: Asset, kind: OrderKind, tif: TimeInForce) -> tuple[OrderKind, TimeInForce]:
        """The kind and time in force to send for an order of ``asset`` placed as ``kind`` / ``tif``."""
        ...


@dataclass(frozen=True)
class SendAsPlaced:
    """Every order goes as the algorithm placed it (backtests, and minute runs at a broker)."""

    def apply(self, asset: Asset, kind: OrderKind, tif: TimeInForce) -> tuple[OrderKind, TimeInForce]:
        return kind, tif


@dataclass(frozen=True)
class DailyCloseAuction:
    """Daily runs at a broker: a market order for a stock goes as market-on-close (DAY).

    A daily run sees one bar per session, at the close, and a backtest fills its market orders at the next
    session's close; at a broker the same order executes in the next session's closing auction. Only stocks have a
    closing auction: a market order for a currency pair (IDEALPRO takes no MOC), a future or anything else goes as a
    market order and fills when it arrives. Other order types go as they are (they work during the session).
    """

    def apply(self, asset: Asset, kind: OrderKind, tif: TimeInForce) -> tuple[OrderKind, TimeInForce]:
        if kind is OrderKind.MARKET and asset.sec_type is SecType.STOCK:
            return OrderKind.MARKET_ON_CLOSE, TimeInForce.DAY
        return kind, tif


def order_policy_for(frequency: str, at_broker: bool) -> OrderPolicy:
    """The policy of a run: :class:`DailyCloseAuction` for daily runs at a broker, else :class:`SendAsPlaced`."""
    return DailyCloseAuction() if at_broker and frequency == "daily" else SendAsPlaced()


# ---------------------------------------------------------------------------------------------------- order record
@dataclass(frozen=True)
class Order:
    """An order as the algorithm sees it (a snapshot; ask ``get_order(id)`` again for fresh state).

    Fields as zipline's: ``id``, ``dt`` (last change), ``created``, ``asset``/``sid``, ``amount`` (signed),
    ``filled`` (signed), ``commission``, ``stop``, ``limit``, ``stop_reached``, ``limit_reached``, ``reason``,
    ``status`` (an :class:`OrderStatus`), plus ``tif`` and ``kind``.
    """

    id: str
    asset: Asset
    amount: int
    filled: int
    commission: float
    stop: float | None
    limit: float | None
    stop_reached: bool
    limit_reached: bool
    status: OrderStatus
    created: pd.Timestamp
    dt: pd.Timestamp
    reason: str | None = None
    tif: TimeInForce = TimeInForce.GTC
    kind: OrderKind = OrderKind.MARKET
    broker_id: str | None = field(default=None, compare=False)
    #: the average price of the fills so far (NaN before the first)
    avg_fill_price: float = field(default=float("nan"), compare=False)
    #: the orderRef the algorithm gave (IBridgePy's order(..., orderRef=...)); IB's own orderRef field carries the
    #: run's id, which restarts use to recognise the order
    order_ref: str = field(default="", compare=False)

    @property
    def sid(self) -> Asset:
        return self.asset

    # IBridgePy's names for the same facts
    @property
    def avgFillPrice(self) -> float:
        """IBridgePy: the average fill price (NaN before the first fill)."""
        return self.avg_fill_price

    @property
    def remaining(self) -> int:
        """IBridgePy/IB: the shares still to fill (unsigned)."""
        return abs(self.amount - self.filled) if self.status.is_open else 0

    @property
    def orderRef(self) -> str:
        return self.order_ref

    @property
    def orderId(self) -> str:
        return self.id

    @property
    def ib_status(self) -> str:
        """The status as IB names it ('Submitted', 'Filled', ...); ``status`` also compares equal to these words."""
        return self.status.ib_status

    @property
    def open_amount(self) -> int:
        return self.amount - self.filled

    @property
    def open(self) -> bool:
        return self.status.is_open

    def to_dict(self) -> dict[str, object]:
        """The order as zipline's perf 'orders' entries show it."""
        return {
            "id": self.id,
            "dt": self.dt,
            "reason": self.reason,
            "created": self.created,
            "amount": self.amount,
            "filled": self.filled,
            "commission": self.commission,
            "stop": self.stop,
            "limit": self.limit,
            "stop_reached": self.stop_reached,
            "limit_reached": self.limit_reached,
            "sid": self.asset,
            "status": int(self.status),
        }
