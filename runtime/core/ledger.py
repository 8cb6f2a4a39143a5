"""The ledger: cash, positions, cost basis, and the read-only portfolio and account views built from them.

Pure bookkeeping with zipline's rules:
- a fill moves cash by ``-amount * price * multiplier - commission``;
- adding to a position averages the cost basis, reducing keeps it, flipping resets it to the fill price; the
  commission is then folded into the cost basis (per share);
- positions are marked at the last known price; ``portfolio_value = cash + positions_value`` at all times;
- a split multiplies the amount and divides cost basis and last price by the ratio (fractional shares are paid out
  in cash); a cash dividend credits ``amount * dividend`` on the ex-date.

Why this module stays long: the ledger's state (cash, positions and their cost basis, the cached totals and their
version) is changed only here, by each way a run changes it (fills, marks, splits, dividends, positions seeded from
a broker, late commissions), and read through the views built from the same state; splitting it would make one of
them reach into the other's private state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, KeysView, Mapping
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd

from runtime.core import margin
from runtime.core.assets import Asset
from runtime.core.matching import Fill
from runtime.errors import LegacyAttributeError


@dataclass(frozen=True, slots=True)
class Position:
    """zipline's Position: ``asset``, ``amount``, ``cost_basis``, ``last_sale_price``, ``last_sale_date``."""

    asset: Asset
    amount: int = 0
    cost_basis: float = 0.0
    last_sale_price: float = 0.0
    last_sale_date: pd.Timestamp | None = None

    @property
    def sid(self) -> Asset:
        return self.asset

    @property
    def price(self) -> float:
        """IBridgePy's PositionRecord.price: the average cost per share (``cost_basis``)."""
        return self.cost_basis

    def to_dict(self) -> dict[str, object]:
        return {
            "sid": self.asset,
            "amount": self.amount,
            "cost_basis": self.cost_basis,
            "last_sale_price": self.last_sale_price,
        }


class Positions(Mapping[Asset, Position]):
    """A read-only mapping asset -> Position. A missing asset gives an empty Position and is not inserted."""

    __slots__ = ("_items",)

    def __init__(self, items: dict[Asset, Position]) -> None:
        self._items = items

    def __getitem__(self, asset: Asset) -> Position:
        pos = self._items.get(asset)
        return pos if pos is not None else Position(asset)

    def __contains__(self, asset: object) -> bool:
        return asset in self._items

    def __iter__(self) -> Iterator[Asset]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Positions({dict(self._items)!r})"

    def __getattr__(self, name: str) -> object:
        today = _PY2_MAPPING.get(name)
        if today is not None:
            raise LegacyAttributeError(f"positions.{name}() is Python 2: use positions.{today} (Python 3)")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


#: Python 2 dict methods Quantopian-era files call on context.portfolio.positions -> the Python 3 form
_PY2_MAPPING = {"iteritems": "items()", "itervalues": "values()", "iterkeys": "keys()",
                "has_key": "__contains__: 'asset in positions'"}


@dataclass(frozen=True)
class Portfolio:
    """zipline's ``context.portfolio`` (read-only)."""

    cash: float
    portfolio_value: float
    positions_value: float
    positions_exposure: float
    positions: Positions
    starting_cash: float
    start_date: pd.Timestamp | None
    pnl: float
    returns: float
    capital_used: float

    @property
    def cash_flow(self) -> float:
        return self.capital_used

    @property
    def current_portfolio_weights(self) -> pd.Series:
        """Each position's value as a fraction of portfolio value (zipline's definition)."""
        if not self.positions or not self.portfolio_value:
            return pd.Series(dtype=float)
        values = {
            a: p.amount * p.last_sale_price * a.multiplier / self.portfolio_value for a, p in self.positions.items()
        }
        return pd.Series(values, dtype=float)


@dataclass(frozen=True)
class Account:
    """zipline's ``context.account``. In backtests derived from the ledger; live, taken from IB's account values."""

    settled_cash: float
    accrued_interest: float
    buying_power: float
    equity_with_loan: float
    total_positions_value: float
    total_positions_exposure: float
    regt_equity: float
    regt_margin: float
    initial_margin_requirement: float
    maintenance_margin_requirement: float
    available_funds: float
    excess_liquidity: float
    cushion: float
    day_trades_remaining: float
    leverage: float
    net_leverage: float
    net_liquidation: float

    @property
    def gross_leverage(self) -> float:
        return self.leverage


class _Pos:
    __slots__ = ("amount", "asset", "cost_basis", "last_sale_ns", "last_sale_price")

    def __init__(self, asset: Asset) -> None:
        self.asset = asset
        self.amount = 0
        self.cost_basis = 0.0
        self.last_sale_price = 0.0
        self.last_sale_ns = 0


@dataclass(frozen=True, slots=True)
class Totals:
    """Position aggregates: net value, long value (>= 0), short value (<= 0), gross exposure, counts."""

    net: float
    long: float
    short: float
    gross: float
    longs: int
    shorts: int


@dataclass(frozen=True, slots=True)
class Transaction:
    """A fill as recorded in the results (zipline's transaction dict fields)."""

    asset: Asset
    amount: int
    price: float
    commission: float
    time_ns: int
    order_id: str

    def to_dict(self) -> dict[str, object]:
        return {
            "sid": self.asset,
            "symbol": self.asset.symbol,
            "amount": self.amount,
            "price": self.price,
            "commission": self.commission,
            "dt": pd.Timestamp(self.time_ns, tz="UTC"),
            "order_id": self.order_id,
        }


class Ledger:
    """Cash and positions of one account."""

    def __init__(self, starting_cash: float, start_date: pd.Timestamp | None = None) -> None:
        if not math.isfinite(starting_cash) or starting_cash < 0:
            raise ValueError(f"starting cash must be a finite number >= 0, got {starting_cash!r}")
        self.starting_cash = float(starting_cash)
        self.start_date = start_date
        self.cash = float(starting_cash)
        self._positions: dict[int, _Pos] = {}
        self.capital_used = 0.0  # cash spent on fills since the ledger was created (negative = bought)
        self.period_capital_used = 0.0
        self.version = 0
        self._pending_mark: Callable[[], None] | None = None
        self._totals_version = -1
        self._totals = Totals(0.0, 0.0, 0.0, 0.0, 0, 0)

    # ----------------------------------------------------------------------------------------------- changes
    def apply_fill(self, fill: Fill) -> Transaction:
        """Book one fill: cash, amount, cost basis (with the commission folded in), last price."""
        asset = fill.asset
        pos = self._positions.get(asset.sid)
        if pos is None:
            pos = self._positions[asset.sid] = _Pos(asset)
        amount, price = fill.amount, fill.price
        total = pos.amount + amount
        if total == 0:
            pos.cost_basis = 0.0
        elif pos.amount == 0 or (pos.amount > 0) == (amount > 0):
            pos.cost_basis = (pos.cost_basis * pos.amount + price * amount) / total
        elif abs(amount) > abs(pos.amount):
            pos.cost_basis = price
        pos.amount = total
        pos.last_sale_price = price
        pos.last_sale_ns = fill.time_ns
        if total != 0 and fill.commission:
            pos.cost_basis = (pos.cost_basis * total + fill.commission / asset.multiplier) / total
        flow = -amount * price * asset.multiplier
        self.cash += flow - fill.commission
        self.capital_used += flow
        self.period_capital_used += flow
        if total == 0:
            del self._positions[asset.sid]
        self.version += 1
        return Transaction(asset, amount, price, fill.commission, fill.time_ns, fill.order_id)

    def defer_mark(self, mark_all: Callable[[], None]) -> None:
        """Mark positions lazily: ``mark_all`` (which calls :meth:`mark`) runs the first time a value that depends
        on prices is read, and not at all if a newer mark replaces it first. Bars without a read cost nothing."""
        self._pending_mark = mark_all

    def _flush(self) -> None:
        pending = self._pending_mark
        if pending is not None:
            self._pending_mark = None
            pending()

    def mark(self, sid: int, price: float, time_ns: int) -> None:
        """Set the last known price of a held asset (ignored for assets not held or a NaN price)."""
        pos = self._positions.get(sid)
        if pos is not None and price == price:
            pos.last_sale_price = float(price)
            pos.last_sale_ns = time_ns
            self.version += 1

    def mark_many(self, sids: list[int], prices: list[float], time_ns: int) -> None:
        """:meth:`mark` for several held assets at once (NaN prices are skipped)."""
        positions = self._positions
        for sid, price in zip(sids, prices):
            pos = positions.get(sid)
            if pos is not None and price == price:
                pos.last_sale_price = price
                pos.last_sale_ns = time_ns
        self.version += 1

    def apply_split(self, sid: int, ratio: float | Fraction, time_ns: int) -> float:
        """Apply a split of ``ratio`` new shares per old share; returns the cash paid for a fractional share (a
        Fraction ratio keeps the whole number of shares exact: 49 x 1/49 is 1, not 0.999...)."""
        self._flush()
        pos = self._positions.get(sid)
        if pos is None or ratio <= 0:
            return 0.0
        raw = pos.amount * ratio
        whole = int(raw) if raw >= 0 else -int(-raw)
        fraction = raw - whole
        new_basis = pos.cost_basis / ratio
        new_price = pos.last_sale_price / ratio
        payout = fraction * new_price * pos.asset.multiplier
        pos.amount = whole
        pos.cost_basis = new_basis
        pos.last_sale_price = new_price
        self.cash += payout
        if pos.amount == 0:
            del self._positions[sid]
        self.version += 1
        return payout

    def apply_dividend(self, sid: int, per_share: float) -> float:
        """Credit (or, for a short, debit) a cash dividend; returns the cash moved."""
        pos = self._positions.get(sid)
        if pos is None:
            return 0.0
        cash = pos.amount * per_share * pos.asset.multiplier
        self.cash += cash
        self.version += 1
        return cash

    def seed_position(self, asset: Asset, amount: int, cost_basis: float, last_price: float | None = None) -> None:
        """Start with a position held before the run (a paper or live run's broker positions): ``amount`` units of
        ``asset`` at ``cost_basis`` per unit, marked at ``last_price`` (the cost basis when None). Cash is not
        touched (the broker's cash already paid for it); an existing position of the asset is replaced."""
        pos = _Pos(asset)
        pos.amount = int(amount)
        pos.cost_basis = float(cost_basis)
        pos.last_sale_price = float(last_price if last_price else cost_basis)
        self._positions[asset.sid] = pos
        self.version += 1

    def charge_commission(self, amount: float) -> None:
        """Take a commission that arrived after its fill was booked (IB's late commission reports) from cash."""
        self.cash -= float(amount)
        self.version += 1

    def start_period(self) -> None:
        self.period_capital_used = 0.0

    # ----------------------------------------------------------------------------------------------- queries
    def amount(self, sid: int) -> int:
        pos = self._positions.get(sid)
        return 0 if pos is None else pos.amount

    @property
    def has_positions(self) -> bool:
        return bool(self._positions)

    def held_sids(self) -> list[int]:
        return list(self._positions)

    def margin_holdings(self) -> list[margin.Holding]:
        """Each position as the margin rule sees it: security type and signed market value (marked)."""
        self._flush()
        return [margin.Holding(p.asset.sec_type.value, p.amount * p.last_sale_price * p.asset.multiplier)
                for p in self._positions.values() if p.amount]

    def position_items(self) -> Iterator[tuple[int, Asset, int, float, float]]:
        self._flush()
        for sid, p in self._positions.items():
            yield sid, p.asset, p.amount, p.cost_basis, p.last_sale_price

    def position_values(self) -> list[int | float]:
        """``sid, amount, cost_basis, last_sale_price`` of every position, marked, one after the other in one flat
        list (a single object however many positions: cheap to keep for every session)."""
        self._flush()
        out: list[int | float] = []
        extend = out.extend
        for sid, p in self._positions.items():
            extend((sid, p.amount, p.cost_basis, p.last_sale_price))
        return out

    def held_assets(self) -> dict[int, Asset]:
        """The asset of every position, by sid."""
        return {sid: p.asset for sid, p in self._positions.items()}

    def held_sid_set(self) -> KeysView[int]:
        """The sids of the positions, as a live set-like view."""
        return self._positions.keys()

    def totals(self) -> Totals:
        """All position aggregates in one pass (cached until the next change)."""
        self._flush()
        if self._totals_version != self.version:
            long_value = short_value = 0.0
            longs = shorts = 0
            for p in self._positions.values():
                value = p.amount * p.last_sale_price * p.asset.multiplier
                if p.amount > 0:
                    long_value += value
                    longs += 1
                elif p.amount < 0:
                    short_value += value
                    shorts += 1
            self._totals = Totals(long_value + short_value, long_value, short_value, long_value - short_value,
                                  longs, shorts)
            self._totals_version = self.version
        return self._totals

    @property
    def positions_value(self) -> float:
        return self.totals().net

    @property
    def positions_exposure(self) -> float:
        return self.totals().net

    @property
    def long_value(self) -> float:
        return self.totals().long

    @property
    def short_value(self) -> float:
        return self.totals().short

    @property
    def gross_exposure(self) -> float:
        return self.totals().gross

    @property
    def portfolio_value(self) -> float:
        return self.cash + self.totals().net

    def leverage(self) -> float:
        pv = self.portfolio_value
        return self.gross_exposure / pv if pv else 0.0

    def positions(self) -> Positions:
        self._flush()
        return Positions(
            {
                p.asset: Position(
                    p.asset,
                    p.amount,
                    p.cost_basis,
                    p.last_sale_price,
                    pd.Timestamp(p.last_sale_ns, tz="UTC") if p.last_sale_ns else None,
                )
                for p in self._positions.values()
            }
        )

    def portfolio(self) -> Portfolio:
        """A read-only snapshot in zipline's shape."""
        pv = self.portfolio_value
        pos_value = self.positions_value
        return Portfolio(
            cash=self.cash,
            portfolio_value=pv,
            positions_value=pos_value,
            positions_exposure=pos_value,
            positions=self.positions(),
            starting_cash=self.starting_cash,
            start_date=self.start_date,
            pnl=pv - self.starting_cash,
            returns=(pv / self.starting_cash - 1.0) if self.starting_cash else 0.0,
            capital_used=self.capital_used,
        )

    def account(self) -> Account:
        """zipline's simulated account values (no margin model: buying power unlimited)."""
        pv = self.portfolio_value
        gross = self.gross_exposure
        net = self.positions_value
        return Account(
            settled_cash=self.cash,
            accrued_interest=0.0,
            buying_power=math.inf,
            equity_with_loan=pv,
            total_positions_value=net,
            total_positions_exposure=net,
            regt_equity=self.cash,
            regt_margin=math.inf,
            initial_margin_requirement=0.0,
            maintenance_margin_requirement=0.0,
            available_funds=self.cash,
            excess_liquidity=self.cash,
            cushion=self.cash / pv if pv else 0.0,
            day_trades_remaining=math.inf,
            leverage=gross / pv if pv else 0.0,
            net_leverage=net / pv if pv else 0.0,
            net_liquidation=pv,
        )
