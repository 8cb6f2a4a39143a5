"""The bundled sample: real unadjusted daily bars of AAPL, IBM, MSFT, GOOG and FB, 2000-03-01..2013-03-01.

The file ships inside the package (``runtime/data/sample/``, public domain, see its PROVENANCE.md). Splits and
dividends are derived from its ``Adj Close`` column, so history is adjusted as of the simulation time and a ledger
can pay dividends and apply splits on their ex-dates. The parsed file is cached per process; building the store
from it takes a few milliseconds.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass

import numpy as np
import pandas as pd

from runtime.core.assets import Asset, stable_sid
from runtime.core.calendar import TradingCalendar
from runtime.data.actions import Dividend, Split
from runtime.data.adjustments import derive_actions
from runtime.data.builder import AssetSeries, assemble
from runtime.data.calendars import get_calendar
from runtime.data.contracts import asset_from_spec
from runtime.data.errors import DataError
from runtime.data.store import DAILY, BarArrays

SAMPLE_FILE = "us-stocks-daily-2000-2013.csv.gz"
SAMPLE_SYMBOLS = ("AAPL", "IBM", "MSFT", "GOOG", "FB")


@dataclass(frozen=True, eq=False)
class _Parsed:
    """One ticker's columns from the sample file."""

    dates: np.ndarray  # datetime64[ns] session labels
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    splits: tuple[Split, ...]
    dividends: tuple[Dividend, ...]


@functools.lru_cache(maxsize=1)
def _parsed() -> dict[str, _Parsed]:
    """The sample file, parsed once per process and split by ticker (actions derived from Adj Close)."""
    resource = importlib.resources.files("runtime.data").joinpath("sample", SAMPLE_FILE)
    with resource.open("rb") as fh:
        frame = pd.read_csv(fh, compression="gzip")
    frame["Date"] = pd.to_datetime(frame["Date"], format="%Y-%m-%d")
    out: dict[str, _Parsed] = {}
    for ticker, rows in frame.groupby("Ticker", sort=False):
        rows = rows.sort_values("Date")
        dates = rows["Date"].to_numpy(dtype="datetime64[ns]")
        close = rows["Close"].to_numpy(dtype=np.float64)
        sid = stable_sid(str(ticker))
        splits, dividends = derive_actions(sid, dates, close, rows["Adj Close"].to_numpy(dtype=np.float64))
        out[str(ticker)] = _Parsed(
            dates=dates,
            open=rows["Open"].to_numpy(dtype=np.float64),
            high=rows["High"].to_numpy(dtype=np.float64),
            low=rows["Low"].to_numpy(dtype=np.float64),
            close=close,
            volume=rows["Volume"].to_numpy(dtype=np.float64),
            splits=splits,
            dividends=dividends,
        )
    return out


def sample_asset(symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> Asset:
    """The Asset of a bundled ticker (Quantopian's sid, primary exchange, name, listing dates)."""
    return asset_from_spec(symbol, start_date=start, end_date=end)


def load_sample(calendar: TradingCalendar | None = None, symbols: tuple[str, ...] | None = None) -> BarArrays:
    """The bundled daily bars as a :class:`BarArrays` on XNYS (or ``calendar``), all tickers or ``symbols``.

    Listing dates come from the data (GOOG from 2004-08-19, FB from 2012-05-18); splits (AAPL 2:1 2000-06-21 and
    2005-02-28, MSFT 2:1 2003-02-18) and dividends are included as corporate actions.
    """
    cal = calendar if calendar is not None else get_calendar("XNYS")
    parsed = _parsed()
    wanted = SAMPLE_SYMBOLS if symbols is None else tuple(s.upper() for s in symbols)
    series = []
    for symbol in wanted:
        if symbol not in parsed:
            raise DataError(f"{symbol!r} is not in the bundled sample; it has {', '.join(SAMPLE_SYMBOLS)}")
        p = parsed[symbol]
        k = np.searchsorted(cal.sessions, p.dates)
        if k.max() >= len(cal.sessions) or not np.array_equal(cal.sessions[k], p.dates):
            raise DataError(f"the sample's {symbol} dates are not all sessions of calendar {cal.name}")
        asset = sample_asset(symbol, pd.Timestamp(p.dates[0]), pd.Timestamp(p.dates[-1]))
        series.append(
            AssetSeries(asset, cal.closes[k], p.open, p.high, p.low, p.close, p.volume, p.splits, p.dividends)
        )
    return assemble(cal, DAILY, series)
