"""Fault injection: the switches a test (or the command line) flips to make the gateway misbehave like IB's.

The switches live here; the gateway acts on them (see :class:`runtime.gateway.gateway.Gateway`'s fault methods and
:class:`runtime.gateway.runner.GatewayThread` for the thread-safe API):

- drop every connection (as a crash or a network cut does);
- refuse connections for a while (the listening socket is closed, clients get "connection refused");
- connectivity between the gateway and IB lost (1100) and restored with data lost (1101) or kept (1102);
- reject the next order (error 201);
- force the next historical request(s) into a pacing violation (error 162);
- delay every outgoing message by a fixed time;
- restart: drop everything, refuse for a while, come back with the account state kept.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FaultState:
    """Current fault switches (mutated on the gateway's event loop only)."""

    message_delay_s: float = 0.0
    refusing_until: float = 0.0
    connectivity_lost: bool = False


@dataclass(frozen=True)
class FaultPlan:
    """Faults to apply at start-up (from the command line)."""

    refuse_for_s: float = 0.0
    message_delay_s: float = 0.0
    reject_first_order: bool = False
    drop_every_s: float = 0.0
    pacing_violations: int = 0
