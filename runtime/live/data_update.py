"""``ibalgo data update``: daily bars through the IB adapter into a local Parquet folder (see runtime.data.download).

By default the source is the simulated gateway started in this process (the bundled stocks, the synthetic universe
when a synthetic ticker is asked for, or ``--data DIR``), its clock set just after the close of the last wanted
session; its answers are instant, so IB's pacing rules are followed in a virtual clock (every wait is counted, none
is slept). With ``broker='ib'`` it is TWS / IB Gateway on the wall clock, and pacing waits are real.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from runtime.brokers.ib.broker import IBBroker
from runtime.brokers.ib.connection import ConnectionConfig
from runtime.brokers.ib.pacing import HistoricalPacer, HistoryKey
from runtime.data.calendars import get_calendar
from runtime.data.download import SymbolUpdate, UpdateResult, parse_universe, update_store
from runtime.data.universe import SYNTHETIC, is_synthetic_symbol, synthetic_symbols
from runtime.engine.clocks import ReplayClock
from runtime.errors import ConfigError

log = logging.getLogger("ibalgo.data")


class VirtualPacer(HistoricalPacer):
    """IB's pacing rules kept in a virtual clock that jumps over every wait (for a source that answers at once).

    ``sent_at`` lists the virtual send time of every request, so a test can check the schedule against the rules.
    """

    def __init__(self) -> None:
        self.now_s = 0.0
        self.waited_s = 0.0
        self.sent_at: list[float] = []
        super().__init__(clock=lambda: self.now_s)

    def reserve(self, key: HistoryKey) -> float:
        wait = self.delay(key)
        if wait > 0:
            self.now_s += wait
            self.waited_s += wait
        self.record(key)
        self.sent_at.append(self.now_s)
        return 0.0


@dataclass(frozen=True)
class Source:
    """Where the bars come from."""

    broker: str = "sim"  # 'sim' (embedded simulated gateway) or 'ib'
    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 1
    account: str | None = None
    data_dir: str | None = None


def resolve_symbols(universe: str | Sequence[str]) -> tuple[list[str], bool]:
    """The symbols of ``--universe`` ('synthetic' is every synthetic ticker) and whether any is synthetic."""
    if isinstance(universe, str) and universe.strip().lower() == SYNTHETIC:
        return list(synthetic_symbols()), True
    symbols = parse_universe(universe)
    return symbols, any(is_synthetic_symbol(s) for s in symbols)


def run_update(
    universe: str | Sequence[str],
    out: str | Path,
    *,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    source: Source = Source(),
    calendar_name: str = "XNYS",
    progress: bool | None = None,
    on_symbol: Callable[[SymbolUpdate], None] | None = None,
) -> UpdateResult:
    """Connect to the source, update ``out`` for the universe's symbols, disconnect. See :func:`update_store`."""
    symbols, synthetic = resolve_symbols(universe)
    cal = get_calendar(calendar_name)
    gateway = None
    if source.broker == "ib":
        config = ConnectionConfig(host=source.host, port=source.port, client_id=source.client_id,
                                  account=source.account)
        now_ns = None
        pacer: HistoricalPacer | None = None
    elif source.broker == "sim":
        from runtime.live.paper import UNPACED_RATE, EmbeddedGateway

        probe = ReplayClock(0, speed=None)
        gateway = EmbeddedGateway(probe, capital=1_000_000.0, data_dir=source.data_dir,
                                  universe=SYNTHETIC if synthetic else None)
        first, last = gateway.data_sessions
        k_last = cal.session_index_on_or_before(last.tz_localize(None) if last.tz is not None else last)
        if end is not None:
            k_last = min(k_last, cal.session_index_on_or_before(end))
        now_ns = int(cal.closes[k_last]) + 3_600_000_000_000  # an hour after the last wanted close
        probe.advance_to(now_ns)
        gateway.pump()
        config = ConnectionConfig(host="127.0.0.1", port=gateway.port, client_id=source.client_id,
                                  account=gateway.account, message_rate=UNPACED_RATE)
        pacer = VirtualPacer()
        if start is None:
            start = first
    else:
        raise ConfigError(f"broker must be 'sim' or 'ib', got {source.broker!r}")
    fixed_now = now_ns
    ib = IBBroker(config, "dataupdate", clock=(lambda: fixed_now) if fixed_now is not None else time.time_ns)
    if pacer is not None:
        ib.history.pacer = pacer
    try:
        ib.connect()
        now = now_ns if now_ns is not None else ib.now_ns()
        result = update_store(ib, symbols, out, now_ns=now, start=start, end=end, calendar=cal, progress=progress,
                              on_symbol=on_symbol)
    finally:
        ib.disconnect()
        if gateway is not None:
            gateway.stop()
    if isinstance(pacer, VirtualPacer) and pacer.waited_s:
        log.info("IB's pacing rules would have made this update wait %.0f s against TWS", pacer.waited_s)
    return result
