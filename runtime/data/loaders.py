"""Load a folder of bar files, one per symbol (``AAPL.csv``, ``MSFT.parquet``, ``EUR.USD.csv``), into BarArrays.

The columns are described in :mod:`runtime.data.bar_file`. Timestamps:

- DAILY files have dates (``2024-01-02``, or midnight datetimes); each must be a session of the calendar.
- MINUTE files have datetimes. By default a datetime labels the bar's END, as zipline does (the first bar of a
  regular NYSE day is 09:31, the last 16:00). IB's exports label bars by their START (09:30..15:59): pass
  ``minute_label="start"``. Naive datetimes are exchange local time (New York for XNYS); datetimes with an offset
  or zone are converted. Every bar must fall on a trading minute of the calendar (early closes included).
- The frequency is detected per file (midnight stamps, or one stamp per date at a fixed time of day, mean daily);
  all files of a folder must agree.

Splits and dividends come from ``split_ratio`` / ``dividend`` columns when present, else from ``adj_close``.
File names are symbols: ``EUR.USD`` is an FX pair, ``FUT,ES,USD`` a future, anything else a US stock.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from runtime.core.calendar import NS_PER_MINUTE, TradingCalendar
from runtime.data.actions import Dividend, Split
from runtime.data.adjustments import derive_actions
from runtime.data.bar_file import SUFFIXES, BarTable, read_bar_table, symbol_of
from runtime.data.builder import AssetSeries, assemble
from runtime.data.calendars import get_calendar
from runtime.data.contracts import asset_from_spec
from runtime.data.errors import (
    DataError,
    DuplicateTimestampError,
    MixedFrequencyError,
    NoDataError,
    OffCalendarError,
)
from runtime.data.store import DAILY, MINUTE, BarArrays

MINUTE_LABELS = ("end", "start")


def bar_files(folder: str | Path, symbols: Iterable[str] | None = None) -> dict[str, Path]:
    """The bar files of a folder by upper-case symbol (only ``symbols`` if given); typed errors if none."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise NoDataError(f"data folder {str(root)!r} does not exist or is not a folder")
    found: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.is_file() and path.name.lower().endswith(SUFFIXES):
            symbol = symbol_of(path).upper()
            if symbol in found:
                raise DataError(f"two files for {symbol} in {root}: {found[symbol].name} and {path.name}; keep one")
            found[symbol] = path
    if not found:
        raise NoDataError(f"no bar files ({', '.join(SUFFIXES)}) in {root}")
    if symbols is not None:
        wanted = [s.upper() for s in symbols]
        missing = [s for s in wanted if s not in found]
        if missing:
            raise NoDataError(f"no file for {', '.join(missing)} in {root} (it has {', '.join(sorted(found))})")
        found = {s: found[s] for s in wanted}
    return found


def load_folder(
    folder: str | Path,
    calendar: TradingCalendar | None = None,
    *,
    symbols: Iterable[str] | None = None,
    minute_label: str = "end",
) -> BarArrays:
    """All bar files of ``folder`` (or those of ``symbols``) as one BarArrays of their common frequency."""
    if minute_label not in MINUTE_LABELS:
        raise DataError(f"minute_label must be 'end' or 'start', not {minute_label!r}")
    cal = calendar if calendar is not None else get_calendar("XNYS")
    loaded = [load_file(path, cal, minute_label=minute_label) for path in bar_files(folder, symbols).values()]
    frequencies = {freq for freq, _ in loaded}
    if len(frequencies) > 1:
        by_freq = {f: [s.asset.symbol for g, s in loaded if g == f] for f in sorted(frequencies)}
        detail = "; ".join(f"{f}: {', '.join(names)}" for f, names in by_freq.items())
        raise MixedFrequencyError(f"the files in {folder} mix bar frequencies ({detail}); keep one frequency")
    return assemble(cal, frequencies.pop(), [s for _, s in loaded])


def load_file(path: str | Path, calendar: TradingCalendar, *, minute_label: str = "end") -> tuple[str, AssetSeries]:
    """One file as (frequency, AssetSeries) on ``calendar``, with its corporate actions."""
    table = read_bar_table(Path(path))
    frequency = detect_frequency(table.stamps, calendar.tz)
    if frequency == DAILY:
        ns, sessions = _daily_instants(table, calendar)
    else:
        ns, sessions = _minute_instants(table, calendar, minute_label)
    order = np.argsort(ns, kind="stable")
    ns, sessions = ns[order], sessions[order]
    dup = np.flatnonzero(ns[1:] == ns[:-1])
    if len(dup):
        first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        raise DuplicateTimestampError(
            table.path, f"timestamp {table.stamps[second]} repeats line {table.where(first)}",
            line=table.where(second), column=table.time_column,
        )  # fmt: skip
    v = {k: a[order] for k, a in table.values.items()}
    asset = asset_from_spec(symbol_of(table.path))
    splits, dividends = _actions(asset.sid, calendar, sessions, v)
    series = AssetSeries(
        asset, ns, v["open"], v["high"], v["low"], v["close"], v["volume"], splits=splits, dividends=dividends
    )
    return frequency, series


def detect_frequency(stamps: pd.DatetimeIndex, tz: str) -> str:
    """'daily' if every stamp is a midnight, or one stamp per date at one fixed time of day; else 'minute'."""
    local = stamps.tz_convert(tz).tz_localize(None) if stamps.tz is not None else stamps
    if stamps.tz is not None and (stamps.normalize() == stamps).all():
        return DAILY  # dates written as UTC midnights
    if (local.normalize() == local).all():
        return DAILY
    days = local.normalize()
    same_time = len(np.unique((local - days).asi8)) == 1
    if len(local) > 1 and same_time and days.is_unique:
        return DAILY
    return MINUTE


def _daily_instants(table: BarTable, cal: TradingCalendar) -> tuple[np.ndarray, np.ndarray]:
    stamps = table.stamps
    if stamps.tz is not None:
        utc_midnight = (stamps.normalize() == stamps).all()
        stamps = stamps.tz_localize(None) if utc_midnight else stamps.tz_convert(cal.tz).tz_localize(None)
    days = stamps.normalize().asi8.astype("datetime64[ns]")
    k = np.searchsorted(cal.sessions, days)
    ok = (k < len(cal.sessions)) & (cal.sessions[np.minimum(k, len(cal.sessions) - 1)] == days)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        day = pd.Timestamp(days[i]).date()
        raise OffCalendarError(
            table.path, f"{day} is not a {cal.name} trading session (a weekend, a holiday or out of the calendar)",
            line=table.where(i), column=table.time_column,
        )  # fmt: skip
    return cal.closes[k], k


def _minute_instants(table: BarTable, cal: TradingCalendar, label: str) -> tuple[np.ndarray, np.ndarray]:
    stamps = table.stamps
    if stamps.tz is None:
        stamps = stamps.tz_localize(cal.tz, ambiguous="NaT", nonexistent="NaT")
    ns = stamps.asi8.copy()
    valid = ~stamps.isna()
    if label == "start":
        ns = ns + NS_PER_MINUTE
    k = np.searchsorted(cal.closes, ns, side="left")
    kk = np.minimum(k, len(cal.closes) - 1)
    ok = valid & (k < len(cal.closes)) & (cal.opens[kk] < ns) & (ns <= cal.closes[kk]) & (ns % NS_PER_MINUTE == 0)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        shown = table.stamps[i]
        hint = (
            ""
            if label == "start"
            else " (for bars labelled by their start, as IB exports them, use minute_label='start')"
        )
        raise OffCalendarError(
            table.path, f"{shown} is not a {cal.name} trading minute as a bar {label} label{hint}",
            line=table.where(i), column=table.time_column,
        )  # fmt: skip
    return ns, k


def _actions(
    sid: int, cal: TradingCalendar, sessions: np.ndarray, v: dict[str, np.ndarray]
) -> tuple[tuple[Split, ...], tuple[Dividend, ...]]:
    """Corporate actions from explicit columns if any, else derived from adj_close (at each session's last bar)."""
    if "split_ratio" in v or "dividend" in v:
        splits: tuple[Split, ...] = ()
        dividends: tuple[Dividend, ...] = ()
        if (ratio := v.get("split_ratio")) is not None:
            rows = _first_per_session(sessions, np.isfinite(ratio) & (ratio != 1.0))
            splits = tuple(Split(sid, cal.session_label(int(sessions[r])), float(ratio[r])) for r in rows)
        if (cash := v.get("dividend")) is not None:
            rows = _first_per_session(sessions, np.isfinite(cash) & (cash > 0.0))
            dividends = tuple(Dividend(sid, cal.session_label(int(sessions[r])), float(cash[r])) for r in rows)
        return splits, dividends
    if "adj_close" in v:
        last = np.flatnonzero(np.append(sessions[1:] != sessions[:-1], True))
        labels = cal.sessions[sessions[last]]
        return derive_actions(sid, labels, v["close"][last], v["adj_close"][last])
    return (), ()


def _first_per_session(sessions: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows where ``mask`` holds, at most one per session (the first)."""
    rows = np.flatnonzero(mask)
    return rows[np.unique(sessions[rows], return_index=True)[1]]
