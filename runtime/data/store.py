"""BarArrays: a dense, calendar-aligned bar store for one frequency.

Rows are bars (one per session for daily data, one per end-labelled trading minute for minute data), columns are
assets. Prices are stored UNADJUSTED; ``price_factor`` turns them into zipline's "adjusted as of the simulation time"
prices with one multiply: a price at row t seen as of row T is ``raw[t] * price_factor[t] / price_factor[T]``.

Everything here is a numpy lookup or slice: no per-bar DataFrames.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from runtime.core.assets import Asset
from runtime.core.calendar import TradingCalendar
from runtime.data.actions import Dividend, Split
from runtime.data.errors import FrequencyError, SidNotFoundError

DAILY = "daily"
MINUTE = "minute"
FREQUENCIES = (DAILY, MINUTE)
PRICE_FIELDS = ("open", "high", "low", "close")
FIELDS = (*PRICE_FIELDS, "volume")

_FREQUENCY_ALIASES = {"daily": DAILY, "1d": DAILY, "day": DAILY, "minute": MINUTE, "1m": MINUTE, "min": MINUTE}


def normalize_frequency(frequency: str) -> str:
    """'daily' or 'minute' from a user spelling ('1d', '1m', 'daily', 'minute'); FrequencyError otherwise."""
    try:
        return _FREQUENCY_ALIASES[frequency.strip().lower()]
    except (KeyError, AttributeError):
        raise FrequencyError(f"unknown bar frequency {frequency!r}: use 'daily' ('1d') or 'minute' ('1m')") from None


@dataclass(frozen=True, eq=False)
class BarArrays:
    """Bars of ``assets`` for calendar sessions ``first_session..last_session`` (indexes into ``calendar``).

    Attributes:
        frequency: 'daily' or 'minute'.
        times: int64 ns UTC bar END instant of each row (daily: the session's close; minute: the end-labelled minute).
        session_row_start: int64, length n_sessions + 1: session k covers rows
            ``session_row_start[k]:session_row_start[k + 1]`` (for daily data simply ``0, 1, 2, ...``).
        open, high, low, close, volume: float64 (n_rows, n_assets), unadjusted. OHLC are NaN in a bar without
            trades (volume 0.0 there); every field is NaN outside an asset's listing.
        price_factor, volume_factor: cumulative adjustment factors (see module docstring); volumes adjust by splits.
        splits, dividends: the corporate actions inside the covered sessions, for a ledger to apply.
    All arrays are read-only.
    """

    frequency: str
    calendar: TradingCalendar
    first_session: int
    last_session: int
    assets: tuple[Asset, ...]
    times: np.ndarray
    session_row_start: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    price_factor: np.ndarray
    volume_factor: np.ndarray
    splits: tuple[Split, ...] = ()
    dividends: tuple[Dividend, ...] = ()
    sid_to_col: dict[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.frequency not in FREQUENCIES:
            raise FrequencyError(f"frequency must be one of {FREQUENCIES}, not {self.frequency!r}")
        n_rows, n_assets = len(self.times), len(self.assets)
        if len(self.session_row_start) != self.n_sessions + 1 or int(self.session_row_start[-1]) != n_rows:
            raise ValueError("session_row_start does not match the sessions and rows")
        for name in (*FIELDS, "price_factor", "volume_factor"):
            arr = getattr(self, name)
            if arr.shape != (n_rows, n_assets) or arr.dtype != np.float64:
                raise ValueError(f"{name} must be float64 of shape {(n_rows, n_assets)}, got {arr.dtype} {arr.shape}")
        for name in ("times", "session_row_start", *FIELDS, "price_factor", "volume_factor"):
            getattr(self, name).flags.writeable = False
        object.__setattr__(self, "sid_to_col", {a.sid: i for i, a in enumerate(self.assets)})

    # ------------------------------------------------------------------------------------------------- shape
    @property
    def n_rows(self) -> int:
        return len(self.times)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def n_sessions(self) -> int:
        return self.last_session - self.first_session + 1

    @property
    def sessions(self) -> np.ndarray:
        """The covered session labels (datetime64[ns], naive midnight)."""
        return self.calendar.sessions[self.first_session : self.last_session + 1]

    @property
    def start(self) -> pd.Timestamp:
        """The first covered session."""
        return self.calendar.session_label(self.first_session)

    @property
    def end(self) -> pd.Timestamp:
        """The last covered session."""
        return self.calendar.session_label(self.last_session)

    def __repr__(self) -> str:
        symbols = ",".join(a.symbol for a in self.assets[:8]) + (",..." if self.n_assets > 8 else "")
        return f"BarArrays({self.frequency}, {self.start.date()}..{self.end.date()}, {self.n_rows} rows, [{symbols}])"

    # ---------------------------------------------------------------------------------------------- columns
    def column(self, asset: Asset | int) -> int:
        """Column of an asset or sid; SidNotFoundError if the store does not hold it."""
        sid = asset if isinstance(asset, int) else asset.sid
        try:
            return self.sid_to_col[sid]
        except KeyError:
            raise SidNotFoundError(sid) from None

    def columns(self, assets: list[Asset] | tuple[Asset, ...]) -> np.ndarray:
        """Columns of several assets, as an int64 array for fancy indexing."""
        return np.fromiter((self.column(a) for a in assets), dtype=np.int64, count=len(assets))

    def field(self, name: str) -> np.ndarray:
        """The raw array of a field ('open', 'high', 'low', 'close', 'volume')."""
        if name not in FIELDS:
            raise ValueError(f"unknown bar field {name!r}: use one of {FIELDS}")
        return getattr(self, name)

    # ------------------------------------------------------------------------------------------------- rows
    def row_of(self, ns: int) -> int:
        """The row whose bar ends exactly at instant ``ns``, or -1."""
        i = int(np.searchsorted(self.times, ns, side="left"))
        return i if i < len(self.times) and self.times[i] == ns else -1

    def row_at_or_before(self, ns: int) -> int:
        """The last row whose bar ended at or before ``ns`` (-1 if none): the latest bar known at ``ns``."""
        return int(np.searchsorted(self.times, ns, side="right")) - 1

    def rows_at_or_before(self, ns: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`row_at_or_before`."""
        return np.searchsorted(self.times, ns, side="right").astype(np.int64) - 1

    def session_rows(self, k: int) -> slice:
        """Rows of the k-th covered session (k = calendar index - first_session)."""
        return slice(int(self.session_row_start[k]), int(self.session_row_start[k + 1]))

    def session_of_row(self, row: int) -> int:
        """The covered-session offset (0-based) that row ``row`` belongs to."""
        return int(np.searchsorted(self.session_row_start, row, side="right")) - 1

    def session_offset(self, session: pd.Timestamp | str) -> int:
        """Covered-session offset of a session label; -1 if it is not a covered session."""
        i = self.calendar.session_index_on_or_before(session)
        if not self.calendar.is_session(session) or not self.first_session <= i <= self.last_session:
            return -1
        return i - self.first_session

    # ---------------------------------------------------------------------------------------------- values
    def adjusted(self, name: str, rows: slice, cols: np.ndarray | slice, as_of_row: int) -> np.ndarray:
        """Field values of ``rows`` x ``cols`` adjusted for splits (and dividends, for prices) as of ``as_of_row``.

        This is what ``data.history`` shows at simulation time ``times[as_of_row]``: corporate actions that took
        effect up to then are applied to earlier bars, later ones are not (no look-ahead).
        """
        raw = self.field(name)[rows, cols]
        factor = self.volume_factor if name == "volume" else self.price_factor
        return raw * (factor[rows, cols] / factor[as_of_row, cols])

    @functools.cached_property
    def last_traded_row(self) -> np.ndarray:
        """int64 (n_rows, n_assets): the latest row at or before each row with a trade (non-NaN close), else -1.

        Gives forward-filled prices (``close[last_traded_row[t, c], c]``), ``last_traded`` and staleness.
        """
        traded = ~np.isnan(self.close)
        idx = np.where(traded, np.arange(self.n_rows, dtype=np.int64)[:, None], -1)
        out = np.maximum.accumulate(idx, axis=0) if self.n_rows else idx
        out.flags.writeable = False
        return out

    # --------------------------------------------------------------------------------------------- slicing
    def slice_sessions(self, first: int, last: int) -> BarArrays:
        """The store restricted to calendar sessions ``first..last`` (views, no copies of the bars).

        Corporate actions are kept if their date falls inside the new range; factors stay valid (they are ratios).
        """
        if not self.first_session <= first <= last <= self.last_session:
            raise ValueError(f"sessions {first}..{last} are not inside {self.first_session}..{self.last_session}")
        r0 = int(self.session_row_start[first - self.first_session])
        r1 = int(self.session_row_start[last - self.first_session + 1])
        rows = slice(r0, r1)
        lo, hi = self.calendar.session_label(first), self.calendar.session_label(last)
        return BarArrays(
            frequency=self.frequency,
            calendar=self.calendar,
            first_session=first,
            last_session=last,
            assets=self.assets,
            times=self.times[rows],
            session_row_start=self.session_row_start[first - self.first_session : last - self.first_session + 2] - r0,
            open=self.open[rows],
            high=self.high[rows],
            low=self.low[rows],
            close=self.close[rows],
            volume=self.volume[rows],
            price_factor=self.price_factor[rows],
            volume_factor=self.volume_factor[rows],
            splits=tuple(s for s in self.splits if lo <= s.date <= hi),
            dividends=tuple(d for d in self.dividends if lo <= d.ex_date <= hi),
        )
