"""The ``quantopian.pipeline`` and ``zipline.pipeline`` module trees an algorithm file imports from.

They are built per loaded algorithm (fundamentals are bound to the run's point-in-time table) and answer only that
file's imports (see :mod:`runtime.algorithm.loader`). A name the runtime does not offer fails with an ImportError that
names it and says what to use instead, never Python's bare "cannot import name ... (unknown location)".
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from runtime.pipeline import builtin_factors as bf
from runtime.pipeline import classifiers as cl
from runtime.pipeline import data as dt
from runtime.pipeline import factors as fa
from runtime.pipeline import filters as fi
from runtime.pipeline import universes as un
from runtime.pipeline.errors import FundamentalsNotConfigured
from runtime.pipeline.fundamentals import FundamentalsNamespace, MorningstarNamespace, make_sector
from runtime.pipeline.loaders import missing_table_message
from runtime.pipeline.pipeline import Pipeline

#: what to use instead of names that exist in Quantopian/zipline but not here
HINTS = {
    "SimplePipelineEngine": "use run_pipeline from runtime.pipeline in research code; algorithms use "
                            "attach_pipeline/pipeline_output",
    "IsPrimaryShare": "no security reference data is available: drop this filter",
    "IsDepositaryReceipt": "no security reference data is available: drop this filter",
    "SuperSector": "use Sector() (from the fundamentals table's morningstar_sector_code column)",
    "default_us_equity_mask": "use QTradableStocksUS()",
    "make_us_equity_universe": "use Q500US()/Q1500US()/QTradableStocksUS() or a screen of your own",
    "BusinessDaysSincePreviousEvent": "event data sets are not available: load the dates as a DataSet column",
    "BusinessDaysUntilNextEvent": "event data sets are not available: load the dates as a DataSet column",
    "Aroon": "compute it in a CustomFactor (inputs=[USEquityPricing.low, USEquityPricing.high])",
    "IchimokuKinkoHyo": "compute it in a CustomFactor",
    "RateOfChangePercentage": "use PercentChange(inputs=[USEquityPricing.close], window_length=N) * 100",
}


class ShimModule(types.ModuleType):
    """A module whose missing names raise an ImportError naming them; some names are made on first use."""

    def __init__(self, name: str, attrs: dict[str, Any], lazy: dict[str, Callable[[], Any]] | None = None) -> None:
        super().__init__(name)
        self.__dict__.update(attrs)
        self.__dict__["_lazy"] = lazy or {}
        self.__all__ = sorted(k for k in [*attrs, *(lazy or {})] if not k.startswith("_"))

    def __getattr__(self, name: str) -> Any:
        lazy = self.__dict__.get("_lazy", {})
        if name in lazy:
            value = lazy[name]()
            setattr(self, name, value)
            return value
        if name.startswith("__"):
            raise AttributeError(name)
        hint = HINTS.get(name)
        offered = ", ".join(n for n in self.__all__ if not isinstance(self.__dict__.get(n), types.ModuleType))
        raise ImportError(
            f"{self.__name__}.{name} is not supported by this runtime"
            + (f": {hint}" if hint else f"; {self.__name__} offers: {offered}")
        )


def _names(module: Any, names: list[str]) -> dict[str, Any]:
    return {n: getattr(module, n) for n in names}


FACTOR_NAMES = [
    "AnnualizedVolatility", "AverageDollarVolume", "BollingerBands", "DailyReturns", "EWMA", "EWMSTD",
    "ExponentialWeightedMovingAverage", "ExponentialWeightedMovingStdDev", "FastStochasticOscillator",
    "LinearWeightedMovingAverage", "MACDSignal", "MaxDrawdown", "MovingAverageConvergenceDivergenceSignal",
    "PeerCount", "PercentChange", "RSI", "Returns", "RollingLinearRegression", "RollingLinearRegressionOfReturns",
    "RollingPearson", "RollingPearsonOfReturns", "RollingSpearman", "RollingSpearmanOfReturns", "SimpleBeta",
    "SimpleMovingAverage", "TrueRange", "VWAP", "WeightedAverageValue",
]


def build_pipeline_modules(table_source: Callable[[], Any] | None) -> dict[str, types.ModuleType]:
    """Both module trees, keyed by dotted name. ``table_source()`` gives the run's TableLoader or None."""

    def table() -> Any:
        return table_source() if table_source is not None else None

    def need_table(what: str) -> Any:
        t = table()
        if t is None:
            raise FundamentalsNotConfigured(missing_table_message(what))
        return t

    factors_attrs = {**_names(bf, FACTOR_NAMES), "CustomFactor": fa.CustomFactor, "Factor": fa.Factor,
                     "Latest": fa.Latest, "Rank": fa.Rank}
    filters_attrs = {"Filter": fi.Filter, "CustomFilter": fi.CustomFilter, "StaticAssets": fi.StaticAssets,
                     "StaticSids": fi.StaticSids, "SingleAsset": fi.SingleAsset, "All": fi.All, "Any": fi.Any_,
                     "AtLeastN": fi.AtLeastN, "AllPresent": fi.AllPresent}
    classifiers_attrs = {"Classifier": cl.Classifier, "CustomClassifier": cl.CustomClassifier,
                         "Everything": cl.Everything, "Quantiles": cl.Quantiles}
    data_attrs = {"USEquityPricing": dt.USEquityPricing, "EquityPricing": dt.EquityPricing, "DataSet": dt.DataSet,
                  "Column": dt.Column, "BoundColumn": dt.BoundColumn}
    top_attrs = {"Pipeline": Pipeline, "CustomFactor": fa.CustomFactor, "CustomFilter": fi.CustomFilter,
                 "CustomClassifier": cl.CustomClassifier, "Factor": fa.Factor, "Filter": fi.Filter,
                 "Classifier": cl.Classifier}

    def fundamentals() -> Any:
        need_table("Fundamentals")
        return FundamentalsNamespace(table())

    def morningstar() -> Any:
        need_table("morningstar")
        return MorningstarNamespace(table())

    def sector() -> Any:
        need_table("Sector")
        return make_sector(table())

    def qtu() -> Any:
        t = table()
        cap = None
        if t is not None and "market_cap" in t.fields:
            from runtime.pipeline.fundamentals import column

            cap = column(t, "market_cap")

        def QTradableStocksUS() -> Any:
            return un.make_qtu(cap)

        QTradableStocksUS.__doc__ = un.QTradableStocksUS.__doc__
        return QTradableStocksUS

    def market_cap_factor() -> Any:
        t = need_table("MarketCap")
        from runtime.pipeline.fundamentals import column

        col = column(t, "market_cap")

        def MarketCap() -> Any:
            return col.latest

        return MarketCap

    universe_lazy = {"QTradableStocksUS": qtu}
    universe_attrs = {"Q500US": un.Q500US, "Q1500US": un.Q1500US}

    mods: dict[str, types.ModuleType] = {}

    def add(name: str, attrs: dict[str, Any], lazy: dict[str, Callable[[], Any]] | None = None) -> ShimModule:
        mod = ShimModule(name, attrs, lazy)
        mods[name] = mod
        parent, _, leaf = name.rpartition(".")
        if parent in mods:
            setattr(mods[parent], leaf, mod)
            mods[parent].__all__ = sorted({*mods[parent].__all__, leaf})
        return mod

    # ---------------------------------------------------------------------------------------- quantopian
    add("quantopian.pipeline", top_attrs)
    add("quantopian.pipeline.data", data_attrs, {"Fundamentals": fundamentals, "morningstar": morningstar})
    add("quantopian.pipeline.data.builtin", {"USEquityPricing": dt.USEquityPricing,
                                             "EquityPricing": dt.EquityPricing})
    add("quantopian.pipeline.data.morningstar", {}, {
        "Fundamentals": fundamentals,
        **{g: (lambda g=g: getattr(morningstar(), g)) for g in (
            "valuation", "valuation_ratios", "asset_classification", "company_reference", "share_class_reference",
            "balance_sheet", "income_statement", "cash_flow_statement", "operation_ratios", "earnings_report",
            "earnings_ratios", "general_profile")},
    })
    add("quantopian.pipeline.factors", factors_attrs)
    add("quantopian.pipeline.factors.fundamentals", {}, {"MarketCap": market_cap_factor})
    add("quantopian.pipeline.filters", {**filters_attrs, **universe_attrs}, universe_lazy)
    add("quantopian.pipeline.filters.morningstar", universe_attrs, universe_lazy)
    add("quantopian.pipeline.experimental", universe_attrs, universe_lazy)
    add("quantopian.pipeline.classifiers", classifiers_attrs)
    add("quantopian.pipeline.classifiers.morningstar", {}, {"Sector": sector})
    add("quantopian.pipeline.classifiers.fundamentals", {}, {"Sector": sector})
    # ------------------------------------------------------------------------------------------ zipline
    add("zipline.pipeline", {**top_attrs})
    add("zipline.pipeline.data", data_attrs)
    add("zipline.pipeline.data.equity_pricing", {"EquityPricing": dt.EquityPricing,
                                                 "USEquityPricing": dt.USEquityPricing})
    add("zipline.pipeline.factors", factors_attrs)
    for sub, names in (("basic", ["AnnualizedVolatility", "AverageDollarVolume", "DailyReturns", "EWMA", "EWMSTD",
                                  "ExponentialWeightedMovingAverage", "ExponentialWeightedMovingStdDev",
                                  "LinearWeightedMovingAverage", "MaxDrawdown", "PeerCount", "PercentChange",
                                  "Returns", "SimpleMovingAverage", "VWAP", "WeightedAverageValue"]),
                       ("technical", ["BollingerBands", "FastStochasticOscillator", "MACDSignal",
                                      "MovingAverageConvergenceDivergenceSignal", "RSI", "TrueRange",
                                      "SimpleMovingAverage", "VWAP", "MaxDrawdown"]),
                       ("statistical", ["RollingLinearRegression", "RollingLinearRegressionOfReturns",
                                        "RollingPearson", "RollingPearsonOfReturns", "RollingSpearman",
                                        "RollingSpearmanOfReturns", "SimpleBeta"])):
        add(f"zipline.pipeline.factors.{sub}", _names(bf, names))
    add("zipline.pipeline.filters", filters_attrs)
    add("zipline.pipeline.classifiers", classifiers_attrs)
    add("zipline.pipeline.domain", {"US_EQUITIES": None, "GENERIC": None})
    return mods
