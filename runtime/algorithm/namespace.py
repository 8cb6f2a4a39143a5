"""The names an algorithm file sees without importing anything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.algorithm.api import AlgorithmAPI
from runtime.algorithm.ibridgepy import UNAVAILABLE
from runtime.algorithm.models import EODCancel, NeverCancel, cancel_policy, commission, slippage
from runtime.algorithm.params import NO_PARAMETERS, bind_parameters
from runtime.core.assets import Asset, Equity
from runtime.core.orders import OrderStatus
from runtime.core.rules import calendars, date_rules, time_rules
from runtime.core.styles import (
    LimitOnCloseOrder,
    LimitOnOpenOrder,
    LimitOrder,
    MarketOnCloseOrder,
    MarketOrder,
    StopLimitOrder,
    StopOrder,
    TrailStopLimitOrder,
    TrailStopOrder,
)


def build_namespace(api: AlgorithmAPI, params: Mapping[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
    """Bound API functions plus the classes and rule factories Quantopian, zipline and IBridgePy files use, and the
    IBridgePy functions this version does not offer (each raises NotAvailableError saying what to use instead).
    ``params`` (with the run's ``context``) are the algorithm's parameters: ``get_parameter`` and
    ``context.params`` read them (:mod:`runtime.algorithm.params`)."""
    names: dict[str, Any] = dict(UNAVAILABLE)
    names |= {
        name: api.exported(name) for name in sorted(api.exported_names) if name not in ("portfolio", "account")
    }
    names.update(
        {
            "log": api.log,
            "get_parameter": NO_PARAMETERS.get_parameter,  # a run with parameters rebinds it (params.py)
            "date_rules": date_rules,
            "time_rules": time_rules,
            "calendars": calendars,
            "commission": commission,
            "slippage": slippage,
            "cancel_policy": cancel_policy,
            "EODCancel": EODCancel,
            "NeverCancel": NeverCancel,
            "MarketOrder": MarketOrder,
            "LimitOrder": LimitOrder,
            "StopOrder": StopOrder,
            "StopLimitOrder": StopLimitOrder,
            "TrailStopOrder": TrailStopOrder,
            "TrailStopLimitOrder": TrailStopLimitOrder,
            "MarketOnCloseOrder": MarketOnCloseOrder,
            "LimitOnCloseOrder": LimitOnCloseOrder,
            "LimitOnOpenOrder": LimitOnOpenOrder,
            "ORDER_STATUS": OrderStatus,
            "OrderStatus": OrderStatus,
            "Asset": Asset,
            "Equity": Equity,
        }
    )
    if params:
        bind_parameters(context, names, params)
    return names
