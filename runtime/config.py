"""Settings: ``settings.py`` (IBridgePy style) merged with command-line overrides into one frozen value."""

from __future__ import annotations

import runpy
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from runtime.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, after settings.py and the command line have been merged."""

    algorithm: str = "user_algos/dual_moving_average.py"
    run_mode: str = "backtest"
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
    benchmark: str | None = None
    benchmark_file: str | None = None
    no_benchmark: bool = False
    dashboard_port: int | None = None

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        code = shown["account_code"]
        shown["account_code"] = (code[:2] + "*" * max(len(code) - 4, 0) + code[-2:]) if len(code) > 4 else "****"
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def start_ts(self) -> pd.Timestamp | None:
        return _date(self.start, "start")

    @property
    def end_ts(self) -> pd.Timestamp | None:
        return _date(self.end, "end")


def _date(value: str | None, name: str) -> pd.Timestamp | None:
    if value in (None, "", "None"):
        return None
    try:
        return pd.Timestamp(value).normalize().tz_localize(None)
    except (ValueError, TypeError):
        raise ConfigError(f"{name} must be a date like 2012-01-03, got {value!r}") from None


def load_settings(path: str | Path | None = None) -> Settings:
    """Read ``settings.py`` (upper-case names, e.g. ``CAPITAL = 100000``) into Settings.

    ``path`` None looks for ./settings.py and uses the defaults when there is none. Unknown names are an error
    (a typo should not be silently ignored).
    """
    p = Path(path) if path is not None else Path("settings.py")
    if not p.is_file():
        if path is not None:
            raise ConfigError(f"settings file not found: {p}")
        return Settings()
    try:
        values = runpy.run_path(str(p))
    except Exception as exc:
        raise ConfigError(f"{p}: cannot be read: {type(exc).__name__}: {exc}") from exc
    known = {f.name.upper(): f.name for f in fields(Settings)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if not key.isupper() or key.startswith("_"):
            continue
        if key not in known:
            raise ConfigError(f"{p}: unknown setting {key}; known settings: {', '.join(sorted(known))}")
        kwargs[known[key]] = value
    return with_overrides(Settings(), kwargs)


def with_overrides(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """A copy of ``settings`` with the non-None values of ``overrides`` applied and checked."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    out = replace(settings, **clean)
    if out.frequency not in ("daily", "minute"):
        raise ConfigError(f"frequency must be 'daily' or 'minute', got {out.frequency!r}")
    try:
        capital = float(out.capital)
    except (TypeError, ValueError):
        raise ConfigError(f"capital must be a number, got {out.capital!r}") from None
    if not capital > 0:
        raise ConfigError(f"capital must be positive, got {out.capital!r}")
    if out.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log level must be DEBUG, INFO, WARNING or ERROR, got {out.log_level!r}")
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
    out.start_ts, out.end_ts  # noqa: B018 - validate the dates now
    return replace(out, capital=capital, log_level=out.log_level.upper())
