"""Assets: the things an algorithm trades, as immutable values.

An :class:`Asset` carries what zipline's ``Equity`` carries (sid, symbol, exchange, listing dates) plus what IB needs
to identify a contract (security type, currency, primary exchange, conId, multiplier, tick size). It is hashable and
compares by ``sid``, so it can key dicts, Series and DataFrame columns exactly like zipline's assets.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from enum import Enum

import pandas as pd


class SecType(str, Enum):
    """IB security types the runtime knows."""

    STOCK = "STK"
    CASH = "CASH"
    FUTURE = "FUT"
    OPTION = "OPT"
    INDEX = "IND"


#: Quantopian's security ids for the bundled tickers, so ``sid(24)`` means AAPL as users remember it.
KNOWN_SIDS: dict[str, int] = {"AAPL": 24, "IBM": 3766, "MSFT": 5061, "GOOG": 26578, "FB": 42950}


def stable_sid(symbol: str, sec_type: str = "STK", currency: str = "USD") -> int:
    """A stable integer id for a symbol: Quantopian's for the bundled tickers, else a CRC32-derived number.

    Stable across processes and machines, so the simulated gateway's conIds and a restarted run agree.
    """
    if sec_type == "STK" and currency == "USD" and symbol in KNOWN_SIDS:
        return KNOWN_SIDS[symbol]
    return 1_000_000 + zlib.crc32(f"{sec_type}:{symbol}:{currency}".encode()) % 900_000_000


@dataclass(frozen=True, eq=False)
class Asset:
    """A tradable instrument.

    Attributes mirror zipline's ``Equity`` (``sid``, ``symbol``, ``asset_name``, ``exchange``, ``start_date``,
    ``end_date``, ``auto_close_date``) and add IB contract fields (``sec_type``, ``currency``,
    ``primary_exchange``, ``con_id``, ``multiplier``, ``tick_size``, ``local_symbol``, ``expiry``).
    Equality and hashing use ``sid`` only.
    """

    sid: int
    symbol: str
    exchange: str = "SMART"
    primary_exchange: str = "NASDAQ"
    sec_type: SecType = SecType.STOCK
    currency: str = "USD"
    asset_name: str = ""
    start_date: pd.Timestamp | None = None
    end_date: pd.Timestamp | None = None
    tick_size: float = 0.01
    multiplier: float = 1.0
    con_id: int = 0
    local_symbol: str = ""
    expiry: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __hash__(self) -> int:
        return hash(self.sid)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Asset):
            return self.sid == other.sid
        return NotImplemented

    def __lt__(self, other: Asset) -> bool:
        return self.sid < other.sid

    def __repr__(self) -> str:
        kind = "Equity" if self.sec_type is SecType.STOCK else self.sec_type.name.title()
        return f"{kind}({self.sid} [{self.symbol}])"

    __str__ = __repr__

    @property
    def auto_close_date(self) -> pd.Timestamp | None:
        """The session after which positions in the asset are closed out (zipline: end_date + 1 day)."""
        return None if self.end_date is None else self.end_date + pd.Timedelta(days=1)

    def is_alive_for_session(self, session: pd.Timestamp) -> bool:
        """Whether the asset was listed on ``session``."""
        if self.start_date is not None and session < self.start_date:
            return False
        return not (self.end_date is not None and session > self.end_date)

    def ib_string(self) -> str:
        """The IBridgePy string form, e.g. ``'STK,AAPL,USD'`` or ``'CASH,EUR,USD'``."""
        return f"{self.sec_type.value},{self.symbol},{self.currency}"


# zipline names this class Equity; algorithm files sometimes test isinstance(x, Equity).
Equity = Asset
