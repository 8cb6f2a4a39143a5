"""Test helpers: real calendar, bundled data, algorithm files written into ``tmp_path``.

``run_algo(tmp_path, source, ...)`` writes an algorithm file and backtests it through the same functions the
``ibalgo backtest`` command uses (``load_daily_and_minute`` then ``run_backtest``). Minute bars are generated once
per (start, end) and reused, so many small minute backtests stay fast.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pandas as pd

from runtime.assembly.backtest import BacktestResult, run_backtest
from runtime.data.runs import load_daily_and_minute
from support.waiting import wait_until as wait_until  # re-exported for the tests

REPO = Path(__file__).resolve().parents[2]
USER_ALGOS = REPO / "user_algos"


@functools.lru_cache(maxsize=16)
def run_data(frequency: str, start: str, end: str):
    """Daily (and for minute runs, minute) bars of the bundled sample for ``start..end``, cached per process."""
    return load_daily_and_minute(None, frequency, pd.Timestamp(start), pd.Timestamp(end), seed=7)


def write_algo(tmp_path: Path, source: str, name: str = "algo.py") -> Path:
    """Write a (dedented) algorithm source into ``tmp_path`` and return its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def run_algo(
    tmp_path: Path,
    source: str | Path,
    *,
    start: str = "2012-01-03",
    end: str = "2012-01-31",
    frequency: str = "daily",
    capital: float = 100_000.0,
    strict: bool = True,
    output: Path | None = None,
) -> BacktestResult:
    """Backtest algorithm ``source`` (text, or the path of a file) on the bundled data.

    ``strict`` (default) makes any exception in the algorithm stop the run, so a test cannot pass while the
    algorithm silently fails.
    """
    path = source if isinstance(source, Path) else write_algo(tmp_path, source)
    daily, minute, s, e = run_data(frequency, start, end)
    return run_backtest(
        path, daily=daily, minute=minute, start=s, end=e, capital=capital, frequency=frequency, output=output,
        strict=strict,
    )



#: buys 101 AAPL on the first bar and records the position (AAPL splits 2:1 on 2005-02-28)
HOLD_AAPL_101 = '''
def initialize(context):
    context.asset = symbol("AAPL")
    context.bought = False


def handle_data(context, data):
    if not context.bought:
        order(context.asset, 101)
        context.bought = True
    record(shares=context.portfolio.positions[context.asset].amount)
'''
