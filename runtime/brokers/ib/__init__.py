"""The IB adapter: the only package that imports ``ibapi``.

- :class:`~runtime.brokers.ib.broker.IBBroker` implements the engine's Broker interface over TWS / IB Gateway /
  the simulated gateway;
- :class:`~runtime.brokers.ib.connection.ConnectionConfig` says where and how to connect;
- :mod:`runtime.brokers.ib.events` are the adapter's own events; :mod:`runtime.brokers.ib.errors` its typed errors.
"""

from runtime.brokers.ib.broker import IBBroker
from runtime.brokers.ib.connection import ConnectionConfig
from runtime.brokers.ib.orders import KnownOrder

__all__ = ["ConnectionConfig", "IBBroker", "KnownOrder"]
