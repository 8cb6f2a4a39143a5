"""The engine's own small types: the simulation clock, the lifecycle phase, the cancel policy, the engine's record
of one order, a session's collected figures, and what the engine needs from the algorithm's code and data.

They import nothing above the core and the brokers' interface, so every layer above the engine (the algorithm API,
``data``, the run assemblies, the live session) can use them without importing the engine itself.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import pandas as pd

from runtime.core.assets import Asset
from runtime.core.ledger import Transaction
from runtime.core.orders import Order, OrderKind, OrderStatus, TimeInForce


@dataclass
class SimTime:
    """Where the engine's clock is: the instant and the rows of the stores it maps to."""

    now_ns: int = 0
    session: int = -1  # calendar session index of the current/last session
    daily_row: int = -1  # last COMPLETED daily row at now (daily mode: the current bar's row)
    minute_row: int = -1  # current minute row (minute mode)
    bar_row: int = -1  # row of the current bar in the store that drives the run (daily or minute)
    in_session: bool = False


class AlgorithmCode(Protocol):
    """The algorithm's lifecycle functions as the engine calls them (the loader's ``UserFunctions`` is one)."""

    path: str
    initialize: Callable[..., Any]
    handle_data: Callable[..., Any] | None
    before_trading_start: Callable[..., Any] | None
    analyze: Callable[..., Any] | None


def _nothing(context: Any) -> None:
    """``initialize`` of :class:`NoAlgorithm`."""


@dataclass(frozen=True)
class NoAlgorithm:
    """The engine's code before an algorithm is loaded: nothing runs."""

    path: str = "<not loaded>"
    initialize: Callable[..., Any] = _nothing
    handle_data: Callable[..., Any] | None = None
    before_trading_start: Callable[..., Any] | None = None
    analyze: Callable[..., Any] | None = None


class AlgorithmData(Protocol):
    """What the engine asks of the ``data`` object it hands to the algorithm (BarData is one)."""

    def price_now(self, col: int) -> float:
        """The current price of a store column."""

    def set_portal(self, portal: Any, assets_changed: bool = True) -> None:
        """Read from another data portal from now on."""


#: order ids: random version-4 UUIDs (as ``uuid.uuid4().hex`` spells them) from a generator of the runtime's own,
#: seeded from the operating system, so an algorithm's ``random.seed`` neither fixes them nor is disturbed by them
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_order_id() -> str:
    """A new random order id: 32 hex digits of a version-4 UUID."""
    return f"{_ids.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"


class Phase(str, Enum):
    """Where the engine is in the algorithm's lifecycle (decides which API calls are allowed)."""

    SETUP = "setup"
    INITIALIZE = "initialize"
    BEFORE_TRADING_START = "before_trading_start"
    HANDLE_DATA = "handle_data"
    SCHEDULED = "scheduled function"
    SESSION_END = "session end"
    ANALYZE = "analyze"
    DONE = "done"


class CancelPolicy(str, Enum):
    NEVER = "never"
    EOD = "eod"


@dataclass(slots=True)
class OrderRecord:
    """The engine's state of one order (the algorithm gets :class:`Order` snapshots of it)."""

    id: str
    asset: Asset
    amount: int
    kind: OrderKind
    limit: float | None
    stop: float | None
    tif: TimeInForce
    created_ns: int
    dt_ns: int
    filled: int = 0
    commission: float = 0.0
    status: OrderStatus = OrderStatus.OPEN
    stop_reached: bool = False
    limit_reached: bool = False
    reason: str | None = None
    broker_id: str | None = None
    #: a bracket exit: the id of its entry order (it is HELD until that order has filled completely)
    parent_id: str | None = None
    #: the OCA group of a bracket's two exits (a fill of one cancels the other)
    oca_group: str | None = None
    avg_fill_price: float = float("nan")
    #: the algorithm's own orderRef (IBridgePy's order(..., orderRef=...))
    order_ref: str = ""
    #: the IB account of the order ("": the run's own account, the one its ledger follows)
    account: str = ""

    def snapshot(self) -> Order:
        return Order(
            id=self.id,
            asset=self.asset,
            amount=self.amount,
            filled=self.filled,
            commission=self.commission,
            stop=self.stop,
            limit=self.limit,
            stop_reached=self.stop_reached,
            limit_reached=self.limit_reached,
            status=self.status,
            created=pd.Timestamp(self.created_ns, tz="UTC"),
            dt=pd.Timestamp(self.dt_ns, tz="UTC"),
            reason=self.reason,
            tif=self.tif,
            kind=self.kind,
            broker_id=self.broker_id,
            avg_fill_price=self.avg_fill_price,
            order_ref=self.order_ref,
        )


@dataclass
class SessionStats:
    """What the engine collects during one session for the results table."""

    transactions: list[Transaction] = field(default_factory=list)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    orders_placed: int = 0


@dataclass(frozen=True)
class BrokerSources:
    """What a paper or live run's broker tells the engine beyond fills: each is None (or empty) in a backtest."""

    #: hand the broker everything sent so far and book what it reported (order_status_monitor calls it)
    wait_for_broker: Callable[[], None] | None = None
    #: IB's account value for a tag (None when IB sends none), and the tags IB sends
    account_value: Callable[[str], str | None] | None = None
    account_value_tags: Callable[[], list[str]] = list
    #: zipline's context.account from IB's account values
    account_snapshot: Callable[[], Any] | None = None
    #: the broker's streaming quote of an asset (bid, ask, sizes), None when there is none
    quote: Callable[[Asset], Any] | None = None
    #: IB history: (asset, duration, bar size, whatToShow, useRTH, end_ns|None, as_of_ns) -> HistoryBars
    history: Callable[..., Any] | None = None
    #: IB's positions of an account (None: all) -> list of PositionSnapshot
    positions: Callable[[str | None], list[Any]] | None = None
    #: the account the ledger follows
    ledger_account: str = ""
    #: (splits, dividends) the broker applies to the account, when the run knows them
    corporate_actions: tuple[tuple, tuple] | None = None

