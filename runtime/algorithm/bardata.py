"""``data``: the BarData object handed to ``handle_data`` and scheduled functions.

Return types and shapes are zipline-reloaded's:

=================  ==========================  ====================================================
call               one field (str)             list of fields
=================  ==========================  ====================================================
current(asset)     scalar                      Series indexed by field
current([assets])  Series indexed by asset     DataFrame (rows assets, columns fields)
history(asset)     Series (DatetimeIndex)      DataFrame (bar_count x fields)
history([assets])  DataFrame (bars x assets)   DataFrame, (date, asset) MultiIndex, columns fields
=================  ==========================  ====================================================

Daily history is indexed by session labels, minute history by UTC minute-end timestamps. In minute mode, a '1d'
history's last row is today's partial bar. Prices are split-adjusted as of the current simulation time and, for
equities, rounded to 3 decimals as zipline rounds its history windows (the partial bar of today is not rounded,
as in zipline).

Every Series and DataFrame returned is an :class:`~runtime.algorithm.frames.AlgoSeries` /
:class:`~runtime.algorithm.frames.AlgoFrame`: integer keys on their datetime index are positions, as on Quantopian
(``prices[-1]``, ``hist[-2]``), under pandas 2 and 3.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from runtime.algorithm.frames import AlgoFrame, AlgoSeries
from runtime.algorithm.legacy import LegacyBar
from runtime.core.assets import Asset, SecType
from runtime.data.frames import frame_builder
from runtime.data.portal import ALL_FIELDS, Columns, DataPortal, Frame
from runtime.engine.state import SimTime
from runtime.errors import HistoryError

#: data.current's quote fields (IB's streaming quote in paper and live runs; the trade bars in backtests)
QUOTE_FIELDS = ("bid", "ask", "bid_size", "ask_size")

_NAT = np.iinfo(np.int64).min
_FREQUENCIES = {"1d": "1d", "daily": "1d", "1m": "1m", "minute": "1m"}
_MEMO_LIMIT = 64
_LOOKUP_LIMIT = 4096
#: decimals of zipline's history windows for equities (its DEFAULT_ASSET_PRICE_DECIMALS)
_EQUITY_DECIMALS = 3


@dataclass(eq=False, slots=True)
class _Lookup:
    """Resolved assets of one ``assets`` argument, whether it was a list, their store columns and (once asked for)
    the column index of the frames built for them."""

    assets: list[Asset]
    many: bool
    columns: Columns
    index: pd.Index | None = None
    #: whether each asset is an equity (zipline rounds equities' history windows to 3 decimals)
    equity: np.ndarray | None = None
    #: per (frame, field): the frame and the positions of the columns whose windows need rounding
    to_round: dict[str, tuple[Frame, np.ndarray]] | None = None

    @classmethod
    def of(cls, assets: list[Asset], many: bool, columns: Columns) -> _Lookup:
        equity = np.fromiter((a.sec_type is SecType.STOCK for a in assets), dtype=bool, count=len(assets))
        return cls(assets, many, columns, equity=equity, to_round={})

    def rounded(self, values: np.ndarray, field: str, frame: Frame, always: bool = False) -> np.ndarray:
        """``values`` (a window of ``field`` from ``frame``, rows x these assets) with the equities' columns rounded
        to 3 decimals as zipline rounds history windows. Columns whose windows are already rounded (no price
        adjustments, prices with at most 3 decimals) are left as they are unless ``always``; the input is never
        written to (it may be a view of the store)."""
        if field == "volume":
            return values
        if always:
            positions = np.flatnonzero(self.equity)
        else:
            assert self.to_round is not None and self.equity is not None
            known = self.to_round.get(field)
            if known is not None and known[0] is frame:
                positions = known[1]
            else:
                exact = frame.exact_at(field, _EQUITY_DECIMALS)[self.columns.safe] | self.columns.missing
                positions = np.flatnonzero(self.equity & ~exact)
                self.to_round[field] = (frame, positions)
        if not len(positions):
            return values
        if len(positions) == values.shape[1]:
            return values.round(_EQUITY_DECIMALS)
        out = values.copy()
        out[:, positions] = values[:, positions].round(_EQUITY_DECIMALS)
        return out


_build_frame = frame_builder(AlgoFrame)


def _is_listlike(x: object) -> bool:
    return isinstance(x, (list, tuple, set, frozenset, pd.Index, pd.Series, np.ndarray)) or (
        isinstance(x, Iterable) and not isinstance(x, (str, bytes, Asset))
    )


class BarData:
    """Market data for the algorithm at the current simulation (or live) time."""

    def __init__(
        self,
        portal: DataPortal,
        clock: SimTime,
        frequency: str,
        resolve: callable,
        restricted: callable,
    ) -> None:
        self._portal = portal
        self._clock = clock
        self._frequency = frequency
        self._resolve = resolve
        self._restricted = restricted
        #: a single asset's sid (int) or a list's sids (tuple) -> lookup: a single asset and a one-element list
        #: differ (a scalar / Series result against a Series / DataFrame)
        self._lookup_cache: dict[int | tuple[int, ...], _Lookup] = {}
        #: id(argument) -> (argument, its items when it is a list, lookup): the same list or tuple passed again
        self._memo: dict[int, tuple[object, tuple | None, _Lookup]] = {}
        #: columns loaded by fetch_csv (runtime.algorithm.fetcher.FetchedData), None without a fetch
        self._fetched: Any = None

    def set_fetched(self, fetched: Any) -> None:
        """Serve the columns ``fetch_csv`` loaded through :meth:`current` from now on."""
        self._fetched = fetched

    def set_portal(self, portal: DataPortal, assets_changed: bool = True) -> None:
        """Read from ``portal`` from now on (live runs refresh the data as bars arrive)."""
        self._portal = portal
        if assets_changed:
            self._lookup_cache.clear()
            self._memo.clear()

    # ------------------------------------------------------------------------------------------------ helpers
    @staticmethod
    def _fields(fields: object) -> tuple[list[str], bool]:
        if isinstance(fields, str):
            names, many = [fields], False
        elif _is_listlike(fields):
            names, many = list(fields), True
        else:
            raise HistoryError(f"fields must be a field name or a list of names, got {fields!r}")
        for f in names:
            if f not in ALL_FIELDS:
                raise HistoryError(f"unknown field {f!r}: use one of {', '.join(ALL_FIELDS)}")
        return names, many

    def _lookup(self, assets: object) -> _Lookup:
        """The resolved assets and columns of ``assets``: cached per set of assets, and per list or tuple object
        (a list passed again with the same items is found without resolving them)."""
        memo = self._memo.get(id(assets))
        if memo is not None and memo[0] is assets and (memo[1] is None or memo[1] == tuple(assets)):  # type: ignore
            return memo[2]
        key: int | tuple[int, ...]
        if isinstance(assets, Asset):
            key = assets.sid
            many = False
        elif _is_listlike(assets):
            try:
                key = tuple(a.sid for a in assets)  # type: ignore[union-attr]
            except AttributeError:  # symbols or sids: resolve first
                key = tuple(self._resolve(a).sid for a in assets)  # type: ignore[union-attr]
            many = True
        else:
            key = self._resolve(assets).sid
            many = False
        hit = self._lookup_cache.get(key)
        if hit is None:
            asset_list = [self._resolve(a) for a in assets] if many else [self._resolve(assets)]  # type: ignore
            hit = _Lookup.of(asset_list, many, Columns.of(self._portal.columns(asset_list)))
            if len(self._lookup_cache) < _LOOKUP_LIMIT:
                self._lookup_cache[key] = hit
        kind = type(assets)
        if (kind is list or kind is tuple or kind is Asset) and len(self._memo) < _MEMO_LIMIT:
            self._memo[id(assets)] = (assets, tuple(assets) if kind is list else None, hit)  # type: ignore
        return hit

    @staticmethod
    def _column_index(hit: _Lookup) -> pd.Index:
        if hit.index is None:
            hit.index = pd.Index(hit.assets, dtype=object)
        return hit.index

    def values_now(self, cols: np.ndarray, field: str) -> np.ndarray:
        """Raw current values of ``field`` for store columns ``cols``: the current bar's, or outside market hours
        the last bar's (zipline uses the last close). The engine sizes orders with the same values."""
        c = self._clock
        portal = self._portal
        if self._frequency == "minute" and portal.minute is not None:
            return portal.current_minute(c.minute_row, cols, field)
        return portal.current_daily(c.daily_row, cols, field)

    def price_now(self, col: int) -> float:
        """The current price of store column ``col`` as :meth:`values_now` gives it, as a float."""
        c = self._clock
        portal = self._portal
        if self._frequency == "minute" and portal.minute is not None:
            return portal.price_at(portal.minute, c.minute_row, col)
        return portal.price_at(portal.daily, c.daily_row, col)

    # ------------------------------------------------------------------------------------------------- current
    def current(self, assets: object, fields: object):
        """The current value of ``fields`` for ``assets``.

        ``price`` is the last known close (forward-filled; NaN if the asset never traded); ``open``, ``high``,
        ``low``, ``close`` are NaN for a bar without trades and ``volume`` is 0; ``last_traded`` is a Timestamp.

        Quote fields (one at a time: ``data.current(asset, 'bid')``): ``bid``, ``ask``, ``bid_size``, ``ask_size``.
        Paper and live runs: IB's streaming quote (the bar's price / volume before the first quote). Backtests: the
        bars hold trades only, so bid and ask are ``price`` (no spread) and the sizes are the bar's ``volume``.
        """
        if isinstance(fields, str) and fields in QUOTE_FIELDS:
            return self._quote_field(assets, fields)
        hit = self._lookup(assets)
        if self._fetched is not None:
            return self._current_with_fetched(hit, fields)
        names, many_fields = self._fields(fields)
        cols = hit.columns.cols
        columns = {f: self._convert(f, self.values_now(cols, f)) for f in names}
        return self._shape_current(hit, names, many_fields, columns)

    def _shape_current(self, hit: _Lookup, names: list[str], many_fields: bool, columns: dict):
        asset_list, many_assets = hit.assets, hit.many
        if not many_assets and not many_fields:
            return columns[names[0]][0]
        if not many_assets:
            return AlgoSeries([columns[f][0] for f in names], index=pd.Index(names), name=asset_list[0],
                              dtype=object if "last_traded" in names else float)
        if not many_fields:
            return AlgoSeries(columns[names[0]], index=self._column_index(hit), name=names[0])
        return AlgoFrame({f: columns[f] for f in names}, index=self._column_index(hit))

    def _current_with_fetched(self, hit: _Lookup, fields: object):
        """:meth:`current` when fetch_csv loaded columns: a fetched column (or any field of a fetch_csv
        pseudo-asset) is its latest visible value, forward-filled; other fields come from the bars."""
        fetched, cols = self._fetched, hit.columns.cols
        names = [fields] if isinstance(fields, str) else list(fields) if _is_listlike(fields) else None
        if names is None:
            raise HistoryError(f"fields must be a field name or a list of names, got {fields!r}")
        for f in names:
            if f not in ALL_FIELDS and not fetched.has(f):
                raise HistoryError(f"unknown field {f!r}: use one of {', '.join(ALL_FIELDS)} or a column fetch_csv "
                                   f"loaded ({', '.join(sorted(fetched.fields))})")
        now = self._clock.now_ns
        columns: dict[str, Any] = {}
        for f in names:
            bars = self._convert(f, self.values_now(cols, f)) if f in ALL_FIELDS else None
            from_fetch = [i for i, a in enumerate(hit.assets) if fetched.has(f) and (bars is None or cols[i] < 0)]
            if not from_fetch:
                columns[f] = bars
                continue
            values = np.array([np.nan] * len(cols), dtype=object) if bars is None else np.array(bars, dtype=object)
            for i in from_fetch:
                values[i] = fetched.value(hit.assets[i], f, now)
            with contextlib.suppress(TypeError, ValueError):  # text columns stay objects
                values = values.astype(float)
            columns[f] = values
        return self._shape_current(hit, names, not isinstance(fields, str), columns)

    @property
    def fetcher_assets(self) -> list[Asset]:
        """The assets of fetch_csv data (pseudo-assets included) with a row visible now (zipline's name)."""
        return [] if self._fetched is None else self._fetched.assets_as_of(self._clock.now_ns)
    def set_quote_source(self, source: Callable[[Asset], Any] | None) -> None:
        """Paper and live runs: where IB's streaming quotes come from (an asset -> a quote with bid, ask, sizes)."""
        self._quote_source = source

    def _quote_field(self, assets: object, field: str):
        hit = self._lookup(assets)
        fallback = self.values_now(hit.columns.cols, "volume" if field.endswith("_size") else "price")
        source = getattr(self, "_quote_source", None)
        values = []
        for asset, base in zip(hit.assets, fallback):
            quote = source(asset) if source is not None else None
            value = getattr(quote, field, None) if quote is not None else None
            values.append(float(value) if value is not None and value == value and value >= 0 else float(base))
        if not hit.many:
            return values[0]
        return pd.Series(values, index=self._column_index(hit), name=field)

    @staticmethod
    def _convert(field: str, values: np.ndarray):
        if field == "last_traded":
            return pd.DatetimeIndex(np.where(values == _NAT, np.datetime64("NaT"), values.view("datetime64[ns]")),
                                    tz="UTC") if len(values) else pd.DatetimeIndex([], tz="UTC")
        return values

    # ------------------------------------------------------------------------------------------------- history
    def history(self, assets: object, fields: object, bar_count: int, frequency: str):
        """The last ``bar_count`` bars of ``fields`` for ``assets`` at ``frequency`` ('1d' or '1m').

        Shapes as in the module docstring. In minute mode the last '1d' row is today's partial bar. ``price`` is
        forward-filled; other fields are not. ``bar_count`` must be at least 1.
        """
        if not isinstance(bar_count, (int, np.integer)) or isinstance(bar_count, bool) or bar_count < 1:
            raise HistoryError(f"bar_count must be a whole number >= 1, got {bar_count!r}")
        freq = _FREQUENCIES.get(frequency)
        if freq is None:
            raise HistoryError(f"frequency must be '1d' or '1m', got {frequency!r}")
        hit = self._lookup(assets)
        asset_list, many_assets = hit.assets, hit.many
        if self._fetched is not None:
            extra = [f for f in ([fields] if isinstance(fields, str) else fields if _is_listlike(fields) else [])
                     if f not in ALL_FIELDS and self._fetched.has(f)]
            if extra:
                raise HistoryError(f"data.history does not include columns loaded by fetch_csv ({extra[0]!r}), as on "
                                   "Quantopian: read the value with data.current each bar and keep your own window, "
                                   "or compute the window in fetch_csv's pre_func/post_func")
        names, many_fields = self._fields(fields)
        if "last_traded" in names:
            raise HistoryError("'last_traded' is not available in history; use data.current(asset, 'last_traded')")
        blocks: dict[str, np.ndarray] = {}
        index: pd.DatetimeIndex | None = None
        for f in names:
            blocks[f], index = self._window(hit, f, int(bar_count), freq)
        assert index is not None
        if not many_fields:
            values = blocks[names[0]]
            if not many_assets:
                return AlgoSeries(values[:, 0], index=index, name=asset_list[0])
            return _build_frame(values, index, self._column_index(hit))
        if not many_assets:
            return AlgoFrame({f: blocks[f][:, 0] for f in names}, index=index)
        n_assets = len(asset_list)
        mi = pd.MultiIndex.from_arrays(
            [np.repeat(index, n_assets), np.tile(np.asarray(asset_list, dtype=object), len(index))],
            names=["date", "asset"],
        )
        return AlgoFrame({f: blocks[f].reshape(-1) for f in names}, index=mi)

    def _window(self, hit: _Lookup, field: str, n: int, freq: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
        portal, c = self._portal, self._clock
        columns = hit.columns
        cols = columns.cols
        if freq == "1m":
            if portal.minute is None:
                raise HistoryError("'1m' history needs minute data: run the backtest with --frequency minute")
            values, index = portal.history_window(portal.minute, c.minute_row, n, columns, field)
            return hit.rounded(values, field, portal.minute), index
        if self._frequency == "minute" and portal.minute is not None and c.minute_row >= 0 and c.in_session:
            # completed sessions plus today's partial bar
            today_row = c.session - portal.daily.bars.first_session
            if n > 1:
                values, index = portal.history_window(portal.daily, today_row - 1, n - 1, columns, field)
                values = hit.rounded(values * self._rescale(today_row, cols, field), field, portal.daily, True)
            else:
                values = np.empty((0, len(cols)))
                index = portal.daily.index[:0]
            partial = portal.partial_daily_bar(c.minute_row, cols, field)
            values = np.vstack([values, partial[None, :]])
            label = portal.daily.bars.calendar.sessions[c.session]
            return values, index.append(pd.DatetimeIndex([label]))
        values, index = portal.history_window(portal.daily, c.daily_row, n, columns, field)
        return hit.rounded(values, field, portal.daily), index

    def _rescale(self, today_row: int, cols: np.ndarray, field: str) -> np.ndarray:
        """Factor that moves a window adjusted as of yesterday to as of today (a split effective today)."""
        bars = self._portal.daily.bars
        if today_row < 1 or today_row >= bars.price_factor.shape[0] or field == "volume":
            return np.ones(len(cols))
        safe = np.where(cols < 0, 0, cols)
        return bars.price_factor[today_row - 1, safe] / bars.price_factor[today_row, safe]

    # ------------------------------------------------------------------------------------------------- status
    def can_trade(self, assets: object):
        """Whether each asset can be traded now: held in the data, listed, not restricted, market open, priced."""
        hit = self._lookup(assets)
        asset_list, many, cols = hit.assets, hit.many, hit.columns.cols
        price = self.values_now(cols, "price")
        open_now = self._clock.in_session or self._frequency == "daily"
        session = self._portal.daily.bars.calendar.session_label(self._clock.session) if self._clock.session >= 0 \
            else None
        out = np.array(
            [
                cols[i] >= 0
                and open_now
                and not np.isnan(price[i])
                and not self._restricted(a)
                and (session is None or a.is_alive_for_session(session))
                for i, a in enumerate(asset_list)
            ],
            dtype=bool,
        )
        if not many:
            return bool(out[0])
        return AlgoSeries(out, index=self._column_index(hit))

    def is_stale(self, assets: object):
        """Whether each asset traded before but not in the current bar."""
        hit = self._lookup(assets)
        many, cols = hit.many, hit.columns.cols
        c = self._clock
        if self._frequency == "minute" and self._portal.minute is not None:
            frame, row = self._portal.minute, c.minute_row
        else:
            frame, row = self._portal.daily, c.daily_row
        last = self._portal.last_trade_row(frame, row, cols)
        out = (last >= 0) & (last != row) & (cols >= 0)
        if not many:
            return bool(out[0])
        return AlgoSeries(out, index=self._column_index(hit))

    @property
    def current_dt(self) -> pd.Timestamp:
        """The current simulation time (UTC)."""
        return pd.Timestamp(self._clock.now_ns, tz="UTC")

    @property
    def current_session(self) -> pd.Timestamp:
        """The label of the current session."""
        return self._portal.daily.bars.calendar.session_label(self._clock.session)

    # ------------------------------------------------------------------------------------------------- legacy
    def __getitem__(self, asset: object) -> LegacyBar:
        """Quantopian's pre-2016 ``data[asset].price`` / ``.mavg(n)`` / ``.returns()``... (see
        :class:`~runtime.algorithm.legacy.LegacyBar`); today: ``data.current(asset, 'price')``."""
        return LegacyBar(self, self._lookup(asset).assets[0] if not isinstance(asset, Asset) else asset)

    def __contains__(self, asset: object) -> bool:
        """Quantopian's pre-2016 ``asset in data``: the data holds the asset and it has a price now."""
        hit = self._lookup(asset)
        return bool(hit.columns.cols[0] >= 0 and not np.isnan(self.values_now(hit.columns.cols, "price")[0]))

    def __repr__(self) -> str:
        return f"BarData({self.current_dt})"
