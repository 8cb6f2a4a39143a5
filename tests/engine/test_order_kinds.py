"""IB's trailing stop-limit (TRAIL LIMIT) and limit-on-open (LMT, tif OPG) orders: the styles, the matcher, the
ibapi Order they become, and one IBridgePy-style file giving the same orders in a backtest and a paper run on the
simulated gateway (the real ibapi client over loopback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.algo import run_data

from runtime.assembly.backtest import run_backtest
from runtime.brokers.ib.ibobjects import make_order
from runtime.core.assets import Asset
from runtime.core.costs import FixedBasisPointsSlippage, PerShare
from runtime.core.ib_mapping import order_spec_for
from runtime.core.matching import BarQuote, Cancelled, Fill, MatchingEngine, WorkingOrder
from runtime.core.orders import OrderKind, OrderStatus, TimeInForce
from runtime.core.styles import LimitOnOpenOrder, TrailStopLimitOrder
from runtime.errors import BadOrderError
from runtime.live.paper import run_algorithm

AAPL = Asset(sid=24, symbol="AAPL")
FILLED = OrderStatus.FILLED
FILE = Path(__file__).resolve().parents[1] / "corpus" / "ibridgepy" / "trail_limit_and_open.py"


def _matcher() -> MatchingEngine:
    return MatchingEngine(FixedBasisPointsSlippage(basis_points=0.0, volume_limit=1.0), PerShare(cost=0.0))


def test_styles_check_their_terms() -> None:
    style = TrailStopLimitOrder(101.0, 0.25, trailing_amount=1.0)
    assert style.kind is OrderKind.TRAIL_LIMIT and style.trail_terms() == (1.0, None, 0.25)
    assert style.stop_for(False, 0.01) == 101.0
    with pytest.raises(BadOrderError, match="exactly one"):
        TrailStopLimitOrder(None, 0.25)
    with pytest.raises(BadOrderError, match="limit_offset"):
        TrailStopLimitOrder(None, -1.0, trailing_amount=1.0)
    loo = LimitOnOpenOrder(10.004)
    assert loo.kind is OrderKind.LIMIT_ON_OPEN and loo.tif is TimeInForce.DAY and loo.limit_for(True, 0.01) == 10.0


def test_trailing_stop_limit_trails_then_works_as_a_limit() -> None:
    m = _matcher()
    m.submit(WorkingOrder("s", AAPL, -10, OrderKind.TRAIL_LIMIT, trail_amount=1.0, limit_offset=0.5))
    events = []
    for t, close in enumerate([100.0, 102.0, 101.5, 101.0, 100.0, 100.7], start=1):
        events += m.on_bar(AAPL, BarQuote(close, 1e6, t))
        if t == 3:
            assert m.get("s").stop == 101.0 and not m.get("s").stop_reached  # rose with 102, never fell
    # 101.0 reaches the stop: a sell limit at 100.5; 101.0 meets it at once
    assert [(type(e), e.time_ns, e.price) for e in events] == [(Fill, 4, 101.0)]
    m.submit(WorkingOrder("b", AAPL, 10, OrderKind.TRAIL_LIMIT, stop=100.0, trail_amount=1.0, limit_offset=0.25,
                          created_ns=10))
    fills = [e for t, c in [(11, 99.5), (12, 98.0), (13, 99.0), (14, 99.4), (15, 99.2)]
             for e in m.on_bar(AAPL, BarQuote(c, 1e6, t))]
    # the stop falls to 99.0 with 98.0; 99.0 reaches it (a buy limit at 99.25): 99.0 fills
    assert [(e.time_ns, e.price) for e in fills] == [(13, 99.0)]


def test_limit_on_open_meets_only_the_opening_price_and_waits_overnight() -> None:
    m = _matcher()
    m.submit(WorkingOrder("hit", AAPL, 10, OrderKind.LIMIT_ON_OPEN, limit=100.0, tif=TimeInForce.DAY))
    m.submit(WorkingOrder("miss", AAPL, 10, OrderKind.LIMIT_ON_OPEN, limit=95.0, tif=TimeInForce.DAY))
    assert m.on_bar(AAPL, BarQuote(90.0, 1e6, 1)) == []  # inside the session: not the opening auction
    assert m.end_of_session(2) == []  # a DAY limit-on-open waits for the next open
    events = m.on_bar(AAPL, BarQuote(90.0, 1e6, 3, session_open=99.0))
    assert [(type(e), e.order_id) for e in events] == [(Fill, "hit"), (Cancelled, "miss")]
    assert events[0].price == 99.0 and "not filled at the open" in events[1].reason and len(m) == 0


def test_ibapi_orders_for_the_new_kinds() -> None:
    trail = make_order(order_spec_for(amount=-10, kind=OrderKind.TRAIL_LIMIT, limit=None, stop=101.0,
                                      tif=TimeInForce.GTC, ref="r", trailing_percent=1.5, limit_offset=0.25), 7)
    assert (trail.orderType, trail.action, trail.trailStopPrice, trail.lmtPriceOffset, trail.trailingPercent,
            trail.tif) == ("TRAIL LIMIT", "SELL", 101.0, 0.25, 1.5, "GTC")
    loo = make_order(order_spec_for(amount=5, kind=OrderKind.LIMIT_ON_OPEN, limit=99.5, stop=None,
                                    tif=TimeInForce.DAY, ref="r"), 8)
    assert (loo.orderType, loo.tif, loo.lmtPrice, loo.action) == ("LMT", "OPG", 99.5, "BUY")
    with pytest.raises(ValueError, match="limit offset"):
        order_spec_for(amount=1, kind=OrderKind.TRAIL_LIMIT, limit=None, stop=None, tif=TimeInForce.DAY, ref="r",
                       trailing_amount=1.0)


def _orders(perf: pd.DataFrame) -> dict[str, tuple]:
    out = {}
    for day in perf["orders"]:
        for o in day:
            out[o["id"]] = (o["sid"].symbol, o["amount"], o["filled"], o["status"])
    return out


def _fills(perf: pd.DataFrame) -> dict[str, list[tuple[pd.Timestamp, float]]]:
    out: dict[str, list] = {}
    for day in perf["transactions"]:
        for t in day:
            out.setdefault(t["order_id"], []).append((pd.Timestamp(t["dt"]), t["price"]))
    return out


@pytest.mark.socket
@pytest.mark.slow
@pytest.mark.parametrize(("frequency", "start", "end"), [("minute", "2012-01-03", "2012-01-05"),
                                                         ("daily", "2012-01-03", "2012-01-20")])
def test_backtest_and_paper_run_give_the_same_orders(tmp_path: Path, frequency: str, start: str, end: str) -> None:
    daily, minute, s, e = run_data(frequency, start, end)
    bt = run_backtest(FILE, daily=daily, minute=minute, start=s, end=e, capital=100_000.0, frequency=frequency,
                      strict=True)
    paper = run_algorithm(str(FILE), frequency=frequency, replay=(pd.Timestamp(start), pd.Timestamp(end)),
                          output=tmp_path, run_id="kinds" + frequency, strict=True)
    assert bt.engine.error_count == 0 and paper.engine.error_count == 0
    for run in (bt, paper):
        ids = run.engine.context.ids
        orders = _orders(run.perf)
        named = {name: orders[i] for name, i in ids.items()}
        assert named == {
            "entry": ("AAPL", 10, 10, FILLED), "trail_sell": ("AAPL", -10, -10, FILLED),
            "trail_buy": ("IBM", 5, 5, FILLED), "open_buy": ("AAPL", 7, 7, FILLED),
            "open_low": ("IBM", 4, 0, OrderStatus.CANCELLED),
        }, frequency
        assert run.engine.context.placed_open == {"open_buy": "Submitted", "open_low": "Submitted"}
        records = run.engine.orders
        assert records[ids["trail_sell"]].kind is OrderKind.TRAIL_LIMIT
        assert records[ids["open_buy"]].kind is OrderKind.LIMIT_ON_OPEN
        # the limit-on-open filled in the next session's opening auction, at its open
        (when, price), = _fills(run.perf)[ids["open_buy"]]
        cal = run.engine.calendar
        session = int(np.searchsorted(cal.opens, records[ids["open_buy"]].created_ns))  # the next open
        # in the session's first minute (the gateway's execution time, and a minute backtest's bar); a daily
        # backtest books it with the session's bar, at the close
        daily_bar = frequency == "daily" and run is bt
        assert when.value == (cal.closes[session] if daily_bar else cal.opens[session] + 60_000_000_000)
        col = daily.sid_to_col[records[ids["open_buy"]].asset.sid]
        day_open = float(daily.open[session - daily.first_session, col])
        assert price == pytest.approx(day_open, rel=2e-3)
