"""Corporate actions (splits and cash dividends) as values, and the cumulative adjustment factors they imply.

A :class:`Split` or :class:`Dividend` takes effect at the open of its session (the ex-date): a holder of one share
at the previous close holds ``ratio`` shares, or is owed ``amount`` in cash, from then on. Prices before the
ex-date are adjusted by zipline's ratios: ``1 / ratio`` for a split, ``1 - amount / previous close`` for a
dividend; volumes only by splits (``ratio``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Split:
    """A stock split of asset ``sid`` effective at the open of session ``date``.

    ``ratio`` is new shares per old share: 2.0 for a 2:1 split, 1.5 for 3:2, 0.1 for a 1:10 reverse split.
    """

    sid: int
    date: pd.Timestamp
    ratio: float

    @property
    def price_multiplier(self) -> float:
        """The factor applied to prices before the split (0.5 for 2:1)."""
        return 1.0 / self.ratio


@dataclass(frozen=True)
class Dividend:
    """A cash dividend of ``amount`` per share of asset ``sid``; ``ex_date`` is the first session without it.

    ``pay_date`` is when the cash arrives, None when the source does not say (then pay on the ex-date).
    """

    sid: int
    ex_date: pd.Timestamp
    amount: float
    pay_date: pd.Timestamp | None = None

    def price_multiplier(self, previous_close: float) -> float:
        """The factor applied to prices before the ex-date: ``1 - amount / previous_close``."""
        return 1.0 - self.amount / previous_close


def cumulative_factors(n_rows: int, n_cols: int, rows: np.ndarray, cols: np.ndarray, mults: np.ndarray) -> np.ndarray:
    """Factors ``F`` (n_rows, n_cols) with ``F[t, c]`` = product of ``mults`` of the events of column c at rows > t.

    An event at row r (the first row of its ex-session) multiplies every earlier row, so a price at row t seen as
    of row T is ``raw[t] * F[t] / F[T]``, and ``F`` is 1.0 from the last event on.
    """
    per_row = np.ones((n_rows + 1, n_cols), dtype=np.float64)
    if len(rows):
        np.multiply.at(per_row, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)), mults)
    # suffix product over rows t+1..n_rows (the extra row n_rows is 1.0 and anchors the end)
    suffix = np.cumprod(per_row[::-1], axis=0)[::-1]
    return np.ascontiguousarray(suffix[1:])
