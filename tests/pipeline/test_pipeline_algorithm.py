"""Pipelines in algorithm files: the quantopian/zipline import paths, attach_pipeline/pipeline_output in a backtest,
the error policy for a user's CustomFactor, fundamentals without a table, and the same orders in a paper run."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from support.algo import USER_ALGOS, run_algo, run_data, write_algo

from runtime.assembly.backtest import run_backtest
from runtime.errors import AlgorithmLoadError
from runtime.live.paper import run_algorithm
from runtime.pipeline import shims

FACTORS = ", ".join(shims.FACTOR_NAMES)
FILTERS = "All, Any, AtLeastN, StaticAssets, StaticSids, CustomFilter, Q500US, Q1500US, QTradableStocksUS"

IMPORTS = {
    "quantopian": f"""
from quantopian.algorithm import attach_pipeline, pipeline_output
from quantopian.pipeline import Pipeline, CustomFactor, CustomFilter, CustomClassifier
from quantopian.pipeline.data import USEquityPricing, EquityPricing, DataSet, Column
from quantopian.pipeline.data.builtin import USEquityPricing
from quantopian.pipeline.factors import {FACTORS}, CustomFactor, Latest
from quantopian.pipeline.filters import {FILTERS}
from quantopian.pipeline.filters.morningstar import Q500US, Q1500US
from quantopian.pipeline.experimental import QTradableStocksUS
from quantopian.pipeline.classifiers import Classifier, CustomClassifier
import quantopian.pipeline.factors as qf
""",
    "zipline": f"""
from zipline.api import attach_pipeline, pipeline_output
from zipline.pipeline import Pipeline, CustomFactor, CustomFilter, CustomClassifier
from zipline.pipeline.data import USEquityPricing, EquityPricing, DataSet, Column
from zipline.pipeline.factors import {FACTORS}, CustomFactor, Latest
from zipline.pipeline.factors.statistical import SimpleBeta
from zipline.pipeline.filters import All, Any, AtLeastN, StaticAssets, StaticSids, CustomFilter
from zipline.pipeline.classifiers import Classifier, CustomClassifier, Everything
import zipline.pipeline.factors as qf
""",
    "injected": "",
}

BODY = """
if "{kind}" == "injected":
    from zipline.pipeline import CustomFactor, Pipeline
    from zipline.pipeline.factors import RSI, SimpleMovingAverage
    from zipline.pipeline.data import USEquityPricing

class Wide(CustomFactor):
    inputs = [USEquityPricing.high, USEquityPricing.low]
    window_length = 3

    def compute(self, today, assets, out, high, low):
        out[:] = high.max(axis=0) - low.min(axis=0)


def initialize(context):
    rsi = RSI()
    pipe = Pipeline(columns={{"longs": rsi.top(2), "shorts": rsi.bottom(2), "wide": Wide(),
                              "sma": SimpleMovingAverage(inputs=[USEquityPricing.close], window_length=5)}})
    attach_pipeline(pipe, "p")
    context.seen = []


def before_trading_start(context, data):
    context.out = pipeline_output("p")


def handle_data(context, data):
    out = pipeline_output("p")
    assert out is context.out or out.equals(context.out)
    context.seen.append(len(out))
    for asset in out.index[out["longs"]]:
        order_target_percent(asset, 0.25)
    for asset in out.index[out["shorts"]]:
        order_target_percent(asset, -0.25)
"""


@pytest.mark.parametrize("kind", sorted(IMPORTS))
def test_every_pipeline_name_imports_and_the_pipeline_runs(tmp_path: Path, kind: str) -> None:
    source = IMPORTS[kind] + BODY.format(kind=kind)
    result = run_algo(tmp_path, source, start="2012-01-03", end="2012-02-29")
    assert result.engine.error_count == 0
    seen = result.engine.context.seen
    assert len(seen) == len(result.perf) and max(seen) == 4  # FB is not listed yet: four stocks
    assert result.summary.orders > 0


def test_zipline_momentum_pipeline_example_shape(tmp_path: Path) -> None:
    """zipline-reloaded's own momentum_pipeline example (RSI top/bottom 3, daily rebalance)."""
    source = '''
from zipline.api import attach_pipeline, date_rules, order_target_percent, pipeline_output, record
from zipline.api import schedule_function
from zipline.finance import commission, slippage
from zipline.pipeline import Pipeline
from zipline.pipeline.factors import RSI


def make_pipeline():
    rsi = RSI()
    return Pipeline(columns={"longs": rsi.top(3), "shorts": rsi.bottom(3)})


def rebalance(context, data):
    pipeline_data = context.pipeline_data
    all_assets = pipeline_data.index
    longs = all_assets[pipeline_data.longs]
    shorts = all_assets[pipeline_data.shorts]
    record(universe_size=len(all_assets))
    one_third = 1.0 / 3.0
    for asset in longs:
        order_target_percent(asset, one_third)
    for asset in shorts:
        order_target_percent(asset, -one_third)
    portfolio_assets = longs.union(shorts)
    positions = context.portfolio.positions
    for asset in positions.keys() - set(portfolio_assets):
        if data.can_trade(asset):
            order_target_percent(asset, 0)


def initialize(context):
    attach_pipeline(make_pipeline(), "my_pipeline")
    schedule_function(rebalance, date_rules.every_day())
    context.set_commission(commission.PerShare(cost=0.0075, min_trade_cost=1.0))
    context.set_slippage(slippage.VolumeShareSlippage())


def before_trading_start(context, data):
    context.pipeline_data = pipeline_output("my_pipeline")
'''
    result = run_algo(tmp_path, source, start="2012-06-01", end="2012-08-31")
    assert result.engine.error_count == 0 and result.summary.orders > 0
    assert (result.perf["universe_size"] == 5).all()


def test_an_error_in_compute_is_logged_with_the_file_line_and_the_run_goes_on(tmp_path: Path, caplog) -> None:
    source = '''
from quantopian.pipeline import Pipeline, CustomFactor
from quantopian.pipeline.data import USEquityPricing


class Bad(CustomFactor):
    inputs = [USEquityPricing.close]
    window_length = 2

    def compute(self, today, assets, out, close):
        out[:] = close[5]


def initialize(context):
    attach_pipeline(Pipeline(columns={"bad": Bad()}), "p")


def handle_data(context, data):
    pipeline_output("p")
'''
    with caplog.at_level(logging.ERROR):
        result = run_algo(tmp_path, source, start="2012-01-03", end="2012-01-06", strict=False)
    assert result.engine.error_count >= 4
    text = caplog.text
    assert f"{tmp_path / 'algo.py'}:10: IndexError" in text and "out[:] = close[5]" in text


def test_fundamentals_without_a_table_fail_at_load_naming_the_setting(tmp_path: Path) -> None:
    source = "from quantopian.pipeline.data import Fundamentals\n\ndef initialize(context):\n    pass\n"
    with pytest.raises(AlgorithmLoadError) as info:
        run_algo(tmp_path, source, start="2012-01-03", end="2012-01-04")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'algo.py'}:1: ")
    assert "FUNDAMENTALS_FILE" in message and "--fundamentals" in message and "date_known" in message


def test_fundamentals_and_sector_with_a_table(tmp_path: Path) -> None:
    table = tmp_path / "fund.csv"
    rows = [{"symbol": s, "date_known": "2011-12-01", "market_cap": cap, "morningstar_sector_code": sec}
            for s, cap, sec in (("AAPL", 4e11, 311), ("IBM", 2e11, 311), ("MSFT", 2.5e11, 311), ("GOOG", 2e11, 308))]
    rows.append({"symbol": "AAPL", "date_known": "2012-01-10", "market_cap": 5e11, "morningstar_sector_code": 311})
    pd.DataFrame(rows).to_csv(table, index=False)
    source = '''
from quantopian.pipeline import Pipeline
from quantopian.pipeline.data import Fundamentals
from quantopian.pipeline.data import morningstar
from quantopian.pipeline.classifiers.morningstar import Sector
from quantopian.pipeline.factors import Returns


def initialize(context):
    sector = Sector()
    cap = Fundamentals.market_cap.latest
    pipe = Pipeline(columns={"cap": cap, "cap2": morningstar.valuation.market_cap.latest, "sector": sector,
                             "tech": sector.eq(Sector.TECHNOLOGY),
                             "rel": Returns(window_length=5).demean(groupby=sector)})
    attach_pipeline(pipe, "p")
    context.caps = {}


def before_trading_start(context, data):
    out = pipeline_output("p")
    context.caps[get_datetime().date().isoformat()] = out
'''
    path = write_algo(tmp_path, source)
    daily, _, s, e = run_data("daily", "2012-01-03", "2012-01-31")
    result = run_backtest(path, daily=daily, minute=None, start=s, end=e, capital=1e5, strict=True,
                          fundamentals=table)
    caps = result.engine.context.caps
    aapl = lambda frame: frame[[a.symbol == "AAPL" for a in frame.index]].iloc[0]  # noqa: E731
    assert aapl(caps["2012-01-09"])["cap"] == 4e11 and aapl(caps["2012-01-10"])["cap"] == 5e11
    day = caps["2012-01-20"]
    assert (day["cap"] == day["cap2"]).all() and day["tech"].sum() == 3
    assert day.loc[[a.symbol == "GOOG" for a in day.index], "rel"].iloc[0] == 0.0


def _trades(perf: pd.DataFrame) -> list[tuple]:
    return [(pd.Timestamp(t["dt"]), t["symbol"] if "symbol" in t else t["sid"].symbol, t["amount"],
             round(t["price"], 6)) for day in perf["transactions"] for t in day]


@pytest.mark.socket
@pytest.mark.slow
def test_pipeline_example_gives_the_same_orders_in_a_paper_run(tmp_path: Path) -> None:
    start, end = "2012-01-03", "2012-02-29"
    algo = USER_ALGOS / "pipeline_momentum.py"
    paper = run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp(start), pd.Timestamp(end)),
                          output=tmp_path / "paper", run_id="pipeparity")
    daily, _, s, e = run_data("daily", start, end)
    bt = run_backtest(algo, daily=daily, minute=None, start=s, end=e, capital=100_000.0)
    assert paper.engine.error_count == 0 and bt.engine.error_count == 0
    assert len(_trades(bt.perf)) >= 4
    assert _trades(paper.perf) == _trades(bt.perf)
