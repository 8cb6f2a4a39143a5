"""The ``ibalgo`` command line (also ``python -m runtime``)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from runtime import __version__
from runtime.config import Settings, load_settings, with_overrides
from runtime.data.errors import DataError
from runtime.errors import IbAlgoError

EPILOG = """examples:
  ibalgo run user_algos/dual_moving_average.py --replay 2012-01-03:2012-03-30
  ibalgo run user_algos/scheduled_minute.py --frequency minute --replay 2012-11-19:2012-11-21 --speed 600
  ibalgo run user_algos/buy_and_hold.py --broker ib --port 7497 --account DU1234567   (TWS paper)
  ibalgo backtest user_algos/dual_moving_average.py
  ibalgo backtest user_algos/buy_and_hold.py --start 2010-01-04 --end 2012-12-31 --capital 50000
  ibalgo backtest user_algos/scheduled_minute.py --frequency minute --start 2012-11-01 --end 2012-11-30
  ibalgo gateway --port 4002            (a simulated IB Gateway for any IB API client)

Settings not given on the command line come from ./settings.py (or --settings FILE)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibalgo",
        description="Run Quantopian-style algorithm files: backtests on bundled or your own data, and a "
        "simulated IB Gateway.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ibalgo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    bt = sub.add_parser(
        "backtest",
        help="backtest an algorithm file",
        description="Backtest an algorithm file on bundled real daily bars (or --data DIR) and write the results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bt.add_argument("algorithm", nargs="?", help="the algorithm file (default: ALGORITHM in settings.py)")
    bt.add_argument("--start", help="first session, YYYY-MM-DD (default: START in settings.py)")
    bt.add_argument("--end", help="last session, YYYY-MM-DD (default: END in settings.py)")
    bt.add_argument("--capital", type=float, help="starting cash (default: CAPITAL)")
    bt.add_argument("--data", dest="data_dir", metavar="DIR",
                    help="folder of CSV/Parquet bars, one file per symbol (default: the bundled sample)")
    bt.add_argument("--frequency", choices=["daily", "minute"], help="bar frequency (default: FREQUENCY)")
    bt.add_argument("--output", dest="output_dir", metavar="DIR", help="where results go (default: OUTPUT_DIR)")
    bt.add_argument("--seed", type=int, help="seed of the synthetic minute bars (default: SEED)")
    bt.add_argument("--rep-bar-freq", dest="rep_bar_freq", type=float, metavar="SECONDS",
                    help="IBridgePy's REGULAR mode: handle_data every SECONDS around the clock (minute data)")
    bt.add_argument("--strict", action="store_true", default=None,
                    help="stop at the first exception in the algorithm instead of logging it and continuing")
    bt.add_argument("--log-level", dest="log_level", help="DEBUG, INFO, WARNING or ERROR (default: LOG_LEVEL)")
    bt.add_argument("--settings", help="settings file to read instead of ./settings.py")
    _benchmark_flags(bt)
    run = sub.add_parser(
        "run",
        help="run an algorithm through the IB API: on the built-in simulated gateway (default) or TWS / IB Gateway",
        description="Run an algorithm through Interactive Brokers' ibapi client. Without --broker ib, a simulated "
        "IB Gateway starts inside ibalgo and replays the bundled (or --data) bars; results are written like a "
        "backtest's, so the two compare. Ctrl-C stops cleanly (a second Ctrl-C exits at once).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("algorithm", nargs="?", help="the algorithm file (default: ALGORITHM in settings.py)")
    run.add_argument("--replay", metavar="START:END", help="simulated gateway: replay these sessions (default: "
                     "START:END in settings.py)")
    run.add_argument("--speed", help="replay speed: N times real time, or 'max' (default)")
    run.add_argument("--capital", type=float, help="simulated gateway: the paper account's cash (default: CAPITAL)")
    run.add_argument("--frequency", choices=["daily", "minute"], help="bar frequency (default: FREQUENCY)")
    run.add_argument("--data", dest="data_dir", metavar="DIR", help="simulated gateway: bars to replay")
    run.add_argument("--output", dest="output_dir", metavar="DIR", help="results and journal.sqlite go here")
    run.add_argument("--seed", type=int, help="seed of the simulated gateway's minute bars (default: SEED)")
    run.add_argument("--broker", choices=["sim", "ib"], help="sim: the built-in simulated gateway (default); "
                     "ib: TWS / IB Gateway")
    run.add_argument("--host", dest="broker_host", help="TWS / IB Gateway host (default: BROKER_HOST)")
    run.add_argument("--port", dest="broker_port", type=int, help="TWS / IB Gateway API port: TWS paper 7497, "
                     "Gateway paper 4002 (default: BROKER_PORT)")
    run.add_argument("--client-id", dest="client_id", type=int, help="API client id (default: CLIENT_ID)")
    run.add_argument("--account", dest="account_code", help="account code (default: the only managed account)")
    run.add_argument("--live", action="store_true", default=None,
                     help="confirm trading a live account (ports 7496/4001, accounts not starting with DU/DF)")
    run.add_argument("--run-id", dest="run_id", help="the run's name (keep it to restart a run: its open orders "
                     "are adopted, never sent again)")
    run.add_argument("--cancel-on-stop", dest="cancel_on_stop", action="store_true", default=None,
                     help="cancel the run's open orders when it stops (default: leave them working)")
    run.add_argument("--strict", action="store_true", default=None, help="stop at the first algorithm exception")
    run.add_argument("--log-level", dest="log_level", help="DEBUG, INFO, WARNING or ERROR (default: LOG_LEVEL)")
    run.add_argument("--settings", help="settings file to read instead of ./settings.py")
    _benchmark_flags(run)
    run.add_argument("--dashboard", dest="dashboard_port", type=int, nargs="?", const=0, metavar="PORT",
                     help="serve the run's live page on 127.0.0.1 (a free port unless PORT is given; the address "
                     "is printed)")
    rep = sub.add_parser("report", help="rebuild report.html from a backtest's or run's output folder",
                         description="Build report.html (charts, tables and summary; one self-contained file) from "
                         "the results a backtest or run wrote into OUTPUT_DIR.")
    rep.add_argument("output_dir", metavar="OUTPUT_DIR", help="the --output folder of a backtest or run")
    rep.add_argument("--open", action="store_true", help="open the report in the web browser")
    gw = sub.add_parser("gateway", help="run the simulated IB Gateway", add_help=False)
    gw.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _benchmark_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--benchmark", metavar="SYMBOL", help="compare with this symbol's total return (adjusted "
                       "prices; default: BENCHMARK, or the algorithm's set_benchmark)")
    group.add_argument("--benchmark-file", dest="benchmark_file", metavar="CSV",
                       help="compare with the daily returns in this CSV ('date' and 'return' columns)")
    group.add_argument("--no-benchmark", dest="no_benchmark", action="store_true", default=None,
                       help="no benchmark (no alpha, beta or benchmark return)")


def _benchmark_choice(settings: Settings):
    from runtime.data.benchmark import BenchmarkChoice

    return BenchmarkChoice(symbol=settings.benchmark or None, file=settings.benchmark_file or None,
                           enabled=not settings.no_benchmark)


def cmd_report(output_dir: str, open_browser: bool) -> int:
    """``ibalgo report``: rebuild report.html from saved results."""
    from runtime.report import write_report

    path = write_report(Path(output_dir))
    sys.stdout.write(f"report written to {path}\n")
    if open_browser:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return 0


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)

    class _Format(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            stamp = getattr(record, "simtime", None) or self.formatTime(record, "%Y-%m-%d %H:%M:%S")
            return f"{stamp} {record.levelname:<7} {record.name.removeprefix('ibalgo.')}: {record.getMessage()}"

    handler.setFormatter(_Format())
    root.addHandler(handler)
    root.setLevel(level)


_OVERRIDES = ("algorithm", "start", "end", "capital", "data_dir", "frequency", "output_dir", "seed", "strict",
              "log_level", "rep_bar_freq", "replay", "speed", "broker", "broker_host", "broker_port", "client_id",
              "account_code", "live", "run_id", "cancel_on_stop", "benchmark", "benchmark_file", "no_benchmark",
              "dashboard_port")


def _settings_from(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.settings)
    overrides = {name: getattr(args, name, None) for name in _OVERRIDES}
    if getattr(args, "benchmark", None) or getattr(args, "benchmark_file", None):
        # one choice on the command line replaces the settings file's (an empty string clears a setting)
        overrides.update(no_benchmark=False, **({"benchmark_file": ""} if args.benchmark else {"benchmark": ""}))
    if args.command == "run" and args.broker_host is not None and args.broker is None:
        overrides["broker"] = "ib"  # --host names a TWS / IB Gateway
    return with_overrides(settings, overrides)


def _replay_window(settings: Settings) -> tuple:
    import pandas as pd

    from runtime.errors import ConfigError

    if settings.replay:
        start, sep, end = str(settings.replay).partition(":")
        try:
            return pd.Timestamp(start), (pd.Timestamp(end) if sep and end else None)
        except ValueError:
            raise ConfigError(f"--replay must be START:END dates like 2012-01-03:2012-03-30, got "
                              f"{settings.replay!r}") from None
    return settings.start_ts or pd.Timestamp("2012-06-01"), settings.end_ts


def cmd_run(settings: Settings) -> int:
    """``ibalgo run``: the algorithm through the IB adapter (simulated gateway by default)."""
    import os
    import signal

    from runtime.live.paper import BrokerTarget, run_algorithm
    from runtime.live.session import ExchangeTimeFilter, LiveSession

    if settings.broker == "ib":
        account = None if settings.account_code == "DU0000001" else settings.account_code
        target = BrokerTarget(settings.broker_host, int(settings.broker_port), int(settings.client_id), account,
                              bool(settings.live))
    else:
        target = BrokerTarget(client_id=int(settings.client_id))
    speed = None if str(settings.speed).lower() == "max" else float(settings.speed)
    interrupts = []

    def install(session: LiveSession) -> None:
        def on_signal(signum: int, _frame: object) -> None:
            interrupts.append(signum)
            if len(interrupts) > 1:
                sys.stderr.write("\nsecond interrupt: exiting at once\n")
                os._exit(130)
            sys.stderr.write("\nstopping (open orders are kept or cancelled as configured; Ctrl-C again to exit at "
                             "once)\n")
            session.stop("interrupted" if signum == signal.SIGINT else "terminated (SIGTERM)")

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
        session.on_dashboard = lambda url: sys.stdout.write(f"live page: {url}\n") and sys.stdout.flush()
        stamp = ExchangeTimeFilter(session.clock, session.calendar)
        for handler in logging.getLogger().handlers:
            handler.addFilter(stamp)  # log lines show the run's clock in exchange time

    started = time.perf_counter()
    output = Path(settings.output_dir)
    result = run_algorithm(
        settings.algorithm, target=target, frequency=settings.frequency, replay=_replay_window(settings),
        speed=speed, capital=settings.capital, data_dir=settings.data_dir, seed=settings.seed, output=output,
        run_id=settings.run_id, strict=settings.strict, cancel_on_stop=settings.cancel_on_stop,
        calendar_name=settings.exchange_calendar, before_trading_start=settings.before_trading_start,
        history_sessions=int(settings.history_sessions), on_session=install,
        benchmark=_benchmark_choice(settings), dashboard_port=settings.dashboard_port)
    elapsed = time.perf_counter() - started
    out = sys.stdout
    where = "the simulated gateway" if target.host is None else f"{target.host}:{target.port}"
    out.write(f"\nrun {result.engine.functions.path} on {where} ({settings.frequency} bars): "
              f"{result.stopped_because}\n")
    for line in result.summary.lines():
        out.write(f"  {line}\n")
    if result.engine.error_count:
        out.write(f"  errors in the algorithm: {result.engine.error_count} (see the log above)\n")
    out.write(f"  results written to {output}/ (results.csv, trades.csv, orders.csv, results.pkl; journal.sqlite)\n")
    out.write(f"  report: {output / 'report.html'}\n")
    out.write(f"  whole run {elapsed:.2f} s\n")
    return 0


def cmd_backtest(settings: Settings) -> int:
    from runtime.engine.backtest import load_run_data, run_backtest

    started = time.perf_counter()
    daily, minute, start, end = load_run_data(settings)
    result = run_backtest(
        settings.algorithm, daily=daily, minute=minute, start=start, end=end, capital=settings.capital,
        frequency=settings.frequency, output=Path(settings.output_dir), strict=settings.strict,
        before_trading_start=settings.before_trading_start, rep_bar_freq=settings.rep_bar_freq,
        benchmark=_benchmark_choice(settings),
    )
    elapsed = time.perf_counter() - started
    out = sys.stdout
    out.write(f"\nbacktest of {settings.algorithm} ({settings.frequency} bars)\n")
    for line in result.summary.lines():
        out.write(f"  {line}\n")
    if result.engine.error_count:
        out.write(f"  errors in the algorithm: {result.engine.error_count} (see the log above)\n")
    if result.engine.stop_requested:
        out.write(f"  stopped early: {result.engine.stop_requested}\n")
    out.write(f"  results written to {settings.output_dir}/ (results.csv, trades.csv, orders.csv, results.pkl)\n")
    out.write(f"  report: {Path(settings.output_dir) / 'report.html'}\n")
    out.write(f"  {result.bars} bars in {result.timings['loop']:.2f} s; whole run {elapsed:.2f} s\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ibalgo`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "gateway":  # the gateway parses its own options (argparse would eat --help)
        from runtime.gateway import run_gateway

        return int(run_gateway(argv[1:]) or 0)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "report":
            return cmd_report(args.output_dir, args.open)
        settings = _settings_from(args)
        _configure_logging(settings.log_level)
        if args.command == "run":
            return cmd_run(settings)
        return cmd_backtest(settings)
    except (IbAlgoError, DataError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
