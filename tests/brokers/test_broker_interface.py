"""One broker interface: every broker implements all of :class:`~runtime.brokers.base.Broker` with its signatures,
nothing in the runtime asks a broker what it has (``hasattr``/``getattr``), and the daily market-on-close rule is
the engine's order policy, so the engine's record of an order says what was sent."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pandas as pd
import pytest

from runtime.brokers.base import Broker
from runtime.brokers.sim import SimBroker
from runtime.core.assets import Asset, SecType
from runtime.core.orders import (
    DailyCloseAuction,
    OrderKind,
    SendAsPlaced,
    TimeInForce,
    order_policy_for,
)
from runtime.journal import Journal
from runtime.live.broker import EngineBroker
from runtime.live.paper import run_algorithm

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"
MEMBERS = sorted(name for name in vars(Broker) if not name.startswith("_"))


def test_the_interface_declares_what_the_engine_and_the_bar_feed_call() -> None:
    expected = ["place_order", "place_bracket", "modify_order", "cancel_order", "poll_events", "has_open_orders",
                "process_bar", "end_of_session", "apply_split", "set_models"]
    assert sorted(expected) == MEMBERS


@pytest.mark.parametrize("broker", [SimBroker, EngineBroker])
def test_every_broker_implements_every_member_with_its_signature(broker: type) -> None:
    for name in MEMBERS:
        declared, implemented = vars(Broker)[name], inspect.getattr_static(broker, name, None)
        assert implemented is not None, f"{broker.__name__} lacks {name}"
        if isinstance(declared, property):
            assert isinstance(implemented, property), f"{broker.__name__}.{name} must be a property"
            continue
        want = [(p.name, p.kind) for p in inspect.signature(declared).parameters.values()]
        got = [(p.name, p.kind) for p in inspect.signature(implemented).parameters.values()]
        assert got == want, f"{broker.__name__}.{name}{inspect.signature(implemented)}"


def _asks_a_broker(node: ast.Call) -> bool:
    if not (isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr") and node.args):
        return False
    return "broker" in ast.unparse(node.args[0]).lower()


def test_nothing_in_the_runtime_asks_a_broker_what_it_has() -> None:
    found = []
    for path in RUNTIME.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _asks_a_broker(node):
                found.append(f"{path.relative_to(RUNTIME.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, found


def test_the_daily_close_auction_policy() -> None:
    stock, fx = Asset(sid=1, symbol="AAPL"), Asset(sid=2, symbol="EUR.USD", sec_type=SecType.CASH)
    policy = DailyCloseAuction()
    assert policy.apply(stock, OrderKind.MARKET, TimeInForce.GTC) == (OrderKind.MARKET_ON_CLOSE, TimeInForce.DAY)
    assert policy.apply(fx, OrderKind.MARKET, TimeInForce.GTC) == (OrderKind.MARKET, TimeInForce.GTC)
    assert policy.apply(stock, OrderKind.LIMIT, TimeInForce.GTC) == (OrderKind.LIMIT, TimeInForce.GTC)
    assert order_policy_for("daily", at_broker=True) == policy
    assert order_policy_for("minute", at_broker=True) == SendAsPlaced()
    assert order_policy_for("daily", at_broker=False) == SendAsPlaced()


ALGO = """
def initialize(context):
    context.done = False

def handle_data(context, data):
    if not context.done:
        context.done = True
        order(symbol('AAPL'), 10)
        order(symbol('IBM'), 5, style=LimitOrder(1.0))
"""


def test_a_daily_paper_runs_records_say_what_was_sent(tmp_path: Path) -> None:
    path = tmp_path / "algo.py"
    path.write_text(ALGO, encoding="utf-8")
    replay = (pd.Timestamp("2012-01-03"), pd.Timestamp("2012-01-05"))
    result = run_algorithm(str(path), frequency="daily", replay=replay, output=tmp_path / "out", run_id="policy",
                           strict=True)
    records = sorted(result.engine.orders.values(), key=lambda r: r.asset.symbol)
    assert [(r.asset.symbol, r.kind, r.tif) for r in records] == [
        ("AAPL", OrderKind.MARKET_ON_CLOSE, TimeInForce.DAY), ("IBM", OrderKind.LIMIT, TimeInForce.GTC)]
    journal = Journal(next((tmp_path / "out").rglob("journal.sqlite")))
    try:
        sent = {o.order_id: (o.kind, o.tif) for o in journal.orders()}
    finally:
        journal.close()
    assert sent == {r.id: (r.kind.value, r.tif.value) for r in records}
    assert records[0].filled == 10  # at the next session's close, as a backtest fills it
