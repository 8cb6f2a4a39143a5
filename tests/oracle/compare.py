"""Run an oracle algorithm file in ibalgo (with the recorder) and compare what it did with zipline's record."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from oracle.make_pipeline_expected import with_recorder
from oracle.oracle_data import CAPITAL, SIM_END, SIM_START
from runtime.assembly.backtest import run_backtest
from runtime.core.calendar import NS_PER_DAY
from runtime.core.margin import MarginCheck
from runtime.data.calendars import get_calendar
from runtime.data.runs import load_daily_and_minute

#: Appended to the ibalgo copy only (after the recorder): scheduled functions do not run on the sessions listed,
#: which are the sessions on which zipline-reloaded's daily runs never call them (see zipline_daily_skipped_sessions).
ZIPLINE_DAILY_SKIP_SHIM = """

import functools as _oracle_functools

_oracle_zipline_skips = frozenset({skips!r})
_oracle_schedule = globals().get("schedule_function")


def schedule_function(func, *args, **kwargs):
    @_oracle_functools.wraps(func)
    def _oracle_scheduled(context, data):
        if _oracle_day(_oracle_api.get_datetime()) in _oracle_zipline_skips:
            return None
        return func(context, data)

    return _oracle_schedule(_oracle_scheduled, *args, **kwargs)
"""


def zipline_daily_skipped_sessions(first: str, last: str, calendar: str = "XNYS") -> list[str]:
    """The sessions of ``first..last`` on which zipline-reloaded's daily runs call no scheduled function at all.

    zipline wraps every scheduled rule in ``OncePerDay`` (zipline/utils/events.py): the rule is evaluated at every
    bar, and its "once a day" flag is reset only when the bar's time is at least 24 hours after the bar at which it
    was last reset. A daily bar is stamped with the session's close, so an early close (13:00 ET) that follows a
    full session (16:00 ET) on the previous calendar day comes only 21 hours after it: the flag is still set and
    the function is skipped that session, whatever its date rule and ``half_days`` say (2012-07-03, for example).
    ibalgo runs it (Quantopian's ``half_days=True``); the oracle run in ibalgo skips exactly these sessions.
    """
    cal = get_calendar(calendar)
    skipped, next_reset = [], None
    for i in range(cal.session_index_on_or_after(first), cal.session_index_on_or_before(last) + 1):
        close = int(cal.closes[i])
        if next_reset is None or close >= next_reset:
            next_reset = close + NS_PER_DAY
        else:
            skipped.append(str(cal.session_label(i).date()))
    return skipped


def run_in_ibalgo(algo: Path, data_dir: Path, work: Path) -> dict:
    """Backtest ``algo`` (recorder appended) over the oracle data and return the recorder's JSON.

    Scheduled functions are skipped on the sessions zipline's daily clock skips (README: "Where ibalgo deliberately
    differs from zipline"), and nowhere else; everything else is compared as recorded.
    """
    out = work / "ibalgo-record.json"
    algo_file = with_recorder(algo, work)
    skips = zipline_daily_skipped_sessions(SIM_START, SIM_END)
    algo_file.write_text(algo_file.read_text() + ZIPLINE_DAILY_SKIP_SHIM.format(skips=sorted(skips)))
    daily, minute, s, e = load_daily_and_minute(str(data_dir), "daily", pd.Timestamp(SIM_START),
                                                pd.Timestamp(SIM_END))
    previous = os.environ.get("ORACLE_OUT")
    os.environ["ORACLE_OUT"] = str(out)
    try:
        # zipline checks neither cash nor margin: the comparison turns the margin rule off
        run_backtest(algo_file, daily=daily, minute=minute, start=s, end=e, capital=CAPITAL,
                     frequency="daily", strict=True, margin_check=MarginCheck.NONE)
    finally:
        if previous is None:
            os.environ.pop("ORACLE_OUT", None)
        else:
            os.environ["ORACLE_OUT"] = previous
    return json.loads(out.read_text())


def _same_value(got: object, want: object) -> bool:
    if want is None or got is None:
        return got is None and want is None
    if isinstance(want, bool) or isinstance(got, bool):
        return isinstance(got, bool) and isinstance(want, bool) and got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-12)
    return got == want


def compare_pipeline(got: dict, want: dict) -> None:
    """Same sessions, pipelines, assets (rows passing the screen), columns and values (floats to 1e-9)."""
    assert sorted(got) == sorted(want), "the recorded sessions differ"
    for day in sorted(want):
        for name, frame in want[day].items():
            mine = got[day].get(name)
            assert mine is not None, f"{day}: no output for pipeline {name!r}"
            assert sorted(mine) == sorted(frame), (
                f"{day} {name}: assets differ: only in ibalgo {sorted(set(mine) - set(frame))}, "
                f"only in zipline {sorted(set(frame) - set(mine))}")
            for symbol, row in frame.items():
                assert sorted(mine[symbol]) == sorted(row), f"{day} {name}: columns differ"
                for col, value in row.items():
                    assert _same_value(mine[symbol][col], value), (
                        f"{day} {name} {symbol}.{col}: ibalgo {mine[symbol][col]!r}, zipline {value!r}")


def compare_trades(got: dict, want: dict) -> None:
    """Same orders [session, symbol, amount] and fills [session, symbol, amount, price] (prices to 1e-6)."""
    mine, theirs = sorted(map(tuple, got["orders"])), sorted(map(tuple, want["orders"]))
    first = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))
    assert mine == theirs, (f"orders differ from #{first}: ibalgo {mine[first:first + 3]}, "
                            f"zipline {theirs[first:first + 3]} ({len(mine)} vs {len(theirs)} orders)")
    fills_mine, fills_theirs = sorted(map(tuple, got["fills"])), sorted(map(tuple, want["fills"]))
    assert [f[:3] for f in fills_mine] == [f[:3] for f in fills_theirs], "fills differ"
    for a, b in zip(fills_mine, fills_theirs):
        assert math.isclose(a[3], b[3], rel_tol=1e-7, abs_tol=1e-6), f"fill price differs: ibalgo {a}, zipline {b}"
    assert math.isclose(got["final_portfolio_value"], want["final_portfolio_value"], rel_tol=1e-6)
