"""The matching engine: triggers, next-bar fills, volume limits, MOC, IOC, DAY expiry, OCA and brackets."""

from __future__ import annotations

import pytest

from runtime.core.assets import Asset
from runtime.core.costs import FixedBasisPointsSlippage, NoCommission, NoSlippage, PerShare, VolumeShareSlippage
from runtime.core.matching import BarQuote, Cancelled, Fill, MatchingEngine, WorkingOrder
from runtime.core.orders import OrderKind, OrderStatus, TimeInForce

ASSET = Asset(sid=7, symbol="XYZ")
OTHER = Asset(sid=8, symbol="ABC")
BIG = 1e9  # volume large enough that no volume limit applies


def engine(slippage=None, commission=None) -> MatchingEngine:
    return MatchingEngine(slippage or NoSlippage(), commission or NoCommission())


def order(order_id: str = "o", amount: int = 100, **kwargs) -> WorkingOrder:
    kwargs.setdefault("created_ns", 0)
    return WorkingOrder(id=order_id, asset=kwargs.pop("asset", ASSET), amount=amount, **kwargs)


def bar(close: float, t: int, volume: float = BIG, session_close: bool = False) -> BarQuote:
    return BarQuote(close, volume, t, session_close)


def fills(events) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def test_order_fills_on_the_next_bar_not_the_bar_it_was_placed_in() -> None:
    m = engine()
    m.submit(order(created_ns=100))
    assert m.on_bar(ASSET, bar(10.0, 100)) == []  # the bar ending when the order was placed
    (f,) = fills(m.on_bar(ASSET, bar(10.5, 160)))
    assert (f.amount, f.price, f.order_done, f.time_ns) == (100, 10.5, True, 160)
    assert len(m) == 0


@pytest.mark.parametrize(
    ("amount", "stop", "closes", "fill_bar"),
    [
        (100, 10.0, [9.9, 10.0], 1),  # buy stop triggers at close >= stop
        (100, 10.0, [9.9, 9.99, 10.5], 2),
        (-100, 10.0, [10.1, 10.0], 1),  # sell stop triggers at close <= stop
        (-100, 10.0, [10.1, 10.01, 9.0], 2),
    ],
)
def test_stop_triggers(amount: int, stop: float, closes: list[float], fill_bar: int) -> None:
    m = engine()
    m.submit(order(amount=amount, kind=OrderKind.STOP, stop=stop))
    for i, close in enumerate(closes):
        events = fills(m.on_bar(ASSET, bar(close, i + 1)))
        if i < fill_bar:
            assert events == []
        else:
            assert [f.price for f in events] == [close]


@pytest.mark.parametrize(
    ("amount", "limit", "closes", "fill_bar"),
    [
        (100, 10.0, [10.1, 10.0], 1),  # buy limit fills at close <= limit
        (100, 10.0, [10.01, 9.5], 1),
        (-100, 10.0, [9.9, 10.0], 1),  # sell limit fills at close >= limit
        (-100, 10.0, [9.99, 9.0, 11.0], 2),
    ],
)
def test_limit_triggers(amount: int, limit: float, closes: list[float], fill_bar: int) -> None:
    m = engine()
    m.submit(order(amount=amount, kind=OrderKind.LIMIT, limit=limit))
    for i, close in enumerate(closes):
        events = fills(m.on_bar(ASSET, bar(close, i + 1)))
        assert (events != []) == (i == fill_bar)


def test_triggered_stop_limit_becomes_a_limit_order() -> None:
    m = engine()
    m.submit(order(amount=100, kind=OrderKind.STOP_LIMIT, stop=10.0, limit=10.5))
    assert fills(m.on_bar(ASSET, bar(10.8, 1))) == []  # stop reached, but above the limit
    working = m.get("o")
    assert working is not None and working.stop is None and working.limit == 10.5
    assert fills(m.on_bar(ASSET, bar(9.0, 2))) != []  # below the old stop: a plain limit now fills


def test_sell_stop_limit() -> None:
    m = engine()
    m.submit(order(amount=-100, kind=OrderKind.STOP_LIMIT, stop=10.0, limit=9.5))
    assert fills(m.on_bar(ASSET, bar(10.2, 1))) == []
    assert fills(m.on_bar(ASSET, bar(9.4, 2))) == []  # stop reached, below the sell limit
    assert m.get("o").stop is None
    (f,) = fills(m.on_bar(ASSET, bar(9.6, 3)))
    assert f.price == 9.6


def test_limit_fill_never_worse_than_the_limit() -> None:
    """A slipped price beyond the limit is clamped to it (a deliberate choice: zipline's FixedBasisPoints model
    does not check the limit)."""
    m = engine(FixedBasisPointsSlippage(basis_points=100, volume_limit=1.0))
    m.submit(order(amount=100, kind=OrderKind.LIMIT, limit=10.0))
    (f,) = fills(m.on_bar(ASSET, bar(10.0, 1)))
    assert f.price == 10.0


@pytest.mark.parametrize("direction", [1, -1])
def test_volume_share_limit_order_waits_when_the_impacted_price_is_beyond_the_limit(direction: int) -> None:
    """zipline's VolumeShareSlippage: no fill in a bar where the impacted price is worse than the limit (the order
    waits and takes none of the bar's volume); a later bar that allows it fills at the impacted price."""
    m = engine(VolumeShareSlippage(volume_limit=0.25, price_impact=0.1))
    m.submit(order("lim", amount=100 * direction, kind=OrderKind.LIMIT, limit=10.0))
    m.submit(order("mkt", amount=100 * direction))
    # 100 of 1000 shares: impact 0.1 * 0.1**2 * 10.0 = 0.01 against the trader, beyond the 10.0 limit
    events = fills(m.on_bar(ASSET, bar(10.0, 1, volume=1000)))
    assert [(f.order_id, f.amount) for f in events] == [("mkt", 100 * direction)]
    assert events[0].price == pytest.approx(10.0 + 0.01 * direction)  # the volume share the limit order did not use
    assert m.get("lim").filled == 0
    close = 10.0 - 0.02 * direction
    (f,) = fills(m.on_bar(ASSET, bar(close, 2, volume=1000)))
    assert f.order_id == "lim" and f.price == pytest.approx(close + 0.1 * 0.1**2 * close * direction)


def test_volume_limit_partial_fills_carry_over() -> None:
    m = engine(FixedBasisPointsSlippage(basis_points=5, volume_limit=0.1), PerShare(0.001, 0))
    m.submit(order(amount=250))
    got = [fills(m.on_bar(ASSET, bar(20.0, t, volume=1000))) for t in (1, 2, 3, 4)]
    assert [[f.amount for f in g] for g in got] == [[100], [100], [50], []]
    assert [f.cum_filled for g in got for f in g] == [100, 200, 250]
    assert got[0][0].price == pytest.approx(20.0 * 1.0005)
    assert got[2][0].order_done and not got[1][0].order_done
    assert sum(f.commission for g in got for f in g) == pytest.approx(0.25)


def test_volume_is_shared_by_orders_of_one_asset_in_a_bar() -> None:
    m = engine(FixedBasisPointsSlippage(basis_points=0, volume_limit=0.1))
    m.submit(order("a", amount=80))
    m.submit(order("b", amount=-80))
    events = fills(m.on_bar(ASSET, bar(20.0, 1, volume=1000)))
    assert [(f.order_id, f.amount) for f in events] == [("a", 80), ("b", -20)]
    events = fills(m.on_bar(ASSET, bar(20.0, 2, volume=1000)))
    assert [(f.order_id, f.amount) for f in events] == [("b", -60)]


def test_bars_without_volume_or_price_are_skipped() -> None:
    m = engine()
    m.submit(order(kind=OrderKind.STOP, stop=10.0))
    assert m.on_bar(ASSET, bar(11.0, 1, volume=0)) == []
    assert m.on_bar(ASSET, bar(float("nan"), 2)) == []
    assert not m.get("o").stop_reached
    assert fills(m.on_bar(ASSET, bar(11.0, 3))) != []


def test_orders_of_other_assets_are_untouched() -> None:
    m = engine()
    m.submit(order("x", asset=OTHER))
    assert m.on_bar(ASSET, bar(10.0, 1)) == []
    assert len(m.open_orders(OTHER)) == 1 and m.open_orders(ASSET) == []


def test_market_on_close_fills_only_at_the_close_bar() -> None:
    m = engine()
    m.submit(order(kind=OrderKind.MARKET_ON_CLOSE, tif=TimeInForce.DAY))
    assert m.on_bar(ASSET, bar(10.0, 1)) == []
    assert m.on_bar(ASSET, bar(10.2, 2)) == []
    (f,) = fills(m.on_bar(ASSET, bar(10.4, 3, session_close=True)))
    assert f.price == 10.4


def test_limit_on_close_checks_the_closing_price() -> None:
    m = engine()
    m.submit(order(kind=OrderKind.LIMIT_ON_CLOSE, limit=10.0, tif=TimeInForce.DAY))
    assert fills(m.on_bar(ASSET, bar(9.0, 1))) == []  # not the close yet
    assert fills(m.on_bar(ASSET, bar(10.5, 2, session_close=True))) == []
    (c,) = m.end_of_session(3)
    assert isinstance(c, Cancelled) and "DAY" in c.reason


def test_ioc_cancels_what_did_not_fill_on_its_first_bar() -> None:
    m = engine(FixedBasisPointsSlippage(basis_points=0, volume_limit=0.1))
    m.submit(order(amount=500, tif=TimeInForce.IOC))
    events = m.on_bar(ASSET, bar(10.0, 1, volume=1000))
    assert [type(e) for e in events] == [Fill, Cancelled]
    assert events[0].amount == 100 and "IOC" in events[1].reason
    assert len(m) == 0


def test_ioc_limit_not_met_is_cancelled() -> None:
    m = engine()
    m.submit(order(amount=100, kind=OrderKind.LIMIT, limit=9.0, tif=TimeInForce.IOC))
    (c,) = m.on_bar(ASSET, bar(10.0, 1))
    assert isinstance(c, Cancelled)


def test_day_orders_expire_at_the_session_end_gtc_orders_stay() -> None:
    m = engine()
    m.submit(order("day", kind=OrderKind.LIMIT, limit=1.0, tif=TimeInForce.DAY))
    m.submit(order("gtc", kind=OrderKind.LIMIT, limit=1.0, tif=TimeInForce.GTC))
    m.on_bar(ASSET, bar(10.0, 1))
    expired = m.end_of_session(2)
    assert [c.order_id for c in expired] == ["day"]
    assert [o.id for o in m.open_orders()] == ["gtc"]


def test_a_fill_in_an_oca_group_cancels_the_others() -> None:
    m = engine()
    m.submit(order("stop", amount=-100, kind=OrderKind.STOP, stop=9.0, oca_group="exit"))
    m.submit(order("take", amount=-100, kind=OrderKind.LIMIT, limit=11.0, oca_group="exit"))
    m.submit(order("unrelated", amount=-100, kind=OrderKind.LIMIT, limit=50.0))
    assert m.on_bar(ASSET, bar(10.0, 1)) == []
    events = m.on_bar(ASSET, bar(11.5, 2))
    assert [(type(e).__name__, e.order_id) for e in events] == [("Fill", "take"), ("Cancelled", "stop")]
    assert [o.id for o in m.open_orders()] == ["unrelated"]


def test_bracket_children_wait_for_the_parent_and_die_with_it() -> None:
    m = engine(FixedBasisPointsSlippage(basis_points=0, volume_limit=0.1))
    m.submit(order("parent", amount=150))
    m.submit(order("child", amount=-150, kind=OrderKind.LIMIT, limit=5.0, parent_id="parent"))
    events = fills(m.on_bar(ASSET, bar(10.0, 1, volume=1000)))
    assert [(f.order_id, f.amount) for f in events] == [("parent", 100)]  # child waits: parent partly filled
    events = fills(m.on_bar(ASSET, bar(10.0, 2, volume=1000)))
    assert [(f.order_id, f.amount) for f in events] == [("parent", 50), ("child", -50)]

    m2 = engine()
    m2.submit(order("parent", amount=100, kind=OrderKind.LIMIT, limit=1.0))
    m2.submit(order("child", amount=-100, kind=OrderKind.STOP, stop=0.5, parent_id="parent"))
    cancelled = m2.cancel("parent", 5, "user")
    assert [o.id for o in cancelled] == ["parent", "child"]
    assert all(o.status is OrderStatus.CANCELLED for o in cancelled)
    assert len(m2) == 0


def test_cancel_unknown_order_is_a_no_op() -> None:
    assert engine().cancel("nope", 1) == []


def test_modify_keeps_fills_consistent() -> None:
    m = engine(FixedBasisPointsSlippage(basis_points=0, volume_limit=0.1))
    m.submit(order(amount=300))
    m.on_bar(ASSET, bar(10.0, 1, volume=1000))
    with pytest.raises(ValueError):
        m.modify("o", 2, amount=50)
    m.modify("o", 2, amount=150)
    (f,) = fills(m.on_bar(ASSET, bar(10.0, 3, volume=1000)))
    assert f.amount == 50 and f.order_done


def test_trailing_stop_follows_the_price() -> None:
    m = engine()
    m.submit(order(amount=-100, kind=OrderKind.TRAIL, trail_amount=1.0))
    m.on_bar(ASSET, bar(10.0, 1))
    assert m.get("o").stop == 9.0
    m.on_bar(ASSET, bar(12.0, 2))
    assert m.get("o").stop == 11.0
    m.on_bar(ASSET, bar(11.5, 3))
    assert m.get("o").stop == 11.0  # a sell trail never falls
    (f,) = fills(m.on_bar(ASSET, bar(10.9, 4)))
    assert f.price == 10.9
