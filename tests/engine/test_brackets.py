"""IBridgePy's bracket orders: place_order_with_stoploss, place_order_with_takeprofit and
place_order_with_stoploss_takeprofit.

Backtests on the bundled daily AAPL bars (fills at the bar's close, no slippage, no commission):
- 2012-09-19, close 702.10: the price falls (698.70 on the 20th, 690.79 on the 24th, 673.54 on the 25th);
- 2012-01-03, close 411.23: the price rises (413.44 on the 4th, below 430 until the 24th, 446.66 on the 25th).
A paper replay on the simulated gateway (minute bars, seed 7, 2012-10-01) gives the backtest's fills, its journal
holds each bracket's entry and exits, and a restart adopts working exits by orderRef without sending them again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support.algo import run_algo, write_algo

from runtime.data.calendars import get_calendar
from runtime.engine.clocks import ReplayClock
from runtime.errors import AlgorithmLoadError
from runtime.journal import Journal
from runtime.live.paper import EmbeddedGateway, replay_start_ns, run_algorithm

SETUP = """
def initialize(context):
    context.asset = symbol("AAPL")
    context.ids = None
    context.seen = []
    set_slippage(slippage.FixedSlippage(spread=0.0))
    set_commission(commission.PerShare(cost=0.0, min_trade_cost=0.0))


def handle_data(context, data):
    if context.ids is None:
        context.ids = PLACE
    context.seen.append((get_datetime().date().isoformat(), tuple(get_order_status(i) for i in context.ids),
                         len(get_open_orders(context.asset)), context.portfolio.positions[context.asset].amount))
"""


def _bracket_run(tmp_path: Path, place: str, start: str, end: str):
    return run_algo(tmp_path, SETUP.replace("PLACE", place), start=start, end=end)


def _trades(result) -> list[tuple[str, int, float]]:
    return [(pd.Timestamp(t["dt"]).date().isoformat(), t["amount"], round(t["price"], 4))
            for day in result.perf["transactions"] for t in day]


def _seen(result, day: str) -> tuple:
    return next(s[1:] for s in result.engine.context.seen if s[0] == day)


def test_stop_loss_closes_the_position_when_the_price_falls(tmp_path: Path) -> None:
    result = _bracket_run(tmp_path, "place_order_with_stoploss(context.asset, 100, 680.0, tif='GTC')",
                          "2012-09-19", "2012-10-05")
    assert _trades(result) == [("2012-09-20", 100, 698.70), ("2012-09-25", -100, 673.54)]
    entry, stop = result.engine.context.ids
    orders = result.engine.orders
    assert (orders[stop].amount, orders[stop].kind.value, orders[stop].stop, orders[stop].parent_id) == (
        -100, "STP", 680.0, entry)
    assert _seen(result, "2012-09-19") == (("Submitted", "PreSubmitted"), 2, 0)
    assert _seen(result, "2012-09-20") == (("Filled", "Submitted"), 1, 100)
    assert _seen(result, "2012-09-25") == (("Filled", "Filled"), 0, 0)
    assert result.perf["ending_cash"].iloc[-1] == pytest.approx(100_000.0 - 100 * (698.70 - 673.54))


def test_take_profit_sells_when_the_price_rises(tmp_path: Path) -> None:
    result = _bracket_run(tmp_path, "place_order_with_takeprofit(context.asset, 100, 440.0, tif='GTC')",
                          "2012-01-03", "2012-01-31")
    assert _trades(result) == [("2012-01-04", 100, 413.44), ("2012-01-25", -100, 446.66)]
    entry, take = result.engine.context.ids
    assert (result.engine.orders[take].kind.value, result.engine.orders[take].limit) == ("LMT", 440.0)
    assert result.engine.orders[take].parent_id == entry
    assert _seen(result, "2012-01-24") == (("Filled", "Submitted"), 1, 100)
    assert _seen(result, "2012-01-25") == (("Filled", "Filled"), 0, 0)


@pytest.mark.parametrize(("start", "end", "stop", "take", "trades", "statuses"), [
    ("2012-09-19", "2012-10-05", 680.0, 720.0, [("2012-09-20", 100, 698.70), ("2012-09-25", -100, 673.54)],
     ("Filled", "Filled", "Cancelled")),
    ("2012-01-03", "2012-01-31", 400.0, 440.0, [("2012-01-04", 100, 413.44), ("2012-01-25", -100, 446.66)],
     ("Filled", "Cancelled", "Filled")),
], ids=["stop fills", "take-profit fills"])
def test_both_exits_form_an_oca_group(tmp_path: Path, start: str, end: str, stop: float, take: float,
                                      trades: list, statuses: tuple) -> None:
    result = _bracket_run(tmp_path, f"place_order_with_stoploss_takeprofit(context.asset, 100, {stop}, {take}, "
                                    "tif='GTC')", start, end)
    assert _trades(result) == trades
    ids = result.engine.context.ids
    assert len(ids) == 3
    assert result.engine.context.seen[0][1:] == (("Submitted", "PreSubmitted", "PreSubmitted"), 3, 0)
    assert result.engine.context.seen[-1][1:] == (statuses, 0, 0)
    records = [result.engine.orders[i] for i in ids]
    assert records[1].oca_group == records[2].oca_group is not None and records[0].oca_group is None
    cancelled = next(r for r in records if r.status.name == "CANCELLED")
    assert "OCA group" in cancelled.reason


def test_cancelling_the_entry_cancels_its_exits(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.ids = None
            context.after = None

        def handle_data(context, data):
            asset = symbol("AAPL")
            if context.ids is None:
                context.ids = place_order_with_stoploss_takeprofit(asset, 100, 250.0, 500.0, style=LimitOrder(300.0))
            elif context.after is None:
                cancel_order(context.ids[0])
                context.after = ([get_order_status(i) for i in context.ids], get_open_orders())
    """, start="2012-01-03", end="2012-01-06")
    statuses, still_open = result.engine.context.after
    assert statuses == ["Cancelled", "Cancelled", "Cancelled"] and still_open == {}
    assert _trades(result) == []


def test_day_exits_of_a_daily_run_expire_at_the_close(tmp_path: Path) -> None:
    """IBridgePy's default tif='DAY' is the exits': in a daily run they end with the session the bracket is placed
    in, and the entry fills alone at the next close."""
    result = _bracket_run(tmp_path, "place_order_with_stoploss(context.asset, 100, 680.0)", "2012-09-19",
                          "2012-09-26")
    assert _trades(result) == [("2012-09-20", 100, 698.70)]
    assert _seen(result, "2012-09-20") == (("Filled", "Cancelled"), 0, 100)


WRONG_SIDE = """
def initialize(context):
    context.errors = []


def handle_data(context, data):
    if context.errors:
        return
    a = symbol("AAPL")
    for call in (lambda: place_order_with_stoploss(a, 100, 420.0),
                 lambda: place_order_with_takeprofit(a, 100, 400.0),
                 lambda: place_order_with_stoploss(a, -100, 400.0),
                 lambda: place_order_with_takeprofit(a, -100, 420.0),
                 lambda: place_order_with_stoploss_takeprofit(a, 100, 385.0, 388.0, style=LimitOrder(390.0)),
                 lambda: place_order_with_stoploss(a, 100, 395.0, style=LimitOrder(390.0)),
                 lambda: place_order_with_stoploss(a, 0, 400.0),
                 lambda: place_order_with_takeprofit(a, 100, 440.0, tif='IOC')):
        try:
            call()
        except Exception as exc:
            context.errors.append(f"{type(exc).__name__}: {exc}")
"""


def test_prices_on_the_wrong_side_are_rejected_and_nothing_is_placed(tmp_path: Path) -> None:
    result = run_algo(tmp_path, WRONG_SIDE, start="2012-01-03", end="2012-01-05")
    errors = result.engine.context.errors
    assert len(errors) == 8 and all(e.startswith("BadOrderError: ") for e in errors)
    assert "for a buy of AAPL the stop-loss price 420 must be below the entry price 411.23" in errors[0]
    assert "for a buy of AAPL the take-profit price 400 must be above the entry price 411.23" in errors[1]
    assert "for a sell of AAPL the stop-loss price 400 must be above the entry price 411.23" in errors[2]
    assert "for a sell of AAPL the take-profit price 420 must be below the entry price 411.23" in errors[3]
    assert "take-profit price 388 must be above the entry price 390" in errors[4]
    assert "stop-loss price 395 must be below the entry price 390" in errors[5]
    assert "rounds to 0 shares" in errors[6] and "tif must be 'DAY' or 'GTC'" in errors[7]
    assert errors[0].startswith("BadOrderError: place_order_with_stoploss:")
    assert result.engine.orders == {} and _trades(result) == []


def test_a_rejected_bracket_names_the_algorithm_line(tmp_path: Path) -> None:
    path = write_algo(tmp_path, """
        def initialize(context):
            pass

        def handle_data(context, data):
            place_order_with_stoploss_takeprofit(symbol("AAPL"), 100, 400.0, 405.0)
    """)
    with pytest.raises(AlgorithmLoadError) as info:
        run_algo(tmp_path, path, start="2012-01-03", end="2012-01-05")
    text = str(info.value)
    assert f"{path}:5: BadOrderError: place_order_with_stoploss_takeprofit: for a buy of AAPL the take-profit " \
           "price 405 must be above the entry price 411.23" in text


# ---------------------------------------------------------------------------------------------------- paper replay
PAPER = """
def initialize(context):
    context.ids = {}
    set_slippage(slippage.FixedSlippage(spread=0.0))
    set_commission(commission.PerShare(cost=0.0, min_trade_cost=0.0))
    schedule_function(enter, date_rules.every_day(), time_rules.market_open(minutes=30))


def enter(context, data):
    if context.ids:
        return
    aapl, ibm = symbol("AAPL"), symbol("IBM")
    p, q = data.current(aapl, "price"), data.current(ibm, "price")
    context.ids["AAPL"] = place_order_with_stoploss(aapl, 100, round(p - 3, 2), style=LimitOrder(round(p - 1, 2)),
                                                    tif="GTC")
    context.ids["IBM"] = place_order_with_takeprofit(ibm, 100, round(q + 1, 2), style=LimitOrder(round(q - 0.1, 2)),
                                                     tif="GTC")
"""


def _minute_trades(perf: pd.DataFrame) -> list[tuple]:
    return [(pd.Timestamp(t["dt"]).strftime("%m-%d %H:%M"), t["symbol"], t["amount"], round(t["price"], 4))
            for day in perf["transactions"] for t in day]


@pytest.mark.socket
@pytest.mark.slow
def test_paper_replay_fills_brackets_as_the_backtest_and_journals_every_order(tmp_path: Path) -> None:
    """AAPL at 10:00 is 669.11: entry LMT 668.11 fills at 10:35 (667.38), the STP at 666.11 at 10:53 (665.95).
    IBM at 10:00 is 208.74: entry LMT 208.64 fills at 10:12 (208.63), the LMT at 209.74 at 11:16 (209.87)."""
    path = write_algo(tmp_path, PAPER)
    start, end = "2012-10-01", "2012-10-03"
    expected = [("10-01 14:12", "IBM", 100, 208.63), ("10-01 14:35", "AAPL", 100, 667.38),
                ("10-01 14:53", "AAPL", -100, 665.95), ("10-01 15:16", "IBM", -100, 209.87)]
    bt = run_algo(tmp_path, path, start=start, end=end, frequency="minute")
    assert _minute_trades(bt.perf) == expected
    paper = run_algorithm(str(path), frequency="minute", replay=(pd.Timestamp(start), pd.Timestamp(end)),
                          output=tmp_path / "paper", run_id="brackets1")
    assert paper.engine.error_count == 0
    assert _minute_trades(paper.perf) == expected
    assert paper.orders_sent == 4
    ids = paper.engine.context.ids
    journal = {o.order_id: o for o in Journal(tmp_path / "paper" / "journal.sqlite").orders()}
    assert set(journal) == {*ids["AAPL"], *ids["IBM"]}
    rows = [(o.symbol, o.amount, o.kind, o.limit_price, o.stop_price, o.tif, o.status)
            for o in (journal[i] for i in (*ids["AAPL"], *ids["IBM"]))]
    assert rows == [("AAPL", 100, "LMT", 668.11, None, "GTC", "filled"),
                    ("AAPL", -100, "STP", None, 666.11, "GTC", "filled"),
                    ("IBM", 100, "LMT", 208.64, None, "GTC", "filled"),
                    ("IBM", -100, "LMT", 209.74, None, "GTC", "filled")]
    assert all(journal[i].order_ref == f"ibalgo:brackets1:{i}" for i in journal)
    assert len({journal[i].broker_id for i in journal}) == 4


def _gateway(start: str) -> EmbeddedGateway:
    cal = get_calendar("XNYS")
    clock = ReplayClock(replay_start_ns(cal, cal.session_index_on_or_after(pd.Timestamp(start))), speed=None)
    return EmbeddedGateway(clock, capital=100_000.0)


RESTART = """
def initialize(context):
    context.ids = None
    set_slippage(slippage.FixedSlippage(spread=0.0))
    set_commission(commission.PerShare(cost=0.0, min_trade_cost=0.0))
    schedule_function(enter, date_rules.every_day(), time_rules.market_open(minutes=30))


def enter(context, data):
    if context.ids is None:
        a = symbol("AAPL")
        p = data.current(a, "price")
        context.ids = place_order_with_stoploss_takeprofit(a, 100, round(p - 20, 2), round(p + 9, 2),
                                                           style=LimitOrder(round(p - 1, 2)), tif="GTC")
"""


def _stop_after_first_session(session) -> None:
    original = session.start

    def start() -> None:
        original()
        session.engine.on_session_end_hooks.append(lambda engine, s: session.stop("stop requested"))

    session.start = start


@pytest.mark.socket
@pytest.mark.slow
def test_a_restart_adopts_the_exits_by_order_ref_and_they_still_work(tmp_path: Path) -> None:
    """The entry fills on 10-01 (10:35, 667.38); the run stops that evening with both exits working at the gateway.
    The restarted run sends nothing again: the stop at 649.11 fills on 10-08 (09:31, 646.69) and cancels the
    take-profit, as in the backtest."""
    path = write_algo(tmp_path, RESTART)
    start, end = "2012-10-01", "2012-10-09"
    journal_path = tmp_path / "journal.sqlite"
    gw = _gateway(start)
    try:
        first = run_algorithm(str(path), frequency="minute", replay=(pd.Timestamp(start), pd.Timestamp(end)),
                              output=tmp_path / "a", run_id="bracketrs", journal_path=journal_path, gateway=gw,
                              on_session=_stop_after_first_session)
        ids = first.engine.context.ids
        working = {o.order_id: o.status for o in Journal(journal_path).orders()}
        second = run_algorithm(str(path), frequency="minute", replay=(pd.Timestamp(start), pd.Timestamp(end)),
                               output=tmp_path / "b", run_id="bracketrs", journal_path=journal_path, gateway=gw)
        at_gateway = gw.thread.call(lambda: len(gw.thread.gateway.exchange.orders))
    finally:
        gw.stop()
    assert first.stopped_because == "stop requested" and first.orders_sent == 3
    assert working == {ids[0]: "filled", ids[1]: "submitted", ids[2]: "submitted"}
    assert second.stopped_because == "the run reached its end" and second.engine.error_count == 0
    assert second.orders_sent == 0 and at_gateway == 3
    assert tuple(second.engine.context.ids) == ids
    # the second start's results cover the whole run (the first start's fill too, from the journal)
    assert _minute_trades(first.perf) == [("10-01 14:35", "AAPL", 100, 667.38)]
    assert _minute_trades(second.perf) == [
        ("10-01 14:35", "AAPL", 100, 667.38), ("10-08 13:31", "AAPL", -100, 646.69)]
    statuses = {o.order_id: o.status for o in Journal(journal_path).orders()}
    assert statuses == {ids[0]: "filled", ids[1]: "filled", ids[2]: "cancelled"}
    assert second.engine.orders[ids[2]].status.name == "CANCELLED"
