"""The benchmark data sets, written once as CSV files that every framework reads.

Each data set is a folder with one ``SYMBOL.csv`` per symbol (``date`` or ``datetime``, ``open``, ``high``, ``low``,
``close``, ``volume``; prices in cents, so a zipline bundle stores them exactly) and a ``meta.json`` naming its
symbols, first and last session and frequency. Minute files label each bar by its END in exchange time (09:31..16:00,
13:00 on an early close); minute folders also carry ``sessions.json`` (each session's open and close, exchange time).

- ``daily20`` / ``daily100``: seeded synthetic random walks, 2003-01-02..2012-12-31 (10 years) on XNYS;
- ``real``: the bundled real stocks AAPL, IBM, MSFT, GOOG 2004-08-19..2012-12-31, prices adjusted with
  Adj Close / Close (FB is left out: its 196 sessions are too short for a 50-day average to matter);
- ``minute10``: 10 synthetic symbols, 20 sessions 2012-11-01..2012-11-29 (DST ends 2012-11-04; 2012-11-23 closes
  at 13:00);
- ``minute1y1`` / ``minute1y5``: 1 / 5 synthetic symbols, the minutes of the 250 sessions of 2012;
- ``startup1``: 1 synthetic symbol, the 250 sessions of 2012;
- ``pipeline500``: the runtime's seeded synthetic universe (runtime/data/universe.py) at 500 tickers,
  2003-01-02..2012-12-31 (the run starts 2003-07-02, after the pipeline's 100-day windows), with its late
  listings, delistings, splits and dividends (explicit ``split_ratio`` and
  ``dividend`` columns; ``meta.json`` lists them and each listing for the zipline bundle), prices to $0.001.

The synthetic series are nudged (one cent, deterministically) wherever the 20- and 50-bar means of the cent prices
would tie exactly, so that no framework's rounding can flip a crossover and every framework sees the same signals.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

DAILY_START, DAILY_END = "2003-01-02", "2012-12-31"
REAL_START, REAL_END = "2004-08-19", "2012-12-31"
REAL_SYMBOLS = ("AAPL", "IBM", "MSFT", "GOOG")
MINUTE_START, MINUTE_END = "2012-11-01", "2012-11-29"
STARTUP_START, STARTUP_END = "2012-01-03", "2012-12-31"
FAST, SLOW = 20, 50
VERSION = 5  # bump when the generated data changes


def _calendar():
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start="2000-01-01", end="2013-12-31")


def _walks(n_bars: int, n_symbols: int, seed: int, start_price: float = 50.0) -> np.ndarray:
    """Closes in integer cents, (n_bars, n_symbols), geometric random walks with per-symbol drift and volatility."""
    rng = np.random.default_rng(seed)
    drift = rng.uniform(-0.0002, 0.0006, n_symbols)
    vol = rng.uniform(0.01, 0.025, n_symbols)
    steps = rng.standard_normal((n_bars, n_symbols)) * vol + drift
    start = start_price * rng.uniform(0.5, 2.0, n_symbols)
    closes = start * np.exp(np.cumsum(steps, axis=0))
    return np.maximum(np.round(closes * 100), 100).astype(np.int64)


def _untie(cents: np.ndarray) -> int:
    """Nudge closes by one cent where 20- and 50-bar sums tie exactly (50*sum20 == 20*sum50); returns nudges."""
    nudged = 0
    for _ in range(100):
        c = np.cumsum(np.vstack([np.zeros((1, cents.shape[1]), np.int64), cents]), axis=0)
        s20 = c[FAST:] - c[:-FAST]
        s50 = c[SLOW:] - c[:-SLOW]
        diff = SLOW * s20[SLOW - FAST :] - FAST * s50  # rows: bars SLOW-1 .. n-1
        rows, cols = np.nonzero(diff == 0)
        if not len(rows):
            return nudged
        for r, k in zip(rows.tolist(), cols.tolist()):
            cents[r + SLOW - 1, k] += 1
            nudged += 1
    raise RuntimeError("could not remove exact ties from the synthetic data")


def _ohlcv(cents: np.ndarray, seed: int, volume_scale: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    close = cents / 100.0
    prev = np.vstack([close[:1], close[:-1]])
    open_ = np.round(prev * np.exp(rng.normal(0.0, 0.004, close.shape)), 2)
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = np.round(top * (1 + np.abs(rng.normal(0.0, 0.006, close.shape))), 2)
    low = np.round(bottom * (1 - np.abs(rng.normal(0.0, 0.006, close.shape))), 2)
    volume = np.round(volume_scale * rng.uniform(0.5, 1.5, close.shape)).astype(np.int64)
    return {"open": open_, "high": np.maximum(high, top), "low": np.minimum(low, bottom), "close": close,
            "volume": volume}


def _write(folder: Path, names: list[str], stamps: list[str], time_column: str, cols: dict[str, np.ndarray],
           meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        frame = pd.DataFrame({time_column: stamps, **{c: cols[c][:, k] for c in ("open", "high", "low", "close")},
                              "volume": cols["volume"][:, k]})
        frame.to_csv(folder / f"{name}.csv", index=False, float_format="%.2f")
    (folder / "meta.json").write_text(json.dumps({**meta, "symbols": names, "version": VERSION}, indent=1) + "\n")


def _sessions(start: str, end: str) -> pd.DatetimeIndex:
    return _calendar().sessions_in_range(start, end)


def make_daily(folder: Path, n_symbols: int, start: str, end: str, seed: int) -> None:
    sessions = _sessions(start, end)
    cents = _walks(len(sessions), n_symbols, seed)
    nudges = _untie(cents)
    cols = _ohlcv(cents, seed, 2_000_000)
    names = [f"S{k:03d}" for k in range(n_symbols)]
    _write(folder, names, [d.strftime("%Y-%m-%d") for d in sessions], "date", cols,
           {"frequency": "daily", "start": start, "end": end, "bars": len(sessions), "tie_nudges": nudges,
            "capital": 10_000_000})


def make_real(folder: Path, source: Path) -> None:
    with gzip.open(source, "rt") as fh:
        raw = pd.read_csv(fh, parse_dates=["Date"])
    sessions = _sessions(REAL_START, REAL_END)
    cols: dict[str, list[np.ndarray]] = {c: [] for c in ("open", "high", "low", "close", "volume")}
    for name in REAL_SYMBOLS:
        rows = raw[raw["Ticker"] == name].set_index("Date").sort_index().loc[REAL_START:REAL_END]
        rows.index = rows.index.normalize()
        if not rows.index.equals(pd.DatetimeIndex(sessions.tz_localize(None) if sessions.tz else sessions)):
            raise RuntimeError(f"{name}: the bundled data does not cover every session of {REAL_START}..{REAL_END}")
        factor = (rows["Adj Close"] / rows["Close"]).to_numpy()
        for c in ("open", "high", "low", "close"):
            cols[c].append(np.round(rows[c.capitalize()].to_numpy() * factor, 2))
        cols["volume"].append(rows["Volume"].to_numpy().astype(np.int64))
    stacked = {c: np.column_stack(v) for c, v in cols.items()}
    stacked["high"] = np.maximum.reduce([stacked["high"], stacked["open"], stacked["close"]])
    stacked["low"] = np.minimum.reduce([stacked["low"], stacked["open"], stacked["close"]])
    cents = np.round(stacked["close"] * 100).astype(np.int64)
    ties = int(_count_ties(cents))
    _write(folder, list(REAL_SYMBOLS), [d.strftime("%Y-%m-%d") for d in sessions], "date", stacked,
           {"frequency": "daily", "start": REAL_START, "end": REAL_END, "bars": len(sessions), "exact_ties": ties,
            "capital": 10_000_000})


def _count_ties(cents: np.ndarray) -> int:
    c = np.cumsum(np.vstack([np.zeros((1, cents.shape[1]), np.int64), cents]), axis=0)
    s20, s50 = c[FAST:] - c[:-FAST], c[SLOW:] - c[:-SLOW]
    return int(np.count_nonzero(SLOW * s20[SLOW - FAST :] - FAST * s50 == 0))


def make_minute(folder: Path, n_symbols: int, start: str, end: str, seed: int) -> None:
    cal = _calendar()
    sessions = cal.sessions_in_range(start, end)
    stamps: list[str] = []
    table = []
    for day in sessions:
        open_, close = cal.session_open(day), cal.session_close(day)
        minutes = pd.date_range(open_ + pd.Timedelta(minutes=1), close, freq="min").tz_convert("America/New_York")
        stamps.extend(m.strftime("%Y-%m-%d %H:%M:%S") for m in minutes)
        table.append((day.strftime("%Y-%m-%d"), open_.tz_convert("America/New_York").strftime("%H:%M"),
                      close.tz_convert("America/New_York").strftime("%H:%M"), len(minutes)))
    rng = np.random.default_rng(seed)
    vol = rng.uniform(0.0004, 0.0012, n_symbols)
    steps = rng.standard_normal((len(stamps), n_symbols)) * vol
    start_price = 50.0 * rng.uniform(0.5, 2.0, n_symbols)
    cents = np.maximum(np.round(start_price * np.exp(np.cumsum(steps, axis=0)) * 100), 100).astype(np.int64)
    first = np.cumsum([0] + [n for *_, n in table[:-1]])
    for s0 in first.tolist():  # the open + 15 min bar compares the price with the mean of the last 15 bars
        row = s0 + 14
        tie = 15 * cents[row] == cents[s0 : row + 1].sum(axis=0)
        cents[row] += tie
    cols = _ohlcv(cents, seed, 100_000)
    names = [f"M{k:03d}" for k in range(n_symbols)]
    _write(folder, names, stamps, "datetime", cols,
           {"frequency": "minute", "start": start, "end": end, "bars": len(stamps), "sessions": len(sessions),
            "capital": 1_000_000})
    rows = [dict(zip(("session", "open", "close", "minutes"), row)) for row in table]
    (folder / "sessions.json").write_text(json.dumps(rows, indent=0) + "\n")


def make_pipeline_universe(folder: Path, n_symbols: int, start: str, end: str) -> None:
    """The synthetic universe's bars with their corporate actions, in the runtime's --data format."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from runtime.data.universe import build_synthetic_universe

    store = build_synthetic_universe(n_symbols, start, end).store
    folder.mkdir(parents=True, exist_ok=True)
    dates = pd.DatetimeIndex(store.sessions)
    order = sorted(range(store.n_assets), key=lambda c: store.assets[c].sid)  # zipline's sids follow ours
    sim_start = str(pd.Timestamp(start) + pd.DateOffset(months=6))[:10]  # the 100-day windows need history first
    meta: dict = {"frequency": "daily", "start": start, "end": end, "sim_start": sim_start, "sim_end": end,
                  "bars": len(dates), "capital": 10_000_000, "symbols": [], "listings": {}, "splits": [],
                  "dividends": [], "version": VERSION}
    for c in order:
        a = store.assets[c]
        rows = np.flatnonzero(~np.isnan(store.close[:, c]))
        pos = {d: i for i, d in enumerate(dates[rows])}
        split, dividend = np.ones(len(rows)), np.zeros(len(rows))
        for sp in (x for x in store.splits if x.sid == a.sid and x.date in pos):
            split[pos[sp.date]] = sp.ratio
            meta["splits"].append({"symbol": a.symbol, "date": str(sp.date.date()), "ratio": sp.ratio})
        for d in (x for x in store.dividends if x.sid == a.sid and x.ex_date in pos):
            dividend[pos[d.ex_date]] = d.amount
            meta["dividends"].append({"symbol": a.symbol, "ex_date": str(d.ex_date.date()), "amount": d.amount})
        frame = pd.DataFrame({"date": dates[rows].strftime("%Y-%m-%d"),
                              **{f: np.round(getattr(store, f)[rows, c], 3) for f in ("open", "high", "low", "close")},
                              "volume": store.volume[rows, c], "split_ratio": split, "dividend": dividend})
        frame.to_csv(folder / f"{a.symbol}.csv", index=False, float_format="%.10g")
        meta["symbols"].append(a.symbol)
        meta["listings"][a.symbol] = [frame["date"].iloc[0], frame["date"].iloc[-1]]
    (folder / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def ensure_all(root: Path, bundled: Path, names: set[str] | None = None) -> dict[str, Path]:
    """Create (once) every data set under ``root`` (or only ``names``); returns their folders by name."""
    specs = {
        "daily20": lambda f: make_daily(f, 20, DAILY_START, DAILY_END, seed=20),
        "daily100": lambda f: make_daily(f, 100, DAILY_START, DAILY_END, seed=100),
        "real": lambda f: make_real(f, bundled),
        "minute10": lambda f: make_minute(f, 10, MINUTE_START, MINUTE_END, seed=10),
        "minute1y1": lambda f: make_minute(f, 1, STARTUP_START, STARTUP_END, seed=11),
        "minute1y5": lambda f: make_minute(f, 5, STARTUP_START, STARTUP_END, seed=15),
        "startup1": lambda f: make_daily(f, 1, STARTUP_START, STARTUP_END, seed=1),
        "pipeline500": lambda f: make_pipeline_universe(f, 500, DAILY_START, DAILY_END),
    }
    out: dict[str, Path] = {}
    for name, make in specs.items():
        if names is not None and name not in names:
            continue
        folder = root / name
        meta = folder / "meta.json"
        if not meta.exists() or json.loads(meta.read_text()).get("version") != VERSION:
            if folder.exists():
                for child in folder.iterdir():
                    child.unlink()
            make(folder)
        out[name] = folder
    return out


def read_meta(folder: Path) -> dict:
    return json.loads((folder / "meta.json").read_text())
