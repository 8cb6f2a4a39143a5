"""Benchmark returns for a run, as zipline computes them: daily total returns from adjusted prices.

A benchmark is an asset of the bar store (``--benchmark AAPL`` or ``set_benchmark(symbol('AAPL'))``) or a CSV file
of daily returns (``--benchmark-file``, zipline's format: a ``date`` column and a ``return`` column). An asset's
return on session t is ``adjusted close[t] / adjusted close[t - 1] - 1`` with every close adjusted as of the run's
last session, so a split is not a loss and a dividend is part of the return (the store's price factors include
both). The first session's return compares with the session before it when the data has it (zipline's rule), and
is 0 only when the data starts on the run's first session.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from runtime.data.errors import DataError, DataFileError
from runtime.data.store import BarArrays


@dataclass(frozen=True)
class BenchmarkReturns:
    """A benchmark's daily returns by session label (naive midnight dates), and its name for the summary."""

    name: str
    returns: pd.Series

    def on_sessions(self, labels: pd.DatetimeIndex) -> np.ndarray:
        """The returns on ``labels`` (sessions the benchmark does not cover count as 0, as a flat day)."""
        return self.returns.reindex(labels).fillna(0.0).to_numpy(dtype=float)


def returns_from_bars(bars: BarArrays, symbol_or_sid: str | int, first: int, last: int) -> BenchmarkReturns:
    """Total returns of one asset of ``bars`` over calendar sessions ``first..last`` (see the module docstring).

    Raises DataError naming the symbols the data has when the asset is not in it.
    """
    by_symbol = {a.symbol.upper(): a for a in bars.assets}
    if isinstance(symbol_or_sid, str):
        asset = by_symbol.get(symbol_or_sid.strip().upper())
        if asset is None:
            known = ", ".join(sorted(by_symbol)[:20])
            raise DataError(f"benchmark {symbol_or_sid!r} is not in the data (it has {known}); give one of these "
                            "with --benchmark, a file of returns with --benchmark-file, or --no-benchmark")
    else:
        asset = next((a for a in bars.assets if a.sid == symbol_or_sid), None)
        if asset is None:
            raise DataError(f"benchmark sid {symbol_or_sid} is not in the data")
    col = bars.column(asset)
    lo = max(first - 1, bars.first_session)
    hi = min(last, bars.last_session)
    labels = pd.DatetimeIndex(bars.calendar.sessions[first : last + 1])
    if hi < lo:
        return BenchmarkReturns(asset.symbol, pd.Series(0.0, index=labels))
    if bars.frequency != "daily":
        raise DataError("benchmark returns need daily bars")
    rows = slice(lo - bars.first_session, hi - bars.first_session + 1)
    as_of = hi - bars.first_session
    adjusted = bars.adjusted("close", rows, np.array([col]), as_of)[:, 0]
    prices = pd.Series(adjusted, index=pd.DatetimeIndex(bars.calendar.sessions[lo : hi + 1])).ffill()
    returns = prices.pct_change(fill_method=None)
    if lo == first:  # nothing before the first session: its return is 0
        returns.iloc[0] = 0.0
    returns = returns.reindex(labels).fillna(0.0)
    return BenchmarkReturns(asset.symbol, returns)


def returns_from_file(path: str | Path, labels: pd.DatetimeIndex) -> BenchmarkReturns:
    """Daily returns read from a CSV with ``date`` and ``return`` columns (zipline's ``--benchmark-file``).

    Dates may carry a time or a zone (only the date counts); sessions missing from the file are flat days.
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(p, "benchmark file not found")
    try:
        frame = pd.read_csv(p)
    except (ValueError, OSError) as exc:
        raise DataFileError(p, f"cannot be read as CSV: {exc}") from exc
    cols = {c.strip().lower(): c for c in frame.columns}
    if "date" not in cols or "return" not in cols:
        raise DataFileError(p, "a benchmark file needs 'date' and 'return' columns (daily returns as fractions, "
                            f"0.01 = 1%), found {list(frame.columns)}")
    try:
        dates = pd.to_datetime(frame[cols["date"]], utc=True).dt.tz_localize(None).dt.normalize()
        values = pd.to_numeric(frame[cols["return"]])
    except (ValueError, TypeError) as exc:
        raise DataFileError(p, f"bad date or return value: {exc}") from exc
    series = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(dates))
    series = series[~series.index.duplicated(keep="last")]
    return BenchmarkReturns(p.name, series.reindex(labels).fillna(0.0))


@dataclass(frozen=True)
class BenchmarkChoice:
    """What a run compares with (zipline's choices): ``symbol`` (``--benchmark``), ``file`` (``--benchmark-file``),
    or nothing (``enabled`` False: ``--no-benchmark``).

    An algorithm's own ``set_benchmark(...)`` in ``initialize`` takes precedence over ``symbol`` and ``file`` (as in
    zipline); ``--no-benchmark`` turns every benchmark off.
    """

    symbol: str | None = None
    file: str | None = None
    enabled: bool = True


def resolve_benchmark(choice: BenchmarkChoice, algo_sid: int | None, bars: BarArrays | None, first: int,
                      last: int) -> BenchmarkReturns | None:
    """The benchmark returns of a run over calendar sessions ``first..last``, or None when it has none (or when
    ``bars`` is None and the benchmark is an asset: then the run records the asset's prices itself)."""
    if not choice.enabled:
        return None
    if algo_sid is not None:
        return returns_from_bars(bars, algo_sid, first, last) if bars is not None else None
    if choice.file:
        cal = bars.calendar if bars is not None else None
        if cal is None:
            raise DataError("a benchmark file needs the run's calendar")
        return returns_from_file(choice.file, pd.DatetimeIndex(cal.sessions[first : last + 1]))
    if choice.symbol:
        return returns_from_bars(bars, choice.symbol, first, last) if bars is not None else None
    return None
