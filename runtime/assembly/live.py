"""A paper or live run's engine put together: the engine over the live data portal with the order link as its
broker, the broker's account values, quotes, positions and history as its sources, and the algorithm's API,
``context`` and ``data`` (the live session then loads the algorithm with :func:`runtime.assembly.parts.load_into`
and ends the run with :func:`runtime.assembly.finish.finish_run`)."""

from __future__ import annotations

import logging

from runtime.assembly.parts import attach_api
from runtime.brokers.base import Broker
from runtime.core.calendar import TradingCalendar
from runtime.core.orders import order_policy_for
from runtime.data.portal import DataPortal
from runtime.engine.engine import Engine
from runtime.engine.state import BrokerSources


def build_live_engine(
    broker: Broker,
    portal: DataPortal,
    calendar: TradingCalendar,
    *,
    frequency: str,
    capital: float,
    first: int,
    last: int,
    mode: str,
    strict: bool,
    sources: BrokerSources,
    ibridgepy: object = None,
) -> Engine:
    """The engine of a paper or live run from session ``first`` to ``last``, with its API, ``context`` and
    ``data``; ``data`` shows the broker's streaming quotes."""
    engine = Engine(None, portal=portal, calendar=calendar, broker=broker, frequency=frequency, capital=capital,
                    start_session=first, end_session=last, mode=mode, strict=strict,
                    algo_logger=logging.getLogger("ibalgo.algo"))
    # a daily run's market orders go to IB as market-on-close, and are recorded as such
    engine.set_order_policy(order_policy_for(frequency, at_broker=True))
    engine.use_broker_sources(sources)
    engine.set_ibridgepy_options(ibridgepy)
    attach_api(engine)
    engine.data.set_quote_source(sources.quote)
    return engine
