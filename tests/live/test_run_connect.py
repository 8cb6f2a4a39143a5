"""The first connection of ``run --broker ib`` waits for TWS / IB Gateway to come up (bounded by CONNECT_WAIT), with
the countdown in the log; without patience it fails at once as before. Real ibapi client, simulated gateway."""

from __future__ import annotations

import logging
import time

import pytest
from support.gateway import start_gateway

from runtime.brokers.ib.connection import ConnectionConfig
from runtime.brokers.ib.errors import IBConnectError
from runtime.live.broker import SyncedIBBroker
from runtime.live.paper import connect_with_patience


def _broker(port: int) -> tuple[SyncedIBBroker, ConnectionConfig]:
    config = ConnectionConfig(host="127.0.0.1", port=port, client_id=3, backoff_initial_s=0.2, backoff_max_s=0.5,
                              connect_timeout_s=2.0)
    return SyncedIBBroker(config, "patience", lambda ev: None), config


@pytest.mark.slow
def test_first_connection_is_retried_until_the_gateway_is_up(caplog: pytest.LogCaptureFixture) -> None:
    gateway, _clock = start_gateway()
    try:
        gateway.refuse_connections(1.5)
        ib, config = _broker(gateway.port)
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="ibalgo.live"):
            connect_with_patience(ib, config, 20.0)
        try:
            assert ib.is_connected()
            assert time.monotonic() - t0 >= 1.0
            retries = [r.getMessage() for r in caplog.records if "cannot connect" in r.getMessage()]
            assert retries and "giving up in" in retries[0] and "next in" in retries[0]
        finally:
            ib.disconnect()
        gateway.refuse_connections(30.0)
        ib, config = _broker(gateway.port)
        t0 = time.monotonic()
        with pytest.raises(IBConnectError):
            connect_with_patience(ib, config, 0.0)
        assert time.monotonic() - t0 < 1.5
        with pytest.raises(IBConnectError):
            connect_with_patience(ib, config, 1.0)
        assert time.monotonic() - t0 < 6.0
    finally:
        gateway.stop()
