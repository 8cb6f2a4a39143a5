"""Corporate actions at the simulated gateway: the bundled data's splits and cash dividends, as IB applies them.

IB adjusts positions on a split and credits cash dividends to the account. The gateway does the same to its paper
accounts when its clock passes the open of the ex-date session, with the backtest's own bookkeeping
(:meth:`runtime.core.ledger.Ledger.apply_split` and :meth:`~runtime.core.ledger.Ledger.apply_dividend`): a split
multiplies the position by its ratio, divides the average cost and pays a fractional share in cash at the last
price; a dividend moves ``amount x position`` into cash on the ex-date (as the backtest does, not on the pay date).
"""

from __future__ import annotations

from dataclasses import dataclass

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
