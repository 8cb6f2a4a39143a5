"""A paper run keeps its Parquet pipeline folder current before each session; a stale folder is said so."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from support.algo import write_algo

from runtime.live.data_update import run_update
from runtime.live.run import run_algorithm

ALGO = """
from zipline.api import attach_pipeline, pipeline_output, record
from zipline.pipeline import Pipeline
from zipline.pipeline.data import USEquityPricing
from zipline.pipeline.factors import SimpleMovingAverage


def initialize(context):
    sma = SimpleMovingAverage(inputs=[USEquityPricing.close], window_length=3)
    attach_pipeline(Pipeline(columns={"close": USEquityPricing.close.latest, "sma": sma}), "p")


def before_trading_start(context, data):
    out = pipeline_output("p")
    record(priced=int(out["close"].notna().sum()), averaged=int(out["sma"].notna().sum()))
"""

SYMBOLS = "AAPL,IBM,MSFT"


def _run(tmp_path: Path, folder: Path, run_id: str):
    algo = write_algo(tmp_path, ALGO)
    return run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp("2012-04-02"), pd.Timestamp("2012-04-13")),
                         output=tmp_path / run_id, run_id=run_id, pipeline_data=str(folder))


@pytest.mark.slow
def test_a_paper_run_downloads_the_missing_sessions_before_each_session(tmp_path, caplog) -> None:
    folder = tmp_path / "store"
    run_update(SYMBOLS, folder, start="2012-01-03", end="2012-03-30", progress=False)
    with caplog.at_level(logging.INFO, logger="ibalgo"):
        result = _run(tmp_path, folder, "fresh")
    assert result.engine.error_count == 0
    perf = result.perf
    assert len(perf) == 9  # 2012-04-02..13 less Good Friday (04-06)
    assert (perf["priced"] == 3).all() and (perf["averaged"] == 3).all()  # every window had its bars
    kept = [r.getMessage() for r in caplog.records if "data folder kept current" in r.getMessage()]
    assert len(kept) == 8  # before each session after the first (the folder already reached 03-30)
    assert "3 of 3 symbols were behind" in kept[0]
    frame = pd.read_parquet(folder / "AAPL.parquet")
    # the bars up to the close before the last replayed session: the last session's own bar is not needed
    assert str(frame["date"].iloc[-1].date()) == "2012-04-12" and frame["date"].is_unique
    assert not [r for r in caplog.records if "the daily bars end on" in r.getMessage()]


@pytest.mark.slow
def test_a_stale_folder_logs_a_clear_warning(tmp_path, caplog) -> None:
    parquet = tmp_path / "parquet"
    run_update(SYMBOLS, parquet, start="2012-01-03", end="2012-03-30", progress=False)
    folder = tmp_path / "csv"  # a CSV folder is not kept current by the run
    folder.mkdir()
    for symbol in SYMBOLS.split(","):
        pd.read_parquet(parquet / f"{symbol}.parquet").to_csv(folder / f"{symbol}.csv", index=False)
    with caplog.at_level(logging.INFO, logger="ibalgo"):
        result = _run(tmp_path, folder, "stale")
    assert (result.perf["averaged"].iloc[-1]) == 0  # the windows are all after the data's end
    stale = [r for r in caplog.records if "the daily bars end on 2012-03-30" in r.getMessage()]
    assert stale and all(r.levelno == logging.WARNING for r in stale)
    assert "ibalgo data update" in stale[0].getMessage()
    assert not [r for r in caplog.records if "data folder kept current" in r.getMessage()]
