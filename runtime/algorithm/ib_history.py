"""IBridgePy's ``request_historical_data``: IB's bars through the broker in paper and live runs, and windows of the
run's own bars (through ``data.history``, cut and aggregated by :mod:`runtime.data.bar_windows`) in backtests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from runtime.algorithm.frames import for_algorithm
from runtime.core.assets import Asset, SecType
from runtime.core.ib_mapping import BAR_SIZES, normalize_bar_size, parse_duration, parse_ib_time
from runtime.data import bar_windows
from runtime.data.bar_windows import DAY_GROUPS, HISTORY_BAR_MINUTES, HISTORY_FIELDS
from runtime.errors import HistoryError

if TYPE_CHECKING:
    from runtime.engine.engine import Engine

#: whatToShow values served from the data's bars (they hold trades; FX data holds midpoints)
_WHAT_TO_SHOW = ("", "TRADES", "MIDPOINT", "ADJUSTED_LAST")


def _supported_bar_sizes() -> str:
    return ", ".join(repr(b) for b in (*HISTORY_BAR_MINUTES, *DAY_GROUPS)) + (
        " (second bars are not in a backtest's data; paper and live runs get every IB bar size from IB)")


class HistoricalData:
    """``request_historical_data`` bound to one engine (see :meth:`request_historical_data`)."""

    exported_names = frozenset({"request_historical_data"})

    def __init__(self, engine: Engine, resolve_asset: Callable[[object], Asset]) -> None:
        self._engine = engine
        self._resolve_asset = resolve_asset

    def request_historical_data(
        self,
        security: Any,
        barSize: str,
        goBack: str,
        endTime: Any = "",
        whatToShow: str = "",
        useRTH: int = 1,
        waitForFeedbackInSeconds: float = 30,
        timezoneOfReturn: Any = "US/Eastern",
        formatDate: int = 1,
        **unused: Any,
    ) -> pd.DataFrame:
        """IBridgePy: bars of ``security`` as a DataFrame (columns open, high, low, close, volume; newest last).

        - ``barSize``: '1 day', '1 min', or a multiple of minutes up to '8 hours' ('5 mins', '1 hour'...), built by
          aggregating minute bars (minute runs only). Daily bars are indexed by their session date (midnight in
          ``timezoneOfReturn``), intraday bars by their START time (IB's label) in ``timezoneOfReturn``.
        - ``goBack``: an IB duration: 'n S' (the last n seconds of trading time), 'n D' (the last n sessions),
          'n W', 'n M', 'n Y' (calendar weeks, months, years).
        - ``endTime``: '' (now), or an earlier time ('20120105 16:00:00 US/Eastern', a Timestamp); later is
          clamped to now, so no bar from the future is ever returned.

        - ``timezoneOfReturn``: a time zone name or a pytz time zone (IBridgePy's default:
          ``pytz.timezone('US/Eastern')``). ``formatDate=2`` indexes the bars by epoch seconds instead (IB's form 2).

        Paper and live runs: the bars come from IB (the simulated gateway serves its data the same way) through
        the adapter's paced, cached history requests, as deep as ``goBack`` asks, with every IB bar size ('1 secs'
        to '1 month'), ``whatToShow`` ('TRADES', 'MIDPOINT', 'BID', 'ASK', 'BID_ASK', ...) and ``useRTH`` as IB
        serves them; the call waits for IB's answer (up to ``waitForFeedbackInSeconds``), other algorithm code does
        not run meanwhile; an IB error raises HistoryError.

        Backtests: built from ``data.history`` (the same values, split-adjusted as of now); bars without trades
        are left out like IB does; '1 week' and '1 month' bars are made from the daily bars (labelled by their
        first session). The data holds regular-hours trade bars only: ``useRTH=0`` gives the same bars, and
        'BID', 'ASK' and 'BID_ASK' give the trade bars (no spread, as show_real_time_price's bid and ask);
        second bars are not in the data.
        """
        if unused:
            raise HistoryError(f"request_historical_data: unknown keyword {sorted(unused)[0]!r}")
        if formatDate not in (1, 2):
            raise HistoryError(f"request_historical_data: formatDate must be 1 (times) or 2 (epoch seconds), got "
                               f"{formatDate!r}")
        asset = self._resolve_asset(security)
        source = self._engine.history_source
        if source is not None:
            frame = self._broker_history(source, asset, barSize, goBack, endTime, whatToShow, useRTH,
                                         self._return_tz(timezoneOfReturn))
            return self._format_dates(frame, formatDate)
        if isinstance(barSize, str) and barSize.strip().lower() in DAY_GROUPS:
            frame = self.request_historical_data(asset, "1 day", goBack, endTime, whatToShow, useRTH,
                                                 waitForFeedbackInSeconds, timezoneOfReturn)
            return self._format_dates(bar_windows.group_days(frame, barSize.strip().lower()), formatDate)
        minutes = self._history_bar_minutes(barSize)
        if not isinstance(goBack, str):
            raise HistoryError(f"request_historical_data: goBack must be an IB duration string such as '5 D', "
                               f"'1 Y' or '3600 S', got {goBack!r}")
        try:
            n, unit = parse_duration(goBack)
        except ValueError as exc:
            raise HistoryError(f"request_historical_data: {exc}") from None
        what = str(whatToShow or "").strip().upper()
        if what in ("BID", "ASK", "BID_ASK"):
            what = ""  # the data's trade bars: the backtest's bid and ask are the trade price
        if what not in _WHAT_TO_SHOW:
            raise HistoryError(f"request_historical_data: whatToShow {whatToShow!r} is not in the data (it holds "
                               "trade bars): use '' or 'TRADES' ('MIDPOINT' for FX data)")
        if isinstance(waitForFeedbackInSeconds, bool) or not isinstance(waitForFeedbackInSeconds, (int, float)):
            raise HistoryError(f"request_historical_data: waitForFeedbackInSeconds must be a number of seconds, got "
                               f"{waitForFeedbackInSeconds!r}")
        tz = self._return_tz(timezoneOfReturn)
        end_ns = self._history_end(endTime)
        if minutes:
            frame = self._minute_history(asset, minutes, n, unit, end_ns, barSize)
            return self._format_dates(self._finish(frame, tz, intraday=True), formatDate)
        return self._format_dates(self._finish(self._daily_history(asset, n, unit, end_ns), tz, intraday=False),
                                  formatDate)

    @staticmethod
    def _format_dates(frame: pd.DataFrame, format_date: int) -> pd.DataFrame:
        if format_date == 2 and len(frame):
            out = frame.copy()
            out.index = pd.Index(pd.DatetimeIndex(frame.index).asi8 // 1_000_000_000, name="time")
            return out
        return frame

    def _broker_history(self, source: Callable[..., Any], asset: Asset, bar_size: Any, go_back: Any, end_time: Any,
                        what_to_show: Any, use_rth: Any, tz: str) -> pd.DataFrame:
        """request_historical_data in paper and live runs: IB's bars through the adapter (see the docstring)."""
        try:
            size = normalize_bar_size(str(bar_size))
            parse_duration(str(go_back))
        except ValueError as exc:
            raise HistoryError(f"request_historical_data: {exc}") from None
        what = str(what_to_show or "").strip().upper() or ("MIDPOINT" if asset.sec_type is SecType.CASH else "TRADES")
        end = None if end_time is None or (isinstance(end_time, str) and not end_time.strip()) \
            else self._history_end(end_time)
        try:
            bars = source(asset, str(go_back), size, what, bool(use_rth), end, self._engine.clock.now_ns)
        except Exception as exc:  # IB's answer (error 162, pacing, timeout): a typed error for the algorithm
            raise HistoryError(f"request_historical_data({asset.symbol}, {size!r}, {go_back!r}): {exc}") from None
        if bars.dates is not None:
            index = pd.DatetimeIndex(bars.dates).tz_localize(tz)
        else:
            # the adapter labels a bar by its END (start + size, or the session's close): back to IB's START label
            starts = bar_windows.start_labels(bars.end_ns, BAR_SIZES[size], self._engine.calendar)
            index = pd.DatetimeIndex(starts, tz="UTC").tz_convert(tz)
        frame = pd.DataFrame({"open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close,
                              "volume": bars.volume}, index=index.rename("time"))
        return frame[frame["close"].notna()]

    @staticmethod
    def _history_bar_minutes(bar_size: object) -> int:
        if not isinstance(bar_size, str):
            raise HistoryError(f"request_historical_data: barSize must be a string such as '1 day' or '1 min', got "
                               f"{bar_size!r}")
        minutes = bar_windows.bar_minutes(bar_size)
        if minutes is None:
            raise HistoryError(f"request_historical_data: bar size {bar_size!r} is not available; use one of "
                               f"{_supported_bar_sizes()}")
        return minutes

    @staticmethod
    def _return_tz(name: object) -> str:
        if name is not None and not isinstance(name, str) and hasattr(name, "utcoffset"):
            name = getattr(name, "zone", None) or getattr(name, "key", None) or str(name)  # pytz / zoneinfo
        if not isinstance(name, str) or not name.strip():
            raise HistoryError(f"request_historical_data: timezoneOfReturn must be a time zone name such as "
                               f"'US/Eastern' or 'UTC', got {name!r}")
        try:
            pd.Timestamp(0, tz=name.strip())
        except Exception:
            raise HistoryError(f"request_historical_data: unknown time zone {name!r}; use a name such as "
                               "'US/Eastern', 'Europe/London' or 'UTC'") from None
        return name.strip()

    def _history_end(self, end_time: Any) -> int:
        """The instant bars may end at: now, or an earlier ``endTime`` (a later one is clamped to now)."""
        now = self._engine.clock.now_ns
        if end_time is None or (isinstance(end_time, str) and not end_time.strip()):
            return now
        try:
            if isinstance(end_time, str):
                ns = parse_ib_time(end_time, self._engine.calendar.tz)
            else:
                ts = pd.Timestamp(end_time)
                ns = (ts if ts.tzinfo is not None else ts.tz_localize(self._engine.calendar.tz)).value
        except (ValueError, TypeError):
            raise HistoryError(f"request_historical_data: cannot read endTime {end_time!r}; use '' (now) or "
                               "'yyyymmdd hh:mm:ss US/Eastern'") from None
        return min(int(ns), now)

    def _daily_history(self, asset: Asset, n: int, unit: str, end_ns: int) -> pd.DataFrame:
        e = self._engine
        window = bar_windows.daily_window(e.calendar, e.clock.session, e.clock.now_ns, n, unit, end_ns)
        if window is None:
            return bar_windows.empty_window()
        frame = e.data.history(asset, HISTORY_FIELDS, window.count, "1d")
        return bar_windows.cut_daily(frame, e.calendar, window, n, unit)

    def _minute_history(self, asset: Asset, minutes: int, n: int, unit: str, end_ns: int, bar_size: str
                        ) -> pd.DataFrame:
        e = self._engine
        if e.frequency != "minute" or e.portal.minute is None:
            raise HistoryError(f"request_historical_data: bar size {bar_size!r} needs minute bars and this run has "
                               "daily bars: run with --frequency minute, or ask for '1 day' bars")
        window = bar_windows.minute_window(e.calendar, e.clock.now_ns, e.clock.minute_row + 1, n, unit, end_ns)
        if window is None:
            return bar_windows.empty_window()
        frame = e.data.history(asset, HISTORY_FIELDS, window.count, "1m")
        return bar_windows.aggregate_minutes(bar_windows.cut_minutes(frame, window, end_ns), minutes, e.calendar)

    @staticmethod
    def _finish(frame: pd.DataFrame, tz: str, *, intraday: bool) -> pd.DataFrame:
        frame = frame[HISTORY_FIELDS].astype(float)
        frame = frame[frame["close"].notna()]
        if intraday:
            index = pd.DatetimeIndex(frame.index).tz_convert(tz)
        else:
            labels = pd.DatetimeIndex(frame.index)
            labels = labels.tz_localize(None) if labels.tz is not None else labels
            index = labels.tz_localize(tz)
        out = frame.copy()
        out.index = index.rename("time")
        return for_algorithm(out)  # integer keys positional, as the frames data.history gives


__all__ = ["HistoricalData"]
