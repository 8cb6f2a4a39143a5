"""Trading and account controls: a wrong ``on_error`` (or leverage) is refused when the control is set, with the
algorithm's file and line; 'fail' raises into the algorithm, 'log' logs and places the order."""

from __future__ import annotations

import pytest

from runtime.core.assets import Asset
from runtime.core.controls import (
    LongOnly,
    MaxLeverage,
    MaxOrderCount,
    MaxOrderSize,
    MaxPositionSize,
    OrderCheck,
    RestrictedList,
    check_order,
)
from runtime.errors import AlgorithmLoadError, ControlSettingError, TradingControlViolation

AAPL = Asset(sid=24, symbol="AAPL")


@pytest.mark.parametrize("make", [LongOnly, MaxOrderSize, MaxPositionSize, MaxOrderCount, RestrictedList])
def test_a_misspelt_on_error_is_refused(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ControlSettingError, match=r"on_error must be 'fail'.*'log'.*got 'fial'"):
        make(on_error="fial")
    assert make(on_error="log").on_error == "log"


def test_fail_raises_and_log_logs() -> None:
    check = OrderCheck(AAPL, -10, 100.0, current_position=0, orders_today=0)
    with pytest.raises(TradingControlViolation, match="short position of -10"):
        check_order([LongOnly()], check, lambda message: None)
    logged: list[str] = []
    check_order([LongOnly(on_error="log")], check, logged.append)
    assert len(logged) == 1 and "order placed anyway" in logged[0]


def test_max_leverage_must_be_a_number_at_or_above_zero() -> None:
    for bad in (-1, float("nan"), "2"):
        with pytest.raises(ControlSettingError, match="max_leverage"):
            MaxLeverage(bad)  # type: ignore[arg-type]


def test_set_long_only_with_a_misspelt_on_error_stops_at_its_line(algo_runner) -> None:  # type: ignore[no-untyped-def]
    source = """
    def initialize(context):
        set_max_order_count(5)
        set_long_only(on_error="fial")

    def handle_data(context, data):
        order(symbol("AAPL"), -10)
    """
    with pytest.raises(AlgorithmLoadError) as info:
        algo_runner(source, start="2012-01-03", end="2012-01-10")
    message = str(info.value)
    assert "algo.py:3" in message and "ControlSettingError" in message and "'fial'" in message
