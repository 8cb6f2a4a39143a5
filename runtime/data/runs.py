"""The bars one run needs: daily bars (for history and daily runs) and, for minute runs, minute bars."""

from __future__ import annotations

import logging

import pandas as pd

from runtime.data.errors import DateRangeError
from runtime.data.store import BarArrays

log = logging.getLogger("ibalgo.data")

#: sessions of minute bars a minute run loads before its first session when the data has them, so that minute
#: history (data.history(..., '1m'), request_historical_data(sec, '1 min', '5 D')) at the start sees earlier bars
MINUTE_HISTORY_SESSIONS = 10


def _clip_range(
    daily: BarArrays, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``start..end`` (None: the data's own ends) clipped to the data's sessions.

    Start after end, or a range with no session of the data, is a DateRangeError saying which; a range that only
    partly overlaps the data is clipped to it, with a warning naming the sessions that run."""
    first, last = daily.start, daily.end
    s = first if start is None else start
    e = last if end is None else end
    if s > e:
        raise DateRangeError(f"the start {s.date()} is after the end {e.date()}: give --start before --end "
                             f"(the data covers {first.date()}..{last.date()})", (first, last))
    if e < first or s > last:
        raise DateRangeError.outside(s, e, first, last)
    if s < first or e > last:
        clipped = max(s, first), min(e, last)
        log.warning("the requested range %s..%s reaches outside the data, which covers %s..%s: running %s..%s",
                    s.date(), e.date(), first.date(), last.date(), clipped[0].date(), clipped[1].date())
        s, e = clipped
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
    ``start..end`` when ``frequency`` is 'minute' (and the :data:`MINUTE_HISTORY_SESSIONS` sessions before
    ``start`` the data has, for minute history), and the clipped ``start``/``end``. ``universe='synthetic'`` adds the
    synthetic tickers (see :mod:`runtime.data.universe`)."""
    from runtime.data import load_bars

    daily = load_bars(data_dir, "daily", None, None, calendar=calendar_name, seed=seed, universe=universe)
    s, e = _clip_range(daily, start, end)
    cal = daily.calendar
    k_first = max(cal.session_index_on_or_after(s) - MINUTE_HISTORY_SESSIONS,
                  cal.session_index_on_or_after(daily.start))
    minute = (load_bars(data_dir, "minute", cal.session_label(k_first), e, calendar=calendar_name, seed=seed,
                        universe=universe)
              if frequency == "minute" else None)
    return daily, minute, s, e
