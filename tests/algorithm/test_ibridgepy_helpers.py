"""IBridgePy's helpers in algorithm files: in backtests on the bundled data, and in paper replay on the simulated
gateway (superSymbol for FX and futures, request_historical_data, get_order_status)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.algo import run_algo, write_algo

from runtime.algorithm.ibridgepy import UNAVAILABLE
from runtime.assembly.backtest import run_backtest
from runtime.core.assets import SecType
from runtime.core.orders import OrderStatus
from runtime.data.bar_windows import HISTORY_BAR_MINUTES
from runtime.data.calendars import get_calendar
from runtime.data.synthetic import synthetic_bars
from runtime.errors import AlgorithmLoadError, OrderNotFoundError
from runtime.gateway.contracts import quarterly_expiries
from runtime.live.paper import replay_start_ns, run_algorithm

MINUTE = 60_000_000_000


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# ---------------------------------------------------------------------------------------------------- superSymbol
def test_super_symbol_stock_resolves_like_symbol(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.a = superSymbol(secType='STK', symbol='AAPL', currency='USD', exchange='SMART')
            context.b = context.superSymbol('STK', 'ibm')
            context.same = context.a is symbol('AAPL')

        def handle_data(context, data):
            context.price = data.current(context.a, 'price')
    """, end="2012-01-05")
    ctx = result.engine.context
    assert ctx.same and ctx.a.sid == 24 and ctx.b.symbol == "IBM"
    assert ctx.price > 0


def test_super_symbol_not_in_backtest_data_names_file_line_and_data(tmp_path: Path) -> None:
    path = write_algo(tmp_path, """
        def initialize(context):
            context.a = symbol('AAPL')
            context.eur = superSymbol(secType='CASH', symbol='EUR', currency='USD', exchange='IDEALPRO')
    """)
    with pytest.raises(AlgorithmLoadError) as info:
        run_algo(tmp_path, path, end="2012-01-05")
    text = str(info.value)
    line = _line_of(path, "superSymbol(")
    assert "ContractNotInDataError" in text
    assert f"{path.resolve()}:{line}" in text
    assert "'EUR.USD.csv'" in text and "--data" in text and "AAPL" in text


@pytest.mark.parametrize(("call", "message"), [
    ("superSymbol(symbol='AAPL')", "secType must be one of"),
    ("superSymbol(secType='BOND', symbol='T')", "secType must be one of"),
    ("superSymbol(secType='FUT')", "needs secType and symbol"),
    ("superSymbol(secType='STK', symbol=42.5)", "symbol must be a string"),
    ("superSymbol(secType='OPT', symbol='AAPL', strike='high')", "strike must be a number"),
    ("superSymbol(secType='STK', symbol='APPL')", "Did you mean AAPL"),
])
def test_super_symbol_mistakes_are_typed_errors(tmp_path: Path, call: str, message: str) -> None:
    with pytest.raises(AlgorithmLoadError) as info:
        run_algo(tmp_path, f"""
            def initialize(context):
                context.x = {call}
        """, end="2012-01-05")
    assert message in str(info.value)
    assert "NameError" not in str(info.value)


def test_super_symbol_fx_and_future_from_the_data(tmp_path: Path) -> None:
    """A backtest whose data holds an FX pair and a (continuous) future resolves them by secType and symbol."""
    cal = get_calendar("XNYS")
    daily = synthetic_bars(["AAPL", "EUR.USD", "FUT,ES,USD"], "2011-06-01", "2012-03-30", seed=3, calendar=cal)
    path = write_algo(tmp_path, """
        def initialize(context):
            context.eur = superSymbol(secType='CASH', symbol='EUR', currency='USD', exchange='IDEALPRO')
            context.es = superSymbol(secType='FUT', symbol='ES', exchange='CME', expiry='20120316')
            context.prices = []

        def handle_data(context, data):
            context.prices.append((data.current(context.eur, 'price'), data.current(context.es, 'price')))
            if len(context.prices) == 1:
                try:
                    superSymbol(secType='FUT', symbol='NQ', exchange='CME')
                except Exception as exc:
                    context.missing = exc
    """)
    result = run_backtest(path, daily=daily, minute=None, start=pd.Timestamp("2012-01-03"),
                          end=pd.Timestamp("2012-01-10"), capital=100_000.0, strict=True)
    ctx = result.engine.context
    assert ctx.eur.sec_type is SecType.CASH and ctx.eur.currency == "USD" and ctx.eur.local_symbol == "EUR.USD"
    assert ctx.es.sec_type is SecType.FUTURE and ctx.es.multiplier == 50.0
    assert all(np.isfinite(p).all() and p[0] > 0 and p[1] > 0 for p in ctx.prices)
    assert type(ctx.missing).__name__ == "ContractNotInDataError"
    assert "'FUT,NQ,USD.csv'" in str(ctx.missing) and f"{path.resolve()}:" in str(ctx.missing)


# ---------------------------------------------------------------------------------------------------- market data
def test_show_real_time_size_and_timestamp(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.a = symbol('AAPL')
            context.rows = []

        def handle_data(context, data):
            sizes = [show_real_time_size(context.a, p) for p in ('bid_size', 'ask_size', 'last_size', 'volume')]
            context.rows.append((sizes, data.current(context.a, 'volume'), show_timestamp(context.a, 'last_price'),
                                 data.current(context.a, 'last_traded')))
            try:
                show_real_time_size(context.a, 'bid')
            except Exception as exc:
                context.bad = exc
    """, end="2012-01-06")
    ctx = result.engine.context
    assert len(ctx.rows) == 4
    for sizes, volume, stamp, last_traded in ctx.rows:
        assert sizes == [int(volume)] * 4 and volume > 0
        assert stamp == last_traded and str(stamp.tz) == "America/New_York" and stamp.hour == 16
    assert type(ctx.bad).__name__ == "AlgorithmApiError" and "bid_size" in str(ctx.bad)


def test_request_historical_data_daily_matches_data_history(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.a = symbol('AAPL')
            context.out = []

        def handle_data(context, data):
            context.out.append((get_datetime(), request_historical_data(context.a, '1 day', '5 D'),
                                data.history(context.a, ['open', 'high', 'low', 'close', 'volume'], 5, '1d'),
                                request_historical_data(context.a, '1 day', '1 M', timezoneOfReturn='UTC'),
                                request_historical_data(context.a, '1 day', '2 W', endTime='20120106 16:00:00')))
    """, start="2012-02-01", end="2012-02-10")
    for now, df, hist, month, before in result.engine.context.out:
        assert list(df.columns) == ["open", "high", "low", "close", "volume"]
        assert len(df) == 5 and str(df.index.tz) == "US/Eastern"
        assert [t.date() for t in df.index] == [t.date() for t in hist.index]
        np.testing.assert_array_equal(df.to_numpy(), hist.to_numpy())
        assert df.index[-1].date() == now.date()  # today's bar, nothing later
        assert month.index[0].date() > (now - pd.DateOffset(months=1)).date() and 19 <= len(month) <= 23
        assert str(month.index.tz) == "UTC" and month.index.is_monotonic_increasing
        # 2 weeks back from 2012-01-06: 12-27 .. 01-06 (12-26 was a holiday)
        assert before.index[-1].date() == pd.Timestamp("2012-01-06").date() and len(before) == 8


def test_request_historical_data_minutes_and_aggregates(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.a = symbol('AAPL')
            context.n = 0

        def handle_data(context, data):
            context.n += 1
            if context.n == 390 + 95:  # 11:05 on the second day
                context.now = get_datetime()
                context.m1 = request_historical_data(context.a, '1 min', '300 S')
                context.h1 = data.history(context.a, ['open', 'high', 'low', 'close', 'volume'], 95 + 390, '1m')
                context.m5 = request_historical_data(context.a, '5 mins', '3600 S')
                context.hour = request_historical_data(context.a, '1 hour', '2 D')
                context.day = request_historical_data(context.a, '1 day', '2 D')
                context.day_hist = data.history(context.a, 'close', 2, '1d')
    """, start="2012-01-03", end="2012-01-04", frequency="minute")
    ctx = result.engine.context
    h1 = ctx.h1
    # '1 min' bars: the last 5 minute bars, labelled by their start (IB's label) in US/Eastern
    assert len(ctx.m1) == 5
    np.testing.assert_array_equal(ctx.m1.to_numpy(), h1.iloc[-5:].to_numpy())
    assert list(ctx.m1.index.asi8 + MINUTE) == list(h1.index[-5:].asi8)
    assert ctx.m1.index[-1] == pd.Timestamp("2012-01-04 11:04", tz="US/Eastern")
    # '5 mins' over the last 3600 s of trading: 12 bars, each the aggregate of its 5 minutes
    assert len(ctx.m5) == 12 and ctx.m5.index[0] == pd.Timestamp("2012-01-04 10:05", tz="US/Eastern")
    last5 = h1.iloc[-5:]
    row = ctx.m5.iloc[-1]
    assert row["open"] == last5["open"].iloc[0] and row["close"] == last5["close"].iloc[-1]
    assert row["high"] == last5["high"].max() and row["low"] == last5["low"].min()
    assert row["volume"] == last5["volume"].sum()
    # '1 hour' over 2 sessions: clock-aligned, the first bar of a session starts at the open
    starts = [t.strftime("%m-%d %H:%M") for t in ctx.hour.index]
    assert starts[:2] == ["01-03 09:30", "01-03 10:00"] and starts[-3:] == ["01-04 09:30", "01-04 10:00",
                                                                            "01-04 11:00"]
    first_bar = h1[h1.index <= pd.Timestamp("2012-01-03 15:00", tz="UTC")]  # minute ENDs up to 10:00 ET
    assert ctx.hour["close"].iloc[0] == first_bar["close"].iloc[-1] and len(first_bar) == 30
    assert ctx.hour["volume"].sum() == pytest.approx(h1["volume"].sum())
    # '1 day' in a minute run: the last row is today's partial bar, as data.history shows it
    np.testing.assert_array_equal(ctx.day["close"].to_numpy(), ctx.day_hist.to_numpy())


@pytest.mark.parametrize(("args", "message"), [
    ("'7 mins', '1 D'", "is not available; use one of"),
    ("'1 secs', '60 S'", "'1 min'"),
    ("'1 day', '5 days'", "bad IB duration"),
    ("'1 day', 5", "goBack must be an IB duration string"),
    ("'1 day', '5 D', timezoneOfReturn='Mars/Base'", "unknown time zone"),
    ("'1 day', '5 D', whatToShow='HISTORICAL_VOLATILITY'", "whatToShow"),
    ("'1 day', '5 D', endTime='yesterday'", "cannot read endTime"),
    ("'1 min', '60 S'", "needs minute bars"),
])
def test_request_historical_data_mistakes(tmp_path: Path, args: str, message: str) -> None:
    path = write_algo(tmp_path, f"""
        def initialize(context):
            context.a = symbol('AAPL')

        def handle_data(context, data):
            request_historical_data(context.a, {args})
    """)
    with pytest.raises(AlgorithmLoadError) as info:
        run_algo(tmp_path, path, end="2012-01-05")
    text = str(info.value)
    assert "HistoryError" in text and message in text
    assert f"{path.resolve()}:{_line_of(path, 'request_historical_data(')}" in text


def test_supported_bar_sizes_are_listed_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(AlgorithmLoadError) as info:
        run_algo(tmp_path, """
            def initialize(context):
                request_historical_data(symbol('AAPL'), '10 secs', '1 D')
        """, end="2012-01-05")
    assert all(repr(size) in str(info.value) for size in (*HISTORY_BAR_MINUTES, "1 week", "1 month"))
    assert "second bars" in str(info.value)


# ---------------------------------------------------------------------------------------------------- positions
def test_positions_helpers_and_tables(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ibalgo.algo"):
        result = run_algo(tmp_path, """
            def initialize(context):
                context.a = symbol('AAPL')
                context.b = symbol('IBM')
                context.n = 0
                context.seen = []

            def handle_data(context, data):
                context.n += 1
                context.seen.append((count_positions(context.a), count_positions('IBM'), hold_any_position(),
                                     context.hold_any_position()))
                if context.n == 1:
                    order(context.a, 10)
                    order(context.b, -5)
                if context.n == 3:
                    context.positions_text = display_positions()
                    context.orders_text = display_orderStatus()
                    context.all_text = display_all()
        """, end="2012-01-06")
    ctx = result.engine.context
    assert ctx.seen[0] == (0, 0, False, False)
    assert ctx.seen[1] == (10, -5, True, True)
    assert "AAPL" in ctx.positions_text and "IBM" in ctx.positions_text and "-5" in ctx.positions_text
    assert ctx.orders_text.count("Filled") == 2 and "BUY" in ctx.orders_text and "SELL" in ctx.orders_text
    assert "NetLiquidation" in ctx.all_text and ctx.positions_text in ctx.all_text
    assert ctx.orders_text in caplog.text and ctx.positions_text in caplog.text


def test_empty_tables(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.texts = None

        def handle_data(context, data):
            context.texts = (display_positions(), display_orderStatus())
    """, end="2012-01-04")
    assert result.engine.context.texts == ("no positions", "no orders")


# ---------------------------------------------------------------------------------------------------- orders
def test_order_status_and_order_lists(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.a = symbol('AAPL')
            context.n = 0

        def handle_data(context, data):
            context.n += 1
            if context.n == 1:
                context.buy = order(context.a, 10)
                context.low = order(context.a, 10, style=LimitOrder(1.0))
                context.first = (get_order_status(context.buy), get_order_status(orderId=context.low),
                                 sorted(get_all_open_orders()), sorted(get_all_orders()))
            if context.n == 2:
                context.second = (get_order_status(context.buy), get_order_status(context.low),
                                  sorted(get_all_open_orders()))
                cancel_order(context.low)
                context.third = (get_order_status(context.low), get_all_open_orders(), get_all_orders())
                try:
                    get_order_status('no-such-order')
                except Exception as exc:
                    context.unknown = exc
    """, end="2012-01-06")
    ctx = result.engine.context
    both = sorted([ctx.buy, ctx.low])
    assert ctx.first == ("Submitted", "Submitted", both, both)
    assert ctx.second == ("Filled", "Submitted", [ctx.low])
    status, open_orders, all_orders = ctx.third
    assert status == "Cancelled" and open_orders == {}
    assert list(all_orders) == [ctx.buy, ctx.low] and all_orders[ctx.buy].filled == 10
    assert all_orders[ctx.low].status is OrderStatus.CANCELLED
    assert isinstance(ctx.unknown, OrderNotFoundError) and "order() returned" in str(ctx.unknown)
    # a rejected order is 'Inactive' in IB's words
    record = result.engine.orders[ctx.buy]
    record.status = OrderStatus.REJECTED
    assert result.engine.api.ibridgepy_orders.get_order_status(ctx.buy) == "Inactive"
    assert {s: s.ib_status for s in OrderStatus} == {
        OrderStatus.OPEN: "Submitted", OrderStatus.HELD: "PreSubmitted", OrderStatus.FILLED: "Filled",
        OrderStatus.CANCELLED: "Cancelled", OrderStatus.REJECTED: "Inactive"}


def test_close_all_positions_except(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.n = 0
            context.held = []

        def handle_data(context, data):
            context.n += 1
            if context.n == 1:
                for s in ('AAPL', 'IBM', 'MSFT'):
                    order(symbol(s), 10)
            if context.n == 2:
                context.ids = close_all_positions_except(symbol('AAPL'))
            if context.n == 4:
                order(symbol('IBM'), 3)
            if context.n == 5:
                close_all_positions_except(['AAPL', symbol('IBM')])
            context.held.append({a.symbol: p.amount for a, p in get_all_positions().items() if p.amount})
    """, end="2012-01-10")
    held = result.engine.context.held
    assert held[1] == {"AAPL": 10, "IBM": 10, "MSFT": 10}
    assert len(result.engine.context.ids) == 2
    assert held[2] == {"AAPL": 10} and held[4] == held[5] == {"AAPL": 10, "IBM": 3}


def test_rebalance_portfolio_targets_and_closes_the_rest(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.n = 0

        def handle_data(context, data):
            context.n += 1
            if context.n == 1:
                order(symbol('IBM'), 100)
                order(symbol('AAPL'), 20)
            if context.n == 2:
                context.ids = rebalance_portfolio({symbol('MSFT'): 0.5, 'AAPL': 0.3})
            if context.n == 4:
                context.weights = dict(context.portfolio.current_portfolio_weights)
                context.count = count_positions('IBM')
                try:
                    rebalance_portfolio([symbol('AAPL')])
                except Exception as exc:
                    context.bad = exc
    """, end="2012-01-10")
    ctx = result.engine.context
    assert {a.symbol for a in ctx.ids} == {"IBM", "MSFT", "AAPL"}
    weights = {a.symbol: w for a, w in ctx.weights.items() if w}
    assert set(weights) == {"MSFT", "AAPL"} and ctx.count == 0
    assert weights["MSFT"] == pytest.approx(0.5, abs=0.02) and weights["AAPL"] == pytest.approx(0.3, abs=0.02)
    assert type(ctx.bad).__name__ == "AlgorithmApiError" and "dict" in str(ctx.bad)


# ---------------------------------------------------------------------------------------------------- not available
def test_unavailable_helpers_raise_a_typed_error_naming_themselves(tmp_path: Path) -> None:
    names = sorted(UNAVAILABLE)
    result = run_algo(tmp_path, f"""
        def initialize(context):
            context.errors = {{}}
            for name in {names!r}:
                try:
                    globals()[name](symbol('AAPL'), 10)
                except Exception as exc:
                    context.errors[name] = exc
            context.styles = (TrailStopLimitOrder(10.0, 0.5, trailing_amount=1.0), LimitOnOpenOrder(9.5))
    """, end="2012-01-04")
    errors = result.engine.context.errors
    assert set(errors) == set(UNAVAILABLE) >= {
        "create_order", "place_combination_orders", "get_option_info", "get_scanner_results", "get_contract_details"}
    assert not set(UNAVAILABLE) & {"place_order_with_stoploss", "place_order_with_takeprofit",
                                   "place_order_with_stoploss_takeprofit", "modify_order", "order_status_monitor",
                                   "send_email"}
    for name, exc in errors.items():
        assert type(exc).__name__ == "NotAvailableError", name
        assert f"{name}() is not available in this version" in str(exc)
    assert "superSymbol" in str(errors["get_contract_details"])
    trail, loo = result.engine.context.styles
    assert (trail.stop_price, trail.limit_offset, trail.trailing_amount) == (10.0, 0.5, 1.0)
    assert loo.limit_price == 9.5


def test_unavailable_helper_stops_initialize_with_file_and_line(tmp_path: Path) -> None:
    path = write_algo(tmp_path, """
        def initialize(context):
            get_option_info(symbol('AAPL'), ['delta'])
    """)
    with pytest.raises(AlgorithmLoadError) as info:
        run_algo(tmp_path, path, end="2012-01-04")
    text = str(info.value)
    assert "NotAvailableError" in text and "get_option_info() is not available" in text
    assert f"{path.resolve()}:2" in text


# ---------------------------------------------------------------------------------------------------- paper replay
PAPER_ALGO = """
def initialize(context):
    context.eur = superSymbol(secType='CASH', symbol='EUR', currency='USD', exchange='IDEALPRO')
    context.es = superSymbol(secType='FUT', symbol='ES', exchange='CME', expiry='{expiry}')
    context.aapl = superSymbol(secType='STK', symbol='AAPL')
    context.n = 0
    context.statuses = []
    context.es_prices = []

def handle_data(context, data):
    context.n += 1
    context.es_prices.append(data.current(context.es, 'price'))
    if context.n == 1:
        context.oid = order(context.aapl, 10)
        try:
            superSymbol(secType='FUT', symbol='ES', exchange='CME')
        except Exception as exc:
            context.ambiguous = exc
    context.statuses.append(get_order_status(context.oid))
    if context.n == 3:
        context.hist = request_historical_data(context.aapl, '1 day', '5 D')
        context.data_hist = data.history(context.aapl, ['open', 'high', 'low', 'close', 'volume'], 5, '1d')
        context.same_es = superSymbol(secType='FUT', symbol='ES', exchange='CME', expiry='{expiry}') is context.es
        context.count = count_positions(context.aapl)
"""


@pytest.mark.socket
def test_paper_super_symbol_history_and_order_status(tmp_path: Path) -> None:
    start, end = "2012-01-03", "2012-01-06"
    cal = get_calendar("XNYS")
    expiry = f"{quarterly_expiries(replay_start_ns(cal, cal.session_index_on_or_after(start)), 2)[0]:%Y%m%d}"
    path = write_algo(tmp_path, PAPER_ALGO.format(expiry=expiry))
    result = run_algorithm(str(path), frequency="daily", replay=(pd.Timestamp(start), pd.Timestamp(end)),
                           output=tmp_path / "out", run_id="ibphelpers1", strict=True)
    assert result.stopped_because == "the run reached its end" and result.engine.error_count == 0
    ctx = result.engine.context
    assert ctx.eur.sec_type is SecType.CASH and ctx.eur.symbol == "EUR" and ctx.eur.currency == "USD"
    assert ctx.eur.exchange == "IDEALPRO" and ctx.eur.con_id
    assert ctx.es.sec_type is SecType.FUTURE and ctx.es.multiplier == 50.0 and ctx.es.expiry == expiry
    assert ctx.es.con_id and ctx.same_es
    assert all(np.isfinite(p) and p > 1000 for p in ctx.es_prices)
    assert ctx.aapl.sid == 24 and ctx.aapl.con_id
    assert type(ctx.ambiguous).__name__ == "AmbiguousContractError" and "expiry" in str(ctx.ambiguous)
    # the market order goes to the gateway as MOC in a daily run: working at the first bar, filled at the next
    assert ctx.statuses[0] == "Submitted" and ctx.statuses[1:] == ["Filled"] * 3 and ctx.count == 10
    assert len(ctx.hist) == 5 and str(ctx.hist.index.tz) == "US/Eastern"
    assert [t.date() for t in ctx.hist.index] == [t.date() for t in ctx.data_hist.index]
    np.testing.assert_array_equal(ctx.hist.to_numpy(), ctx.data_hist.to_numpy())
    assert ctx.hist.index[-1].date() == pd.Timestamp("2012-01-05").date()


@pytest.mark.socket
def test_paper_minute_request_historical_data(tmp_path: Path) -> None:
    path = write_algo(tmp_path, """
        def initialize(context):
            context.a = superSymbol(secType='STK', symbol='AAPL')
            context.n = 0

        def handle_data(context, data):
            context.n += 1
            if context.n == 30:
                context.m1 = request_historical_data(context.a, '1 min', '300 S')
                context.h1 = data.history(context.a, ['open', 'high', 'low', 'close', 'volume'], 5, '1m')
                context.m5 = request_historical_data(context.a, '5 mins', '1 D')
    """)
    result = run_algorithm(str(path), frequency="minute", replay=(pd.Timestamp("2012-01-04"),
                                                                   pd.Timestamp("2012-01-04")),
                           output=tmp_path / "out", run_id="ibphelpers2", strict=True)
    assert result.engine.error_count == 0
    ctx = result.engine.context
    # IB's history (the gateway's bars): the closes of the live minute bars, whose high/low come from quotes
    np.testing.assert_array_equal(ctx.m1["close"].to_numpy(), ctx.h1["close"].to_numpy())
    assert (ctx.m1["high"].to_numpy() >= ctx.h1["high"].to_numpy()).all()
    assert (ctx.m1["low"].to_numpy() <= ctx.h1["low"].to_numpy()).all()
    assert list(ctx.m1.index.asi8 + MINUTE) == list(ctx.h1.index.asi8)
    assert ctx.m1.index[-1] == pd.Timestamp("2012-01-04 09:59", tz="US/Eastern")
    assert len(ctx.m5) == 6 and ctx.m5.index[0] == pd.Timestamp("2012-01-04 09:30", tz="US/Eastern")
    assert ctx.m5["close"].iloc[-1] == ctx.h1["close"].iloc[-1]
