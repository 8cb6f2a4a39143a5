"""Pipeline: Quantopian's / zipline's cross-sectional factor API, over the run's daily bar store.

Algorithms import these names from ``quantopian.pipeline`` / ``zipline.pipeline`` (served by the loader's shims);
notebooks and scripts import them from here, e.g.::

    from runtime.pipeline import Pipeline, run_pipeline
    from runtime.pipeline.data import USEquityPricing
    from runtime.pipeline.factors import SimpleMovingAverage

    pipe = Pipeline(columns={"sma": SimpleMovingAverage(inputs=[USEquityPricing.close], window_length=10)})
    frame = run_pipeline(pipe, "2012-01-03", "2012-06-29")   # (date, asset) MultiIndex, alphalens-ready
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from runtime.pipeline.builtin_factors import (
    EWMA,
    EWMSTD,
    RSI,
    VWAP,
    AnnualizedVolatility,
    AverageDollarVolume,
    BollingerBands,
    DailyReturns,
    ExponentialWeightedMovingAverage,
    ExponentialWeightedMovingStdDev,
    FastStochasticOscillator,
    LinearWeightedMovingAverage,
    MACDSignal,
    MaxDrawdown,
    MovingAverageConvergenceDivergenceSignal,
    PeerCount,
    PercentChange,
    Returns,
    RollingLinearRegression,
    RollingLinearRegressionOfReturns,
    RollingPearson,
    RollingPearsonOfReturns,
    RollingSpearman,
    RollingSpearmanOfReturns,
    SimpleBeta,
    SimpleMovingAverage,
    TrueRange,
    WeightedAverageValue,
)
from runtime.pipeline.classifiers import Classifier, CustomClassifier, Everything, Quantiles
from runtime.pipeline.data import BoundColumn, Column, DataSet, EquityPricing, USEquityPricing
from runtime.pipeline.engine import ChunkResult, PipelineEngine
from runtime.pipeline.factors import CustomFactor, Factor, Latest, Rank
from runtime.pipeline.filters import (
    All,
    AllPresent,
    Any_,
    AssetExists,
    AtLeastN,
    CustomFilter,
    Filter,
    SingleAsset,
    StaticAssets,
    StaticSids,
)
from runtime.pipeline.pipeline import Pipeline
from runtime.pipeline.term import ComputableTerm, NotSpecified, Term
from runtime.pipeline.universes import Q500US, Q1500US, QTradableStocksUS

#: sessions per chunk in backtests and run_pipeline (zipline computes ~half a year at a time too)
CHUNK_SESSIONS = 126


def run_pipeline(pipeline: Pipeline, start: Any, end: Any, *, bars: Any = None, data_dir: str | Path | None = None,
                 fundamentals: str | Path | None = None, chunksize: int = CHUNK_SESSIONS) -> pd.DataFrame:
    """Compute ``pipeline`` for every session from ``start`` to ``end``; a frame indexed by (date, asset).

    The shape is zipline's ``run_pipeline`` output, which alphalens-reloaded's
    ``get_clean_factor_and_forward_returns(frame['factor'], prices)`` accepts. Data: ``bars`` (a daily
    :class:`~runtime.data.store.BarArrays`), else the daily bars of ``data_dir`` (the ``--data`` folder format),
    else the bundled stocks; ``fundamentals`` names a point-in-time table (see the README's Pipeline section).
    Each session's row uses data through the previous session's close only.
    """
    if bars is None:
        from runtime.data import load_bars

        bars = load_bars(str(data_dir) if data_dir else None, "daily", None, None)
    engine = PipelineEngine.for_store(bars, str(fundamentals) if fundamentals else None)
    lo = engine.row_of_session(_first_session_on_or_after(bars, start))
    hi = engine.row_of_session(pd.Timestamp(end)) + 1
    if hi <= lo:
        raise ValueError(f"no sessions between {start} and {end}")
    frames = [engine.compute_chunk(pipeline, a, min(hi, a + chunksize)).long_frame()
              for a in range(lo, hi, max(1, int(chunksize)))]
    return pd.concat(frames) if len(frames) > 1 else frames[0]


def _first_session_on_or_after(bars: Any, when: Any) -> pd.Timestamp:
    i = bars.calendar.session_index_on_or_after(pd.Timestamp(when).tz_localize(None) if pd.Timestamp(when).tzinfo
                                                else pd.Timestamp(when))
    return bars.calendar.session_label(i)


Any = Any_  # noqa: F811 (zipline's filter name; typing.Any is not needed below)

__all__ = [
    "EWMA", "EWMSTD", "Q500US", "Q1500US", "RSI", "VWAP", "All", "AllPresent", "AnnualizedVolatility", "Any",
    "AssetExists", "AtLeastN", "AverageDollarVolume", "BollingerBands", "BoundColumn", "ChunkResult", "Classifier",
    "Column", "ComputableTerm", "CustomClassifier", "CustomFactor", "CustomFilter", "DailyReturns", "DataSet",
    "EquityPricing", "Everything", "ExponentialWeightedMovingAverage", "ExponentialWeightedMovingStdDev",
    "Factor", "FastStochasticOscillator", "Filter", "Latest", "LinearWeightedMovingAverage", "MACDSignal",
    "MaxDrawdown", "MovingAverageConvergenceDivergenceSignal", "NotSpecified", "PeerCount", "PercentChange",
    "Pipeline", "PipelineEngine", "QTradableStocksUS", "Quantiles", "Rank", "Returns", "RollingLinearRegression",
    "RollingLinearRegressionOfReturns", "RollingPearson", "RollingPearsonOfReturns", "RollingSpearman",
    "RollingSpearmanOfReturns", "SimpleBeta", "SimpleMovingAverage", "SingleAsset", "StaticAssets", "StaticSids",
    "Term", "TrueRange", "USEquityPricing", "WeightedAverageValue", "run_pipeline",
]
