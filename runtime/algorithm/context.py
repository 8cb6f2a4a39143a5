"""``context``: the algorithm's own state object.

A plain attribute bag for the user (``context.x = 1``) that also offers what zipline's algorithm object offers:
``context.portfolio``, ``context.account`` and every API function (``context.order(...)``,
``context.set_commission(...)``), because in zipline ``context`` is the algorithm itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime.algorithm.params import NO_PARAMETERS, Parameters

if TYPE_CHECKING:
    from runtime.algorithm.api import AlgorithmAPI
    from runtime.core.ledger import Account, Portfolio


class Context:
    """The ``context`` passed to ``initialize``, ``handle_data`` and scheduled functions."""

    def __init__(self, api: AlgorithmAPI) -> None:
        object.__setattr__(self, "_api", api)

    @property
    def portfolio(self) -> Portfolio:
        """Cash, positions and values now (read-only; a missing asset gives an empty position)."""
        return self._api.portfolio

    @portfolio.setter
    def portfolio(self, value: Any) -> None:
        raise AttributeError("context.portfolio is read-only (it reflects the broker's state)")

    @property
    def account(self) -> Account:
        """Account values (buying power, leverage, ...): simulated in backtests, IB's own values live."""
        return self._api.account

    @account.setter
    def account(self, value: Any) -> None:
        raise AttributeError("context.account is read-only (it reflects the broker's state)")

    @property
    def params(self) -> Parameters | Any:
        """The run's parameters (``--param``, PARAMS in settings.py, a sweep's combination): a read-only mapping.
        An algorithm that sets ``context.params`` itself gets back what it set."""
        mine = vars(self)
        return mine["params"] if "params" in mine else mine.get("_run_params", NO_PARAMETERS)

    @params.setter
    def params(self, value: Any) -> None:
        vars(self)["params"] = value  # the algorithm's own attribute, saved and restored like any other

    def use_parameters(self, params: Parameters) -> None:
        """Give the run its parameters (:func:`runtime.algorithm.params.bind_parameters`); not saved with the
        context's attributes (a restarted run is given them again)."""
        object.__setattr__(self, "_run_params", params)

    def __getattr__(self, name: str) -> Any:
        api = object.__getattribute__(self, "_api")
        if not name.startswith("_") and name in api.exported_names:
            return api.exported(name)
        raise AttributeError(
            f"context has no attribute {name!r} (set it first, e.g. in initialize: context.{name} = ...)"
        )

    def __repr__(self) -> str:
        user = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return f"Context({user})"
