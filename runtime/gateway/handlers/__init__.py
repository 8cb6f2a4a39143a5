"""The gateway's request handlers, one module per area of the TWS API.

Each area receives typed requests from client connections (runtime/gateway/connection.py), answers them through
the shared :class:`~runtime.gateway.handlers.base.Desk` (clock, universe, exchange, pacer, faults) and keeps its
own subscriptions in :class:`~runtime.gateway.handlers.base.Registry` objects keyed by connection:

- :mod:`.reference`: ids, time, accounts list, contract details, market rules;
- :mod:`.orders`: placing, cancelling, open/completed orders, executions;
- :mod:`.market_data`: streaming quotes, real-time bars, market data type, depth, tick-by-tick;
- :mod:`.history`: historical bars (with keepUpToDate) and head timestamps;
- :mod:`.account`: account updates, positions, summaries, multi-account views, PnL;
- :mod:`.scanners`: scanner parameters and subscriptions;
- :mod:`.options`: option chain parameters, the option calculators and exerciseOptions (option contracts, quotes,
  fills and expiration themselves: runtime/gateway/options.py).
"""
