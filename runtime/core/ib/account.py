"""IB account tags -> zipline's ``context.account`` fields, and account codes masked for logs."""

from __future__ import annotations

import math
from collections.abc import Mapping

from runtime.core.ledger import Account

#: zipline ``context.account`` field -> IB account tags, first present wins.
ACCOUNT_TAGS: dict[str, tuple[str, ...]] = {
    "settled_cash": ("SettledCash", "TotalCashValue"),
    "accrued_interest": ("AccruedCash",),
    "buying_power": ("BuyingPower",),
    "equity_with_loan": ("EquityWithLoanValue",),
    "total_positions_value": ("StockMarketValue", "GrossPositionValue"),
    "total_positions_exposure": ("GrossPositionValue",),
    "regt_equity": ("RegTEquity", "ReqTEquity"),
    "regt_margin": ("RegTMargin", "ReqTMargin"),
    "initial_margin_requirement": ("FullInitMarginReq", "InitMarginReq"),
    "maintenance_margin_requirement": ("FullMaintMarginReq", "MaintMarginReq"),
    "available_funds": ("FullAvailableFunds", "AvailableFunds"),
    "excess_liquidity": ("FullExcessLiquidity", "ExcessLiquidity"),
    "cushion": ("Cushion",),
    "day_trades_remaining": ("DayTradesRemaining",),
    "leverage": ("Leverage-S", "Leverage"),
    "net_liquidation": ("NetLiquidation",),
}


def ib_number(text: str) -> float | None:
    """An IB account value as a float (None if it is not a number, e.g. 'true' or '')."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def account_from_tags(values: Mapping[str, float]) -> Account:
    """zipline's :class:`Account` from IB account values keyed by tag (missing ones are 0.0, NaN for leverage).

    ``net_leverage`` is not an IB tag: it is the stock market value (long minus short) over the net liquidation.
    """

    def pick(name: str) -> float:
        for tag in ACCOUNT_TAGS[name]:
            if tag in values:
                return float(values[tag])
        return 0.0

    net_liq = pick("net_liquidation")
    exposure = pick("total_positions_exposure")
    leverage = pick("leverage") if any(t in values for t in ACCOUNT_TAGS["leverage"]) else (
        exposure / net_liq if net_liq else 0.0)
    net_value = float(values.get("StockMarketValue", exposure))
    return Account(
        settled_cash=pick("settled_cash"),
        accrued_interest=pick("accrued_interest"),
        buying_power=pick("buying_power"),
        equity_with_loan=pick("equity_with_loan"),
        total_positions_value=pick("total_positions_value"),
        total_positions_exposure=exposure,
        regt_equity=pick("regt_equity"),
        regt_margin=pick("regt_margin"),
        initial_margin_requirement=pick("initial_margin_requirement"),
        maintenance_margin_requirement=pick("maintenance_margin_requirement"),
        available_funds=pick("available_funds"),
        excess_liquidity=pick("excess_liquidity"),
        cushion=pick("cushion"),
        day_trades_remaining=pick("day_trades_remaining"),
        leverage=leverage,
        net_leverage=net_value / net_liq if net_liq else 0.0,
        net_liquidation=net_liq,
    )


def mask_account(code: str | None) -> str:
    """An account code as logs show it: the first two and last three characters (``DU1234567`` -> ``DU***567``);
    logs are shared and pasted, account codes identify a customer at IB."""
    text = str(code or "")
    if len(text) <= 5:
        return text[:1] + "***" if text else ""
    return f"{text[:2]}***{text[-3:]}"


def mask_accounts(codes: object) -> str:
    """Comma-separated masked account codes (see :func:`mask_account`)."""
    return ",".join(mask_account(c) for c in codes)  # type: ignore[attr-defined]
