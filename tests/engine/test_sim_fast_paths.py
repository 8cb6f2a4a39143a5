"""The simulated broker's fast paths give what the general paths give: session-last rows from a set instead of a
search, bars read as numbers instead of :class:`BarQuote` objects, only the sids with working orders visited."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest

from runtime.brokers.base import OrderRequest
from runtime.brokers.sim import SimBroker, session_last_rows
from runtime.core.assets import Asset
from runtime.core.costs import (
    LIQUIDITY_EXCEEDED,
    FixedBasisPointsSlippage,
    IBFixedCommission,
    PerShare,
    SlippageModel,
    SlipResult,
    VolumeShareSlippage,
)
from runtime.core.matching import BarQuote, Cancelled, MatchingEngine, WorkingOrder
from runtime.core.orders import OrderKind, TimeInForce
from runtime.core.styles import ExecutionStyle, LimitOrder, MarketOrder, StopOrder, TrailStopLimitOrder, TrailStopOrder
from runtime.data import BarArrays, synthetic_bars
from runtime.data.calendars import get_calendar

SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE"]


def searched_last_row(session_row_start: np.ndarray, row: int) -> bool:
    """Whether ``row`` ends a session, found by a binary search over the sessions' last rows."""
    last = np.asarray(session_row_start[1:], dtype=np.int64) - 1
    i = int(np.searchsorted(last, row))
    return i < len(last) and bool(last[i] == row)


def reference_process_bar(broker: SimBroker, row: int) -> list:
    """:meth:`SimBroker.process_bar` through the general path: one :class:`BarQuote` per sid and ``on_bar``."""
    bars, matcher = broker.bars, broker.matcher
    if not len(matcher):
        return broker.poll_events(0)
    now_ns = int(bars.times[row])
    session_close = searched_last_row(bars.session_row_start, row)
    opens_session = row in np.asarray(bars.session_row_start[:-1]).tolist()
    events = broker.poll_events(now_ns)
    for sid in [sid for sid, orders in matcher._by_sid.items() if orders]:
        col = bars.sid_to_col[sid]
        close = float(bars.close[row, col])
        volume = float(bars.volume[row, col])
        if math.isnan(close) or not volume or math.isnan(volume):
            continue
        session_open = float(bars.open[row, col]) if opens_session else None
        events.extend(matcher.on_bar(bars.assets[col], BarQuote(close, volume, now_ns, session_close, session_open)))
    return events


@pytest.mark.parametrize(
    ("calendar", "start", "end"),
    [("XNYS", "2012-11-20", "2013-07-05"), ("XLON", "2012-12-17", "2013-01-04")],
)
def test_session_last_rows_equal_the_search_with_early_closes(calendar: str, start: str, end: str) -> None:
    cal = get_calendar(calendar)
    store = synthetic_bars(SYMBOLS[:2], start, end, frequency="minute", calendar=cal)
    lengths = np.diff(store.session_row_start)
    assert len(set(lengths.tolist())) > 1  # the range holds early closes
    flags = session_last_rows(store.session_row_start)
    broker = SimBroker(store, FixedBasisPointsSlippage(), PerShare())
    for row in range(-2, store.n_rows + 2):
        expected = searched_last_row(store.session_row_start, row)
        assert (row in flags) == expected
        assert (row in broker._session_last_rows) == expected
    closes = cal.closes[store.first_session:store.last_session + 1]
    assert sorted(flags) == np.flatnonzero(np.isin(store.times, closes)).tolist()


def test_session_last_rows_of_daily_bars_are_every_row() -> None:
    store = synthetic_bars(SYMBOLS[:1], "2012-11-20", "2012-12-31")
    assert sorted(session_last_rows(store.session_row_start)) == list(range(store.n_rows))


def test_session_last_rows_with_sessions_without_rows() -> None:
    starts = np.array([0, 0, 3, 3, 5, 9], dtype=np.int64)
    flags = session_last_rows(starts)
    for row in range(-1, 11):
        assert (row in flags) == searched_last_row(starts, row)


def _holey(store: BarArrays, seed: int) -> BarArrays:
    """``store`` with some bars without trades (NaN prices, no volume), some with a price but no volume, some with
    a NaN volume and thin volumes elsewhere (so volume limits leave orders partly filled)."""
    rng = np.random.default_rng(seed)
    close, volume = store.close.copy(), store.volume.copy()
    volume[:] = np.floor(volume / 50.0)
    pick = rng.random(close.shape)
    close[pick < 0.03] = np.nan
    volume[pick < 0.03] = 0.0
    volume[(pick >= 0.03) & (pick < 0.05)] = 0.0
    volume[(pick >= 0.05) & (pick < 0.06)] = np.nan
    return dataclasses.replace(store, close=close, volume=volume)


def _random_request(rng: random.Random, n: int, asset: Asset, price: float, created_ns: int,
                    working: list[str]) -> OrderRequest:
    amount = rng.choice([1, 1, -1]) * rng.choice([50, 300, 2_000, 40_000])
    kind = rng.choice(list(OrderKind))
    style: ExecutionStyle = MarketOrder()
    limit = stop = None
    if kind in (OrderKind.LIMIT, OrderKind.STOP_LIMIT, OrderKind.LIMIT_ON_CLOSE, OrderKind.LIMIT_ON_OPEN):
        limit = round(price * rng.uniform(0.995, 1.005), 2)
        style = LimitOrder(limit)
    if kind in (OrderKind.STOP, OrderKind.STOP_LIMIT):
        stop = round(price * rng.uniform(0.997, 1.003), 2)
        style = StopOrder(stop)
    if kind is OrderKind.TRAIL:
        style = rng.choice([TrailStopOrder(trailing_percent=0.2), TrailStopOrder(trailing_amount=0.05)])
    if kind is OrderKind.TRAIL_LIMIT:
        style = rng.choice([TrailStopLimitOrder(limit_offset=0.02, trailing_percent=0.2),
                            TrailStopLimitOrder(limit_offset=0.0, trailing_amount=0.05)])
    tif = rng.choice([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.DAY, TimeInForce.IOC])
    parent = rng.choice(working) if working and rng.random() < 0.1 else None
    oca = f"g{rng.randrange(3)}" if rng.random() < 0.15 else None
    trail_amount, trail_percent, offset = style.trail_terms()
    return OrderRequest(f"o{n}", asset, amount, kind, limit, stop, tif, created_ns, parent, oca,
                        rng.random() < 0.5, trail_amount=trail_amount, trail_percent=trail_percent,
                        limit_offset=offset)


@pytest.mark.parametrize(
    ("seed", "slippage", "commission"),
    [
        (1, FixedBasisPointsSlippage, PerShare),
        (2, VolumeShareSlippage, IBFixedCommission),
        (3, FixedBasisPointsSlippage, IBFixedCommission),
    ],
)
def test_process_bar_equals_the_general_path(seed: int, slippage: type[SlippageModel], commission) -> None:
    store = _holey(synthetic_bars(SYMBOLS, "2012-11-20", "2012-11-27", frequency="minute", seed=seed), seed)
    fast = SimBroker(store, slippage(), commission())
    general = SimBroker(store, slippage(), commission())
    rng = random.Random(seed)
    last_rows = session_last_rows(store.session_row_start)
    n = events = fills = 0
    for row in range(store.n_rows):
        now_ns = int(store.times[row])
        if fast.has_open_orders:
            got, expected = fast.process_bar(row), reference_process_bar(general, row)
            assert got == expected
            events += len(got)
            fills += sum(1 for e in got if not isinstance(e, Cancelled))
        assert fast.has_open_orders == general.has_open_orders
        assert fast.matcher.sids_with_orders() == [s for s, o in general.matcher._by_sid.items() if o]
        working = [o.id for o in fast.matcher.open_orders()]
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            col = rng.randrange(len(store.assets))
            price = float(store.close[row, col])
            request = _random_request(rng, n, store.assets[col], 50.0 if math.isnan(price) else price, now_ns,
                                      working)
            n += 1
            fast.place_order(request)
            general.place_order(request)
        if working and rng.random() < 0.05:
            victim = rng.choice(working)
            fast.cancel_order(victim, now_ns)
            general.cancel_order(victim, now_ns)
        if row in last_rows:
            assert fast.end_of_session(now_ns) == list(general.matcher.end_of_session(now_ns))
        assert fast.poll_events(now_ns) == general.poll_events(now_ns)
    assert n > 500 and events > 300 and fills > 100


def test_working_by_sid_keeps_the_order_sids_were_first_ordered() -> None:
    m = MatchingEngine(FixedBasisPointsSlippage(), PerShare())
    assets = [Asset(sid, f"S{sid}") for sid in (30, 10, 20, 40)]
    rng = random.Random(5)
    for n in range(400):
        if rng.random() < 0.6:
            m.submit(WorkingOrder(id=f"o{n}", asset=rng.choice(assets), amount=100, created_ns=n))
        elif len(m):
            m.cancel(rng.choice(m.open_orders()).id, n)
        scanned = [(sid, orders) for sid, orders in m._by_sid.items() if orders]
        assert m.working_by_sid() == scanned
        assert all(got is want for (_, got), (_, want) in zip(m.working_by_sid(), scanned))
        assert m.sids_with_orders() == [sid for sid, _ in scanned]


class _StringLimit(SlippageModel):
    """Fills 100 shares per order and bar, then reports the asset's volume used up with an equal, distinct string."""

    def fill(self, direction, open_amount, price, volume, volume_used):
        if volume_used >= 100:
            return "".join(["liquidity", " ", "exceeded"])
        return SlipResult(price, min(100, abs(open_amount)))


def test_a_slippage_model_returning_an_equal_liquidity_string_stops_the_asset() -> None:
    m = MatchingEngine(_StringLimit(), PerShare())
    asset = Asset(1, "AAA")
    m.submit(WorkingOrder(id="a", asset=asset, amount=150))
    m.submit(WorkingOrder(id="b", asset=asset, amount=100))
    assert _StringLimit().fill(1, 1, 1.0, 1.0, 100) == LIQUIDITY_EXCEEDED
    assert _StringLimit().fill(1, 1, 1.0, 1.0, 100) is not LIQUIDITY_EXCEEDED
    events = m.on_bar(asset, BarQuote(10.0, 1e6, 1))
    assert [(e.order_id, e.amount) for e in events] == [("a", 100)]
    events = m.on_bar(asset, BarQuote(10.0, 1e6, 2))
    assert [(e.order_id, e.amount) for e in events] == [("a", 50), ("b", 100)]
