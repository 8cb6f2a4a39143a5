"""``ibalgo run`` assembled: the embedded simulated gateway (or TWS / IB Gateway), the IB adapter and the engine.

With no broker settings, the simulated gateway runs in this process on a free loopback port and shares a
:class:`~runtime.engine.clocks.ReplayClock` with the engine: the gateway replays the bundled (or ``--data``) bars
as the clock passes them, and the engine trades through the real ``ibapi`` client over the socket. The gateway uses
the backtest's cost models (and the algorithm's ``set_slippage``/``set_commission``), its historical-data pacing
follows the replay clock, and before each bar it follows the clock to the bar (``pump``) and the adapter completes
a round trip, so fills happen on the same bars as in a backtest.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.brokers.ib.broker import IBBroker
from runtime.brokers.ib.connection import ConnectionConfig
from runtime.brokers.ib.errors import AccountNotFoundError, ClientIdInUseError, IBConnectError, IBTimeoutError
from runtime.brokers.ib.pacing import HistoricalPacer
from runtime.core.calendar import TradingCalendar
from runtime.core.costs import DEFAULT_COMMISSION, DEFAULT_SLIPPAGE
from runtime.core.ib.account import mask_account
from runtime.data.benchmark import BenchmarkChoice
from runtime.data.calendars import get_calendar
from runtime.engine.clocks import Clock, ReplayClock
from runtime.engine.engine import Engine
from runtime.errors import ConfigError
from runtime.live.broker_clock import BrokerClock
from runtime.live.order_link import EngineBroker, EventInbox
from runtime.live.session import LiveOptions, LiveResult, LiveSession

log = logging.getLogger("ibalgo.live")

#: TWS and IB Gateway ports that trade real money
LIVE_PORTS = {7496: "TWS live", 4001: "IB Gateway live"}
PAPER_ACCOUNT_PREFIXES = ("DU", "DF")
SIM_ACCOUNT = "DU1234567"
#: outbound messages per second towards the embedded gateway (it enforces no limit)
UNPACED_RATE = 1e9


@dataclass(frozen=True)
class BrokerTarget:
    """Where a ``run`` trades: the embedded simulated gateway (``host`` None) or TWS / IB Gateway."""

    host: str | None = None
    port: int = 4002
    client_id: int = 1
    account: str | None = None
    live: bool = False
    #: how long the first connection is retried (with backoff) while TWS / IB Gateway is not up yet; 0: once
    connect_wait_s: float = 60.0


def check_live_confirmation(target: BrokerTarget, account: str | None = None) -> None:
    """Refuse a live trading port or a non-paper account unless ``--live`` was given (ConfigError explains)."""
    if target.host is None or target.live:
        return
    if target.port in LIVE_PORTS:
        raise ConfigError(
            f"port {target.port} is {LIVE_PORTS[target.port]} trading: orders would use real money. Use a paper "
            "port (TWS 7497, IB Gateway 4002), or add --live if you really mean to trade this account.")
    code = account or target.account
    if code and not code.upper().startswith(PAPER_ACCOUNT_PREFIXES):
        raise ConfigError(
            f"account {code[:2]}{'*' * max(len(code) - 4, 0)}{code[-2:]} is not a paper account (paper accounts start "
            "with DU or DF): orders would use real money. Use your paper account, or add --live to confirm.")


def replay_window(calendar: TradingCalendar, start: pd.Timestamp, end: pd.Timestamp | None) -> tuple[int, int]:
    """First and last session of a replay, and the instant its clock starts (a minute before the first
    before_trading_start)."""
    first = calendar.session_index_on_or_after(start)
    last = calendar.session_index_on_or_before(end) if end is not None else len(calendar) - 1
    if first > last:
        raise ConfigError(f"no trading sessions between {start.date()} and {end.date() if end is not None else '?'}")
    return first, last


def _replay_end(gateway: EmbeddedGateway, start: pd.Timestamp, end: pd.Timestamp | None) -> pd.Timestamp:
    """The replay's last session: ``end``, or the data's last session when no end is given; a window outside the
    data is a ConfigError that names the data's sessions."""
    first, last = gateway.data_sessions
    if start.tz_localize(None).normalize() > last.tz_localize(None):
        raise ConfigError(f"the replayed data ends on {last.date()} and the replay starts on {start.date()}: choose "
                          f"--replay START:END between {first.date()} and {last.date()} (or other bars with --data)")
    return end if end is not None else last.tz_localize(None)


def replay_start_ns(calendar: TradingCalendar, first: int, before_trading_start: str = "08:45") -> int:
    label = calendar.session_label(first)
    bts = pd.Timestamp(f"{label.date()} {before_trading_start}").tz_localize(calendar.tz).value
    return int(min(bts, int(calendar.opens[first]))) - 60_000_000_000


class EmbeddedGateway:
    """The simulated gateway in this process, on a free loopback port, over the run's replay clock."""

    def __init__(self, clock: Clock, *, capital: float, data_dir: str | None = None, seed: int = 7,
                 account: str = SIM_ACCOUNT, universe: str | None = None,
                 accounts: tuple[str, ...] = ()) -> None:
        self.clock = clock
        from runtime.gateway import GatewayConfig, GatewayThread
        from runtime.gateway.universe import build_universe

        minute_store = None
        if data_dir:
            from runtime.data.aggregate import aggregate_daily
            from runtime.data.loaders import load_folder
            from runtime.data.store import MINUTE

            store = load_folder(data_dir)
            daily = aggregate_daily(store) if store.frequency == MINUTE else store
            minute_store = store if store.frequency == MINUTE else None
        else:
            from runtime.data.sample import load_sample

            daily = load_sample()
        if universe:  # the seeded synthetic tickers next to the replayed stocks (daily bars)
            from runtime.data.universe import with_universe

            daily = with_universe(daily, universe)
            minute_store = None
        universe_ = build_universe(clock.now_ns(), [daily], seed,
                                   minute_stores=[minute_store] if minute_store is not None else ())
        #: the splits and dividends the gateway applies to its paper accounts (the run's ledger applies them too)
        self.corporate_actions = (daily.splits, daily.dividends)
        #: the replayed daily bars (the benchmark's adjusted prices come from them)
        self.daily = daily
        #: the first and last sessions of the replayed data
        self.data_sessions = (daily.calendar.session_label(daily.first_session),
                              daily.calendar.session_label(daily.last_session))
        accounts = tuple(accounts) or (account,)
        account = accounts[0]
        config = GatewayConfig(port=0, accounts=accounts, starting_cash=capital, pacing=False,
                               max_messages_per_second=None)
        self.account = account
        self.thread = GatewayThread(config, clock=clock, universe=universe_, slippage=DEFAULT_SLIPPAGE(),
                                    commission=DEFAULT_COMMISSION())
        self.thread.start()

    @property
    def port(self) -> int:
        return self.thread.port

    def pump(self) -> None:
        """Follow the clock now: match working orders against the bars that ended, stream quotes."""
        self.thread.pump()

    def set_models(self, slippage: object = None, commission: object = None) -> None:
        """The algorithm's set_slippage / set_commission, for the gateway's matching engine."""

        def apply() -> None:
            matcher = self.thread.gateway.exchange.matcher  # type: ignore[union-attr]
            if slippage is not None:
                matcher.slippage = slippage
            if commission is not None:
                matcher.commission = commission

        self.thread.call(apply)

    def stop(self) -> None:
        self.thread.stop()


def broker_factory(config: ConnectionConfig, run_id: str, clock: Clock, *, virtual_pacing: bool,
                   target: BrokerTarget | None = None) -> Callable[[EventInbox, EngineBroker], IBBroker]:
    """What a LiveSession calls to get a connected adapter."""

    def connect(inbox: EventInbox, link: EngineBroker) -> IBBroker:
        ib = IBBroker(config, run_id, inbox.put, clock=clock.now_ns, order_journal=link.order_journal,
                      broker_clock=clock if isinstance(clock, BrokerClock) else None)
        if virtual_pacing:  # IB's history pacing, counted in the replay's time
            ib.history.pacer = HistoricalPacer(clock=lambda: clock.now_ns() / 1e9)
        link.prepare(ib)  # the journal's orders and used order ids, before the reconciliation of the connect
        connect_with_patience(ib, config, target.connect_wait_s if target is not None and target.host else 0.0)
        if target is not None:
            try:
                check_live_confirmation(target, ib.account)
            except ConfigError:
                ib.disconnect()
                raise
        log.info("connected to %s:%d as client %d, account %s (server version %s)", config.host, config.port,
                 config.client_id, mask_account(ib.account), ib.conn.server_version)
        return ib

    return connect


def connect_with_patience(ib: IBBroker, config: ConnectionConfig, wait_s: float,
                          sleep: Callable[[float], None] = time.sleep) -> None:
    """Connect; while TWS / IB Gateway refuses or does not answer (not up yet: started together by systemd or in a
    container), retry with the reconnect backoff for up to ``wait_s`` seconds, logging each retry with the time left.
    A refused client id, an unknown account or the end of the wait raise as a single attempt does."""
    deadline = time.monotonic() + max(wait_s, 0.0)
    attempt = 0
    while True:
        try:
            ib.connect()
            return
        except (ClientIdInUseError, AccountNotFoundError):
            raise
        except (IBConnectError, IBTimeoutError) as exc:
            left = deadline - time.monotonic()
            delay = config.backoff(attempt)
            if left <= delay:
                if wait_s > 0:
                    log.error("gave up connecting to %s:%d after %d attempts in %.0f s", config.host, config.port,
                              attempt + 1, wait_s)
                raise
            attempt += 1
            log.warning("cannot connect to %s:%d yet (%s); attempt %d, next in %.1f s, giving up in %.0f s",
                        config.host, config.port, exc, attempt, delay, left)
            sleep(delay)


def new_run_id() -> str:
    return pd.Timestamp.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)


def run_algorithm(
    algorithm: str,
    *,
    target: BrokerTarget = BrokerTarget(),
    frequency: str = "daily",
    replay: tuple[pd.Timestamp, pd.Timestamp | None] | None = None,
    speed: float | None = None,
    capital: float = 100_000.0,
    data_dir: str | None = None,
    seed: int = 7,
    output: Path | None = None,
    run_id: str | None = None,
    journal_path: Path | None = None,
    strict: bool = False,
    cancel_on_stop: bool = False,
    calendar_name: str = "XNYS",
    before_trading_start: str = "08:45",
    history_sessions: int = 260,
    on_session: Callable[[LiveSession], None] | None = None,
    connection: ConnectionConfig | None = None,
    gateway: EmbeddedGateway | None = None,
    session_hooks: Iterable[Callable[[Engine, int], None]] = (),
    skip_closed: bool = True,
    on_clock: Callable[[Clock, TradingCalendar], None] | None = None,
    universe: str | None = None,
    ibridgepy: Any = None,
    rep_bar_freq: float | None = None,
    fundamentals: str | None = None,
    pipeline_data: str | None = None,
    watchdog_s: float = 30.0,
    benchmark: BenchmarkChoice | None = None,
    dashboard_port: int | None = None,
    params: dict[str, Any] | None = None,
) -> LiveResult:
    """Run ``algorithm`` through the IB adapter: against the embedded simulated gateway (default) replaying
    ``replay`` = (start, end) at ``speed`` x real time (None: as fast as possible), or against TWS / IB Gateway.

    ``rep_bar_freq`` (seconds, minute runs) selects IBridgePy's REGULAR mode: handle_data every ``rep_bar_freq``
    seconds around the clock, as in a backtest.

    ``on_session`` sees the session before it starts (to install signal handlers, or for tests). A ``gateway``
    given by the caller (with its clock) is used and left running (a restart of the runtime against it).
    ``session_hooks`` run after each session's results are recorded (progress bars). ``skip_closed`` (default): a
    replay at ``speed`` N jumps its clock over the closed market (nights, weekends, holidays) instead of waiting
    through it; False replays every hour at ``speed``. ``on_clock`` sees the run's clock as soon as it exists,
    before the gateway starts (the command line stamps every log line with it).

    Pipelines compute over the daily bars of ``pipeline_data`` (a ``--data``-style folder), else of ``data_dir``,
    else of the bundled stocks, using only the sessions before the current one; ``fundamentals`` names their
    point-in-time table.

    ``benchmark`` chooses what the results compare with; ``dashboard_port`` (0: a free one) serves the live page
    on 127.0.0.1 while the run lasts. ``params`` are the algorithm's parameters (``context.params``,
    ``get_parameter``).
    """
    calendar = get_calendar(calendar_name)
    own_gateway = gateway is None
    end: pd.Timestamp | None = None
    run_id = run_id or new_run_id()
    if target.host is None:
        start_ts, end = replay if replay is not None else (pd.Timestamp("2012-06-01"), None)
        first, _last = replay_window(calendar, start_ts, end)
        if gateway is None:
            start_ns = replay_start_ns(calendar, first, before_trading_start)
            if rep_bar_freq is not None:  # REGULAR mode runs around the clock: from the first day's midnight
                midnight = pd.Timestamp(calendar.session_label(first)).tz_localize(calendar.tz).value
                start_ns = min(start_ns, int(midnight) - 60_000_000_000)
            clock: Clock = ReplayClock(start_ns, speed=speed)
            if on_clock is not None:
                on_clock(clock, calendar)
            codes = tuple(getattr(ibridgepy, "account_codes", ()) or ())
            gateway = EmbeddedGateway(clock, capital=capital, data_dir=data_dir, seed=seed, universe=universe,
                                      accounts=codes if len(codes) > 1 else ())
        else:
            clock = gateway.clock
            if on_clock is not None:
                on_clock(clock, calendar)
        try:
            end = _replay_end(gateway, start_ts, end)
        except ConfigError:
            if own_gateway:
                gateway.stop()
            raise
        # the embedded gateway has no message-rate limit, so neither does the adapter's outbound pacer here
        config = connection or ConnectionConfig(host="127.0.0.1", port=gateway.port, client_id=target.client_id,
                                                account=gateway.account, message_rate=UNPACED_RATE)
        mode = "paper"
    else:
        check_live_confirmation(target)
        # the broker's clock (reqCurrentTime): TWS's real time, or a replaying gateway's replay time
        clock = BrokerClock()
        if on_clock is not None:
            on_clock(clock, calendar)
        config = connection or ConnectionConfig(host=target.host, port=target.port, client_id=target.client_id,
                                                account=target.account)
        mode = "live" if target.live else "paper"
    options = LiveOptions(
        algorithm=str(algorithm), run_id=run_id, journal_path=journal_path or Path(output or "output") /
        "journal.sqlite", frequency=frequency, end=end, output=output, strict=strict,
        history_sessions=history_sessions, cancel_on_stop=cancel_on_stop,
        before_trading_start=before_trading_start, mode=mode,
        corporate_actions=gateway.corporate_actions if gateway is not None else None, skip_closed=skip_closed,
        ibridgepy=ibridgepy, rep_bar_freq=rep_bar_freq,
        pipeline_data=pipeline_data or data_dir, fundamentals=fundamentals,
        watchdog_s=watchdog_s,
        benchmark=benchmark, benchmark_bars=getattr(gateway, "daily", None), dashboard_port=dashboard_port,
        params=tuple((params or {}).items()))
    session = LiveSession(
        options, broker_factory(config, run_id, clock, virtual_pacing=gateway is not None,
                                target=target), clock, calendar,
        sync=gateway.pump if gateway is not None else None,
        set_models=gateway.set_models if gateway is not None else None, session_hooks=session_hooks)
    if on_session is not None:
        on_session(session)
    try:
        result = session.run()
    finally:
        if gateway is not None and own_gateway:
            gateway.stop()
    return result


__all__ = ["BrokerTarget", "EmbeddedGateway", "check_live_confirmation", "run_algorithm"]
