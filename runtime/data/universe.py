"""The seeded synthetic stock universe: a few hundred clearly fake tickers to rank with Pipeline.

Turned on with ``--universe synthetic`` (``UNIVERSE = "synthetic"`` in settings.py) for ``backtest``, ``run`` and
``gateway``; then the run's store holds the bundled real stocks (or the ``--data`` folder) PLUS these tickers.
Without the switch nothing here is imported or generated, so ordinary runs do not pay for it.

What the universe holds (all a pure function of the seed, see :mod:`runtime.data.counter_rng`):

- tickers ``SYN000`` .. ``SYN299`` (``SYN`` and three digits: no real US ticker looks like that), company names
  ``SYNTHETIC STOCK 000`` ..., on the same sessions as the bundled sample (2000-03-01..2013-03-01, XNYS);
- listing dates: about a quarter of them list after the start (NaN bars before), a few are delisted before the
  end (NaN bars after);
- a market factor, a sector factor and each stock's own noise in the returns (so cross-sectional ranks mean
  something), prices from about $10 to $300, volumes from 100 thousand to 10 million shares;
- a few splits (2:1, 3:2, 3:1, and a 1:2 reverse split) and quarterly cash dividends for about a fifth of them:
  the bars are UNADJUSTED like real data, and the store's corporate actions are exactly those events;
- a Morningstar sector code per ticker and a synthetic market cap (shares outstanding x close), given as a
  point-in-time fundamentals table (:func:`fundamentals_table`): columns ``date`` (the session the value becomes
  known, before its open), ``symbol``, ``sector``, ``market_cap``, ``shares_outstanding``; one row per symbol and
  month, each value computed from the previous session's close.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from runtime.core.assets import Asset, stable_sid
from runtime.core.calendar import TradingCalendar
from runtime.data import counter_rng
from runtime.data.actions import Dividend, Split
from runtime.data.builder import AssetSeries, assemble
from runtime.data.calendars import get_calendar
from runtime.data.errors import DataError
from runtime.data.store import DAILY, BarArrays
from runtime.data.synthetic import _ar1, _round_to_tick

#: The value of ``--universe`` / ``UNIVERSE`` that adds the synthetic tickers.
SYNTHETIC = "synthetic"
UNIVERSES = (SYNTHETIC,)
UNIVERSE_SEED = 11
UNIVERSE_SIZE = 300
UNIVERSE_START = "2000-03-01"
UNIVERSE_END = "2013-03-01"
TICKER_PREFIX = "SYN"
#: Morningstar sector codes (as ``quantopian.pipeline.classifiers.morningstar.Sector`` uses them).
SECTOR_CODES = (101, 102, 103, 104, 205, 206, 207, 308, 309, 310, 311)
SPLIT_RATIOS = (2.0, 1.5, 3.0, 0.5)
_LATE_LISTING, _DELISTING, _SPLITTING, _PAYING = 0.25, 0.04, 0.05, 0.2
_REVERSION = 1000  # sessions: a very slow pull back to each stock's level, so 13 years stay plausible


def synthetic_symbols(n: int = UNIVERSE_SIZE) -> tuple[str, ...]:
    """The tickers of a universe of ``n``: ``SYN000``, ``SYN001``, ... (four digits from 1000 on)."""
    width = max(3, len(str(n - 1)))
    return tuple(f"{TICKER_PREFIX}{i:0{width}d}" for i in range(n))


def is_synthetic_symbol(symbol: str) -> bool:
    """True for a synthetic ticker (``SYN`` followed by digits only)."""
    s = symbol.upper()
    return s.startswith(TICKER_PREFIX) and s[len(TICKER_PREFIX):].isdigit() and len(s) > len(TICKER_PREFIX)


@dataclass(frozen=True, eq=False)
class SyntheticUniverse:
    """The daily bar store of the synthetic tickers and their point-in-time fundamentals."""

    store: BarArrays
    fundamentals: pd.DataFrame
    sectors: dict[str, int]
    seed: int
    series: tuple[AssetSeries, ...]


def _draw(seed: int, stream: int, sids: np.ndarray) -> np.ndarray:
    """One uniform (0, 1) per sid: a fixed trait of each ticker."""
    return counter_rng.uniform(seed, stream, sids, np.zeros(1, dtype=np.int64))[0]


def check_universe(name: str | None) -> str | None:
    """``name`` normalised ('' and None mean none); a DataError for an unknown universe."""
    if name in (None, "", "None", "none"):
        return None
    text = str(name).strip().lower()
    if text not in UNIVERSES:
        raise DataError(f"unknown universe {name!r}: use --universe synthetic (UNIVERSE = 'synthetic' in "
                        f"settings.py) to add the seeded synthetic tickers, or leave it out")
    return text


@functools.lru_cache(maxsize=4)
def build_synthetic_universe(
    n: int = UNIVERSE_SIZE,
    start: str = UNIVERSE_START,
    end: str = UNIVERSE_END,
    seed: int = UNIVERSE_SEED,
    calendar_name: str = "XNYS",
) -> SyntheticUniverse:
    """The synthetic universe of ``n`` tickers over the sessions ``start..end`` (cached per process).

    The same arguments always give the same bars, actions and fundamentals. A ticker's traits (level, volatility,
    sector, listing, split, dividends) depend only on its symbol and the seed, so ``SYN007`` is the same stock in
    a universe of 300 and one of 500 (over the same dates).
    """
    if n < 1:
        raise DataError("a synthetic universe needs at least one ticker")
    cal = get_calendar(calendar_name)
    k0, k1 = cal.session_index_on_or_after(start), cal.session_index_on_or_before(end)
    if k1 <= k0 + 20:
        raise DataError(f"the synthetic universe needs more than 20 sessions, got {start}..{end}")
    symbols = synthetic_symbols(n)
    sids = np.array([stable_sid(s) for s in symbols], dtype=np.int64)
    if len(np.unique(sids)) != n:
        raise DataError("two synthetic tickers share a sid; use a smaller universe")
    days = cal.sessions[k0 : k1 + 1].astype("datetime64[D]").astype(np.int64)
    n_days = len(days)

    sector_idx = np.minimum((_draw(seed, 30, sids) * len(SECTOR_CODES)).astype(np.int64), len(SECTOR_CODES) - 1)
    level = 10.0 ** (1.0 + 1.5 * _draw(seed, 31, sids))
    annual_vol = 0.15 + 0.45 * _draw(seed, 32, sids)
    base_volume = 10.0 ** (5.0 + 2.0 * _draw(seed, 33, sids))
    shares = np.round(10.0 ** (7.0 + 2.5 * _draw(seed, 34, sids)), -3)
    beta = 0.5 + _draw(seed, 35, sids)
    listing_u, delisting_u = _draw(seed, 36, sids), _draw(seed, 37, sids)
    split_u, pay_u = _draw(seed, 38, sids), _draw(seed, 39, sids)

    # returns: beta x market + sector + own noise (the market and sector draws are keyed by fixed pseudo-sids)
    daily_vol = annual_vol / np.sqrt(252.0)
    market = counter_rng.normal(seed, 40, np.array([0]), days)[:, 0] * 0.01
    sector_moves = counter_rng.normal(seed, 41, np.arange(len(SECTOR_CODES)), days) * 0.006
    own = counter_rng.normal(seed, 42, sids, days)
    shocks = beta * market[:, None] + sector_moves[:, sector_idx] + daily_vol * own
    shocks[0] = 0.0
    log_adj = np.log(level) + _ar1(shocks, 1.0 - 1.0 / _REVERSION)
    adj_close = np.exp(log_adj)
    adj_prev = np.exp(np.concatenate([np.log(level)[None, :], log_adj[:-1]]))
    g = counter_rng.normal
    adj_open = adj_prev * np.exp(0.3 * daily_vol * g(seed, 43, sids, days))
    adj_high = np.maximum(adj_open, adj_close) * np.exp(0.6 * daily_vol * np.abs(g(seed, 44, sids, days)))
    adj_low = np.minimum(adj_open, adj_close) * np.exp(-0.6 * daily_vol * np.abs(g(seed, 45, sids, days)))
    move = np.abs(shocks) / daily_vol
    adj_volume = base_volume * np.exp(0.3 * g(seed, 46, sids, days)) * (0.8 + 0.2 * move)

    # listing windows (index into days): late listings and delistings
    first = np.where(listing_u < _LATE_LISTING, (listing_u / _LATE_LISTING * 0.8 * n_days).astype(np.int64), 0)
    last = np.where(delisting_u < _DELISTING,
                    (n_days * (0.55 + 0.4 * delisting_u / _DELISTING)).astype(np.int64), n_days - 1)
    last = np.maximum(last, first + 40)
    last = np.minimum(last, n_days - 1)

    # corporate actions per ticker: (row, ratio) splits and (row, quarterly yield) dividends
    split_at = _draw(seed, 47, sids)
    pay_offset = _draw(seed, 48, sids)
    split_rows: dict[int, tuple[int, float]] = {}
    pay_rows: dict[int, list[tuple[int, float]]] = {}
    for j in range(n):
        a, b = int(first[j]), int(last[j])
        if split_u[j] < _SPLITTING and b - a > 120:
            ratio = SPLIT_RATIOS[int(split_u[j] / _SPLITTING * len(SPLIT_RATIOS)) % len(SPLIT_RATIOS)]
            split_rows[j] = (a + 60 + int(split_at[j] * (b - a - 120)), ratio)
        if pay_u[j] < _PAYING:
            quarterly_yield = 0.0025 + 0.0075 * pay_u[j] / _PAYING
            pay_rows[j] = [(r, quarterly_yield) for r in range(a + 20 + int(pay_offset[j] * 63), b + 1, 63)]
    # price factor F[t]: product of the multipliers of the events after t; raw prices = adjusted / F
    price_f = np.ones((n_days, n))
    volume_f = np.ones((n_days, n))
    share_count = np.repeat(shares[None, :], n_days, axis=0)
    for j, (r, ratio) in split_rows.items():
        price_f[:r, j] /= ratio
        volume_f[:r, j] *= ratio
        share_count[r:, j] = np.round(shares[j] * ratio)
    for j, events in pay_rows.items():
        for r, y in events:
            price_f[:r, j] *= 1.0 - y
    tick = np.full(n, 0.01)
    o, h, lo_, c = (_round_to_tick(x / price_f, tick) for x in (adj_open, adj_high, adj_low, adj_close))
    h = np.maximum(h, np.maximum(o, c))
    lo_ = np.maximum(np.minimum(lo_, np.minimum(o, c)), 0.01)
    v = np.maximum(np.round(adj_volume / volume_f), 100.0)

    series: list[AssetSeries] = []
    for j, symbol in enumerate(symbols):
        a, b = int(first[j]), int(last[j])
        sid = int(sids[j])
        splits = tuple(Split(sid, pd.Timestamp(cal.sessions[k0 + r]), ratio) for r, ratio in [split_rows[j]]
                       ) if j in split_rows else ()
        amounts = [(r, float(np.round(y * c[r - 1, j], 2))) for r, y in pay_rows.get(j, ())]
        dividends = tuple(Dividend(sid, pd.Timestamp(cal.sessions[k0 + r]), amt) for r, amt in amounts
                          if r > a and amt > 0)
        asset = Asset(sid, symbol, primary_exchange="NYSE" if j % 3 == 0 else "NASDAQ",
                      asset_name=f"SYNTHETIC STOCK {symbol[len(TICKER_PREFIX):]}",
                      start_date=pd.Timestamp(cal.sessions[k0 + a]), end_date=pd.Timestamp(cal.sessions[k0 + b]))
        rows = slice(a, b + 1)
        series.append(AssetSeries(asset, cal.closes[k0 + a : k0 + b + 1], o[rows, j], h[rows, j], lo_[rows, j],
                                  c[rows, j], v[rows, j], splits, dividends))
    # fundamentals: from each month's first session after the first close, values as of the previous close
    month_first = np.flatnonzero(np.diff(days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64),
                                         prepend=-1) != 0)
    rr, jj = np.nonzero((month_first[:, None] > first[None, :]) & (month_first[:, None] <= last[None, :]))
    known = month_first[rr]
    table = pd.DataFrame({
        "date": cal.sessions[k0 + known],
        "symbol": np.array(symbols, dtype=object)[jj],
        "sector": np.array(SECTOR_CODES, dtype=np.int64)[sector_idx[jj]],
        "market_cap": np.round(share_count[known - 1, jj] * c[known - 1, jj], 0),
        "shares_outstanding": share_count[known - 1, jj],
    })
    store = assemble(cal, DAILY, series, k0, k1)
    sectors = {s: SECTOR_CODES[int(sector_idx[j])] for j, s in enumerate(symbols)}
    return SyntheticUniverse(store, table, sectors, seed, tuple(series))


def fundamentals_table(n: int = UNIVERSE_SIZE, seed: int = UNIVERSE_SEED) -> pd.DataFrame:
    """The point-in-time fundamentals of the default synthetic universe (a copy: date, symbol, sector, ...)."""
    return build_synthetic_universe(n, seed=seed).fundamentals.copy()


def write_fundamentals(path: str | Path, n: int = UNIVERSE_SIZE, seed: int = UNIVERSE_SEED) -> Path:
    """Write :func:`fundamentals_table` to ``path`` (.csv or .parquet) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = fundamentals_table(n, seed)
    if out.suffix.lower() == ".parquet":
        table.to_parquet(out, index=False)
    else:
        table.assign(date=table["date"].dt.strftime("%Y-%m-%d")).to_csv(out, index=False)
    return out


def with_universe(base: BarArrays, universe: str | None) -> BarArrays:
    """``base`` plus the synthetic tickers when ``universe`` is 'synthetic' (``base`` itself when None)."""
    name = check_universe(universe)
    if name is None:
        return base
    extra = build_synthetic_universe(calendar_name=base.calendar.name)
    return combine_stores(base, extra=extra.series, first_session=extra.store.first_session,
                          last_session=extra.store.last_session)


def combine_stores(
    *stores: BarArrays,
    extra: tuple[AssetSeries, ...] = (),
    first_session: int | None = None,
    last_session: int | None = None,
) -> BarArrays:
    """One daily store with the assets of all ``stores`` (same calendar) and the ``extra`` series, over the union
    of their sessions (and of ``first_session..last_session`` when given)."""
    if not stores:
        raise DataError("combine_stores needs at least one store")
    cal: TradingCalendar = stores[0].calendar
    seen: set[int] = set()
    series: list[AssetSeries] = []
    for store in stores:
        if store.frequency != DAILY or store.calendar.name != cal.name:
            raise DataError("only daily stores on one calendar can be combined")
        for col, asset in enumerate(store.assets):
            if asset.sid in seen:
                raise DataError(f"{asset.symbol} is in two of the combined stores")
            seen.add(asset.sid)
            listed = np.flatnonzero(~np.isnan(store.volume[:, col]))
            series.append(AssetSeries(
                asset, store.times[listed], store.open[listed, col], store.high[listed, col],
                store.low[listed, col], store.close[listed, col], store.volume[listed, col],
                tuple(s for s in store.splits if s.sid == asset.sid),
                tuple(d for d in store.dividends if d.sid == asset.sid),
            ))
    for s in extra:
        if s.asset.sid in seen:
            raise DataError(f"{s.asset.symbol} is in two of the combined stores")
        seen.add(s.asset.sid)
        series.append(s)
    first = min([s.first_session for s in stores] + ([first_session] if first_session is not None else []))
    last = max([s.last_session for s in stores] + ([last_session] if last_session is not None else []))
    return assemble(cal, DAILY, series, first, last)
