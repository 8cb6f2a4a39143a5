"""Keep a local folder of daily bars current from an IB API source: :func:`update_store`.

The folder holds one Parquet file per symbol (``AAPL.parquet``: ``date, open, high, low, close, volume``), the
format ``--data DIR`` reads (:mod:`runtime.data.loaders`), so backtests and a live session's Pipeline can use it.

- Incremental: a symbol whose file already reaches the last wanted session costs no request; otherwise only the
  missing sessions are asked for, plus one session of overlap. IB's history is adjusted for splits (and the
  simulated gateway's for dividends too) as of the request: when the overlapping bar no longer matches the file,
  a split or dividend happened since the last update and the symbol's whole range is downloaded again.
- Resumable: each symbol's file is written to a temporary name and renamed into place, so a killed update leaves
  every file either as it was or complete; running the same command again continues with the symbols not done.
- Paced: the requests go through the IB adapter's history service, which waits its turn under IB's
  historical-data pacing rules (60 requests per 10 minutes, 6 per contract per 2 s, no identical request within
  15 s; see :mod:`runtime.brokers.ib.pacing`); a pacing wait is allowed up to ``pacing_timeout_s``.
- A progress bar (tqdm) on a terminal; quiet when stderr is not a TTY.

This module never talks to a socket itself: the caller passes a connected source (see
:mod:`runtime.live.data_update` for the one ``ibalgo data update`` builds: the IB adapter on the embedded simulated
gateway or TWS / IB Gateway).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from runtime.core.assets import Asset
from runtime.core.calendar import TradingCalendar
from runtime.core.ib_mapping import duration_for_sessions
from runtime.data.calendars import get_calendar
from runtime.data.errors import DataError
from runtime.errors import IbAlgoError, NotConnectedError

COLUMNS = ("date", "open", "high", "low", "close", "volume")
#: a pacing wait longer than IB's 10-minute window can never be needed
DEFAULT_PACING_TIMEOUT_S = 660.0


class HistorySource(Protocol):
    """What :func:`update_store` needs of the IB adapter (``IBBroker`` has both)."""

    history: Any  # a HistoryService: .bars(asset, duration, bar_size, what_to_show, use_rth, end_ns=, timeout=)

    def symbol(self, text: str) -> Asset: ...


@dataclass(frozen=True)
class SymbolUpdate:
    """What happened to one symbol: 'fresh', 'incremental', 'refreshed' (adjustments changed), 'current', or
    'failed' (``message`` says why)."""

    symbol: str
    status: str
    new_rows: int = 0
    requests: int = 0
    message: str = ""


@dataclass(frozen=True)
class UpdateResult:
    """The outcome of one :func:`update_store` call."""

    folder: Path
    end: pd.Timestamp
    symbols: tuple[SymbolUpdate, ...] = field(default_factory=tuple)
    elapsed_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.symbols)

    @property
    def failed(self) -> tuple[SymbolUpdate, ...]:
        return tuple(s for s in self.symbols if s.status == "failed")

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for s in self.symbols:
            counts[s.status] = counts.get(s.status, 0) + 1
        parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return (f"{len(self.symbols)} symbols up to {self.end.date()} in {self.folder}: {parts}; "
                f"{sum(s.new_rows for s in self.symbols)} new bars, {self.requests} history requests, "
                f"{self.elapsed_s:.1f} s")


def parse_universe(spec: str | Path | Sequence[str]) -> list[str]:
    """Symbols from 'AAPL,MSFT', a list, or a file (one symbol per line, or a CSV with a ``symbol`` column;
    ``#`` starts a comment). Upper-cased, duplicates dropped, order kept."""
    if isinstance(spec, (list, tuple)):
        raw = [str(s) for s in spec]
    else:
        text = str(spec)
        path = Path(text).expanduser()
        if path.is_file():
            if path.suffix.lower() == ".csv":
                frame = pd.read_csv(path)
                cols = {c.lower(): c for c in frame.columns}
                if "symbol" not in cols:
                    raise DataError(f"{path}: a CSV universe needs a 'symbol' column (it has {list(frame.columns)})")
                raw = [str(s) for s in frame[cols["symbol"]].dropna()]
            else:
                raw = [line.split("#", 1)[0] for line in path.read_text().splitlines()]
        elif "/" in text or text.lower().endswith((".txt", ".csv")):
            raise DataError(f"universe file {text!r} does not exist")
        else:
            raw = text.split(",")
    out: list[str] = []
    for item in raw:
        s = item.strip().upper()
        if s and s not in out:
            out.append(s)
    if not out:
        raise DataError(f"the universe {spec!r} names no symbols")
    return out


def last_complete_session(calendar: TradingCalendar, now_ns: int) -> int:
    """The index of the last session whose close is at or before ``now_ns``."""
    k = int(np.searchsorted(calendar.closes, now_ns, side="right")) - 1
    if k < 0:
        raise DataError("no session of the calendar has closed yet")
    return k


def read_symbol_file(path: Path) -> pd.DataFrame | None:
    """A symbol's Parquet file (date as datetime64, sorted), or None when missing or unreadable (re-downloaded)."""
    if not path.is_file():
        return None
    try:
        frame = pd.read_parquet(path)
    except Exception:
        return None
    if not set(COLUMNS) <= set(frame.columns) or frame.empty:
        return None
    frame = frame[list(COLUMNS)].copy()
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame.sort_values("date").reset_index(drop=True)


def _write(path: Path, frame: pd.DataFrame) -> None:
    tmp = path.with_name(path.name + ".part")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)  # atomic: a kill leaves the old file or the new one, never half of one


def _download(source: HistorySource, asset: Asset, calendar: TradingCalendar, k0: int, k1: int,
              timeout: float) -> pd.DataFrame:
    """Daily TRADES bars of sessions ``k0..k1`` (regular hours), as a frame of COLUMNS."""
    end_ns = int(calendar.closes[k1]) + 60_000_000_000  # a minute after the close: the session's bar is complete
    bars = source.history.bars(asset, duration_for_sessions(k1 - k0 + 1), "1 day", "TRADES", True, end_ns=end_ns,
                               timeout=timeout)
    if bars.dates is not None:
        dates = pd.DatetimeIndex(bars.dates.astype("datetime64[ns]"))
    else:
        dates = pd.DatetimeIndex([calendar.session_label(calendar.session_of_instant(int(t))) for t in bars.end_ns])
    frame = pd.DataFrame({"date": dates, "open": bars.open, "high": bars.high, "low": bars.low,
                          "close": bars.close, "volume": bars.volume})
    lo, hi = calendar.session_label(k0), calendar.session_label(k1)
    frame = frame[(frame["date"] >= lo) & (frame["date"] <= hi) & frame["close"].notna()]
    frame = frame[frame["date"].isin(pd.DatetimeIndex(calendar.sessions[k0 : k1 + 1]))]
    frame["volume"] = frame["volume"].fillna(0.0)
    return frame.drop_duplicates("date", keep="last").reset_index(drop=True)


def _same_bar(a: pd.Series, b: pd.Series) -> bool:
    return bool(np.isclose(a["close"], b["close"], rtol=1e-6, atol=1e-9))


def update_symbol(source: HistorySource, symbol: str, folder: Path, calendar: TradingCalendar, k_start: int,
                  k_end: int, *, pacing_timeout_s: float = DEFAULT_PACING_TIMEOUT_S) -> SymbolUpdate:
    """Bring ``folder/SYMBOL.parquet`` up to session ``k_end`` (from ``k_start`` for a new file)."""
    path = folder / f"{symbol}.parquet"
    old = read_symbol_file(path)
    requests = 0
    if old is not None:
        last = calendar.session_index_on_or_before(old["date"].iloc[-1])
        if last >= k_end:
            return SymbolUpdate(symbol, "current")
    asset = source.symbol(symbol)
    if old is None:
        fresh = _download(source, asset, calendar, k_start, k_end, pacing_timeout_s)
        if fresh.empty:
            return SymbolUpdate(symbol, "failed", requests=1, message="the source has no daily bars in the range")
        _write(path, fresh)
        return SymbolUpdate(symbol, "fresh", len(fresh), 1)
    first_old = calendar.session_index_on_or_after(old["date"].iloc[0])
    k_from = calendar.session_index_on_or_before(old["date"].iloc[-1])  # one session of overlap
    new = _download(source, asset, calendar, k_from, k_end, pacing_timeout_s)
    requests += 1
    overlap = new[new["date"] == old["date"].iloc[-1]]
    if len(overlap) and not _same_bar(overlap.iloc[0], old.iloc[-1]):
        # adjusted history moved (a split or dividend since the last update): download the whole range again
        full = _download(source, asset, calendar, first_old, k_end, pacing_timeout_s)
        _write(path, full)
        return SymbolUpdate(symbol, "refreshed", max(len(full) - len(old), 0), requests + 1,
                            "adjustments changed since the last update (split or dividend): range downloaded again")
    added = new[new["date"] > old["date"].iloc[-1]]
    if added.empty:
        return SymbolUpdate(symbol, "current", requests=requests)
    _write(path, pd.concat([old, added], ignore_index=True))
    return SymbolUpdate(symbol, "incremental", len(added), requests)


def _progress(total: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, unit="symbol", desc="data update", disable=not show, file=sys.stderr)


def update_store(
    source: HistorySource,
    symbols: Iterable[str],
    folder: str | Path,
    *,
    now_ns: int,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    calendar: TradingCalendar | str = "XNYS",
    progress: bool | None = None,
    pacing_timeout_s: float = DEFAULT_PACING_TIMEOUT_S,
    on_symbol: Callable[[SymbolUpdate], None] | None = None,
) -> UpdateResult:
    """Download the daily bars of ``symbols`` missing from ``folder`` (created if needed) through ``source``.

    Args:
        source: a connected IB adapter (``IBBroker``): contract resolution and paced history requests.
        now_ns: the source's current time (the last session closed by then is the default ``end``).
        start: first session of a new file (default: 1 year before ``end``).
        end: last session wanted (default and upper bound: the last session closed at ``now_ns``).
        progress: a tqdm bar (None: only when stderr is a terminal).
        on_symbol: called after each symbol (the live session's log, or a test).

    A symbol that fails (unknown to the broker, no data, a typed IB error) is reported in the result and the
    update goes on with the others. A lost connection (NotConnectedError) stops the update: the files written so
    far are complete, so the same call later resumes. Returns an :class:`UpdateResult`.
    """
    cal = get_calendar(calendar) if isinstance(calendar, str) else calendar
    out = Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    k_end = last_complete_session(cal, now_ns)
    if end is not None:
        k_end = min(k_end, cal.session_index_on_or_before(end))
    k_start = cal.session_index_on_or_after(start) if start is not None else max(k_end - 251, 0)
    if k_start > k_end:
        raise DataError(f"--start {pd.Timestamp(start).date()} is after the last complete session "
                        f"{cal.session_label(k_end).date()}")
    names = list(symbols)
    started = time.perf_counter()
    done: list[SymbolUpdate] = []
    bar = _progress(len(names), progress)
    try:
        for symbol in names:
            try:
                result = update_symbol(source, symbol, out, cal, k_start, k_end, pacing_timeout_s=pacing_timeout_s)
            except NotConnectedError:
                raise  # every further symbol would fail too; the files done so far are kept (resume later)
            except (IbAlgoError, DataError, OSError) as exc:  # the adapter's IBError subclasses (typed)
                result = SymbolUpdate(symbol, "failed", message=f"{type(exc).__name__}: {exc}")
            done.append(result)
            bar.update(1)
            bar.set_postfix_str(f"{symbol} {result.status}", refresh=False)
            if on_symbol is not None:
                on_symbol(result)
    finally:
        bar.close()
    return UpdateResult(out, cal.session_label(k_end), tuple(done), time.perf_counter() - started)
