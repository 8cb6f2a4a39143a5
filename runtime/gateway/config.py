"""What a simulated gateway is configured with when it starts, and the clock it follows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from runtime.gateway.faults import FaultPlan
from runtime.gateway.protocol import MAX_FRAME_BYTES

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class GatewayClock(Protocol):
    """The gateway's time (a replay clock, or the system's)."""

    def now_ns(self) -> int: ...


class SystemClock:
    """Wall time."""

    def now_ns(self) -> int:
        return time.time_ns()


@dataclass(frozen=True)
class GatewayConfig:
    """Everything about a gateway that is fixed when it starts.

    Attributes:
        host, port: where to listen (port 0 picks a free port). Anything but loopback needs ``allow_remote``.
        accounts: the paper accounts (managedAccounts), the first one is the default for orders.
        starting_cash: cash of every account on a fresh start.
        time_zone: the "TWS time zone" used for connection time, execution times and intraday bar dates.
        pump_interval_s: how often market data, real-time bars and order matching follow the clock.
        state_file: JSON file keeping orders, executions and ids across gateway restarts (None: in memory only).
        max_messages_per_second: error 100 above this inbound rate (None: no limit).
        pacing: enforce IB's historical-data pacing (error 162).
        max_frame: largest accepted incoming message; soft/max_send_buffer: per-client output limits (bytes).
        auto_advance_ns: with a replay clock that only moves when told (speed "max"), advance it this much on
            every pump (None: leave the clock to its owner).
        master_client_id: a client that also receives every order's messages (TWS's "master API client id").
        account_update_interval_s: after fills, account values (updateAccountValue, accountSummary, account
            updates multi, PnL) are pushed at most this often, always ending with the latest values (TWS pushes
            them on position changes and otherwise every three minutes). Positions and portfolio rows go out at
            once. A burst of fills thus costs one account push instead of one per fill.
    """

    host: str = "127.0.0.1"
    port: int = 4002
    accounts: tuple[str, ...] = ("DU1234567",)
    starting_cash: float = 1_000_000.0
    time_zone: str = "US/Eastern"
    pump_interval_s: float = 0.05
    state_file: str | None = None
    max_messages_per_second: int | None = 50
    pacing: bool = True
    max_frame: int = MAX_FRAME_BYTES
    soft_send_buffer: int = 4 << 20
    max_send_buffer: int = 64 << 20
    allow_remote: bool = False
    auto_advance_ns: int | None = None
    master_client_id: int | None = None
    account_update_interval_s: float = 0.05
    faults: FaultPlan = field(default_factory=FaultPlan)
