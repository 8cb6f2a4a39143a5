"""The simulated IB Gateway: a TWS-protocol server (server version 157) for any IB API client.

In-process::

    from runtime.gateway import GatewayConfig, GatewayThread
    with GatewayThread(GatewayConfig(port=0), clock=clock) as gw:
        ...  # connect ibapi / ib_async to 127.0.0.1:gw.port

From a shell: ``ibalgo gateway --help`` (:func:`run_gateway`).
"""

from __future__ import annotations

from runtime.gateway.gateway import Gateway, GatewayConfig
from runtime.gateway.runner import GatewayThread


def run_gateway(argv: list[str] | None = None) -> int:
    """The ``ibalgo gateway`` command (argv without the program and subcommand names)."""
    from runtime.gateway.cli import run_gateway as _run

    return _run(argv)


__all__ = ["Gateway", "GatewayConfig", "GatewayThread", "run_gateway"]
