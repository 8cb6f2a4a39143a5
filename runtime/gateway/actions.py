"""Corporate actions at the simulated gateway: the bundled data's splits and cash dividends, as IB applies them.

IB adjusts positions on a split and credits cash dividends to the account. The gateway does the same to its paper
accounts when its clock passes the open of the ex-date session, with the backtest's own bookkeeping
(:meth:`runtime.core.ledger.Ledger.apply_split` and :meth:`~runtime.core.ledger.Ledger.apply_dividend`): a split
multiplies the position by its ratio, divides the average cost and pays a fractional share in cash at the last
price; a dividend moves ``amount x position`` into cash on the ex-date (as the backtest does, not on the pay date).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runtime.gateway.accounts import AccountBook
from runtime.gateway.contracts import Instrument
from runtime.gateway.market import Market

#: Order of the kinds at one instant (the backtest applies splits before dividends).
KIND_ORDER = {"split": 0, "dividend": 1}


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """One split (``value`` = new shares per old share) or cash dividend (``value`` = cash per share).

    ``time_ns`` is the open of the ex-date session; ``key`` names the action in the gateway's state file.
    """

    key: str
    kind: str
    time_ns: int
    sid: int
    value: float
    instrument: Instrument


def collect_actions(market: Market) -> list[CorporateAction]:
    """Every split and dividend of the stores behind ``market``'s series, in the order they take effect."""
    found: dict[str, CorporateAction] = {}
    for series in market.all_series():
        inst = series.inst
        if inst.asset is None:
            continue
        sid = inst.asset.sid
        store = series.daily
        cal = store.calendar
        events = [("split", s.date, s.ratio) for s in store.splits if s.sid == sid]
        events += [("dividend", d.ex_date, d.amount) for d in store.dividends if d.sid == sid]
        for kind, label, value in events:
            k = cal.session_index_on_or_after(label)
            if k >= len(cal.opens) or cal.session_label(k) != label:
                continue
            key = f"{kind}:{sid}:{label:%Y-%m-%d}"
            found.setdefault(key, CorporateAction(key, kind, int(cal.opens[k]), sid, float(value), inst))
    return sorted(found.values(), key=lambda a: (a.time_ns, KIND_ORDER[a.kind], a.sid))


class ActionSchedule:
    """The market's splits and dividends in the order they take effect, and which of them the accounts have had."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.actions: list[CorporateAction] = collect_actions(market)
        #: actions already applied to the accounts (key -> time), kept in the state file so each applies once
        self.applied: dict[str, int] = {}
        self._pos = 0

    def due(self, now_ns: int) -> int | None:
        """The open of the first action not yet applied if the clock has passed it, else None."""
        actions = self.actions
        while self._pos < len(actions) and actions[self._pos].key in self.applied:
            self._pos += 1
        if self._pos < len(actions) and actions[self._pos].time_ns < now_ns:
            return actions[self._pos].time_ns
        return None

    def take_due(self, now_ns: int) -> list[CorporateAction]:
        """The actions due at or before ``now_ns`` not applied yet, recorded as applied (the caller applies them)."""
        out: list[CorporateAction] = []
        actions = self.actions
        while self._pos < len(actions) and actions[self._pos].time_ns <= now_ns:
            action = actions[self._pos]
            self._pos += 1
            if action.key in self.applied:
                continue
            out.append(action)
            self.applied[action.key] = action.time_ns
        return out

    def restore(self, applied: dict[str, int]) -> list[CorporateAction]:
        """Mark saved actions (key -> time) as applied; returns them in the order they took effect."""
        self.applied.update(applied)
        return [a for a in self.actions if a.key in applied]

    def apply(self, action: CorporateAction, accounts: Mapping[str, AccountBook]) -> list[str]:
        """Apply one action to every account holding its asset (through the shared ledger); returns their codes.

        Does not record the action as applied (the state file replays recorded actions with it).
        """
        changed: list[str] = []
        inst = action.instrument
        for code, account in accounts.items():
            if not account.ledger.amount(action.sid):
                continue
            if action.kind == "split":
                quote = self.market.quote(inst, action.time_ns)  # the previous close: the fraction's price
                if quote is not None:
                    account.mark(inst, quote.last, action.time_ns)
                account.ledger.apply_split(action.sid, action.value, action.time_ns)
                if inst.con_id in account.prices:
                    account.prices[inst.con_id] /= action.value
            else:
                account.ledger.apply_dividend(action.sid, action.value)
            changed.append(code)
        return changed
