"""The bars one run needs: daily bars (for history and daily runs) and, for minute runs, minute bars."""

from __future__ import annotations

import pandas as pd

from runtime.data.errors import DateRangeError
from runtime.data.store import BarArrays


def _clip_range(
    daily: BarArrays, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    first, last = daily.start, daily.end
    s = first if start is None else start
    e = last if end is None else end
    if s < first or e > last or s > e:
        raise DateRangeError(
            f"the requested range {s.date()}..{e.date()} is outside the data, which covers "
            f"{first.date()}..{last.date()}; pass --start/--end inside it"
        )
    return s, e


def load_daily_and_minute(
    data_dir: str | None,
    frequency: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    *,
    seed: int = 7,
    calendar_name: str = "XNYS",
    universe: str | None = None,
) -> tuple[BarArrays, BarArrays | None, pd.Timestamp, pd.Timestamp]:
    """Daily bars (whole data range, so history can look back before ``start``), minute bars for
    ``start..end`` when ``frequency`` is 'minute', and the clipped ``start``/``end``. ``universe='synthetic'`` adds the
    synthetic tickers (see :mod:`runtime.data.universe`)."""
    from runtime.data import load_bars

    daily = load_bars(data_dir, "daily", None, None, calendar=calendar_name, seed=seed, universe=universe)
    s, e = _clip_range(daily, start, end)
    minute = (load_bars(data_dir, "minute", s, e, calendar=calendar_name, seed=seed, universe=universe)
              if frequency == "minute" else None)
    return daily, minute, s, e
