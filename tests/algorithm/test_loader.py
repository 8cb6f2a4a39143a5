"""Loading algorithm files: one clear message with file and line for every mistake; zipline/quantopian shims."""

from __future__ import annotations

import importlib.util
import logging
import sys

import pytest

from runtime.errors import AlgorithmLoadError


def load_error(algo_runner, source: str) -> str:
    with pytest.raises(AlgorithmLoadError) as info:
        algo_runner(source, start="2012-01-03", end="2012-01-04")
    message = str(info.value)
    assert "Traceback" not in message
    return message


def test_syntax_error_names_file_and_line(algo_runner, tmp_path) -> None:
    source = "def initialize(context):\n    pass\n\ndef handle_data(context, data)\n    pass\n"
    message = load_error(algo_runner, source)
    assert message.startswith(f"{tmp_path / 'algo.py'}:4: syntax error")
    assert "def handle_data(context, data)" in message


def test_missing_initialize(algo_runner, tmp_path) -> None:
    message = load_error(algo_runner, "def handle_data(context, data):\n    pass\n")
    assert str(tmp_path / "algo.py") in message and "no initialize(context)" in message


def test_initialize_that_is_not_a_function(algo_runner) -> None:
    assert "must be a function" in load_error(algo_runner, "initialize = 3\n")


@pytest.mark.parametrize(
    ("source", "line", "expected"),
    [
        ("def initialize():\n    pass\n", 1, "def initialize(context)"),
        ("def initialize(context):\n    pass\n\n\ndef handle_data(context):\n    pass\n", 5,
         "def handle_data(context, data)"),
        ("def initialize(context):\n    pass\n\ndef analyze(context):\n    pass\n", 4, "def analyze(context, perf)"),
        ("def initialize(context):\n    pass\n\ndef before_trading_start(a, b, c):\n    pass\n", 4,
         "def before_trading_start(context, data)"),
    ],
)
def test_wrong_signature(algo_runner, tmp_path, source: str, line: int, expected: str) -> None:
    message = load_error(algo_runner, source)
    assert message.startswith(f"{tmp_path / 'algo.py'}:{line}: ")
    assert expected in message and "wrong signature" in message


def test_signatures_with_defaults_are_accepted(algo_runner) -> None:
    source = "def initialize(context, extra=None):\n    pass\n\ndef handle_data(context, data, *args):\n    pass\n"
    assert algo_runner(source, start="2012-01-03", end="2012-01-03").engine.error_count == 0


def test_exception_at_import_time(algo_runner, tmp_path) -> None:
    message = load_error(algo_runner, "import math\n\nRATIO = 1 / 0\n\ndef initialize(context):\n    pass\n")
    assert message.startswith(f"{tmp_path / 'algo.py'}:3: ")
    assert "ZeroDivisionError" in message and "RATIO = 1 / 0" in message


def test_exception_in_initialize_names_the_line(algo_runner, tmp_path) -> None:
    message = load_error(algo_runner, "def initialize(context):\n    context.x = {}\n    context.x['missing']\n")
    assert f"{tmp_path / 'algo.py'}:3" in message and "KeyError" in message


def test_exception_in_handle_data_is_logged_and_the_run_continues(algo_runner, tmp_path, caplog) -> None:
    source = "def initialize(context):\n    context.n = 0\n\ndef handle_data(context, data):\n" \
             "    context.n += 1\n    raise ValueError('boom')\n"
    with caplog.at_level(logging.ERROR, logger="ibalgo.algo"):
        result = algo_runner(source, start="2012-01-03", end="2012-01-06", strict=False)
    assert result.engine.context.n == 4 and result.engine.error_count == 4
    assert any(f"{tmp_path / 'algo.py'}:6" in r.getMessage() and "boom" in r.getMessage() for r in caplog.records)
    with pytest.raises(AlgorithmLoadError, match=r"algo\.py:6"):
        algo_runner(source, start="2012-01-03", end="2012-01-06", strict=True)


def test_missing_file(algo_runner, tmp_path) -> None:
    with pytest.raises(AlgorithmLoadError, match="algorithm file not found"):
        algo_runner(tmp_path / "nope.py")


ZIPLINE_FILE = """
from zipline.api import order_target, record, symbol, schedule_function, date_rules, time_rules
from zipline.finance import commission, slippage
from zipline.finance.execution import LimitOrder
import zipline.api as zapi
from zipline.utils.events import date_rules as dr
import quantopian.algorithm as algo
from quantopian.algorithm import order_target_percent
import math

def initialize(context):
    context.asset = symbol("AAPL")
    zapi.set_commission(commission.PerShare(cost=0.001, min_trade_cost=1.0))
    algo.set_slippage(us_equities=slippage.FixedBasisPointsSlippage(basis_points=10, volume_limit=0.1))
    algo.schedule_function(rebalance, dr.every_day(), time_rules.market_open())
    context.style_name = type(LimitOrder(1.0)).__name__
    context.sqrt = math.sqrt(16)

def rebalance(context, data):
    order_target_percent(context.asset, 0.5)
    record(price=data.current(context.asset, "price"))
"""


def test_zipline_and_quantopian_imports_without_zipline(algo_runner) -> None:
    had = {name for name in sys.modules if name.split(".")[0] in ("zipline", "quantopian")}
    result = algo_runner(ZIPLINE_FILE, start="2012-01-03", end="2012-01-06")
    assert result.engine.error_count == 0
    assert result.engine.context.style_name == "LimitOrder" and result.engine.context.sqrt == 4.0
    assert result.summary.trades >= 1
    (fill,) = result.perf["transactions"].iloc[1]
    assert fill["commission"] >= 1.0  # the PerShare minimum set through the zipline.api shim
    assert {name for name in sys.modules if name.split(".")[0] in ("zipline", "quantopian")} == had
    if importlib.util.find_spec("zipline") is None:
        with pytest.raises(ImportError):
            __import__("zipline.api")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("from quantopian.pipeline.filters import IsPrimaryShare", "IsPrimaryShare is not supported"),
        ("from zipline.pipeline.factors import Aroon", "zipline.pipeline.factors.Aroon is not supported"),
        ("from quantopian.pipeline.data import Fundamentals", "FUNDAMENTALS_FILE"),
        ("from quantopian.research import run_pipeline", "notebook API"),
        ("from zipline.data import bundles", "zipline.data is not supported"),
        ("from zipline.finance.blotter import Blotter", "zipline.finance.blotter.Blotter is not supported"),
        ("from zipline.api import no_such_name", "zipline.api.no_such_name is not supported"),
    ],
)
def test_unsupported_imports_give_a_clear_error(algo_runner, tmp_path, line: str, expected: str) -> None:
    message = load_error(algo_runner, f"import math\n{line}\n\ndef initialize(context):\n    pass\n")
    assert message.startswith(f"{tmp_path / 'algo.py'}:2: ") and expected in message
