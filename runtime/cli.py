"""The ``ibalgo`` command line (also ``python -m runtime``)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.algorithm.ibridgepy_options import IBridgePyOptions
from runtime.config import Settings, load_settings, with_overrides
from runtime.core.margin import MarginCheck
from runtime.data.errors import DataError
from runtime.errors import ConfigError, IbAlgoError
from runtime.version import __version__

#: the run finished and the algorithm raised no exception
EXIT_OK = 0
#: the run could not start (a bad option or setting, a missing or broken file, data, initialize raised)
EXIT_CANNOT_START = 1
#: the command line itself is wrong (argparse's usage error)
EXIT_USAGE = 2
#: the run finished (or --strict stopped it) but the algorithm raised; the count is in the summary
EXIT_ALGORITHM_RAISED = 3
#: interrupted by SIGINT (Ctrl-C) / SIGTERM; the results so far are written
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

EXIT_CODES = """exit codes:
  0    the run finished; the algorithm raised no exception
  1    the run could not start (bad option or setting, missing file, data, initialize() raised)
  2    the command line is wrong
  3    the run finished (or --strict stopped it) but the algorithm raised: the count is in the summary and
       summary.json ("errors_in_algorithm"); the results are written
  130  interrupted by Ctrl-C (SIGINT), 143 by SIGTERM: the results up to the last completed session are written"""

EPILOG = """examples:
  ibalgo run user_algos/dual_moving_average.py --replay 2012-01-03:2012-03-30
  ibalgo run user_algos/scheduled_minute.py --frequency minute --replay 2012-11-19:2012-11-21 --speed 600
  ibalgo run user_algos/buy_and_hold.py --broker ib --port 7497 --account DU1234567   (TWS paper)
  ibalgo backtest user_algos/dual_moving_average.py
  ibalgo backtest user_algos/buy_and_hold.py --start 2010-01-04 --end 2012-12-31 --capital 50000
  ibalgo backtest -f user_algos/buy_and_hold.py -s 2012-01-03 -e 2012-12-31 --capital-base 50000 -o perf.pickle
  ibalgo backtest user_algos/scheduled_minute.py --frequency minute --start 2012-11-01 --end 2012-11-30
  ibalgo gateway --port 4002            (a simulated IB Gateway for any IB API client)

Settings not given on the command line come from ./settings.py (or --settings FILE).

""" + EXIT_CODES


class _Defaults:
    """The values options default to, for ``--help``: settings.py's (naming it) or the built-in ones."""

    def __init__(self, argv: list[str]) -> None:
        path = None
        for i, arg in enumerate(argv):
            if arg == "--settings" and i + 1 < len(argv):
                path = argv[i + 1]
            elif arg.startswith("--settings="):
                path = arg.split("=", 1)[1]
        self.file = Path(path) if path else Path("settings.py")
        self.names = settings_names(self.file)
        try:
            self.settings = load_settings(path)
        except IbAlgoError:
            self.settings = Settings()

    def __call__(self, name: str, shown: object = None) -> str:
        value = getattr(self.settings, name) if shown is None else shown
        where = f", {name.upper()} in {self.file}" if name.upper() in self.names else ""
        return f"(default: {value}{where})"


def settings_names(path: Path) -> set[str]:
    """The upper-case names a settings file assigns at its top level (IBridgePy's fileName counts as ALGORITHM;
    read, never executed); empty if none."""
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name) and t.id.isupper():
                names.add(t.id)
            elif isinstance(t, ast.Name) and t.id == "fileName":  # IBridgePy's RUN_ME.py names the algorithm so
                names.add("ALGORITHM")
    return names


def _parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    d = _Defaults(list(argv or []))
    algo_default = (f"(default: {d.settings.algorithm}, ALGORITHM in {d.file})" if "ALGORITHM" in d.names
                    else "(required unless ALGORITHM is set in settings.py)")
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
        description="Backtest an algorithm file on bundled real daily bars (or --data DIR) and write the results. "
        "zipline's flags work too (-f, -s, -e, --capital-base, -b, -o FILE.pickle). Ctrl-C or SIGTERM stops after "
        "the session being simulated and writes the results so far (a second Ctrl-C stops at once).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bt.add_argument("algorithm", nargs="?", help=f"the algorithm file {algo_default}")
    bt.add_argument("-f", "--algofile", dest="algofile", metavar="FILE", help="the algorithm file (zipline's flag)")
    bt.add_argument("-s", "--start", help=f"first session, YYYY-MM-DD {d('start', d.settings.start or 'the data')}")
    bt.add_argument("-e", "--end", help=f"last session, YYYY-MM-DD {d('end', d.settings.end or 'the data')}")
    bt.add_argument("--capital", "--capital-base", dest="capital", type=float, help=f"starting cash {d('capital')}")
    bt.add_argument("--data", dest="data_dir", metavar="DIR",
                    help="folder of CSV/Parquet bars, one file per symbol "
                    f"{d('data_dir', d.settings.data_dir or 'the bundled sample')}")
    bt.add_argument("-b", "--bundle", metavar="NAME",
                    help="zipline's data bundle choice: 'sample' (the bundled daily bars) or a folder of bars "
                    "(the same as --data DIR)")
    bt.add_argument("--frequency", "--data-frequency", dest="frequency", choices=["daily", "minute"],
                    help=f"bar frequency {d('frequency')}")
    bt.add_argument("-o", "--output", dest="output_dir", metavar="DIR|FILE.pickle",
                    help="the folder the results go to (earlier results there are replaced, and the summary says "
                    "so), or a FILE.pickle (.pkl) that gets only the results table, as zipline's -o "
                    f"{d('output_dir')}")
    bt.add_argument("--seed", type=int, help=f"seed of the synthetic minute bars {d('seed')}")
    bt.add_argument("--margin-check", dest="margin_check", choices=["regt", "none"],
                    help="regt: refuse orders the account cannot margin, as IB does; none: fill any order, as "
                    f"zipline does {d('margin_check')}")
    bt.add_argument("--universe", choices=["synthetic"], help="add the seeded synthetic universe (SYN000..SYN299) "
                    "to the data (default: UNIVERSE)")
    bt.add_argument("--fundamentals", dest="fundamentals_file", metavar="FILE",
                    help="point-in-time table (CSV/Parquet) for Fundamentals and DataSets "
                    f"{d('fundamentals_file', d.settings.fundamentals_file or 'none')}")
    bt.add_argument("--rep-bar-freq", dest="rep_bar_freq", type=float, metavar="SECONDS",
                    help="IBridgePy's REGULAR mode: handle_data every SECONDS around the clock (minute data) "
                    f"{d('rep_bar_freq', d.settings.rep_bar_freq or 'off')}")
    bt.add_argument("--strict", action="store_true", default=None,
                    help="stop at the first exception in the algorithm instead of logging it and continuing (the "
                    f"results so far are written; exit code 3) {d('strict')}")
    bt.add_argument("-q", "--quiet", action="store_true", help="no progress bar (none is shown when stderr is not "
                    "a terminal either)")
    bt.add_argument("--log-level", dest="log_level", help=f"DEBUG, INFO, WARNING or ERROR {d('log_level')}")
    bt.add_argument("--settings", help=f"settings file to read instead of ./settings.py (default: {d.file})")
    bt.add_argument("--param", dest="param", action="append", metavar="NAME=VALUE",
                    help="a parameter for the algorithm (get_parameter / context.params), over PARAMS in settings.py; "
                    "repeat for each")
    _benchmark_flags(bt)
    run = sub.add_parser(
        "run",
        help="run an algorithm through the IB API: on the built-in simulated gateway (default) or TWS / IB Gateway",
        description="Run an algorithm through Interactive Brokers' ibapi client. Without --broker ib, a simulated "
        "IB Gateway starts inside ibalgo and replays the bundled (or --data) bars; results are written like a "
        "backtest's, so the two compare. A replay at --speed N jumps over the closed market (nights, weekends, "
        "holidays) unless --replay-closed. Ctrl-C stops cleanly (a second Ctrl-C exits at once).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("algorithm", nargs="?", help=f"the algorithm file {algo_default}")
    replay = d.settings.replay or f"{d.settings.start or '2012-06-01'}:{d.settings.end or ''}"
    run.add_argument("--replay", metavar="START:END", help="simulated gateway: replay these sessions "
                     f"{d('replay', replay)}")
    run.add_argument("--speed", help=f"replay speed: N times real time, or 'max' {d('speed')}")
    run.add_argument("--replay-closed", dest="replay_closed", action="store_true",
                     help="at --speed N, replay the closed market (nights, weekends, holidays) in real time too "
                     "instead of jumping over it")
    run.add_argument("--capital", type=float, help=f"simulated gateway: the paper account's cash {d('capital')}")
    run.add_argument("--frequency", choices=["daily", "minute"], help=f"bar frequency {d('frequency')}")
    run.add_argument("--data", dest="data_dir", metavar="DIR", help="simulated gateway: bars to replay "
                     f"{d('data_dir', d.settings.data_dir or 'the bundled sample')}")
    run.add_argument("--output", dest="output_dir", metavar="DIR",
                     help=f"results and journal.sqlite go here {d('output_dir')}")
    run.add_argument("--seed", type=int, help=f"seed of the simulated gateway's minute bars {d('seed')}")
    run.add_argument("--broker", choices=["sim", "ib"], help="sim: the built-in simulated gateway; "
                     f"ib: TWS / IB Gateway {d('broker')}")
    run.add_argument("--host", dest="broker_host", help=f"TWS / IB Gateway host {d('broker_host')}")
    run.add_argument("--universe", choices=["synthetic"], help="simulated gateway: also serve the seeded synthetic "
                     "universe (SYN000..SYN299) (default: UNIVERSE)")
    run.add_argument("--fundamentals", dest="fundamentals_file", metavar="FILE",
                     help="point-in-time table (CSV/Parquet) for Fundamentals and DataSets "
                     f"{d('fundamentals_file', d.settings.fundamentals_file or 'none')}")
    run.add_argument("--pipeline-data", dest="pipeline_data", metavar="DIR",
                     help="daily bar folder whose symbols are the pipeline's universe (default: PIPELINE_DATA, "
                     "else --data, else the bundled stocks)")
    run.add_argument("--port", dest="broker_port", type=int, help="TWS / IB Gateway API port: TWS paper 7497, "
                     f"Gateway paper 4002 {d('broker_port')}")
    run.add_argument("--client-id", dest="client_id", type=int, help=f"API client id {d('client_id')}")
    run.add_argument("--account", dest="account_code", help="account code (default: the only managed account)")
    run.add_argument("--live", action="store_true", default=None,
                     help="confirm trading a live account (ports 7496/4001, accounts not starting with DU/DF)")
    run.add_argument("--run-id", dest="run_id", help="the run's name (keep it to restart a run: its open orders "
                     f"are adopted, never sent again) {d('run_id', d.settings.run_id or 'a new one each start')}")
    run.add_argument("--cancel-on-stop", dest="cancel_on_stop", action="store_true", default=None,
                     help=f"cancel the run's open orders when it stops {d('cancel_on_stop')}")
    run.add_argument("--strict", action="store_true", default=None,
                     help=f"stop at the first algorithm exception (results written; exit code 3) {d('strict')}")
    run.add_argument("--rep-bar-freq", dest="rep_bar_freq", type=float, metavar="SECONDS",
                     help="IBridgePy's REGULAR mode: handle_data every SECONDS around the clock (minute runs) "
                     f"{d('rep_bar_freq', d.settings.rep_bar_freq or 'off')}")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("--log-level", dest="log_level", help=f"DEBUG, INFO, WARNING or ERROR {d('log_level')}")
    run.add_argument("--settings", help=f"settings file to read instead of ./settings.py (default: {d.file})")
    run.add_argument("--param", dest="param", action="append", metavar="NAME=VALUE",
                     help="a parameter for the algorithm (get_parameter / context.params), over PARAMS in "
                     "settings.py; repeat for each")
    _benchmark_flags(run)
    run.add_argument("--dashboard", dest="dashboard_port", type=int, nargs="?", const=0, metavar="PORT",
                     help="serve the run's live page on 127.0.0.1 (a free port unless PORT is given; the address "
                     "is printed)")
    from runtime.sweep.command import add_sweep_parser

    add_sweep_parser(sub, d, algo_default, _benchmark_flags)
    rep = sub.add_parser("report", help="rebuild report.html from a backtest's or run's output folder",
                         description="Build report.html (charts, tables and summary; one self-contained file) from "
                         "the results a backtest or run wrote into OUTPUT_DIR.")
    rep.add_argument("output_dir", metavar="OUTPUT_DIR", help="the --output folder of a backtest or run")
    rep.add_argument("--open", action="store_true", help="open the report in the web browser")
    data = sub.add_parser("data", help="local bar stores: 'data update' downloads daily bars through the IB API")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    up = data_sub.add_parser(
        "update", help="download daily bars (only the missing days) into a folder of per-symbol Parquet files",
        description="Download daily bars through the IB adapter, from the built-in simulated gateway (default) or "
        "TWS / IB Gateway (--broker ib), into DIR/SYMBOL.parquet (what --data DIR reads). Only the missing days are "
        "requested; a killed update resumes where it stopped; IB's historical-data pacing rules are followed.")
    up.add_argument("--universe", required=True, metavar="FILE|SYMBOLS",
                    help="'AAPL,MSFT,SYN001', a file with one symbol per line (or a CSV with a symbol column), or "
                    "'synthetic' for every synthetic ticker")
    up.add_argument("--out", required=True, metavar="DIR", help="the folder of Parquet files (created if needed)")
    up.add_argument("--start", help="first session of a new file, YYYY-MM-DD (default: the simulated data's first "
                    "session; with --broker ib a year back)")
    up.add_argument("--end", help="last session, YYYY-MM-DD (default: the last session closed)")
    up.add_argument("--data", dest="data_dir", metavar="DIR", help="simulated gateway: serve these bars instead of "
                    "the bundled ones")
    up.add_argument("--broker", choices=["sim", "ib"], default="sim", help="sim: the built-in simulated gateway "
                    "(default); ib: TWS / IB Gateway")
    up.add_argument("--host", default=None, help="TWS / IB Gateway host (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=None, help="TWS / IB Gateway API port (default 4002)")
    up.add_argument("--client-id", dest="client_id", type=int, default=None, help="API client id (default 1)")
    up.add_argument("--account", default=None, help="account code (default: the only managed account)")
    up.add_argument("--log-level", dest="log_level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    sub.add_parser("port", help="convert a Quantopian-era (Python 2) file to Python 3 and today's API: "
                   "ibalgo port OLD.py -o NEW.py", add_help=False)
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

    if (Path(output_dir) / "sweep.json").is_file() and not (Path(output_dir) / "results.pkl").is_file():
        from runtime.report.sweep import write_sweep_report  # an `ibalgo sweep` folder: its sweep.html

        path = write_sweep_report(Path(output_dir))
    else:
        path = write_report(Path(output_dir))
    sys.stdout.write(f"report written to {path}\n")
    if open_browser:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return 0


class _Format(logging.Formatter):
    """``TIME ZONE LEVEL logger: message``: the run's clock in exchange time when a filter stamped the record
    (``record.simtime``), else the wall clock, also in the exchange's time zone."""

    def __init__(self, tz: str) -> None:
        super().__init__()
        self.tz = tz

    def format(self, record: logging.LogRecord) -> str:
        stamp = getattr(record, "simtime", None)
        if not stamp:
            import datetime
            from zoneinfo import ZoneInfo

            stamp = datetime.datetime.fromtimestamp(record.created, ZoneInfo(self.tz)).strftime("%Y-%m-%d %H:%M:%S %Z")
        text = f"{stamp} {record.levelname:<7} {record.name.removeprefix('ibalgo.')}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _configure_logging(level: str, calendar_name: str = "XNYS") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    from runtime.progress import LogHandler

    handler = LogHandler(sys.stderr)
    try:
        from runtime.data.calendars import get_calendar

        tz = str(get_calendar(calendar_name).tz)
    except Exception:  # an unknown calendar is reported by the run itself
        tz = "America/New_York"
    handler.setFormatter(_Format(tz))
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler's job lines ("Added job", "Scheduler started") are for debugging the scheduler only
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


_OVERRIDES = ("algorithm", "start", "end", "capital", "data_dir", "frequency", "output_dir", "seed", "strict",
              "log_level", "rep_bar_freq", "replay", "speed", "broker", "broker_host", "broker_port", "client_id",
              "account_code", "live", "run_id", "cancel_on_stop", "universe",
              "fundamentals_file", "pipeline_data", "benchmark", "benchmark_file", "no_benchmark", "margin_check",
              "dashboard_port")


def _settings_from(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.settings)
    overrides = {name: getattr(args, name, None) for name in _OVERRIDES}
    if getattr(args, "benchmark", None) or getattr(args, "benchmark_file", None):
        # one choice on the command line replaces the settings file's (an empty string clears a setting)
        overrides.update(no_benchmark=False, **({"benchmark_file": ""} if args.benchmark else {"benchmark": ""}))
    if args.command == "run" and args.broker_host is not None and args.broker is None:
        overrides["broker"] = "ib"  # --host names a TWS / IB Gateway
    if getattr(args, "param", None):  # --param NAME=VALUE over settings.py's PARAMS
        from runtime.sweep.grid import parse_assignment

        overrides["params"] = {**settings.params, **dict(parse_assignment(p) for p in args.param)}
    algofile = getattr(args, "algofile", None)
    if algofile is not None:
        if args.algorithm is not None and args.algorithm != algofile:
            raise ConfigError(f"two algorithm files given: {args.algorithm} and -f {algofile}; give one")
        overrides["algorithm"] = algofile
    bundle = getattr(args, "bundle", None)
    if bundle is not None:
        if args.data_dir is not None:
            raise ConfigError(f"both --data {args.data_dir} and -b {bundle} given; give one")
        if bundle.lower() in ("sample", "bundled", "quandl", "quantopian-quandl"):
            settings = dataclasses.replace(settings, data_dir=None)
        elif Path(bundle).is_dir():
            overrides["data_dir"] = bundle
        else:
            raise ConfigError(f"-b {bundle}: no such data: use -b sample (the bundled daily bars) or -b DIR, a folder "
                              "of CSV/Parquet bars (see --data)")
    return with_overrides(settings, overrides)


def _algorithm_origin(args: argparse.Namespace) -> str:
    """Where the algorithm file's name came from, for messages (''; the command line); a ConfigError when no file
    was given anywhere."""
    if args.algorithm is not None or getattr(args, "algofile", None) is not None:
        return ""
    path = Path(args.settings) if args.settings else Path("settings.py")
    if "ALGORITHM" in settings_names(path):
        return f"ALGORITHM in {path}"
    raise ConfigError(f"no algorithm file given: ibalgo {args.command} FILE.py (or set ALGORITHM in settings.py)")


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


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM that stops the command at once (``signum`` says which)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Interrupts:
    """SIGINT / SIGTERM during a command: the first asks the run to stop after what it is doing (results are
    written), a second one stops at once. Before the run exists, the first one stops at once."""

    def __init__(self) -> None:
        self.signals: list[int] = []
        self.stop: Callable[[str], None] | None = None
        self.hard_exit = False
        self._previous: dict[int, object] = {}

    @property
    def exit_code(self) -> int | None:
        import signal

        if not self.signals:
            return None
        return EXIT_SIGTERM if self.signals[0] == signal.SIGTERM else EXIT_SIGINT

    def reason(self, signum: int) -> str:
        import signal

        return "interrupted (Ctrl-C)" if signum == signal.SIGINT else "terminated (SIGTERM)"

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signals.append(signum)
        if self.stop is None or len(self.signals) > 1:
            if self.hard_exit and self.stop is not None:
                import os

                sys.stderr.write("\nsecond interrupt: exiting at once\n")
                os._exit(self.exit_code or EXIT_SIGINT)
            raise Interrupted(self.signals[0])
        sys.stderr.write(f"\nstopping ({self.reason(signum)}): the results so far are written; Ctrl-C again to "
                         "stop at once\n")
        self.stop(self.reason(signum))

    def install(self) -> None:
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()


def _exit_code(interrupts: _Interrupts, errors: int) -> int:
    code = interrupts.exit_code
    if code is not None:
        return code
    return EXIT_ALGORITHM_RAISED if errors else EXIT_OK


class SessionProgress:
    """A session hook that drives a progress bar: sessions done of the run's sessions, the date reached."""

    def __init__(self, desc: str, bounded: bool = True) -> None:
        from runtime.progress import Progress

        self.desc = desc
        #: False: a run on TWS / IB Gateway, whose sessions have no set end (no total, no ETA)
        self.bounded = bounded
        self.bar: Progress | None = None
        self._progress = Progress

    def __call__(self, engine: object, session: int) -> None:
        bar = self.bar
        if bar is None:
            total = engine.end_session - engine.start_session + 1 if self.bounded else None  # type: ignore
            bar = self.bar = self._progress(total, self.desc, "session")
            if not bar.shown:
                return
        if bar.shown:
            bar.update(1, postfix=str(engine.calendar.session_label(session).date()))  # type: ignore[attr-defined]

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _strict_result(run: Callable[[], Any]) -> Any:
    """The run's result, also when ``--strict`` stopped it (the results are written; the summary follows)."""
    from runtime.errors import AlgorithmRaisedError

    try:
        return run()
    except AlgorithmRaisedError as exc:
        if exc.result is None:
            raise
        return exc.result


def _say_replaced(output: Path) -> None:
    """A folder holding an earlier run's results gets the new ones: say so before they are replaced."""
    earlier = output / "summary.json"
    if earlier.is_file():
        import datetime

        when = datetime.datetime.fromtimestamp(earlier.stat().st_mtime).astimezone().strftime("%Y-%m-%d %H:%M %Z")
        logging.getLogger("ibalgo.results").warning(
            "%s/ holds the results of an earlier run (written %s): they are replaced by this run's (give --output "
            "DIR to keep them)", output, when)


def cmd_run(settings: Settings, origin: str = "", quiet: bool = False, replay_closed: bool = False) -> int:
    """``ibalgo run``: the algorithm through the IB adapter (simulated gateway by default)."""
    from runtime.algorithm.loader import check_algorithm_file
    from runtime.assembly.finish import ExchangeTimeFilter
    from runtime.live.run import BrokerTarget, run_algorithm
    from runtime.live.session import LiveSession

    check_algorithm_file(settings.algorithm, origin)  # before anything starts
    if settings.broker == "ib":
        account = None if settings.account_code == "DU0000001" else settings.account_code
        target = BrokerTarget(settings.broker_host, int(settings.broker_port), int(settings.client_id), account,
                              bool(settings.live), float(getattr(settings, "connect_wait", 60.0)))
    else:
        target = BrokerTarget(client_id=int(settings.client_id))
    speed = None if str(settings.speed).lower() == "max" else float(settings.speed)
    interrupts = _Interrupts()
    interrupts.hard_exit = True  # a second Ctrl-C of a broker run leaves at once (orders stay at the broker)
    progress = SessionProgress("replay" if target.host is None else "run", bounded=target.host is None)

    sessions: list[LiveSession] = []

    def install(session: LiveSession) -> None:
        interrupts.stop = session.stop
        sessions.append(session)
        session.on_dashboard = lambda url: sys.stdout.write(f"live page: {url}\n") and sys.stdout.flush()

    def stamp_with(clock: object, calendar: object) -> None:
        stamp = ExchangeTimeFilter(clock.now_ns, calendar)  # type: ignore[attr-defined,arg-type]
        for handler in logging.getLogger().handlers:
            handler.addFilter(stamp)  # log lines show the run's clock in exchange time, from the first one on

    output = Path(settings.output_dir)
    _say_replaced(output)
    started = time.perf_counter()
    interrupts.install()
    try:
        result = _strict_result(lambda: run_algorithm(
            settings.algorithm, target=target, frequency=settings.frequency, replay=_replay_window(settings),
            speed=speed, capital=settings.capital, data_dir=settings.data_dir, seed=settings.seed, output=output,
            universe=settings.universe,
            run_id=settings.run_id, strict=settings.strict, cancel_on_stop=settings.cancel_on_stop,
            calendar_name=settings.exchange_calendar, before_trading_start=settings.before_trading_start,
            history_sessions=int(settings.history_sessions), on_session=install,
            session_hooks=[] if quiet else [progress], skip_closed=not replay_closed, on_clock=stamp_with,
            ibridgepy=IBridgePyOptions.from_settings(settings), rep_bar_freq=settings.rep_bar_freq,
            fundamentals=settings.fundamentals_file, pipeline_data=settings.pipeline_data,
            watchdog_s=float(getattr(settings, "watchdog", 30.0)),
            benchmark=_benchmark_choice(settings), dashboard_port=settings.dashboard_port, params=settings.params))
    finally:
        progress.close()
        interrupts.restore()
    elapsed = time.perf_counter() - started
    out = sys.stdout
    where = "the simulated gateway" if target.host is None else f"{target.host}:{target.port}"
    out.write(f"\nrun {result.engine.functions.path} on {where} ({settings.frequency} bars): "
              f"{result.stopped_because}\n")
    if result.strict_error:
        sys.stderr.write(f"error: {result.strict_error}\n")
    for line in result.summary.lines():
        out.write(f"  {line}\n")
    if result.engine.error_count:
        out.write(f"  errors in the algorithm: {result.engine.error_count} (see the log above)\n")
    if interrupts.signals and not result.perf.empty:
        out.write(f"  results up to {result.perf.index[-1].date()} (the last completed session)\n")
    out.write(f"  results written to {output}/ (results.csv, trades.csv, orders.csv, results.pkl; journal.sqlite)\n")
    loop = sessions[0].loop if sessions else None
    if loop is not None and loop.jumped_ns:
        out.write(f"  the replay jumped over {loop.jumped_ns / 3.6e12:.1f} h of closed market (--replay-closed "
                  "replays it)\n")
    out.write(f"  report: {output / 'report.html'}\n")
    out.write(f"  whole run {elapsed:.2f} s\n")
    return _exit_code(interrupts, result.engine.error_count)


def cmd_backtest(settings: Settings, origin: str = "", quiet: bool = False) -> int:
    """``ibalgo backtest``: the discrete-event backtest; results into a folder, or only perf into a pickle."""
    from runtime.algorithm.loader import check_algorithm_file
    from runtime.assembly.backtest import load_run_data, run_backtest

    check_algorithm_file(settings.algorithm, origin)
    target = Path(settings.output_dir)
    pickle = target if target.suffix.lower() in (".pickle", ".pkl") else None
    if pickle is None:
        _say_replaced(target)
    interrupts = _Interrupts()
    progress = SessionProgress("backtest")
    started = time.perf_counter()
    interrupts.install()
    try:
        daily, minute, start, end = load_run_data(settings)

        def on_engine(engine: object) -> None:
            interrupts.stop = engine.request_stop  # type: ignore[attr-defined]
            if interrupts.signals:  # a signal came while loading: stop at once
                raise Interrupted(interrupts.signals[0])

        result = _strict_result(lambda: run_backtest(
            settings.algorithm, daily=daily, minute=minute, start=start, end=end, capital=settings.capital,
            frequency=settings.frequency, output=None if pickle else target, strict=settings.strict,
            before_trading_start=settings.before_trading_start, rep_bar_freq=settings.rep_bar_freq,
            on_engine=on_engine, session_hooks=[] if quiet else [progress], perf_pickle=pickle,
            ibridgepy=IBridgePyOptions.from_settings(settings), fundamentals=settings.fundamentals_file,
            benchmark=_benchmark_choice(settings), margin_check=MarginCheck.parse(settings.margin_check),
            params=settings.params,
        ))
    finally:
        progress.close()
        interrupts.restore()
    elapsed = time.perf_counter() - started
    out = sys.stdout
    if result.strict_error:
        sys.stderr.write(f"error: {result.strict_error}\n")
    out.write(f"\nbacktest of {settings.algorithm} ({settings.frequency} bars)\n")
    for line in result.summary.lines():
        out.write(f"  {line}\n")
    if result.engine.error_count:
        out.write(f"  errors in the algorithm: {result.engine.error_count} (see the log above)\n")
    if result.stopped:
        last = result.last_session
        upto = (f"results up to {last.date()}, the last completed session" if last is not None
                else "no session completed")
        out.write(f"  stopped early: {result.stopped}; {upto}\n")
    if pickle is not None:
        out.write(f"  results table (perf) written to {pickle}\n")
    else:
        out.write(f"  results written to {target}/ (results.csv, trades.csv, orders.csv, results.pkl, "
                  "summary.json)\n")
        out.write(f"  report: {target / 'report.html'}\n")
    out.write(f"  {result.bars} bars in {result.timings['loop']:.2f} s; whole run {elapsed:.2f} s\n")
    return _exit_code(interrupts, result.engine.error_count)


def cmd_data_update(args: argparse.Namespace) -> int:
    """``ibalgo data update``: daily bars into a Parquet folder (runtime.live.data_update.run_update)."""
    from runtime.live.data_update import Source, run_update

    broker = "ib" if args.host is not None and args.broker == "sim" else args.broker
    source = Source(broker=broker, host=args.host or "127.0.0.1", port=args.port or 4002,
                    client_id=args.client_id or 1, account=args.account, data_dir=args.data_dir)
    result = run_update(args.universe, args.out, start=args.start, end=args.end, source=source)
    out = sys.stdout
    out.write(f"data update: {result.summary()}\n")
    for failed in result.failed:
        out.write(f"  {failed.symbol}: {failed.message}\n")
    return 1 if result.failed and len(result.failed) == len(result.symbols) else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ibalgo`` command; returns the exit code (see :data:`EXIT_CODES`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "gateway":  # the gateway parses its own options (argparse would eat --help)
        from runtime.gateway import run_gateway

        return int(run_gateway(argv[1:]) or 0)
    if argv and argv[0] == "port":  # a source converter with options of its own
        from runtime.port import main as port_main

        return port_main(argv[1:])
    parser = _parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "data":
        if getattr(args, "data_command", None) != "update":
            parser.parse_args(["data", "--help"])
            return EXIT_USAGE
        try:
            _configure_logging(args.log_level.upper())
            return cmd_data_update(args)
        except (IbAlgoError, DataError) as exc:
            sys.stderr.write(f"error: {exc}\n")
            return EXIT_CANNOT_START
        except KeyboardInterrupt:
            sys.stderr.write("interrupted: the files written so far are complete; run the same command to resume\n")
            return EXIT_SIGINT
    try:
        if args.command == "report":
            return cmd_report(args.output_dir, args.open)
        origin = _algorithm_origin(args)
        settings = _settings_from(args)
        _configure_logging(settings.log_level, settings.exchange_calendar)
        from runtime import progress

        progress.configure(quiet=bool(args.quiet))
        if args.command == "run":
            return cmd_run(settings, origin, bool(args.quiet), bool(args.replay_closed))
        if args.command == "sweep":
            from runtime.sweep.command import cmd_sweep

            return cmd_sweep(settings, args, origin, _benchmark_choice(settings),
                             IBridgePyOptions.from_settings(settings))
        return cmd_backtest(settings, origin, bool(args.quiet))
    except (IbAlgoError, DataError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_CANNOT_START
    except KeyboardInterrupt as exc:
        import signal

        sigterm = isinstance(exc, Interrupted) and exc.signum == signal.SIGTERM
        sys.stderr.write(f"{'terminated' if sigterm else 'interrupted'} before the first session: nothing written\n")
        return EXIT_SIGTERM if sigterm else EXIT_SIGINT


if __name__ == "__main__":
    sys.exit(main())
