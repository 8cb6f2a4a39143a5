"""``load_bars``: the bars a run asks for, from the bundled sample or a user folder, in the requested frequency.

- ``data_dir=None`` is the bundled sample (daily, 2000-03-01..2013-03-01);
- ``universe='synthetic'`` adds the seeded synthetic tickers (:mod:`runtime.data.universe`) to either;
- minute bars requested from daily-only data are generated (seeded, see :func:`expand_to_minutes`);
- daily bars requested from minute-only data are aggregated;
- a range outside the data raises :class:`DateRangeError` naming the available range.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from runtime.core.calendar import TradingCalendar
from runtime.data.aggregate import aggregate_daily
from runtime.data.calendars import get_calendar
from runtime.data.errors import DateRangeError, NoDataError
from runtime.data.loaders import bar_files, load_folder
from runtime.data.sample import load_sample
from runtime.data.store import DAILY, MINUTE, BarArrays, normalize_frequency
from runtime.data.synthetic import expand_to_minutes


def _day(value: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return (ts.tz_localize(None) if ts.tz is not None else ts).normalize()


@functools.lru_cache(maxsize=8)
def _cached_folder(
    folder: str, fingerprint: tuple[tuple[str, int, int], ...], calendar: TradingCalendar, minute_label: str
) -> BarArrays:
    """A folder load, reused while no file changed (stores are read-only, so sharing is safe)."""
    return load_folder(folder, calendar, symbols=[name for name, _, _ in fingerprint], minute_label=minute_label)


def load_source(
    data_dir: str | Path | None,
    calendar: TradingCalendar,
    *,
    symbols: Iterable[str] | None = None,
    minute_label: str = "end",
    universe: str | None = None,
) -> BarArrays:
    """The whole data of a source in its native frequency (the sample, or a folder; cached per process), plus the
    synthetic universe's tickers when ``universe`` is 'synthetic' (daily data only)."""
    if universe not in (None, ""):
        from runtime.data.universe import check_universe

        if check_universe(universe) is not None:
            return _with_universe(data_dir, calendar, minute_label, str(universe).strip().lower(), symbols)
    if data_dir is None:
        return load_sample(calendar, None if symbols is None else tuple(symbols))
    files = bar_files(data_dir, symbols)
    fingerprint = tuple(
        (symbol, path.stat().st_mtime_ns, path.stat().st_size) for symbol, path in sorted(files.items())
    )
    return _cached_folder(str(Path(data_dir).resolve()), fingerprint, calendar, minute_label)


def _with_universe(
    data_dir: str | Path | None,
    calendar: TradingCalendar,
    minute_label: str,
    universe: str,
    symbols: Iterable[str] | None,
) -> BarArrays:
    """The base source (daily) plus the universe's tickers; ``symbols`` are only checked to be there."""
    base = load_source(data_dir, calendar, minute_label=minute_label)
    if base.frequency != DAILY:
        base = aggregate_daily(base)
    store = _cached_universe(base, universe)
    if symbols is not None:
        have = {a.symbol for a in store.assets}
        missing = [s.upper() for s in symbols if s.upper() not in have]
        if missing:
            raise NoDataError(f"no data for {', '.join(missing)} in the run's universe ({universe} plus "
                              f"{'the bundled sample' if data_dir is None else data_dir})")
    return store


@functools.lru_cache(maxsize=2)
def _cached_universe(base: BarArrays, universe: str) -> BarArrays:
    """The combined store, reused while the base store is the same object (the base loads are cached too)."""
    from runtime.data.universe import with_universe

    return with_universe(base, universe)


def load_bars(
    data_dir: str | Path | None,
    frequency: str,
    start: pd.Timestamp | str | None,
    end: pd.Timestamp | str | None,
    *,
    calendar: TradingCalendar | str = "XNYS",
    symbols: Iterable[str] | None = None,
    seed: int = 0,
    minute_label: str = "end",
    universe: str | None = None,
) -> BarArrays:
    """Bars of ``frequency`` ('daily'/'1d' or 'minute'/'1m') for the sessions ``start..end`` (None: the data's end).

    Args:
        data_dir: a folder of per-symbol CSV/Parquet files (see :mod:`runtime.data.loaders`), or None for the
            bundled sample.
        calendar: a TradingCalendar or a calendar name ('XNYS', 'US_EQUITIES', 'us_futures').
        symbols: only these symbols (default all).
        seed: seed of the generated minutes when minute bars come from daily data.
        minute_label: 'end' (default) or 'start' for minute files labelled by bar start (IB exports).
        universe: 'synthetic' adds the seeded synthetic tickers (SYN000..SYN299, see :mod:`runtime.data.universe`)
            to the sample or the folder; None (default) adds nothing and generates nothing.

    Raises:
        DateRangeError: the range is empty or reaches outside the data (the message gives the available range).
        DataError: any problem with the files (typed, naming file, line and column).
    """
    freq = normalize_frequency(frequency)
    cal = get_calendar(calendar) if isinstance(calendar, str) else calendar
    store = load_source(data_dir, cal, symbols=symbols, minute_label=minute_label, universe=universe)
    first, last = store.start, store.end
    s = first if start is None else _day(start)
    e = last if end is None else _day(end)
    k0, k1 = cal.session_index_on_or_after(s), cal.session_index_on_or_before(e)
    if s < first or e > last or k1 < k0:
        raise DateRangeError.outside(s, e, first, last)
    if store.frequency == freq:
        return store.slice_sessions(k0, k1)
    if freq == MINUTE:
        return expand_to_minutes(store, cal.session_label(k0), cal.session_label(k1), seed=seed)
    assert freq == DAILY
    return aggregate_daily(store.slice_sessions(k0, k1))
