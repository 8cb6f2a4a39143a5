"""Account values and positions as IB reports them (reqAccountUpdates and reqPositions are subscriptions).

:class:`AccountState` is written by the message thread and read by the engine through snapshots; one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from runtime.brokers.ib.records import PositionInfo
from runtime.core.assets import Asset
from runtime.core.ib.account import account_from_tags, ib_number
from runtime.core.ib.contracts import ContractFacts
from runtime.core.ledger import Account


@dataclass(frozen=True)
class PositionSnapshot:
    """One position: signed amount, IB's average cost (per share, incl. commissions) and the last mark if known."""

    asset: Asset
    account: str
    amount: float
    avg_cost: float
    market_price: float | None = None
    market_value: float | None = None
    unrealized_pnl: float | None = None


class AccountState:
    """Account values by tag and positions by conId, per account."""

    def __init__(self, asset_for: Callable[[ContractFacts], Asset], base_currency: str = "USD") -> None:
        self._asset_for = asset_for
        self.base_currency = base_currency
        self._lock = threading.Lock()
        self._values: dict[tuple[str, str], dict[str, str]] = {}
        self._positions: dict[tuple[str, int], PositionInfo] = {}
        self._portfolio: dict[tuple[str, int], PositionInfo] = {}
        self.updated_at = ""
        self.downloaded = threading.Event()
        self.positions_loaded = threading.Event()

    # ------------------------------------------------------------------------------------------------ input
    def on_value(self, key: str, value: str, currency: str, account: str) -> None:
        with self._lock:
            self._values.setdefault((account, key), {})[currency] = value

    def on_portfolio(self, info: PositionInfo) -> None:
        with self._lock:
            self._portfolio[(info.account, info.contract.con_id)] = info

    def on_position(self, info: PositionInfo) -> None:
        with self._lock:
            self._positions[(info.account, info.contract.con_id)] = info

    def clear_positions(self) -> None:
        """Forget the positions before a fresh reqPositions (a closed position is not re-sent by TWS)."""
        with self._lock:
            self._positions.clear()
            self.positions_loaded.clear()

    # ----------------------------------------------------------------------------------------------- output
    def value(self, key: str, account: str, currency: str | None = None) -> str | None:
        """The raw value of one tag (in the base currency unless ``currency`` is given); None if not reported."""
        with self._lock:
            by_cur = self._values.get((account, key))
        if not by_cur:
            return None
        if currency is not None:
            return by_cur.get(currency)
        for cur in ("BASE", self.base_currency, ""):
            if cur in by_cur:
                return by_cur[cur]
        return next(iter(by_cur.values()))

    def numbers(self, account: str) -> dict[str, float]:
        """Every numeric tag of ``account`` in the base currency."""
        with self._lock:
            keys = [k for (a, k) in self._values if a == account]
        out: dict[str, float] = {}
        for key in keys:
            v = ib_number(self.value(key, account) or "")
            if v is not None:
                out[key] = v
        return out

    def account(self, account: str) -> Account:
        """zipline's ``context.account`` from IB's tags (fields IB did not report are 0.0)."""
        return account_from_tags(self.numbers(account))

    def positions(self, account: str | None = None) -> list[PositionSnapshot]:
        """Non-zero positions (reqPositions, marked with updatePortfolio when available)."""
        with self._lock:
            rows = [p for (a, _), p in self._positions.items() if account in (None, "", a)]
            if not rows:
                rows = [p for (a, _), p in self._portfolio.items() if account in (None, "", a)]
            marks = dict(self._portfolio)
        out = []
        for p in rows:
            if not p.position:
                continue
            m = marks.get((p.account, p.contract.con_id))
            out.append(PositionSnapshot(
                self._asset_for(p.contract), p.account, p.position, p.avg_cost,
                m.market_price if m else None, m.market_value if m else None, m.unrealized_pnl if m else None))
        return out
