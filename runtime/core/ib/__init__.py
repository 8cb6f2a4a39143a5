"""Interactive Brokers tables and mappings, as pure functions: no ``ibapi`` import, no I/O, no clock.

- :mod:`.orders`: IB order status strings -> :class:`~runtime.core.orders.OrderStatus`; :class:`~.orders.OrderSpec`
  (the fields of an ibapi ``Order``) from an order request, and the ``orderRef`` that lets a runtime recognise its
  own orders after a restart;
- :mod:`.errors`: the error / notice code table (what a code means and what to do about it), TWS / IB Gateway ports;
- :mod:`.account`: IB account tags -> zipline's ``context.account`` fields; account codes masked for logs;
- :mod:`.contracts`: :class:`~.contracts.ContractSpec` (the fields of an ibapi ``Contract``) from an
  :class:`~runtime.core.assets.Asset`, from IBridgePy's ``'CASH,EUR,USD'`` strings and from ``superSymbol(...)``
  arguments; assets from contract details;
- :mod:`.time`: IB's time strings and time zones;
- :mod:`.bars`: bar sizes, durations, whatToShow; IB labels bars by their START, the runtime by their END.

The IB adapter (``runtime.brokers.ib``) turns these values into ibapi objects; everything that can be decided
without a connection is decided here and tested with tables.
"""
