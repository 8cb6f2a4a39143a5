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
    gw = sub.add_parser("gateway", help="run the simulated IB Gateway", add_help=False)
    gw.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


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


def _settings_from(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.settings)
    overrides = {
        "algorithm": args.algorithm, "start": args.start, "end": args.end, "capital": args.capital,
        "data_dir": args.data_dir, "frequency": args.frequency, "output_dir": args.output_dir, "seed": args.seed,
        "strict": args.strict, "log_level": args.log_level, "rep_bar_freq": args.rep_bar_freq,
    }
    return with_overrides(settings, overrides)


def cmd_backtest(settings: Settings) -> int:
    from runtime.engine.backtest import load_run_data, run_backtest

    started = time.perf_counter()
    daily, minute, start, end = load_run_data(settings)
    result = run_backtest(
        settings.algorithm, daily=daily, minute=minute, start=start, end=end, capital=settings.capital,
        frequency=settings.frequency, output=Path(settings.output_dir), strict=settings.strict,
        before_trading_start=settings.before_trading_start, rep_bar_freq=settings.rep_bar_freq,
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
        settings = _settings_from(args)
        _configure_logging(settings.log_level)
        return cmd_backtest(settings)
    except (IbAlgoError, DataError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
