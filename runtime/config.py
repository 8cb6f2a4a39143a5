"""Settings: ``settings.py`` (IBridgePy style) merged with command-line overrides into one frozen value.

``settings.py`` (and an IBridgePy ``RUN_ME.py``) is READ, never executed (:mod:`runtime.settings_reader`): only
assignments of literal values count, so starting ibalgo in a folder never runs code found there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, after settings.py and the command line have been merged."""

    algorithm: str = "user_algos/dual_moving_average.py"
    run_mode: str | None = None
    capital: float = 100_000.0
    start: str | None = None
    end: str | None = None
    frequency: str = "daily"
    data_dir: str | None = None
    seed: int = 7
    output_dir: str = "output"
    strict: bool = False
    exchange_calendar: str = "XNYS"
    before_trading_start: str = "08:45"
    rep_bar_freq: float | None = None
    show_time_zone: str = "US/Eastern"
    account_code: str = "DU0000001"
    account_codes: tuple[str, ...] = ()
    broker_host: str = "127.0.0.1"
    broker_port: int = 4002
    client_id: int = 1
    log_level: str = "INFO"
    broker: str = "sim"
    replay: str | None = None
    speed: str = "max"
    live: bool = False
    cancel_on_stop: bool = False
    run_id: str | None = None
    history_sessions: int = 260
    universe: str | None = None
    algorithm_style: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    email_from: str | None = None
    email_to: str | None = None
    fundamentals_file: str | None = None
    pipeline_data: str | None = None
    #: ``run --broker ib``: seconds the first connection is retried while TWS / IB Gateway is not up (0: once)
    connect_wait: float = 60.0
    #: ``run``: seconds one call of algorithm code may run before the log shows where it is stuck (0: off)
    watchdog: float = 30.0
    benchmark: str | None = None
    benchmark_file: str | None = None
    no_benchmark: bool = False
    #: backtests: 'regt' refuses orders the account cannot margin, as the simulated gateway and IB do (error 201);
    #: 'none' fills any order, as zipline does
    margin_check: str = "regt"
    dashboard_port: int | None = None
    #: the algorithm's parameters (context.params, get_parameter): PARAMS in settings.py, --param NAME=VALUE
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        code = shown["account_code"]
        shown["account_code"] = _mask(code)
        shown["account_codes"] = tuple(_mask(c) for c in shown["account_codes"])
        if shown["smtp_password"]:
            shown["smtp_password"] = "****"
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def start_ts(self) -> pd.Timestamp | None:
        return _date(self.start, "start")

    @property
    def end_ts(self) -> pd.Timestamp | None:
        return _date(self.end, "end")


def _mask(code: str) -> str:
    return (code[:2] + "*" * max(len(code) - 4, 0) + code[-2:]) if len(code) > 4 else "****"


#: IBridgePy's run modes (RUN_MODE / runMode) -> (bar frequency, default repBarFreq: None = once per bar in market
#: hours); one entry per line
RUN_MODES: dict[str, tuple[str, float | None]] = {
    "REGULAR": ("minute", 1.0),
    "HFT": ("minute", 1.0),
    "RUN_LIKE_QUANTOPIAN": ("minute", None),
    "SUDO_RUN_LIKE_QUANTOPIAN": ("minute", 60.0),
}


def _date(value: str | None, name: str) -> pd.Timestamp | None:
    if value in (None, "", "None"):
        return None
    try:
        return pd.Timestamp(value).normalize().tz_localize(None)
    except (ValueError, TypeError):
        raise ConfigError(f"{name} must be a date like 2012-01-03, got {value!r}") from None


#: IBridgePy's lower-case names (RUN_ME.py, settings.py) -> ibalgo's setting; one entry per line
IBRIDGEPY_NAMES: dict[str, str] = {
    "fileName": "algorithm",
    "accountCode": "account_code",
    "runMode": "run_mode",
    "repBarFreq": "rep_bar_freq",
    "logLevel": "log_level",
    "showTimeZone": "show_time_zone",
    "host": "broker_host",
    "port": "broker_port",
    "clientId": "client_id",
}

#: IBridgePy's settings dicts: (dict, key) -> ibalgo's setting, or None for a key read and deliberately unused
#: (ibalgo does it another way; the README's "Moving from IBridgePy" says how); one entry per line
IBRIDGEPY_DICT_KEYS: dict[tuple[str, str], str | None] = {
    ("PROJECT", "showTimeZone"): "show_time_zone",
    ("PROJECT", "repBarFreq"): "rep_bar_freq",
    ("PROJECT", "logLevel"): "log_level",
    ("PROJECT", "autoReconnectPremium"): None,
    ("PROJECT", "autoSearchPortNumber"): None,
    ("PROJECT", "searchPortList"): None,
    ("PROJECT", "errorsIgnoredByUser"): None,
    ("PROJECT", "dataProviderName"): None,
    ("PROJECT", "brokerServiceName"): None,
    ("PROJECT", "brokerClientName"): None,
    ("PROJECT", "brokerName"): None,
    ("BACKTESTER", "initPortfolioValue"): "capital",
    ("BACKTESTER", "simulateCommission"): None,
    ("MARKET_MANAGER", "marketName"): "exchange_calendar",
    ("MARKET_MANAGER", "beforeTradeStartHour"): "_bts_hour",
    ("MARKET_MANAGER", "beforeTradeStartMinute"): "_bts_minute",
    ("MARKET_MANAGER", "baseFreqOfProcessMessage"): None,
    ("TRADER", "runMode"): "run_mode",
    ("TRADER", "runScheduledFunctionBeforeHandleData"): None,
    ("EMAIL_CLIENT", "IBRIDGEPY_EMAIL_CLIENT"): None,
}

#: BROKER_CLIENT's IB_CLIENT entries -> ibalgo's setting; other broker clients (TD_CLIENT, ...) are not read
IB_CLIENT_KEYS: dict[str, str] = {
    "accountCode": "account_code",
    "host": "broker_host",
    "port": "broker_port",
    "clientId": "client_id",
}

#: IBridgePy's market names -> exchange_calendars codes
_MARKET_CALENDARS = {"NYSE": "XNYS", "NASDAQ": "XNYS", "US_EQUITIES": "XNYS", "CME": "CMES", "LSE": "XLON"}


def load_settings(path: str | Path | None = None) -> Settings:
    """Read ``settings.py`` (upper-case names, e.g. ``CAPITAL = 100000``) into Settings, WITHOUT executing it.

    The file is parsed, and only its assignments of literal values are read (:mod:`runtime.settings_reader`):
    starting ibalgo in a folder never runs code found there. IBridgePy's names are understood too: the
    lower-case names of its ``RUN_ME.py`` (:data:`IBRIDGEPY_NAMES`: ``fileName``, ``accountCode``, ``runMode``,
    ...) and the entries of its ``PROJECT``/``BACKTESTER``/``MARKET_MANAGER``/``TRADER``/``BROKER_CLIENT``
    dicts (:data:`IBRIDGEPY_DICT_KEYS`); IBridgePy's imports in such a file are never run.

    ``path`` None looks for ./settings.py and uses the defaults when there is none. Unknown names (upper- or
    lower-case) are an error naming the file and line (a typo should not be silently ignored), and so is a value
    that cannot be read without running code.
    """
    from runtime.settings_reader import read_settings_file

    p = Path(path) if path is not None else Path("settings.py")
    if not p.is_file():
        if path is not None:
            raise ConfigError(f"settings file not found: {p}")
        return Settings()
    parsed = read_settings_file(p)
    known = {f.name.upper(): f.name for f in fields(Settings)}
    kwargs: dict[str, Any] = {}
    where: dict[str, str] = {}
    used_ibridgepy = False

    def put(name: str, raw: Any, line: int) -> None:
        kwargs[name] = parsed.value(raw)
        where[name] = parsed.where(raw, line)

    for a in parsed.assignments:
        if a.name.startswith("_"):
            continue
        if a.name in known:
            put(known[a.name], a.value, a.line)
        elif a.name in IBRIDGEPY_NAMES:
            put(IBRIDGEPY_NAMES[a.name], a.value, a.line)
            used_ibridgepy = True
        elif a.name == "BROKER_CLIENT" or any(a.name == d for d, _ in IBRIDGEPY_DICT_KEYS):
            _read_ibridgepy_dict(parsed, a, put)
            used_ibridgepy = True
        else:
            known_names = sorted(known) + sorted(IBRIDGEPY_NAMES)
            raise ConfigError(f"{p}:{a.line}: unknown setting {a.name}; known settings: {', '.join(known_names)}")
    if used_ibridgepy and "algorithm_style" not in kwargs:
        kwargs["algorithm_style"] = "ibridgepy"  # IBridgePy's settings: its conventions for the algorithm too
    hour, minute = kwargs.pop("_bts_hour", None), kwargs.pop("_bts_minute", None)
    if hour is not None or minute is not None:
        kwargs["before_trading_start"] = f"{int(hour if hour is not None else 9):02d}:{int(minute or 0):02d}"
    if "exchange_calendar" in kwargs and str(kwargs["exchange_calendar"]).upper() in _MARKET_CALENDARS:
        kwargs["exchange_calendar"] = _MARKET_CALENDARS[str(kwargs["exchange_calendar"]).upper()]
    if isinstance(kwargs.get("algorithm"), str):
        kwargs["algorithm"] = _find_algorithm(p, kwargs["algorithm"])
    try:
        return with_overrides(Settings(), kwargs)
    except ConfigError as exc:
        culprit = next((name for name in kwargs if name.replace("_", " ") in str(exc) or name in str(exc)), None)
        if culprit is not None and culprit in where:
            raise ConfigError(f"{where[culprit]}: {exc}") from None
        raise ConfigError(f"{p}: {exc}") from None


def _read_ibridgepy_dict(parsed: Any, a: Any, put: Callable[[str, Any, int], None]) -> None:
    """One of IBridgePy's settings dicts: each entry mapped by :data:`IBRIDGEPY_DICT_KEYS` (BROKER_CLIENT: the
    IB_CLIENT entries by :data:`IB_CLIENT_KEYS`); an unknown entry is an error naming its line."""
    from runtime.settings_reader import Unevaluated

    if not isinstance(a.value, dict):
        raise ConfigError(f"{parsed.path}:{a.line}: {a.name} must be a dict, as in IBridgePy's settings.py")
    for key, raw in a.value.items():
        at = parsed.where(raw, a.line)
        if a.name == "BROKER_CLIENT":
            if key != "IB_CLIENT":
                continue  # TD Ameritrade, Robinhood, ...: other brokers' clients, not read
            inner = raw.node if isinstance(raw, Unevaluated) else None
            entries = parsed.evaluator.eval(inner) if inner is not None else raw
            if not isinstance(entries, dict):
                raise ConfigError(f"{at}: BROKER_CLIENT['IB_CLIENT'] must be a dict")
            for k, v in entries.items():
                if k not in IB_CLIENT_KEYS:
                    raise ConfigError(f"{parsed.where(v, a.line)}: unknown IB_CLIENT setting {k!r}; known: "
                                      f"{', '.join(IB_CLIENT_KEYS)}")
                put(IB_CLIENT_KEYS[k], v, a.line)
            continue
        if (a.name, key) not in IBRIDGEPY_DICT_KEYS:
            known = [k for d, k in IBRIDGEPY_DICT_KEYS if d == a.name]
            raise ConfigError(f"{at}: unknown {a.name} setting {key!r}; known: {', '.join(known)}")
        target = IBRIDGEPY_DICT_KEYS[(a.name, key)]
        if target is not None:
            put(target, raw, a.line)


def _find_algorithm(settings_path: Path, name: str) -> str:
    """IBridgePy's ``fileName`` names a file in its Strategies/ folder: the first of ``name``, Strategies/name and
    user_algos/name (next to the settings file, then in the current folder) that exists; else ``name``."""
    candidate = Path(name)
    if candidate.is_absolute() or candidate.is_file():
        return name
    for base in (settings_path.parent, Path(".")):
        for folder in ("", "Strategies", "user_algos"):
            path = base / folder / name
            if path.is_file():
                return str(path)
    return name


def with_overrides(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """A copy of ``settings`` with the non-None values of ``overrides`` applied and checked."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    codes = clean.get("account_code")
    if isinstance(codes, (list, tuple, set)):
        codes = [str(c).strip() for c in codes]
        if not codes or not all(codes):
            raise ConfigError(f"account_code: a list of account codes must hold non-empty codes, got {codes!r}")
        clean["account_code"], clean["account_codes"] = codes[0], tuple(codes)
    elif isinstance(codes, str):
        clean["account_codes"] = tuple(c.strip() for c in codes.split(",") if c.strip())
        clean["account_code"] = clean["account_codes"][0] if clean["account_codes"] else codes
    out = replace(settings, **clean)
    if out.run_mode is not None:
        mode = str(out.run_mode).strip().upper()
        if mode == "BACKTEST":  # the value older settings files had: what `ibalgo` does with no sub-command
            out = replace(out, run_mode=None)
        elif mode not in RUN_MODES:
            raise ConfigError(f"run_mode must be None or one of IBridgePy's run modes {', '.join(RUN_MODES)}, got "
                              f"{out.run_mode!r}")
        else:
            frequency, rep = RUN_MODES[mode]
            if "frequency" in clean and clean["frequency"] != frequency:
                raise ConfigError(f"run_mode {mode} runs on minute bars: drop frequency {clean['frequency']!r} "
                                  "or the run mode")
            if mode == "RUN_LIKE_QUANTOPIAN" and "rep_bar_freq" in clean:
                raise ConfigError("run_mode RUN_LIKE_QUANTOPIAN calls handle_data once per minute bar: drop "
                                  "rep_bar_freq, or use run_mode REGULAR")
            out = replace(out, run_mode=mode, frequency=frequency,
                          rep_bar_freq=out.rep_bar_freq if out.rep_bar_freq is not None else rep)
    if out.algorithm_style not in (None, "ibridgepy", "zipline"):
        raise ConfigError(f"algorithm_style must be None (decided from the file), 'ibridgepy' or 'zipline', got "
                          f"{out.algorithm_style!r}")
    if str(out.log_level).upper() == "NOTSET":  # IBridgePy's most verbose level
        out = replace(out, log_level="DEBUG")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(str(out.show_time_zone))
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ConfigError(f"show_time_zone must be a time zone name such as 'US/Eastern', got "
                          f"{out.show_time_zone!r}") from None
    if out.frequency not in ("daily", "minute"):
        raise ConfigError(f"frequency must be 'daily' or 'minute', got {out.frequency!r}")
    try:
        capital = float(out.capital)
    except (TypeError, ValueError):
        raise ConfigError(f"capital must be a number, got {out.capital!r}") from None
    if not capital > 0:
        raise ConfigError(f"capital must be positive, got {out.capital!r}")
    if out.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log level must be DEBUG, INFO, WARNING, ERROR or NOTSET, got {out.log_level!r}")
    if out.rep_bar_freq is not None:
        try:
            freq = float(out.rep_bar_freq)
        except (TypeError, ValueError):
            raise ConfigError(f"rep_bar_freq must be a number of seconds, got {out.rep_bar_freq!r}") from None
        if not freq > 0:
            raise ConfigError(f"rep_bar_freq must be positive, got {out.rep_bar_freq!r}")
        out = replace(out, rep_bar_freq=freq)
    if out.broker not in ("sim", "ib"):
        raise ConfigError(f"broker must be 'sim' (the embedded simulated gateway) or 'ib' (TWS / IB Gateway), got "
                          f"{out.broker!r}")
    if str(out.speed).lower() != "max":
        try:
            if not float(out.speed) > 0:
                raise ValueError
        except (TypeError, ValueError):
            raise ConfigError(f"speed must be a positive number or 'max', got {out.speed!r}") from None
    if out.universe not in (None, "", "None") and str(out.universe).strip().lower() != "synthetic":
        raise ConfigError(f"universe must be 'synthetic' (adds the seeded synthetic tickers SYN000..SYN299) or None, "
                          f"got {out.universe!r}")
    if not isinstance(out.params, dict) or not all(isinstance(k, str) and k for k in out.params):
        raise ConfigError(f"params must be a dict of parameter names to values, such as PARAMS = {{'fast': 20, "
                          f"'slow': 50}}, got {out.params!r}")
    out.start_ts, out.end_ts  # noqa: B018 - validate the dates now
    return replace(out, capital=capital, log_level=out.log_level.upper())
