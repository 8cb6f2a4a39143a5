"""Positions the broker changed on its own: a split booked by IB, found by comparing IB's positions with the ledger.

The run's ledger tracks positions from the run's own fills. When IB books a split, IB's position and average cost
change while the ledger's do not; prices change with them, so the portfolio value and every ``order_target`` /
``order_target_percent`` would be computed from the wrong amount. :func:`compare_positions` finds such differences
and says which of them a split explains.

Policy, for each asset whose amount at IB differs from the ledger's while the run has no working order and no fill
pending in it (those differences are the run's own trades on their way, and are left alone):

- a split is inferred only when both of these hold:
  - IB's amount is what a split of ratio ``p/q`` makes of the ledger's: ``trunc(ledger x p/q)`` whole shares of the
    same sign (the fractional share is paid in cash), for a ratio in lowest terms with ``p, q <= MAX_TERM``, the
    smaller of them at most ``MAX_SMALLER_TERM`` (2-for-1, 3-for-1, 3-for-2, 1-for-10, 1-for-50...), not 1;
  - IB's average cost is the ledger's cost basis divided by that ratio, within ``COST_TOLERANCE`` (relative): IB
    divides the average cost by the split's ratio, while a trade outside the run moves it towards the trade's price.
    When several ratios pass both tests (small positions: 1 -> 2 shares also fits 21-for-10), the one with the
    smallest terms is the split (real splits have small terms); two equally small ones are ambiguous;
- anything else is not guessed: a trade made outside the run (TWS, another client or run), a spin-off's new shares,
  a reverse split that cashed the whole position out, a position IB no longer reports, a split whose ratio is
  ambiguous or whose average cost does not fit. Those are reported with what to check, and the ledger is left as
  it is.

Cash dividends IB credits are not visible per asset through the API (only in the account's cash), so they are not
inferred: a live run's ledger does not book them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from runtime.core.assets import Asset

if TYPE_CHECKING:
    from runtime.brokers.ib.broker import IBBroker
    from runtime.brokers.ib.events import PositionRecord
    from runtime.engine.engine import Engine
    from runtime.journal import Journal

log = logging.getLogger("ibalgo.live")

#: largest numerator or denominator of a split ratio the check infers
MAX_TERM = 100
#: largest value of the smaller of the two terms (2-for-1 and 1-for-50 are plausible, 37-for-23 is not)
MAX_SMALLER_TERM = 10
#: how far IB's average cost x ratio may be from the ledger's cost basis, relative (commissions, rounding)
COST_TOLERANCE = 0.02


@dataclass(frozen=True)
class Holding:
    """One position: signed whole amount and cost per share (per unit of the multiplier; 0.0 when unknown)."""

    asset: Asset
    amount: int
    cost: float


@dataclass(frozen=True)
class PositionDifference:
    """An asset whose amount at IB differs from the ledger's; ``split`` is the split that explains it, if any."""

    asset: Asset
    ledger_amount: int
    broker_amount: int
    ledger_cost: float
    broker_cost: float
    split: Fraction | None
    reason: str

    @property
    def explained(self) -> bool:
        return self.split is not None


@dataclass(frozen=True)
class AppliedSplit:
    """A split the run inferred from IB's position and applied to its ledger."""

    time_ns: int
    asset: Asset
    ratio: Fraction
    amount_before: int
    amount_after: int
    cash_paid: float
    reason: str

    def to_dict(self) -> dict[str, object]:
        """JSON-storable fields (journal and results)."""
        return {
            "time_ns": self.time_ns,
            "sid": self.asset.sid,
            "symbol": self.asset.symbol,
            "ratio": describe_ratio(self.ratio),
            "ratio_value": float(self.ratio),
            "amount_before": self.amount_before,
            "amount_after": self.amount_after,
            "cash_paid": self.cash_paid,
            "reason": self.reason,
        }


def describe_ratio(ratio: Fraction) -> str:
    """``2-for-1``, ``3-for-2``, ``1-for-10``."""
    return f"{ratio.numerator}-for-{ratio.denominator}"


def split_amount(amount: int, ratio: Fraction) -> int:
    """Whole shares a split of ``ratio`` leaves of ``amount`` (truncated towards zero, as the ledger does)."""
    raw = amount * ratio
    return math.floor(raw) if raw >= 0 else -math.floor(-raw)


def split_candidates(ledger_amount: int, broker_amount: int) -> list[Fraction]:
    """Every plausible ratio (see the module docstring) that splits ``ledger_amount`` into ``broker_amount``."""
    if not ledger_amount or not broker_amount or (ledger_amount > 0) != (broker_amount > 0):
        return []
    a, b = abs(ledger_amount), abs(broker_amount)
    found: set[Fraction] = set()
    for q in range(1, MAX_TERM + 1):
        p = max(1, -(-b * q // a))  # the smallest p with p/q >= b/a
        while p <= MAX_TERM and p * a < (b + 1) * q:
            if min(p, q) <= MAX_SMALLER_TERM and p != q and math.gcd(p, q) == 1:
                found.add(Fraction(p, q))
            p += 1
    return sorted(found)


def _simplicity(ratio: Fraction) -> tuple[int, int]:
    return max(ratio.numerator, ratio.denominator), min(ratio.numerator, ratio.denominator)


def explain(ledger: Holding, broker_amount: int, broker_cost: float) -> tuple[Fraction | None, str]:
    """The split that turns the ledger's position into IB's, or None, and why (for the log)."""
    la, ba = ledger.amount, broker_amount
    if not la:
        return None, f"the ledger holds none and IB holds {ba:+d}"
    if not ba:
        return None, f"IB holds none and the ledger holds {la:+d}"
    if (la > 0) != (ba > 0):
        return None, f"IB's {ba:+d} and the ledger's {la:+d} are on opposite sides"
    candidates = split_candidates(la, ba)
    if not candidates:
        return None, f"no split of small whole numbers turns {la:+d} shares into {ba:+d}"
    lc, bc = abs(ledger.cost), abs(broker_cost)
    names = ", ".join(describe_ratio(r) for r in candidates[:5])
    if not (lc > 0 and bc > 0 and math.isfinite(lc) and math.isfinite(bc)):
        return None, f"{la:+d} -> {ba:+d} fits a {names} split, but an average cost is unknown to confirm it"
    implied = lc / bc
    fitting = [r for r in candidates if abs(implied / float(r) - 1.0) <= COST_TOLERANCE]
    if not fitting:
        return None, (f"{la:+d} -> {ba:+d} fits a {names} split, but IB's average cost {bc:.4f} is not the ledger's "
                      f"cost basis {lc:.4f} divided by it (ratio of costs {implied:.4f})")
    fitting.sort(key=_simplicity)
    if len(fitting) > 1 and _simplicity(fitting[0]) == _simplicity(fitting[1]):
        return None, (f"{la:+d} -> {ba:+d} and the average costs fit several splits "
                      f"({', '.join(describe_ratio(r) for r in fitting)})")
    ratio = fitting[0]
    return ratio, (f"IB's {ba:+d} shares are the ledger's {la:+d} split {describe_ratio(ratio)} and IB's average cost "
                   f"{bc:.4f} is the ledger's cost basis {lc:.4f} / {float(ratio):g}")


def compare_positions(ledger: Iterable[Holding], broker: Iterable[Holding], busy: Collection[int] = ()
                      ) -> list[PositionDifference]:
    """Assets (by sid) whose amount at IB differs from the ledger's, skipping ``busy`` sids (a working order or a
    pending fill of the run), each with the split that explains it, if one does (see the module docstring)."""
    ours = {h.asset.sid: h for h in ledger if h.amount}
    theirs = {h.asset.sid: h for h in broker if h.amount}
    out = []
    for sid in sorted(ours.keys() | theirs.keys()):
        if sid in busy:
            continue
        mine, at_ib = ours.get(sid), theirs.get(sid)
        la = mine.amount if mine is not None else 0
        ba = at_ib.amount if at_ib is not None else 0
        if la == ba:
            continue
        asset = mine.asset if mine is not None else at_ib.asset  # type: ignore[union-attr]
        lc = mine.cost if mine is not None else 0.0
        bc = at_ib.cost if at_ib is not None else 0.0
        split, reason = explain(mine or Holding(asset, 0, 0.0), ba, bc)
        out.append(PositionDifference(asset, la, ba, lc, bc, split, reason))
    return out


__all__ = [
    "COST_TOLERANCE", "MAX_SMALLER_TERM", "MAX_TERM", "AppliedSplit", "Holding", "PositionDifference",
    "compare_positions", "describe_ratio", "explain", "split_amount", "split_candidates",
]


def holding_from_broker(asset: Asset, amount: float, avg_cost: float) -> Holding:
    """A position as IB reports it (average cost per contract) as a Holding (cost per unit, like the ledger's)."""
    return Holding(asset, round(amount), float(avg_cost) / (asset.multiplier or 1.0))


class PositionCheck:
    """IB's positions against the run's ledger: a split IB booked is applied, anything else is reported.

    Assets with a working order of the run (at the engine or the adapter: a fill not yet booked keeps the engine's
    order open) are skipped: their difference is the run's own trade on its way. For the others (the policy of
    :func:`compare_positions`):

    - IB's amount and average cost show a split (``trunc(ledger x p/q)`` shares of small whole numbers p, q, average
      cost = cost basis / ratio): the split is applied to the ledger as a backtest applies one
      (:meth:`~runtime.core.ledger.Ledger.apply_split`: amount x ratio, cost basis and last price / ratio, the
      fractional share paid in cash), logged at WARNING with the reason, kept in :attr:`applied` (the results'
      ``summary.json``) and in the journal's events (kind ``broker_split``);
    - anything else (a trade outside the run, a spin-off, a position IB no longer reports, an ambiguous ratio) is
      not guessed: a WARNING names the asset, both amounts and what to check; the ledger is not changed;
    - a run started with the broker's corporate actions (the simulated gateway's data: ``known_actions``) applies
      them from that data already, so nothing is applied a second time here; a difference is only reported.

    Cash dividends IB credits are not visible per asset through the API and are not inferred here.
    """

    def __init__(self, engine: Engine, ib: IBBroker, journal: Journal, run_id: str, *, known_actions: bool,
                 now_ns: Callable[[], int]) -> None:
        self.engine = engine
        self.ib = ib
        self.journal = journal
        self.run_id = run_id
        self.known_actions = known_actions
        self._now = now_ns
        self.applied: list[AppliedSplit] = []
        self._reported: set[tuple[int, int, int]] = set()

    def held_at_broker(self, positions: Iterable[PositionRecord]) -> list[Holding]:
        """The reported positions of the run's account (every account's come in a reconciliation)."""
        account = self.ib.account
        return [holding_from_broker(p.asset, p.amount, p.avg_cost) for p in positions
                if not account or not p.account or p.account == account]

    def current(self) -> list[Holding] | None:
        """IB's positions as the adapter's subscription keeps them; None while a reconciliation reloads them."""
        ib = self.ib
        if not ib.account_state.positions_loaded.is_set():
            return None
        held = [holding_from_broker(p.asset, p.amount, p.avg_cost) for p in ib.positions()]
        if not ib.account_state.positions_loaded.is_set():
            return None  # a reconciliation began reloading them while they were read
        return held

    def check(self, positions: Iterable[Holding], when: str) -> list[PositionDifference]:
        """Compare IB's ``positions`` with the ledger's (see the class docstring)."""
        engine = self.engine
        ledger = engine.ledger
        ours = [Holding(asset, amount, basis) for _, asset, amount, basis, _ in ledger.position_items()]
        busy = {o.asset.sid for o in engine.open_orders()} | {o.asset.sid for o in self.ib.orders.open_orders()}
        differences = compare_positions(ours, positions, busy)
        current: set[tuple[int, int, int]] = set()
        for d in differences:
            if d.split is not None and not self.known_actions:
                self._apply_split(d, when)
            else:
                current.add((d.asset.sid, d.ledger_amount, d.broker_amount))
                self._report(d, when)
        self._reported = {k for k in self._reported if k in current or k[0] in busy}
        return differences

    def _apply_split(self, d: PositionDifference, when: str) -> None:
        assert d.split is not None
        ledger = self.engine.ledger
        sid = d.asset.sid
        now = self._now()
        before = ledger.amount(sid)
        paid = ledger.apply_split(sid, d.split, now)  # a Fraction: the whole amount and the fraction are exact
        applied = AppliedSplit(now, d.asset, d.split, before, ledger.amount(sid), paid, d.reason)
        self.applied.append(applied)
        log.warning("%s: IB booked a %s split (found at %s): the ledger's position is now %+d shares (was %+d)%s, "
                    "cost basis and last price divided by %g. Why: %s", d.asset.symbol, describe_ratio(d.split), when,
                    applied.amount_after, before, f", {paid:.2f} paid for the fractional share" if paid else "",
                    float(d.split), d.reason)
        self.journal.add_event(now, self.run_id, "broker_split", applied.to_dict())

    def _report(self, d: PositionDifference, when: str) -> None:
        key = (d.asset.sid, d.ledger_amount, d.broker_amount)
        first = key not in self._reported
        self._reported.add(key)
        if self.known_actions and d.split is not None:
            why = (f"{d.reason}; this run applies the broker's corporate actions from its data, so it does not apply "
                   "this one again")
        else:
            why = f"not a split the run can infer: {d.reason}"
        (log.warning if first else log.debug)(
            "%s: the ledger holds %+d shares, IB holds %+d (found at %s); %s. The ledger is left unchanged, so the "
            "portfolio value and order_target use %+d. Check %s's trades and corporate actions in TWS (an order "
            "outside this run: TWS, another client or run on this account; a spin-off or merger); a restart of the "
            "run takes IB's positions as its starting positions.", d.asset.symbol, d.ledger_amount, d.broker_amount,
            when, why, d.ledger_amount, d.asset.symbol)
