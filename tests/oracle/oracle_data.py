"""The daily data both zipline-reloaded and ibalgo run the oracle algorithms on, written as one CSV per symbol.

The data are a subset of the seeded synthetic universe (:mod:`runtime.data.universe`: late listings, splits,
dividends) plus three bundled real stocks (AAPL, IBM, MSFT with their dividends), from ``DATA_START`` (history for
the pipelines' windows) to ``DATA_END``; the algorithms trade ``SIM_START..SIM_END``. Every CSV has the unadjusted
bars and explicit ``split_ratio`` / ``dividend`` columns (what ``ibalgo backtest --data DIR`` reads); ``meta.json``
lists the symbols in ibalgo's sid order (zipline's sids are their positions, so ties rank the same way), each
listing, and every split and dividend (what the zipline bundle's adjustment writer needs). Prices are rounded to
$0.001, the precision of zipline's daily bar files. Same seed, same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from runtime.data.sample import load_sample
from runtime.data.store import BarArrays
from runtime.data.universe import build_synthetic_universe, combine_stores

DATA_START, DATA_END = "2010-01-04", "2012-12-31"
SIM_START, SIM_END = "2011-01-03", "2012-12-31"
REAL_SYMBOLS = ("AAPL", "IBM", "MSFT")
CAPITAL = 100_000.0


def oracle_symbols() -> list[str]:
    """The synthetic tickers used: the first 40 still listed at the end, those splitting inside the window, and
    the ones listing inside it."""
    s = build_synthetic_universe().store
    lo, hi = pd.Timestamp(DATA_START), pd.Timestamp(DATA_END)
    alive = [a for a in s.assets if a.end_date >= hi]
    chosen = [a.symbol for a in alive[:40]]
    split_syms = {s.assets[s.column(sp.sid)].symbol for sp in s.splits if lo < sp.date <= hi}
    late = [a.symbol for a in alive if lo < a.start_date <= hi - pd.Timedelta(days=120)]
    for sym in sorted(split_syms) + late[:3]:
        if sym not in chosen and any(a.symbol == sym for a in alive):
            chosen.append(sym)
    return chosen


def oracle_store() -> BarArrays:
    """The combined store of the oracle's symbols over ``DATA_START..DATA_END``."""
    real = load_sample(symbols=REAL_SYMBOLS)
    synthetic = build_synthetic_universe().store
    keep = set(oracle_symbols())
    cols = [i for i, a in enumerate(synthetic.assets) if a.symbol in keep]
    store = combine_stores(real, _select(synthetic, cols))
    cal = store.calendar
    k0, k1 = cal.session_index_on_or_after(DATA_START), cal.session_index_on_or_before(DATA_END)
    return store.slice_sessions(k0, k1)


def _select(store: BarArrays, cols: list[int]) -> BarArrays:
    from runtime.data.builder import AssetSeries, assemble

    series = []
    sids = {store.assets[c].sid for c in cols}
    for c in cols:
        rows = np.flatnonzero(~np.isnan(store.volume[:, c]))
        a = store.assets[c]
        series.append(AssetSeries(a, store.times[rows], store.open[rows, c], store.high[rows, c], store.low[rows, c],
                                  store.close[rows, c], store.volume[rows, c],
                                  tuple(x for x in store.splits if x.sid == a.sid),
                                  tuple(x for x in store.dividends if x.sid == a.sid)))
    assert len(sids) == len(cols)
    return assemble(store.calendar, store.frequency, series, store.first_session, store.last_session)


def write_oracle_data(folder: str | Path) -> dict:
    """Write the per-symbol CSVs and meta.json into ``folder``; return the meta."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    store = oracle_store()
    dates = pd.DatetimeIndex(store.sessions)
    order = sorted(range(store.n_assets), key=lambda c: store.assets[c].sid)
    meta: dict = {"start": DATA_START, "end": DATA_END, "sim_start": SIM_START, "sim_end": SIM_END,
                  "capital": CAPITAL, "symbols": [], "listings": {}, "splits": [], "dividends": []}
    for c in order:
        a = store.assets[c]
        rows = np.flatnonzero(~np.isnan(store.close[:, c]))
        split = np.ones(len(rows))
        dividend = np.zeros(len(rows))
        day_pos = {d: i for i, d in enumerate(dates[rows])}
        for sp in store.splits:
            if sp.sid == a.sid and sp.date in day_pos:
                split[day_pos[sp.date]] = sp.ratio
                meta["splits"].append({"symbol": a.symbol, "date": str(sp.date.date()), "ratio": sp.ratio})
        for d in store.dividends:
            if d.sid == a.sid and d.ex_date in day_pos:
                dividend[day_pos[d.ex_date]] = d.amount
                meta["dividends"].append({"symbol": a.symbol, "ex_date": str(d.ex_date.date()), "amount": d.amount})
        # zipline's daily bar files keep prices in thousandths: round them here so both systems see the same bars
        frame = pd.DataFrame({
            "date": dates[rows].strftime("%Y-%m-%d"),
            "open": np.round(store.open[rows, c], 3), "high": np.round(store.high[rows, c], 3),
            "low": np.round(store.low[rows, c], 3), "close": np.round(store.close[rows, c], 3),
            "volume": store.volume[rows, c],
            "split_ratio": split, "dividend": dividend,
        })
        frame.to_csv(out / f"{a.symbol}.csv", index=False, float_format="%.10g")
        meta["symbols"].append(a.symbol)
        meta["listings"][a.symbol] = [frame["date"].iloc[0], frame["date"].iloc[-1]]
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def data_fingerprint(folder: str | Path) -> str:
    """SHA-256 over the folder's CSV files (names and bytes): the recorded outputs name the data they came from."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.csv")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
