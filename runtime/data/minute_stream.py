"""Minute bars a chunk of sessions at a time, so a long minute backtest holds only a window of them.

:class:`MinuteStream` stands for the seeded synthetic minutes of sessions ``first..last`` that
:func:`~runtime.data.synthetic.expand_to_minutes` would give for the whole range, without making them all at once.
:meth:`MinuteStream.windows` yields :class:`MinuteWindow` stores one after the other: each adds ``chunk_sessions``
new sessions and keeps the last ``lookback_sessions`` of the window before it, so minute history windows reach back
across the edge. The bars are equal to the last bit to the whole range's (the random numbers are a function of seed,
asset and minute, and the two running sums of the generator are carried from block to block); the adjustment
factors are the whole range's too (worked out once per session: they only change at a session's first minute).

Memory is assets x (chunk + lookback) minutes, whatever the length of the range. A history window that reaches
further back than the window holds regenerates the sessions it needs (:meth:`MinuteStream.bars_between`) from the
nearest chunk start before them, and later windows keep that many sessions.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from runtime.data.builder import factors
from runtime.data.errors import DataError
from runtime.data.portal import NAT_NS, Frame, FrameCarry
from runtime.data.store import DAILY, MINUTE, BarArrays
from runtime.data.synthetic import MinuteBlock, expand_block, expand_to_minutes, whole_volumes

#: sessions each window adds (about a month of minutes)
DEFAULT_CHUNK_SESSIONS = 21
#: sessions of the window before that each window keeps, for history windows that reach back over the edge
DEFAULT_LOOKBACK_SESSIONS = 5


@dataclass(frozen=True, eq=False)
class MinuteWindow:
    """A store of minute bars of sessions ``bars.first_session..bars.last_session``; the sessions from
    ``new_session`` on are the ones it adds, the earlier ones are kept from the window before.

    ``row0`` is the run row (counted from the stream's first minute) of the store's row 0.
    """

    bars: BarArrays
    new_session: int
    row0: int

    @property
    def last_session(self) -> int:
        return self.bars.last_session


class MinuteStream:
    """The synthetic minutes of daily store ``daily`` for sessions ``first..last`` (calendar indexes), in windows.

    Args:
        daily: the daily bars the minutes agree with (see :func:`~runtime.data.synthetic.expand_to_minutes`).
        first, last: the calendar indexes of the first and last session.
        seed: the generator's seed (the same seed gives the same bars, whatever the chunking).
        chunk_sessions: sessions each window adds; lookback_sessions: sessions kept from the window before
            (at least 1, at most ``chunk_sessions``).
    """

    frequency = MINUTE

    def __init__(self, daily: BarArrays, first: int, last: int, seed: int, *,
                 chunk_sessions: int = DEFAULT_CHUNK_SESSIONS,
                 lookback_sessions: int = DEFAULT_LOOKBACK_SESSIONS) -> None:
        if daily.frequency != DAILY:
            raise DataError("a minute stream is generated from a daily store")
        if not daily.first_session <= first <= last <= daily.last_session:
            raise DataError(f"sessions {first}..{last} are not inside the daily store's "
                            f"{daily.first_session}..{daily.last_session}")
        if chunk_sessions < 1:
            raise ValueError("chunk_sessions must be at least 1")
        self.daily = daily
        self.calendar = daily.calendar
        self.assets = daily.assets
        self.sid_to_col = daily.sid_to_col
        self.first_session, self.last_session = int(first), int(last)
        self.seed = seed
        self.chunk_sessions = int(chunk_sessions)
        self.lookback_sessions = max(1, min(int(lookback_sessions), self.chunk_sessions))
        cal = self.calendar
        counts = cal.minute_counts(first, last)
        #: run row of each session's first minute (and the row count at the end)
        self.session_row_start = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        lo, hi = cal.session_label(first), cal.session_label(last)
        self.splits = tuple(x for x in daily.splits if lo <= x.date <= hi)
        self.dividends = tuple(x for x in daily.dividends if lo <= x.ex_date <= hi)
        self._whole = whole_volumes(daily, first, last)
        # the factors change only at a session's first minute: one row per session gives every minute's
        #: (price, volume) factors of each session of the range
        close_d = daily.close[first - daily.first_session : last - daily.first_session + 1]
        self.session_factors = factors(cal, np.arange(last - first + 2, dtype=np.int64), first, close_d,
                                        daily.sid_to_col, self.splits, self.dividends)
        #: calendar session -> the generator's running sums before it (the start of every block made so far)
        self._checkpoints: dict[int, tuple[np.ndarray | None, np.ndarray | None]] = {first: (None, None)}
        self._first_window: MinuteWindow | None = None

    # ------------------------------------------------------------------------------------------------- shape
    @property
    def n_rows(self) -> int:
        """Minutes in the whole range."""
        return int(self.session_row_start[-1])

    @property
    def n_sessions(self) -> int:
        return self.last_session - self.first_session + 1

    def __repr__(self) -> str:
        return (f"MinuteStream({self.calendar.session_label(self.first_session).date()}.."
                f"{self.calendar.session_label(self.last_session).date()}, {self.n_rows} minutes x "
                f"{len(self.assets)} assets, chunks of {self.chunk_sessions} sessions)")

    def materialize(self) -> BarArrays:
        """The whole range at once (what :func:`expand_to_minutes` gives; replays and REGULAR mode use it)."""
        cal = self.calendar
        return expand_to_minutes(self.daily, cal.session_label(self.first_session),
                                 cal.session_label(self.last_session), seed=self.seed)

    def grow_lookback(self, sessions: int) -> None:
        """Keep at least ``sessions`` sessions from window to window from now on (at most a chunk's)."""
        self.lookback_sessions = max(self.lookback_sessions, min(int(sessions), self.chunk_sessions))

    # ------------------------------------------------------------------------------------------------ blocks
    def _block(self, k0: int, k1: int) -> MinuteBlock:
        """Generate sessions ``k0..k1``; ``k0`` must be a checkpoint (a block start made before)."""
        walk, weight = self._checkpoints[k0]
        block = expand_block(self.daily, k0, k1, self.seed, self._whole, walk, weight)
        if k1 < self.last_session:
            self._checkpoints.setdefault(k1 + 1, (block.walk_carry, block.weight_carry))
        return block

    def _store(self, k0: int, k1: int, arrays: dict[str, np.ndarray]) -> BarArrays:
        cal = self.calendar
        f = self.first_session
        local = self.session_row_start[k0 - f : k1 - f + 2] - self.session_row_start[k0 - f]
        seg = np.repeat(np.arange(k0 - f, k1 - f + 1), np.diff(local))
        price_factor = self.session_factors[0][seg]
        volume_factor = self.session_factors[1][seg]
        lo, hi = cal.session_label(k0), cal.session_label(k1)
        return BarArrays(
            frequency=MINUTE, calendar=cal, first_session=k0, last_session=k1, assets=self.assets,
            times=arrays["times"], session_row_start=local, open=arrays["open"], high=arrays["high"],
            low=arrays["low"], close=arrays["close"], volume=arrays["volume"], price_factor=price_factor,
            volume_factor=volume_factor, splits=tuple(s for s in self.splits if lo <= s.date <= hi),
            dividends=tuple(d for d in self.dividends if lo <= d.ex_date <= hi),
        )

    def bars_between(self, k0: int, k1: int) -> BarArrays:
        """The minutes of sessions ``k0..k1`` as one store, regenerated from the nearest block start at or before
        ``k0`` (that block's sessions must have been reached: :meth:`windows` makes the blocks in order)."""
        k0, k1 = max(int(k0), self.first_session), min(int(k1), self.last_session)
        start = max(k for k in self._checkpoints if k <= k0)
        block = self._block(start, k1)
        cut = int(block.row_start[k0 - start])
        arrays = {name: getattr(block, name)[cut:] for name in ("times", "open", "high", "low", "close", "volume")}
        return self._store(k0, k1, arrays)

    def row0_of(self, session: int) -> int:
        """The run row of the first minute of calendar session ``session``."""
        return int(self.session_row_start[session - self.first_session])

    # ----------------------------------------------------------------------------------------------- windows
    def first_window(self) -> MinuteWindow:
        """The first window (made once; :meth:`windows` starts with this very object)."""
        if self._first_window is None:
            k1 = min(self.first_session + self.chunk_sessions - 1, self.last_session)
            block = self._block(self.first_session, k1)
            arrays = {name: getattr(block, name) for name in ("times", "open", "high", "low", "close", "volume")}
            self._first_window = MinuteWindow(self._store(self.first_session, k1, arrays), self.first_session, 0)
        return self._first_window

    def windows(self) -> Iterator[MinuteWindow]:
        """Every window in order: the first holds the first ``chunk_sessions`` sessions, each later one the next
        ``chunk_sessions`` plus the last ``lookback_sessions`` of the one before."""
        window = self.first_window()
        yield window
        while window.last_session < self.last_session:
            a = window.last_session + 1
            b = min(a + self.chunk_sessions - 1, self.last_session)
            w0 = max(self.first_session, a - self.lookback_sessions, window.bars.first_session)
            prev = window.bars
            keep = int(prev.session_row_start[w0 - prev.first_session])
            block = self._block(a, b)
            arrays = {name: np.concatenate([getattr(prev, name)[keep:], getattr(block, name)])
                      for name in ("times", "open", "high", "low", "close", "volume")}
            del block
            window = MinuteWindow(self._store(w0, b, arrays), a, self.row0_of(w0))
            yield window


class WindowFrames:
    """The data portal's frames of a stream's windows, in order (see :meth:`runtime.data.portal.Frame.following`).

    ``first`` is the frame already built over the first window's bars. A later window's frame can extend a history
    window back past its first row: the sessions needed are made again (once per window) and later windows keep
    as many sessions.
    """

    def __init__(self, stream: MinuteStream, first: Frame) -> None:
        self.stream = stream
        self.first = first
        self._wider: tuple[MinuteWindow, int, Frame] | None = None

    def __iter__(self) -> Iterator[tuple[MinuteWindow, Frame]]:
        stream = self.stream
        previous: tuple[MinuteWindow, Frame] | None = None
        for window in stream.windows():
            if previous is None:
                frame = self.first
            else:
                extend = functools.partial(self._extend, window)
                frame = previous[1].following(window.bars, window.row0 - previous[0].row0, extend)
            self._wider = None
            yield window, frame
            previous = window, frame

    def _extend(self, window: MinuteWindow, rows: int, end_row: int) -> tuple[Frame, int]:
        stream = self.stream
        starts = stream.session_row_start
        first = stream.first_session
        g0 = window.row0 - rows
        g_end = window.row0 + end_row
        k_lo = first + max(int(np.searchsorted(starts, max(g0, 0), side="right")) - 1, 0)
        k_hi = window.bars.last_session
        if self._wider is None or self._wider[0] is not window or self._wider[1] > k_lo:
            stream.grow_lookback(k_hi - k_lo + 1)
            bars = stream.bars_between(k_lo, k_hi)
            before = None if k_lo == first else FrameCarry(self._adj_close_before(k_lo),
                                                           np.full(len(stream.assets), NAT_NS, dtype=np.int64))
            self._wider = (window, k_lo, Frame.build(bars, before))
        _, k_from, wider = self._wider
        return wider, g_end - stream.row0_of(k_from)

    def _adj_close_before(self, k: int) -> np.ndarray:
        """The forward-filled adjusted close just before session ``k``'s first minute: a session's last minute
        closes at its daily close, and the factors hold for a whole session."""
        stream = self.stream
        daily = stream.daily
        f = stream.first_session
        values = daily.close[f - daily.first_session : k - daily.first_session] * stream.session_factors[0][: k - f]
        valid = ~np.isnan(values)
        last = np.where(valid.any(axis=0), values.shape[0] - 1 - np.argmax(valid[::-1], axis=0), -1)
        return np.where(last >= 0, values[np.maximum(last, 0), np.arange(values.shape[1])], np.nan)
