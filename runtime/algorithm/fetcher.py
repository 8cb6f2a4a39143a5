"""``fetch_csv`` (Quantopian's Fetcher): a CSV file of dated values an algorithm reads through ``data.current``.

When a row becomes visible (Quantopian's and zipline's rule, applied here):

* daily runs: a row stamped ``t`` is visible from the first session after the exchange-local date of ``t - 16:00``.
  A plain date ``D`` (midnight) is therefore visible during session ``D`` itself, already in
  ``before_trading_start``; a row stamped after 16:00 exchange time is visible the next session. Trap (as on
  Quantopian): a value known only at ``D``'s close but dated ``D`` leaks into ``D``'s bar; shift it with
  ``post_func`` (``df.index = df.index + pd.Timedelta(days=1)``) when that matters.
* minute runs: a row is visible from its own timestamp on (a plain date: from midnight, i.e. the whole session).

Values are forward-filled (the latest visible row per asset and column). Rows dated before the run's first session
are dropped, as zipline drops them. ``data.history`` does not include fetched columns (as on Quantopian).
"""

from __future__ import annotations

import io
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runtime.core.assets import Asset
from runtime.errors import AlgorithmApiError

log = logging.getLogger("ibalgo.fetcher")

#: keyword arguments fetch_csv hands to pandas.read_csv (zipline's list, minus the ones pandas 2 removed)
READ_CSV_KWARGS = frozenset({
    "sep", "dialect", "doublequote", "escapechar", "quotechar", "quoting", "skipinitialspace", "lineterminator",
    "header", "index_col", "names", "skiprows", "skipfooter", "na_values", "true_values", "false_values",
    "delimiter", "converters", "dtype", "na_filter", "keep_default_na", "thousands", "comment", "decimal", "nrows",
    "encoding", "usecols",
})
#: keyword arguments for downloads (accepted for http(s) URLs)
REQUEST_KWARGS = frozenset({"params", "headers", "auth", "cert"})
_PSEUDO_SID_BASE = -1_000_000


class FetchError(AlgorithmApiError, ValueError):
    """``fetch_csv`` could not read or understand the file."""


@dataclass(frozen=True)
class _Series:
    """One asset's rows of one fetch: visibility times (ns, sorted) and the column values."""

    times: np.ndarray
    columns: dict[str, np.ndarray]


def _read_source(url: str, base_dir: Path | None, csv_kwargs: dict[str, Any], req_kwargs: dict[str, Any]
                 ) -> pd.DataFrame:
    if url.startswith(("http://", "https://")):
        query = req_kwargs.get("params")
        full = url + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(full, headers=dict(req_kwargs.get("headers") or {}))
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read(100 * 1024 * 1024).decode(csv_kwargs.pop("encoding", None) or "utf-8")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FetchError(f"fetch_csv could not download {url}: {exc}. If this machine has no network access, "
                             "download the file yourself and pass its local path to fetch_csv") from None
        source: Any = io.StringIO(text)
    else:
        path = Path(url[len("file://"):] if url.startswith("file://") else url).expanduser()
        if not path.is_absolute() and not path.exists() and base_dir is not None and (base_dir / path).exists():
            path = base_dir / path
        if not path.is_file():
            raise FetchError(f"fetch_csv: no file {url!r} (looked in the current directory"
                             f"{' and next to the algorithm file' if base_dir else ''})")
        source = path
    try:
        return pd.read_csv(source, **csv_kwargs)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise FetchError(f"fetch_csv could not parse {url}: {exc}") from None


class FetchedData:
    """Everything ``fetch_csv`` loaded in one run, answering "value of column C for asset A as of time t"."""

    def __init__(self) -> None:
        self._series: dict[Asset, list[_Series]] = {}
        self._pseudo: dict[str, Asset] = {}
        self.fields: set[str] = set()

    # --------------------------------------------------------------------------------------------------- loading
    def pseudo_asset(self, name: str) -> Asset:
        """The stand-in asset of ``fetch_csv(..., symbol=name)`` data (not tradable, not in the bar store)."""
        asset = self._pseudo.get(name)
        if asset is None:
            asset = self._pseudo[name] = Asset(_PSEUDO_SID_BASE - len(self._pseudo), name, asset_name=name)
        return asset

    def lookup(self, name: str) -> Asset | None:
        """The pseudo-asset named ``name``, if a fetch created one."""
        return self._pseudo.get(name)

    def add(self, frame: pd.DataFrame, times_ns: np.ndarray) -> None:
        """Add a processed frame: a ``sid`` column of assets, value columns, one visibility time per row."""
        values = frame.drop(columns=["sid"])
        self.fields.update(str(c) for c in values.columns)
        sids = frame["sid"].to_numpy(dtype=object)
        order = np.argsort(times_ns, kind="stable")
        for asset in dict.fromkeys(sids[order]):
            mask = sids[order] == asset
            rows = order[mask]
            columns = {str(c): values[c].to_numpy()[rows] for c in values.columns}
            self._series.setdefault(asset, []).append(_Series(times_ns[rows], columns))

    # --------------------------------------------------------------------------------------------------- reading
    def has(self, field: str) -> bool:
        return field in self.fields

    def value(self, asset: Asset, field: str, now_ns: int) -> Any:
        """The latest visible value of ``field`` for ``asset`` at ``now_ns`` (NaN if none yet)."""
        best_time, best = None, np.nan
        for series in self._series.get(asset, ()):
            column = series.columns.get(field)
            if column is None:
                continue
            i = int(np.searchsorted(series.times, now_ns, side="right")) - 1
            if i >= 0 and (best_time is None or series.times[i] >= best_time):
                best_time, best = series.times[i], column[i]
        return best.item() if isinstance(best, np.generic) else best

    def assets_as_of(self, now_ns: int) -> list[Asset]:
        """Assets (pseudo-assets included) with at least one visible row at ``now_ns``."""
        return [a for a, series in self._series.items() if any(len(s.times) and s.times[0] <= now_ns for s in series)]


def visible_times(stamps: pd.DatetimeIndex, sessions: np.ndarray, tz: Any, daily: bool) -> np.ndarray:
    """When each row stamped ``stamps`` (UTC) becomes visible, in ns (see the module docstring for the rule)."""
    if not daily:
        return stamps.as_unit("ns").asi8
    local_day = (stamps.tz_convert(tz) - pd.Timedelta(hours=16)).tz_localize(None).normalize()
    idx = np.searchsorted(sessions, local_day.to_numpy(dtype="datetime64[ns]"), side="right")
    out = np.full(len(stamps), np.iinfo(np.int64).max, dtype=np.int64)  # after the calendar: never visible
    ok = idx < len(sessions)
    out[ok] = sessions[idx[ok]].astype("datetime64[ns]").astype(np.int64)  # the session's date, midnight UTC
    return out


def load_fetch(
    url: str, *, pre_func: Callable[[pd.DataFrame], pd.DataFrame] | None, post_func: Callable[[pd.DataFrame],
    pd.DataFrame] | None, date_column: str, date_format: str | None, timezone: str, symbol: str | None,
    symbol_column: str | None, mask: bool, resolve: Callable[[str], Asset | None], store: FetchedData,
    sessions: np.ndarray, exchange_tz: Any, daily: bool, first_session: pd.Timestamp, base_dir: Path | None,
    kwargs: dict[str, Any],
) -> pd.DataFrame:
    """Read, transform and index one fetch into ``store``; returns the frame after ``post_func``."""
    unknown = set(kwargs) - READ_CSV_KWARGS - REQUEST_KWARGS
    if unknown:
        raise FetchError(f"fetch_csv got unknown keyword arguments {sorted(unknown)}: it takes pandas.read_csv's "
                         f"({', '.join(sorted(READ_CSV_KWARGS))}) and, for URLs, {', '.join(sorted(REQUEST_KWARGS))}")
    csv_kwargs = {k: v for k, v in kwargs.items() if k in READ_CSV_KWARGS}
    csv_kwargs.setdefault("keep_default_na", False)  # a ticker such as 'NA' stays a string, as in zipline
    csv_kwargs.setdefault("na_values", [""])  # only an empty cell is missing
    frame = _read_source(url, base_dir, csv_kwargs, {k: v for k, v in kwargs.items() if k in REQUEST_KWARGS})
    if pre_func is not None:
        frame = pre_func(frame)
        if not isinstance(frame, pd.DataFrame):
            raise FetchError(f"fetch_csv: pre_func must return a DataFrame, it returned {type(frame).__name__}")
    if date_column not in frame.columns:
        raise FetchError(f"fetch_csv: the file has no {date_column!r} column (columns: {list(frame.columns)}); "
                         "name the date column with date_column=")
    raw = frame[date_column]
    try:
        stamps = pd.to_datetime(raw, format=date_format, errors="coerce")
        failed = stamps.isna() & raw.notna()
        if failed.any():
            # dates in several formats, or not in date_format (zipline ignores date_format, so Quantopian files
            # often pass one that does not match): read those one by one
            stamps = stamps.where(~failed, pd.to_datetime(raw.where(failed), format="mixed", errors="coerce"))
    except (ValueError, TypeError) as exc:
        raise FetchError(f"fetch_csv: cannot parse the {date_column!r} column with date_format={date_format!r}: "
                         f"{exc}") from None
    stamps = pd.DatetimeIndex(stamps)
    stamps = stamps.tz_localize(timezone) if stamps.tz is None else stamps
    stamps = stamps.tz_convert("UTC")
    keep = ~stamps.isna()
    if (~keep).sum():
        log.warning("fetch_csv %s: dropped %d rows whose %r could not be read as a date", url, int((~keep).sum()),
                    date_column)
    frame, stamps = frame[keep], stamps[keep]
    if symbol is not None:
        sids = [store.pseudo_asset(symbol)] * len(frame)
        drop = [date_column]
    else:
        column = symbol_column or "symbol"
        if column not in frame.columns:
            raise FetchError(f"fetch_csv: the file has no {column!r} column: name the column of tickers with "
                             "symbol_column=, or give symbol='NAME' for data that is not about one security")
        names = frame[column].astype(str).str.upper()
        mapping = {name: resolve(name) for name in names.unique()}
        if not mask:
            mapping = {name: asset or store.pseudo_asset(name) for name, asset in mapping.items()}
        sids = [mapping[n] for n in names]
        missing = sorted(n for n, a in mapping.items() if a is None)
        if missing:
            log.warning("fetch_csv %s: dropped the rows of symbols the data does not hold: %s", url,
                        ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
        drop = [date_column, column]
    frame = frame.drop(columns=drop).assign(sid=sids)
    frame.index = stamps
    frame.index.name = "dt"
    frame = frame[frame["sid"].notna()].sort_index(kind="stable")
    if post_func is not None:
        frame = post_func(frame)
        if not isinstance(frame, pd.DataFrame) or "sid" not in frame.columns:
            raise FetchError("fetch_csv: post_func must return the DataFrame it was given (with its 'sid' column), "
                             "changed as needed")
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise FetchError("fetch_csv: post_func must keep the DatetimeIndex of the frame")
        frame = frame.sort_index(kind="stable")
    index = frame.index if frame.index.tz is not None else frame.index.tz_localize("UTC")
    times = visible_times(index.tz_convert("UTC"), sessions, exchange_tz, daily)
    in_run = times >= pd.Timestamp(first_session).tz_localize("UTC").value  # zipline skips rows before the start
    store.add(frame[in_run], times[in_run])
    return frame
