"""A small daily bar folder for pipeline tests (real files read by the real loader), and a reference window reader.

Four symbols over 120 XNYS sessions from 2012-01-03: AAA trades throughout; BBB has a 2:1 split on row 60;
CCC is listed from row 30; DDD has sessions without trades (empty prices, volume 0). The reference reads the raw
values written to the files and applies the split itself, so it checks the store's adjustment independently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from runtime.data import load_bars
from runtime.data.calendars import get_calendar

N_SESSIONS = 120
SPLIT_ROW = 60
LISTING_ROW = 30
NO_TRADE_ROWS = (20, 21, 75)
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


def sessions() -> pd.DatetimeIndex:
    cal = get_calendar("XNYS")
    first = cal.session_index_on_or_after(pd.Timestamp("2012-01-03"))
    return pd.DatetimeIndex(cal.sessions[first:first + N_SESSIONS])


def raw_frames(seed: int = 3) -> dict[str, pd.DataFrame]:
    """Unadjusted OHLCV per symbol (NaN outside the listing / on no-trade days), indexed by session."""
    rng = np.random.default_rng(seed)
    idx = sessions()
    out = {}
    for k, sym in enumerate(SYMBOLS):
        close = 50.0 * (1 + k) * np.exp(np.cumsum(rng.normal(0, 0.02, N_SESSIONS)))
        close = np.round(close, 2)
        if sym == "AAA":
            close[40:44] = close[39]  # flat days: ties and zero changes
        if sym == "BBB":
            close[SPLIT_ROW:] = np.round(close[SPLIT_ROW:] / 2, 2)
        high = np.round(close * (1 + rng.uniform(0, 0.02, N_SESSIONS)), 2)
        low = np.round(close * (1 - rng.uniform(0, 0.02, N_SESSIONS)), 2)
        open_ = np.round((high + low) / 2, 2)
        volume = rng.integers(100_000, 1_000_000, N_SESSIONS).astype(float)
        if sym == "BBB":
            volume[SPLIT_ROW:] *= 2
        frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=idx)
        if sym == "CCC":
            frame.iloc[:LISTING_ROW] = np.nan
        if sym == "DDD":
            frame.iloc[list(NO_TRADE_ROWS), :4] = np.nan
            frame.iloc[list(NO_TRADE_ROWS), 4] = 0.0
        out[sym] = frame
    return out


def write_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for sym, frame in raw_frames().items():
        f = frame.dropna(how="all").copy()
        f.index.name = "date"
        if sym == "BBB":
            f["split_ratio"] = np.where(f.index == sessions()[SPLIT_ROW], 2.0, np.nan)
        f.to_csv(folder / f"{sym}.csv")
    return folder


def load(folder: Path):
    return load_bars(str(folder), "daily", None, None)


def ref_window(frames: dict[str, pd.DataFrame], sym: str, field: str, row: int, length: int) -> np.ndarray:
    """Rows row-length..row-1 of ``field``, adjusted for BBB's split as of ``row`` (NaN before the data)."""
    values = frames[sym][field].to_numpy(dtype=float)
    out = np.full(length, np.nan)
    for i, t in enumerate(range(row - length, row)):
        if 0 <= t < len(values):
            v = values[t]
            if sym == "BBB" and t < SPLIT_ROW <= row:
                v = v * 2 if field == "volume" else v / 2
            out[i] = v
    return out


def exists(frames: dict[str, pd.DataFrame], sym: str, row: int) -> bool:
    """zipline's AssetExists: the first bar before the session (every symbol trades to the end here)."""
    first = int(np.flatnonzero(~np.isnan(frames[sym]["close"].to_numpy()))[0])
    return first < row
