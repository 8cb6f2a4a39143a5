"""``ibalgo gateway``: run the simulated IB Gateway from a shell until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Sequence

import pandas as pd

from runtime.core.ib_mapping import mask_accounts
from runtime.gateway.faults import FaultPlan
from runtime.gateway.gateway import Gateway, GatewayConfig
from runtime.gateway.universe import Universe, build_universe, synthetic_universe

log = logging.getLogger("runtime.gateway")

DESCRIPTION = """\
A simulated IB Gateway: it speaks the TWS API socket protocol (server version 157), so any IB API client (ibapi,
ib_async, ib_insync, IBridgePy...) can connect to it as to IB Gateway, with paper accounts, market data from the
bundled sample (replay) or seeded synthetic prices (real time), historical data, and orders filled by the
runtime's matching engine.

Point a client at it:  host 127.0.0.1, port 4002 (or --port), any client id (each connection its own).
  ibapi:     app.connect("127.0.0.1", 4002, clientId=1)
  ib_async:  IB().connect("127.0.0.1", 4002, clientId=1)"""

EPILOG = """\
examples:
  ibalgo gateway                                     replay 2012-06-01.. of the bundled sample in real time
  ibalgo gateway --replay 2008-09-15:2008-10-31 --speed 60
  ibalgo gateway --replay 2012-01-03:2012-12-31 --speed max
  ibalgo gateway --realtime --seed 7                 synthetic prices on the wall clock
  ibalgo gateway --state gw.json --accounts DU111,DU222
  ibalgo gateway --refuse-for 10 --delay-messages 0.2 --reject-first-order   (fault injection)"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ibalgo gateway", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=4002, help="TCP port (default 4002, IB Gateway paper; 0 = any free)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need "
                   "--allow-remote)")
    p.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address (no "
                   "authentication: anyone who reaches the port can trade the paper accounts)")
    p.add_argument("--data", metavar="DIR", help="folder of per-symbol CSV/Parquet bars (default: the bundled "
                   "sample of AAPL, IBM, MSFT, GOOG, FB 2000-2013)")
    p.add_argument("--universe", choices=["synthetic"], help="also serve the seeded synthetic universe "
                   "(SYN000..SYN299, daily bars 2000-03..2013-03) next to the replayed stocks")
    p.add_argument("--accounts", default="DU1234567", help="comma-separated paper account codes")
    p.add_argument("--cash", type=float, default=1_000_000.0, help="starting cash per account")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--replay", metavar="START:END", help="replay historical bars from START (a date or "
                      "'YYYY-MM-DD HH:MM' exchange time) to END")
    mode.add_argument("--realtime", action="store_true", help="seeded synthetic prices on the wall clock")
    p.add_argument("--speed", default="1", help="replay speed: N times real time, or 'max' (as fast as possible)")
    p.add_argument("--seed", type=int, default=0, help="seed of synthetic prices and generated minute bars")
    p.add_argument("--state", metavar="FILE", help="JSON state file: orders, executions and positions survive "
                   "restarts")
    p.add_argument("--time-zone", default="US/Eastern", help="the 'TWS time zone' of times sent to clients")
    p.add_argument("--max-rate", type=int, default=50, help="inbound messages per second before error 100 "
                   "(0: no limit)")
    p.add_argument("--no-pacing", action="store_true", help="do not enforce historical-data pacing (error 162)")
    p.add_argument("--master-client-id", type=int, help="a client id that receives every order's messages")
    faults = p.add_argument_group("fault injection")
    faults.add_argument("--refuse-for", type=float, default=0.0, metavar="S",
                        help="refuse connections for the first S seconds")
    faults.add_argument("--delay-messages", type=float, default=0.0, metavar="S",
                        help="delay every message to clients by S seconds")
    faults.add_argument("--reject-first-order", action="store_true", help="reject the first order (error 201)")
    faults.add_argument("--pacing-violations", type=int, default=0, metavar="N",
                        help="answer the first N historical requests with a pacing violation (162)")
    faults.add_argument("--drop-every", type=float, default=0.0, metavar="S",
                        help="drop every client connection every S seconds")
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection")
    return p


def _parse_start_end(text: str, tz: str) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """'START:END' (END optional); each a date or 'YYYY-MM-DDTHH:MM' in exchange time."""
    parts = re.split(r":(?=\d{4}-\d{2}-\d{2})", text.strip(), maxsplit=1)
    start = pd.Timestamp(parts[0].rstrip(":"))
    end = pd.Timestamp(parts[1]) if len(parts) > 1 and parts[1] else None
    if start.tzinfo is None:
        start = start.tz_localize(tz)
    if end is not None and end.tzinfo is None:
        end = end.tz_localize(tz)
    return start, end


def _universe(args: argparse.Namespace, now_ns: int) -> Universe:
    extra = getattr(args, "universe", None)
    if args.realtime:
        if extra:  # wall-clock prices for the synthetic tickers too (random walks, no corporate actions)
            from runtime.data.sample import SAMPLE_SYMBOLS
            from runtime.data.universe import synthetic_symbols

            return synthetic_universe(now_ns, args.seed, SAMPLE_SYMBOLS + synthetic_symbols())
        return synthetic_universe(now_ns, args.seed)
    minute_stores = []
    if args.data:
        from runtime.data.aggregate import aggregate_daily
        from runtime.data.loaders import load_folder
        from runtime.data.store import MINUTE

        store = load_folder(args.data)
        daily = aggregate_daily(store) if store.frequency == MINUTE else store
        if store.frequency == MINUTE and not extra:
            minute_stores = [store]
    else:
        from runtime.data.sample import load_sample

        daily = load_sample()
    if extra:
        from runtime.data.universe import with_universe

        daily = with_universe(daily, extra)
    return build_universe(now_ns, [daily], args.seed, minute_stores=minute_stores)


def build(args: argparse.Namespace) -> Gateway:
    """The gateway an argument namespace describes (not started)."""
    from runtime.data.calendars import get_calendar
    from runtime.engine.clocks import ReplayClock, WallClock

    accounts = tuple(a.strip() for a in args.accounts.split(",") if a.strip())
    cal = get_calendar("XNYS")
    auto_advance = None
    if args.realtime:
        clock = WallClock()
    else:
        if args.replay:
            start, _end = _parse_start_end(args.replay, "America/New_York")
        else:
            start = pd.Timestamp("2012-06-01", tz="America/New_York")
        if start.hour == 0 and start.minute == 0:  # a date: start a minute before that session's open
            k = cal.session_index_on_or_after(start.tz_localize(None))
            start = pd.Timestamp(int(cal.opens[min(k, len(cal) - 1)]) - 60_000_000_000, tz="UTC")
        if str(args.speed).lower() == "max":
            clock = ReplayClock(start.value, speed=None)
            auto_advance = 60_000_000_000
        else:
            clock = ReplayClock(start.value, speed=float(args.speed))
    plan = FaultPlan(refuse_for_s=args.refuse_for, message_delay_s=args.delay_messages,
                     reject_first_order=args.reject_first_order, drop_every_s=args.drop_every,
                     pacing_violations=args.pacing_violations)
    config = GatewayConfig(
        host=args.host, port=args.port, accounts=accounts, starting_cash=args.cash, time_zone=args.time_zone,
        state_file=args.state, max_messages_per_second=args.max_rate or None, pacing=not args.no_pacing,
        allow_remote=args.allow_remote, auto_advance_ns=auto_advance, master_client_id=args.master_client_id,
        faults=plan,
    )
    return Gateway(config, clock, _universe(args, clock.now_ns()))


async def _serve(gw: Gateway) -> None:
    await gw.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    print(f"simulated IB Gateway on {gw.config.host}:{gw.port} (accounts {mask_accounts(gw.config.accounts)}); "
          "Ctrl-C to stop", flush=True)
    try:
        await stop.wait()
    finally:
        await gw.stop()


def run_gateway(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ibalgo gateway``: parse ``argv``, serve until interrupted, return an exit status."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        gw = build(args)
    except (ValueError, OSError) as exc:
        print(f"ibalgo gateway: {exc}")
        return 2
    try:
        asyncio.run(_serve(gw))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"ibalgo gateway: cannot listen on {args.host}:{args.port}: {exc}")
        return 1
    return 0
