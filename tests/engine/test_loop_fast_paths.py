"""The backtest loop's shortcuts give exactly what the plain code paths give.

- history windows read through a column slice, or without the division when the as-of price factors are all 1,
  have the same values (bit for bit) and the same memory layout as the gathered, divided ones;
- the DataFrame builder equals ``pd.DataFrame(values, index=..., columns=..., copy=False)``;
- a list of assets passed again after it changed is looked up afresh;
- the backtest's own loop (:meth:`Dispatcher.run`) and the per-event dispatch of the replay path give the same
  results, daily and minute, with orders, fills and errors in the algorithm;
- order ids are version-4 UUIDs, and an algorithm's ``random.seed`` neither fixes them nor is moved by them.
"""

from __future__ import annotations

import random
import uuid

import numpy as np
import pandas as pd
import pytest
from support.algo import run_data, write_algo

from runtime.algorithm.bardata import BarData, _build_frame
from runtime.algorithm.frames import AlgoFrame
from runtime.assembly.backtest import run_backtest
from runtime.data.portal import Columns, DataPortal
from runtime.engine.engine import new_order_id
from runtime.engine.state import SimTime

FIELDS = ("price", "open", "high", "low", "close", "volume")


def reference_rows(frame, field: str, rows: slice, cols: np.ndarray, asof_row: int) -> np.ndarray:
    """The formula the portal implements, with gathered columns and a division even by 1."""
    b = frame.bars
    if field == "price":
        return frame.adj_close_ffill[rows, cols] / b.price_factor[asof_row, cols]
    if field == "volume":
        return np.nan_to_num(b.volume[rows, cols] * b.volume_factor[rows, cols] / b.volume_factor[asof_row, cols],
                             nan=0.0)
    raw = getattr(b, field)[rows, cols]
    return raw * b.price_factor[rows, cols] / b.price_factor[asof_row, cols]


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return (a.shape == b.shape and a.dtype == b.dtype and a.tobytes(order="A") == b.tobytes(order="A")
            and a.flags.c_contiguous == b.flags.c_contiguous and a.flags.f_contiguous == b.flags.f_contiguous)


@pytest.fixture(scope="module")
def portal() -> DataPortal:
    daily, _, _, _ = run_data("daily", "2004-01-02", "2006-12-29")  # AAPL splits 2-for-1 on 2005-02-28
    return DataPortal(daily)


def test_history_rows_equal_the_gathered_division_bit_for_bit(portal) -> None:
    frame = portal.daily
    n_cols = frame.adj_close_ffill.shape[1]
    unit = frame.unit_factor_rows
    assert unit is not None and unit.any() and not unit.all()  # both kinds of as-of rows are covered
    first_unit = int(np.argmax(unit))  # the first row with no split after it
    assert first_unit > 60
    last = len(unit) - 1
    for end in (60, min(first_unit + 10, last), last):
        for asof in (end, first_unit - 1, first_unit):
            rows = slice(end - 49, end + 1)
            for cols in (np.arange(n_cols), np.arange(1, n_cols), np.array([n_cols - 1, 0]), np.array([0])):
                plan = Columns.of(cols)
                for field in FIELDS:
                    want = reference_rows(frame, field, rows, plan.safe, asof)
                    got = frame.field_rows(field, rows, plan.span if plan.span is not None else plan.safe, asof)
                    assert same(got, want), (field, end, asof, cols)
                    gathered = frame.field_rows(field, rows, plan.safe, asof)
                    assert same(gathered, want), (field, end, asof, cols)


def test_columns_plan() -> None:
    assert Columns.of(np.array([3, 4, 5])).span == slice(3, 6)
    assert Columns.of(np.array([3, 5])).span is None
    plan = Columns.of(np.array([2, -1, 4]))
    assert plan.any_missing and plan.span is None and plan.safe.tolist() == [2, 0, 4]
    assert Columns.of(np.array([], dtype=np.int64)).span is None


@pytest.mark.parametrize("order", ["F", "C"])
def test_frame_builder_equals_the_constructor(order: str) -> None:
    values = np.asarray(np.random.default_rng(3).normal(size=(7, 3)), order=order)
    index = pd.date_range("2012-01-02", periods=7)
    columns = pd.Index(["x", "y", "z"], dtype=object)
    want = AlgoFrame(values, index=index, columns=columns, copy=False)
    got = _build_frame(values, index, columns)
    assert type(got) is AlgoFrame
    pd.testing.assert_frame_equal(got, want)
    assert got.index is want.index and got.columns is want.columns
    assert np.shares_memory(got.to_numpy(), values)
    assert same(got.to_numpy(), want.to_numpy())
    ints = np.arange(6).reshape(3, 2)
    pd.testing.assert_frame_equal(_build_frame(ints, index[:3], columns[:2]),
                                  AlgoFrame(ints, index=index[:3], columns=columns[:2]))


def test_a_list_passed_again_after_it_changed_is_looked_up_afresh(portal) -> None:
    assets = list(portal.assets[:2])
    clock = SimTime(daily_row=100, session=portal.daily.bars.first_session + 100)
    data = BarData(portal, clock, "daily", lambda a: a, lambda a: False)
    first = data.history(assets, "price", 5, "1d")
    assert list(first.columns) == assets
    assets.append(portal.assets[2])
    second = data.history(assets, "price", 5, "1d")
    assert list(second.columns) == assets
    assets[0] = portal.assets[3]
    third = data.history(assets, "price", 5, "1d")
    assert list(third.columns) == assets
    np.testing.assert_array_equal(third.to_numpy()[:, 1:], second.to_numpy()[:, 1:])
    assert data.history(tuple(assets), "price", 5, "1d").equals(third)


LOOP_ALGO = """
import random

def initialize(context):
    context.assets = symbols("AAPL", "IBM", "MSFT")
    context.n = 0
    schedule_function(rebalance, date_rules.every_day(), time_rules.market_open(minutes=31))

def handle_data(context, data):
    context.n += 1
    record(n=context.n, value=context.portfolio.portfolio_value)
    if context.n % 97 == 5:
        raise ValueError("a mistake in handle_data")

def rebalance(context, data):
    prices = data.history(context.assets, "price", 10, "1d").to_numpy()
    for i, asset in enumerate(context.assets):
        up = prices[-1, i] > prices[:, i].mean()
        order_target_percent(asset, 0.3 if up else 0.0)
"""


@pytest.mark.parametrize(("frequency", "start", "end"), [("daily", "2005-01-03", "2005-06-30"),
                                                          ("minute", "2005-02-22", "2005-03-04")])
def test_the_backtest_loop_equals_per_event_dispatch(tmp_path, frequency: str, start: str, end: str) -> None:
    path = write_algo(tmp_path, LOOP_ALGO)
    daily, minute, s, e = run_data(frequency, start, end)
    runs = [run_backtest(path, daily=daily, minute=minute, start=s, end=e, capital=100_000.0, frequency=frequency,
                         replay_speed=speed) for speed in (False, None)]
    fast, plain = (r.perf for r in runs)
    assert runs[0].bars == runs[1].bars > 0
    assert runs[0].engine.error_count == runs[1].engine.error_count > 0
    assert runs[0].summary.trades == runs[1].summary.trades > 0
    nested = ["positions", "orders", "transactions"]
    pd.testing.assert_frame_equal(fast.drop(columns=nested), plain.drop(columns=nested))

    def without_ids(day: list[dict]) -> list[dict]:
        return [{k: v for k, v in entry.items() if k not in ("id", "order_id")} for entry in day]

    for name in nested:
        assert [without_ids(d) for d in fast[name]] == [without_ids(d) for d in plain[name]], name


def test_order_ids_are_uuid4_and_independent_of_the_algorithms_random_seed() -> None:
    ids = set()
    for _ in range(200):
        order_id = new_order_id()
        parsed = uuid.UUID(hex=order_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and parsed.hex == order_id
        ids.add(order_id)
    assert len(ids) == 200
    random.seed(11)
    first = (new_order_id(), random.random())
    random.seed(11)
    second = (new_order_id(), random.random())
    assert first[0] != second[0] and first[1] == second[1]
