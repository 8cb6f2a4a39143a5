"""The zipline names the algorithm API hands out beside its functions: the cancel policies, the ``commission`` and
``slippage`` model namespaces, and Quantopian's ``log``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.core import costs
from runtime.errors import AlgorithmApiError

if TYPE_CHECKING:
    from runtime.engine.engine import Engine


class EODCancel:
    """Cancel policy: cancel every open order at the end of each session (Quantopian live trading did this)."""

    def __init__(self, warn_on_cancel: bool = True) -> None:
        self.warn_on_cancel = warn_on_cancel


class NeverCancel:
    """Cancel policy: open orders stay open across sessions (zipline's default)."""


class cancel_policy:
    EODCancel = EODCancel
    NeverCancel = NeverCancel


class commission:
    PerShare = costs.PerShare
    PerTrade = costs.PerTrade
    PerDollar = costs.PerDollar
    PerContract = costs.PerContract
    NoCommission = costs.NoCommission
    CommissionModel = costs.CommissionModel


class slippage:
    FixedSlippage = costs.FixedSlippage
    FixedBasisPointsSlippage = costs.FixedBasisPointsSlippage
    VolumeShareSlippage = costs.VolumeShareSlippage
    NoSlippage = costs.NoSlippage
    SlippageModel = costs.SlippageModel


class AlgoLog:
    """Quantopian's ``log``: ``log.info(...)``, ``log.warn(...)``, ``log.error(...)``, stamped with algorithm time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _emit(self, level: int, msg: object, *args: object) -> None:
        self._engine.algo_log.log(level, str(msg), *args)

    def debug(self, msg: object, *args: object) -> None:
        self._emit(10, msg, *args)

    def info(self, msg: object, *args: object) -> None:
        self._emit(20, msg, *args)

    def notice(self, msg: object, *args: object) -> None:
        self._emit(20, msg, *args)

    def warn(self, msg: object, *args: object) -> None:
        self._emit(30, msg, *args)

    warning = warn

    def error(self, msg: object, *args: object) -> None:
        self._emit(40, msg, *args)

    def critical(self, msg: object, *args: object) -> None:
        self._emit(50, msg, *args)


def check_model(positional: object, us_equities: object, kind: str, base: type) -> object | None:
    """The model ``set_commission``/``set_slippage`` got (``us_equities=`` or positional), checked to be an
    instance of ``base``; None when none was given."""
    model = us_equities if us_equities is not None else positional
    if model is None:
        return None
    if isinstance(model, type) and issubclass(model, base):
        raise AlgorithmApiError(f"set_{kind} needs a model instance: did you forget the parentheses, e.g. "
                                f"{model.__name__}()?")
    if not isinstance(model, base):
        raise AlgorithmApiError(f"set_{kind} got {model!r}, which is not a {kind} model")
    return model
