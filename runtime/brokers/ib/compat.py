"""What differs between the 9.81 and the 10.x ``ibapi`` clients, detected once from the installed package.

- ``error`` callback: 9.81 ``(reqId, errorCode, errorString)``; 10.1x ``(reqId, errorCode, errorString,
  advancedOrderRejectJson)``; 10.3x+ ``(reqId, errorTime, errorCode, errorString, advancedOrderRejectJson)``.
- commissions: ``commissionReport(CommissionReport)`` (``.commission``) vs ``commissionAndFeesReport``
  (``.commissionAndFees``).
- ``cancelOrder(orderId)`` vs ``cancelOrder(orderId, OrderCancel())``.
- sizes: float in 9.81, ``Decimal`` in 10.x (``UNSET_DECIMAL`` for "no value").
- ``sendMsg(msg)`` vs ``sendMsg(msgId, msg)`` (the pacer wraps either with ``*args``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibapi
from ibapi.client import EClient
from ibapi.wrapper import EWrapper

try:  # 10.x
    from ibapi.order_cancel import OrderCancel
except ImportError:  # 9.81
    OrderCancel = None  # type: ignore[assignment,misc]

UNSET_INTEGER = 2**31 - 1
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_DECIMAL = Decimal(2**127 - 1)


@dataclass(frozen=True)
class ClientFlavor:
    """Facts about the installed ibapi client."""

    version: str
    major: int
    error_has_time: bool
    cancel_needs_order_cancel: bool
    decimal_sizes: bool
    max_client_version: int

    @property
    def label(self) -> str:
        return f"ibapi {self.version}"


def _detect() -> ClientFlavor:
    version = str(getattr(ibapi, "__version__", "") or ibapi.get_version_string())
    try:
        major = int(version.split(".")[0])
    except ValueError:
        major = 0
    params = list(inspect.signature(EWrapper.error).parameters)
    cancel_params = list(inspect.signature(EClient.cancelOrder).parameters)
    from ibapi import server_versions

    try:
        from ibapi.common import UNSET_DECIMAL as _unset  # noqa: F401

        decimal_sizes = True
    except ImportError:
        decimal_sizes = False
    return ClientFlavor(
        version=version,
        major=major,
        error_has_time="errorTime" in params,
        cancel_needs_order_cancel=len(cancel_params) > 2,
        decimal_sizes=decimal_sizes,
        max_client_version=int(getattr(server_versions, "MAX_CLIENT_VER", 0)),
    )


FLAVOR = _detect()


@dataclass(frozen=True)
class ErrorArgs:
    """A normalised ``error`` callback."""

    req_id: int
    code: int
    text: str
    advanced_reject: str = ""


def normalize_error(req_id: Any, *rest: Any) -> ErrorArgs:
    """Read an ``error`` callback's arguments whichever client called it.

    >>> normalize_error(-1, 2104, "ok")
    ErrorArgs(req_id=-1, code=2104, text='ok', advanced_reject='')
    >>> normalize_error(5, 1700000000000, 200, "no def", "")
    ErrorArgs(req_id=5, code=200, text='no def', advanced_reject='')
    """
    args = list(rest)
    if len(args) >= 3 and not isinstance(args[1], str):
        # 10.3x+: errorTime first
        args = args[1:]
    code = int(args[0]) if args else 0
    text = str(args[1]) if len(args) > 1 else ""
    adv = str(args[2]) if len(args) > 2 and args[2] else ""
    return ErrorArgs(int(req_id), code, text, adv)


def number(value: Any) -> float | None:
    """A size or price from either client as a float; None for IB's "unset" markers."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        if value == UNSET_DECIMAL or value.is_nan():
            return None
        return float(value)
    v = float(value)
    if v in (UNSET_DOUBLE, UNSET_INTEGER):
        return None
    return v


def quantity(value: float) -> Any:
    """A quantity as the installed client wants it in ``Order.totalQuantity`` (Decimal in 10.x)."""
    return Decimal(str(value)) if FLAVOR.decimal_sizes else float(value)


def cancel_order(client: EClient, ib_order_id: int) -> None:
    """``client.cancelOrder`` with the signature of the installed client."""
    if FLAVOR.cancel_needs_order_cancel and OrderCancel is not None:
        client.cancelOrder(ib_order_id, OrderCancel())
    else:
        client.cancelOrder(ib_order_id)  # type: ignore[call-arg]
