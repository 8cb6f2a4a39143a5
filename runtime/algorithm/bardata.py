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
history's last row is today's partial bar. Prices are split-adjusted as of the current simulation time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from runtime.core.assets import Asset
from runtime.data.portal import ALL_FIELDS, DataPortal
from runtime.errors import HistoryError

_NAT = np.iinfo(np.int64).min


@dataclass
class SimTime:
    """Where the engine's clock is: the instant and the rows of the stores it maps to."""

    now_ns: int = 0
    session: int = -1  # calendar session index of the current/last session
    daily_row: int = -1  # last COMPLETED daily row at now (daily mode: the current bar's row)
    minute_row: int = -1  # current minute row (minute mode)
    bar_row: int = -1  # row of the current bar in the store that drives the run (daily or minute)
    in_session: bool = False


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
        self._column_index_cache: dict[tuple[int, ...], pd.Index] = {}
        self._lookup_cache: dict[tuple[int, ...], tuple[list[Asset], np.ndarray]] = {}

    def set_portal(self, portal: DataPortal, assets_changed: bool = True) -> None:
        """Read from ``portal`` from now on (live runs refresh the data as bars arrive)."""
        self._portal = portal
        if assets_changed:
            self._lookup_cache.clear()

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

    def _assets_and_columns(self, assets: object) -> tuple[list[Asset], bool, np.ndarray]:
        """Resolved assets, whether a list was given, and their store columns (cached per set of assets)."""
        if isinstance(assets, Asset):
            key: tuple[int, ...] = (assets.sid,)
            many = False
        elif _is_listlike(assets):
            try:
                key = tuple(a.sid for a in assets)  # type: ignore[union-attr]
            except AttributeError:  # symbols or sids: resolve first
                key = tuple(self._resolve(a).sid for a in assets)  # type: ignore[union-attr]
            many = True
        else:
            key = (self._resolve(assets).sid,)
            many = False
        hit = self._lookup_cache.get(key)
        if hit is None:
            asset_list = [self._resolve(a) for a in assets] if many else [self._resolve(assets)]  # type: ignore
            hit = (asset_list, self._portal.columns(asset_list))
            if len(self._lookup_cache) < 4096:
                self._lookup_cache[key] = hit
        return hit[0], many, hit[1]

    def _asset_index(self, assets: list[Asset]) -> pd.Index:
        key = tuple(a.sid for a in assets)
        idx = self._column_index_cache.get(key)
        if idx is None:
            idx = pd.Index(assets, dtype=object)
            self._column_index_cache[key] = idx
        return idx

    def values_now(self, cols: np.ndarray, field: str) -> np.ndarray:
        """Raw current values of ``field`` for store columns ``cols``: the current bar's, or outside market hours
        the last bar's (zipline uses the last close). The engine sizes orders with the same values."""
        c = self._clock
        portal = self._portal
        if self._frequency == "minute" and portal.minute is not None:
            return portal.current_minute(c.minute_row, cols, field)
        return portal.current_daily(c.daily_row, cols, field)

    # ------------------------------------------------------------------------------------------------- current
    def current(self, assets: object, fields: object):
        """The current value of ``fields`` for ``assets``.

        ``price`` is the last known close (forward-filled; NaN if the asset never traded); ``open``, ``high``,
        ``low``, ``close`` are NaN for a bar without trades and ``volume`` is 0; ``last_traded`` is a Timestamp.
        """
        asset_list, many_assets, cols = self._assets_and_columns(assets)
        names, many_fields = self._fields(fields)
        columns = {f: self._convert(f, self.values_now(cols, f)) for f in names}
        if not many_assets and not many_fields:
            return columns[names[0]][0]
        if not many_assets:
            return pd.Series([columns[f][0] for f in names], index=pd.Index(names), name=asset_list[0], dtype=object
                             if "last_traded" in names else float)
        if not many_fields:
            return pd.Series(columns[names[0]], index=self._asset_index(asset_list), name=names[0])
        return pd.DataFrame({f: columns[f] for f in names}, index=self._asset_index(asset_list))

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
        freq = {"1d": "1d", "daily": "1d", "1m": "1m", "minute": "1m"}.get(frequency)
        if freq is None:
            raise HistoryError(f"frequency must be '1d' or '1m', got {frequency!r}")
        asset_list, many_assets, cols = self._assets_and_columns(assets)
        names, many_fields = self._fields(fields)
        if "last_traded" in names:
            raise HistoryError("'last_traded' is not available in history; use data.current(asset, 'last_traded')")
        blocks: dict[str, np.ndarray] = {}
        index: pd.DatetimeIndex | None = None
        for f in names:
            blocks[f], index = self._window(cols, f, int(bar_count), freq)
        assert index is not None
        if not many_fields:
            values = blocks[names[0]]
            if not many_assets:
                return pd.Series(values[:, 0], index=index, name=asset_list[0])
            return pd.DataFrame(values, index=index, columns=self._asset_index(asset_list), copy=False)
        if not many_assets:
            return pd.DataFrame({f: blocks[f][:, 0] for f in names}, index=index)
        n_assets = len(asset_list)
        mi = pd.MultiIndex.from_arrays(
            [np.repeat(index, n_assets), np.tile(np.asarray(asset_list, dtype=object), len(index))],
            names=["date", "asset"],
        )
        return pd.DataFrame({f: blocks[f].reshape(-1) for f in names}, index=mi)

    def _window(self, cols: np.ndarray, field: str, n: int, freq: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
        portal, c = self._portal, self._clock
        if freq == "1m":
            if portal.minute is None:
                raise HistoryError("'1m' history needs minute data: run the backtest with --frequency minute")
            return portal.history_window(portal.minute, c.minute_row, n, cols, field)
        if self._frequency == "minute" and portal.minute is not None and c.minute_row >= 0 and c.in_session:
            # completed sessions plus today's partial bar
            today_row = c.session - portal.daily.bars.first_session
            if n > 1:
                values, index = portal.history_window(portal.daily, today_row - 1, n - 1, cols, field)
                values = values * self._rescale(today_row, cols, field)
            else:
                values = np.empty((0, len(cols)))
                index = portal.daily.index[:0]
            partial = portal.partial_daily_bar(c.minute_row, cols, field)
            values = np.vstack([values, partial[None, :]])
            label = portal.daily.bars.calendar.sessions[c.session]
            return values, index.append(pd.DatetimeIndex([label]))
        return portal.history_window(portal.daily, c.daily_row, n, cols, field)

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
        asset_list, many, cols = self._assets_and_columns(assets)
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
        return pd.Series(out, index=self._asset_index(asset_list))

    def is_stale(self, assets: object):
        """Whether each asset traded before but not in the current bar."""
        asset_list, many, cols = self._assets_and_columns(assets)
        c = self._clock
        if self._frequency == "minute" and self._portal.minute is not None:
            frame, row = self._portal.minute, c.minute_row
        else:
            frame, row = self._portal.daily, c.daily_row
        last = self._portal.last_trade_row(frame, row, cols)
        out = (last >= 0) & (last != row) & (cols >= 0)
        if not many:
            return bool(out[0])
        return pd.Series(out, index=self._asset_index(asset_list))

    @property
    def current_dt(self) -> pd.Timestamp:
        """The current simulation time (UTC)."""
        return pd.Timestamp(self._clock.now_ns, tz="UTC")

    @property
    def current_session(self) -> pd.Timestamp:
        """The label of the current session."""
        return self._portal.daily.bars.calendar.session_label(self._clock.session)

    def __repr__(self) -> str:
        return f"BarData({self.current_dt})"
