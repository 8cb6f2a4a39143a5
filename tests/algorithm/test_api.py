"""The algorithm API through real backtests: sizing, open orders, phases, controls, record, environment."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from runtime.core.orders import Order, OrderStatus
from runtime.errors import AlgorithmLoadError

TWO_TARGETS = """
def initialize(context):
    context.a = symbol("AAPL")
    context.ids = []
    context.open_after = None

def handle_data(context, data):
    day = get_datetime().strftime("%Y-%m-%d")
    if day == "2012-01-04":
        context.ids.append(order_target(context.a, 10))
        context.ids.append(order_target(context.a, 10))  # the first order is still open: zipline orders again
        context.open_after = get_open_orders(context.a)
    record(amount=context.portfolio.positions[context.a].amount)
"""


def test_order_target_ignores_open_orders(algo_runner) -> None:
    result = algo_runner(TWO_TARGETS, start="2012-01-03", end="2012-01-06")
    ctx = result.engine.context
    assert len(set(ctx.ids)) == 2 and None not in ctx.ids
    assert [o.amount for o in ctx.open_after] == [10, 10]
    assert result.perf["amount"].tolist() == [0, 0, 20, 20]


SIZING = """
def initialize(context):
    context.a = symbol("IBM")
    context.sized = {}

def handle_data(context, data):
    if get_datetime().strftime("%Y-%m-%d") != "2012-01-04":
        return
    price = data.current(context.a, "price")
    value = context.portfolio.portfolio_value
    context.price, context.value = price, value
    for name, call in (
        ("order_value", lambda: order_value(context.a, 10_000)),
        ("order_value_neg", lambda: order_value(context.a, -10_000)),
        ("order_percent", lambda: order_percent(context.a, 0.5)),
        ("order_target_value", lambda: order_target_value(context.a, 20_000)),
        ("order_target_percent", lambda: order_target_percent(context.a, 0.25)),
        ("order_limit", lambda: order(context.a, 5, limit_price=price * 0.5)),
        ("tiny", lambda: order(context.a, 0.4)),
    ):
        order_id = call()
        context.sized[name] = None if order_id is None else get_order(order_id)
"""


def test_order_value_and_percent_sizing(algo_runner) -> None:
    ctx = algo_runner(SIZING, start="2012-01-03", end="2012-01-04").engine.context
    price, value = ctx.price, ctx.value
    amounts = {name: (o.amount if o is not None else None) for name, o in ctx.sized.items()}
    assert amounts == {
        "order_value": int(10_000 / price),
        "order_value_neg": -int(10_000 / price),
        "order_percent": int(value * 0.5 / price),
        "order_target_value": int(20_000 / price),
        "order_target_percent": int(value * 0.25 / price),
        "order_limit": 5,
        "tiny": None,  # rounds to 0 shares: no order
    }
    limit_order = ctx.sized["order_limit"]
    assert isinstance(limit_order, Order)
    assert limit_order.limit == pytest.approx(int(price * 0.5 * 100) / 100)
    assert limit_order.status is OrderStatus.OPEN and limit_order.filled == 0


def test_ordering_in_initialize_stops_the_run(algo_runner) -> None:
    source = """
    def initialize(context):
        order(symbol("AAPL"), 10)
    """
    with pytest.raises(AlgorithmLoadError) as info:
        algo_runner(source)
    message = str(info.value)
    assert "initialize" in message and "algo.py:2" in message


PHASES = """
def initialize(context):
    context.errors = {}

def before_trading_start(context, data):
    try:
        order(symbol("AAPL"), 10)
    except Exception as exc:
        context.errors["bts_order"] = (type(exc).__name__, str(exc))

def handle_data(context, data):
    for name, call in (
        ("set_commission", lambda: set_commission(commission.PerShare())),
        ("set_slippage", lambda: set_slippage(slippage.NoSlippage())),
        ("set_max_order_size", lambda: set_max_order_size(max_shares=10)),
        ("set_long_only", lambda: set_long_only()),
        ("set_cancel_policy", lambda: set_cancel_policy(EODCancel())),
        ("schedule_function", lambda: schedule_function(lambda c, d: None)),
        ("set_benchmark", lambda: set_benchmark(symbol("IBM"))),
    ):
        try:
            call()
        except Exception as exc:
            context.errors[name] = (type(exc).__name__, str(exc))
"""


def test_phase_errors(algo_runner) -> None:
    errors = algo_runner(PHASES, start="2012-01-03", end="2012-01-03").engine.context.errors
    assert errors["bts_order"][0] == "PhaseError" and "before_trading_start" in errors["bts_order"][1]
    for name in ("set_commission", "set_slippage", "set_max_order_size", "set_long_only", "set_cancel_policy",
                 "schedule_function", "set_benchmark"):
        kind, message = errors[name]
        assert kind == "PhaseError" and name in message and "initialize" in message


CONTROLS = """
def initialize(context):
    context.a = symbol("AAPL")
    context.m = symbol("MSFT")
    context.i = symbol("IBM")
    set_max_order_size(context.a, max_shares=50)
    set_max_order_size(context.m, max_shares=50, on_error="log")
    set_max_position_size(context.i, max_notional=50_000)
    set_long_only()
    set_do_not_order_list([symbol("GOOG")])
    set_max_order_count(4)
    context.out = {}

def handle_data(context, data):
    if get_datetime().strftime("%Y-%m-%d") != "2012-01-04":
        return
    for name, call in (
        ("too_big", lambda: order(context.a, 51)),
        ("fine", lambda: order(context.a, 50)),
        ("logged", lambda: order(context.m, 100)),
        ("short", lambda: order(context.a, -1)),
        ("restricted", lambda: order(symbol("GOOG"), 1)),
        ("notional", lambda: order_value(context.i, 60_000)),
        ("ok_notional", lambda: order_value(context.i, 40_000)),
        ("fourth", lambda: order(context.m, 1)),
        ("fifth", lambda: order(context.m, 1)),
    ):
        try:
            context.out[name] = ("placed", call())
        except Exception as exc:
            context.out[name] = (type(exc).__name__, str(exc))
    context.goog_can_trade = data.can_trade(symbol("GOOG"))
"""


def test_trading_controls_fail_and_log(algo_runner, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="ibalgo.algo"):
        ctx = algo_runner(CONTROLS, start="2012-01-03", end="2012-01-04").engine.context
    out = ctx.out
    violations = {k for k, v in out.items() if v[0] == "TradingControlViolation"}
    assert violations == {"too_big", "short", "restricted", "notional", "fifth"}
    assert "MaxOrderSize" in out["too_big"][1] and "LongOnly" in out["short"][1]
    assert "GOOG" in out["restricted"][1] and "MaxOrderCount" in out["fifth"][1]
    assert out["logged"][0] == "placed" and out["logged"][1] is not None
    assert any("MaxOrderSize" in r.getMessage() and "placed anyway" in r.getMessage() for r in caplog.records)
    assert ctx.goog_can_trade is False


ORDERS = """
def initialize(context):
    context.a = symbol("AAPL")
    context.b = symbol("IBM")
    context.snap = {}

def handle_data(context, data):
    day = get_datetime().strftime("%Y-%m-%d")
    s = context.snap
    if day == "2012-01-03":
        s["empty_all"] = get_open_orders()
        s["empty_one"] = get_open_orders(context.a)
        s["far"] = order(context.a, 10, limit_price=1.0)
        s["far2"] = order(context.a, 5, style=LimitOrder(1.0))
        s["mkt"] = order(context.b, 7)
        s["all"] = get_open_orders()
        s["one"] = get_open_orders(context.a)
        s["by_symbol"] = get_open_orders("IBM")
        cancel_order(s["far"])
        cancel_order(get_order(s["far2"]))
        try:
            cancel_order("no-such-order")
        except LookupError as exc:
            s["unknown_cancel"] = f"{type(exc).__name__}: {exc}"
        s["after_cancel"] = get_open_orders()
        s["cancelled"] = get_order(s["far"])
    elif day == "2012-01-04":
        s["filled"] = get_order(s["mkt"])
        s["unknown"] = get_order("nope")
        s["ibm"] = context.portfolio.positions[context.b]
        s["msft"] = context.portfolio.positions[symbol("MSFT")]
        s["msft_in"] = symbol("MSFT") in context.portfolio.positions
"""


def test_open_orders_get_order_cancel_order(algo_runner) -> None:
    s = algo_runner(ORDERS, start="2012-01-03", end="2012-01-04").engine.context.snap
    assert s["empty_all"] == {} and s["empty_one"] == []
    all_orders = s["all"]
    assert isinstance(all_orders, dict) and {a.symbol for a in all_orders} == {"AAPL", "IBM"}
    assert [o.id for o in next(v for k, v in all_orders.items() if k.symbol == "AAPL")] == [s["far"], s["far2"]]
    assert isinstance(s["one"], list) and all(isinstance(o, Order) for o in s["one"]) and len(s["one"]) == 2
    assert [o.id for o in s["by_symbol"]] == [s["mkt"]]
    assert {a.symbol for a in s["after_cancel"]} == {"IBM"}
    assert s["unknown_cancel"].startswith("OrderNotFoundError: no order 'no-such-order'")
    cancelled = s["cancelled"]
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.status == 2 and not cancelled.open
    filled = s["filled"]
    assert filled.status == OrderStatus.FILLED and filled.filled == 7 and filled.amount == 7
    assert filled.commission == pytest.approx(7 * 0.001)
    assert filled.sid is filled.asset and filled.created < filled.dt
    assert s["unknown"] is None
    assert s["ibm"].amount == 7 and s["ibm"].cost_basis > 0
    assert s["msft"].amount == 0 and s["msft_in"] is False


RECORD = """
def initialize(context):
    context.n = 0
    context.env = {}

def handle_data(context, data):
    context.n += 1
    record(n=context.n, half=context.n / 2)
    record("pair", context.n * 10)
    context.env = {
        "arena": get_environment("arena"),
        "freq": get_environment("data_frequency"),
        "all": get_environment("*"),
        "platform": get_environment(),
        "utc": get_datetime(),
        "local": get_datetime("US/Eastern"),
    }
    try:
        get_environment("nonsense")
    except Exception as exc:
        context.env["error"] = type(exc).__name__
"""


def test_record_columns_and_environment(algo_runner) -> None:
    result = algo_runner(RECORD, start="2012-01-03", end="2012-01-06", capital=25_000)
    perf = result.perf
    assert perf["n"].tolist() == [1, 2, 3, 4]
    assert perf["half"].tolist() == [0.5, 1.0, 1.5, 2.0]
    assert perf["pair"].tolist() == [10, 20, 30, 40]
    for column in ("portfolio_value", "returns", "pnl", "positions", "orders", "transactions", "leverage",
                   "capital_used", "max_drawdown", "sharpe", "algo_volatility"):
        assert column in perf.columns
    env = result.engine.context.env
    assert env["arena"] == "backtest" and env["freq"] == "daily"
    assert env["all"]["capital_base"] == 25_000
    assert env["all"]["start"].date() == pd.Timestamp("2012-01-03").date()
    assert env["all"]["end"].date() == pd.Timestamp("2012-01-06").date()
    assert env["platform"] == env["all"]["platform"]
    assert str(env["utc"].tz) == "UTC" and env["local"] == env["utc"]
    assert env["local"].hour == 16 and env["error"] == "AlgorithmApiError"


def test_context_is_the_algorithm_too(algo_runner) -> None:
    source = """
    def initialize(context):
        context.set_commission(commission.PerTrade(cost=2.0))
        context.set_slippage(us_equities=slippage.FixedSlippage(spread=0.0))
        context.a = context.symbol("AAPL")

    def handle_data(context, data):
        if context.portfolio.positions[context.a].amount == 0 and not context.get_open_orders():
            context.order(context.a, 3)
        context.start_cash = context.portfolio.starting_cash
    """
    result = algo_runner(source, start="2012-01-03", end="2012-01-04")
    (fill,) = result.perf["transactions"].iloc[1]
    assert fill["commission"] == 2.0 and fill["amount"] == 3
    assert result.engine.context.start_cash == 100_000
    with pytest.raises(AttributeError, match="read-only"):
        result.engine.context.portfolio = None


def test_max_leverage_stops_a_backtest(algo_runner) -> None:
    source = """
    def initialize(context):
        set_max_leverage(1.5)

    def handle_data(context, data):
        order_target_percent(symbol("AAPL"), 1.9)  # within the margin rule, above the control
    """
    result = algo_runner(source, start="2012-01-03", end="2012-01-31")
    assert result.engine.stop_requested and "leverage" in result.engine.stop_requested
    assert len(result.perf) < 20


def test_unknown_symbol_suggests_a_close_match(algo_runner) -> None:
    with pytest.raises(AlgorithmLoadError, match=r"APPL.*Did you mean AAPL"):
        algo_runner('def initialize(context):\n    symbol("APPL")\n')


EOD_CANCEL = """
def initialize(context):
    set_cancel_policy(EODCancel())
    context.a = symbol("AAPL")
    context.ids = []

def handle_data(context, data):
    if not context.ids:
        context.ids.append(order(context.a, 10))
        context.ids.append(order(context.a, 10, limit_price=1.0))
    context.statuses = [get_order(i).status for i in context.ids]
"""


def test_eod_cancel_acts_in_minute_runs(algo_runner) -> None:
    ctx = algo_runner(EOD_CANCEL, start="2012-01-03", end="2012-01-04", frequency="minute").engine.context
    assert ctx.statuses == [OrderStatus.FILLED, OrderStatus.CANCELLED]  # the far limit did not survive the close


def test_eod_cancel_is_a_no_op_in_daily_runs_as_in_zipline(algo_runner) -> None:
    """With daily bars an order placed at a session's bar fills at the next one; EODCancel must not kill it."""
    ctx = algo_runner(EOD_CANCEL, start="2012-01-03", end="2012-01-05").engine.context
    assert ctx.statuses == [OrderStatus.FILLED, OrderStatus.OPEN]


ACCOUNT_INFO = """
def initialize(context):
    context.seen = {}

def handle_data(context, data):
    for tag in ("NetLiquidation", "TotalCashValue", "GrossPositionValue", "Leverage-S", "leverage"):
        context.seen[tag] = show_account_info(tag)
    try:
        show_account_info("NoSuchTag")
    except Exception as exc:
        context.error = str(exc)
"""


def test_show_account_info_reads_ib_tags_and_zipline_names(algo_runner) -> None:
    result = algo_runner(ACCOUNT_INFO, start="2012-01-03", end="2012-01-04")
    ctx = result.engine.context
    account = result.engine.ledger.account()
    assert ctx.seen["NetLiquidation"] == account.net_liquidation == 100_000.0
    assert ctx.seen["TotalCashValue"] == account.settled_cash
    assert ctx.seen["GrossPositionValue"] == account.total_positions_value == 0.0
    assert ctx.seen["Leverage-S"] == ctx.seen["leverage"] == account.leverage
    assert "unknown account field 'NoSuchTag'" in ctx.error and "NetLiquidation" in ctx.error


RECORD_TEXT = """
def initialize(context):
    context.asset = symbol('AAPL')


def handle_data(context, data):
    record(ok=1.5, flag=True)
    record(label='up')
"""


def test_record_rejects_values_that_are_not_numbers(algo_runner) -> None:
    from runtime.errors import AlgorithmLoadError

    with pytest.raises(AlgorithmLoadError, match=r"algo.py:7: AlgorithmApiError: record\(label=...\): values must "
                       "be numbers, got str 'up'"):
        algo_runner(RECORD_TEXT, start="2012-01-03", end="2012-01-04", capital=25_000)
