"""Paper accounts: the shared ledger plus what IB reports about an account (values, portfolio, margin).

Cash and positions are booked by :class:`runtime.core.ledger.Ledger`, the same bookkeeping the backtester uses.
This module adds IB's account-window view: realized P&L per contract, a simple Reg T style margin model
(:mod:`runtime.core.margin`, the rule backtests apply too) and the key/value rows of
``updateAccountValue`` and ``accountSummary``.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.core import margin
from runtime.core.ledger import Ledger
from runtime.core.matching import Fill
from runtime.gateway.contracts import Instrument

#: Tags reported by reqAccountSummary for "All" and $LEDGER-less requests.
SUMMARY_TAGS = (
    "AccountType", "NetLiquidation", "TotalCashValue", "SettledCash", "AccruedCash", "BuyingPower",
    "EquityWithLoanValue", "PreviousEquityWithLoanValue", "GrossPositionValue", "RegTEquity", "RegTMargin", "SMA",
    "InitMarginReq", "MaintMarginReq", "AvailableFunds", "ExcessLiquidity", "Cushion", "FullInitMarginReq",
    "FullMaintMarginReq", "FullAvailableFunds", "FullExcessLiquidity", "LookAheadNextChange",
    "LookAheadInitMarginReq", "LookAheadMaintMarginReq", "LookAheadAvailableFunds", "LookAheadExcessLiquidity",
    "HighestSeverity", "DayTradesRemaining", "Leverage",
)


@dataclass(frozen=True, slots=True)
class Holding:
    """One position as IB reports it (avgCost includes the multiplier, as IB's does for futures)."""

    instrument: Instrument
    amount: float
    avg_cost: float
    market_price: float
    market_value: float
    unrealized: float
    realized: float


def _money(x: float) -> str:
    return f"{x:.2f}"


class AccountBook:
    """One paper account: a ledger, realized P&L per contract and IB's reporting of both."""

    def __init__(self, code: str, starting_cash: float) -> None:
        self.code = code
        self.ledger = Ledger(starting_cash)
        self.instruments: dict[int, Instrument] = {}
        self.realized: dict[int, float] = {}
        self.prices: dict[int, float] = {}
        #: the underlying's price at the last mark, by option conId (for the short option margin rule)
        self.under_prices: dict[int, float] = {}
        self.realized_total = 0.0

    # ----------------------------------------------------------------------------------------------- booking
    def book(self, fill: Fill, inst: Instrument) -> float | None:
        """Book a fill; returns the realized P&L of the closing part (after commission), None if it opened."""
        sid = inst.asset.sid if inst.asset is not None else inst.con_id
        before, basis = self.position_of(sid)
        realized: float | None = None
        if before and (before > 0) != (fill.amount > 0):
            closed = min(abs(before), abs(fill.amount))
            sign = 1.0 if before > 0 else -1.0
            realized = closed * (fill.price - basis) * inst.multiplier * sign - fill.commission
            self.realized[inst.con_id] = self.realized.get(inst.con_id, 0.0) + realized
            self.realized_total += realized
        self.ledger.apply_fill(fill)
        self.instruments[inst.con_id] = inst
        self.prices[inst.con_id] = fill.price
        return realized

    def position_of(self, sid: int) -> tuple[int, float]:
        """(amount, cost basis per unit) of the ledger's position in ``sid``."""
        for s, _asset, amount, basis, _last in self.ledger.position_items():
            if s == sid:
                return amount, basis
        return 0, 0.0

    def mark(self, inst: Instrument, price: float, now_ns: int) -> None:
        if price == price and price > 0:
            self.prices[inst.con_id] = price
            sid = inst.asset.sid if inst.asset is not None else inst.con_id
            self.ledger.mark(sid, price, now_ns)

    # ------------------------------------------------------------------------------------------------ views
    def holdings(self) -> list[Holding]:
        """Open positions, plus closed ones with realized P&L today (IB lists them with position 0)."""
        out: list[Holding] = []
        held: set[int] = set()
        by_sid = {(i.asset.sid if i.asset is not None else i.con_id): i for i in self.instruments.values()}
        for sid, _asset, amount, basis, last in self.ledger.position_items():
            inst = by_sid.get(sid)
            if inst is None:
                continue
            held.add(inst.con_id)
            m = inst.multiplier
            price = self.prices.get(inst.con_id, last)
            value = amount * price * m
            out.append(Holding(inst, float(amount), basis * m, price, value, value - amount * basis * m,
                               self.realized.get(inst.con_id, 0.0)))
        for con_id, pnl in self.realized.items():
            if con_id not in held and con_id in self.instruments:
                inst = self.instruments[con_id]
                out.append(Holding(inst, 0.0, 0.0, self.prices.get(con_id, 0.0), 0.0, 0.0, pnl))
        return out

    def holding(self, inst: Instrument) -> Holding:
        for h in self.holdings():
            if h.instrument.con_id == inst.con_id:
                return h
        return Holding(inst, 0.0, 0.0, self.prices.get(inst.con_id, 0.0), 0.0, 0.0, 0.0)

    def option_positions(self) -> list[tuple[Instrument, int]]:
        """The account's open option positions (instrument, signed contracts)."""
        if not any(i.is_option for i in self.instruments.values()):
            return []
        return [(h.instrument, int(h.amount)) for h in self.holdings() if h.instrument.is_option and h.amount]

    def mark_underlying(self, inst: Instrument, und_price: float) -> None:
        """Record an option's underlying price (the short option margin rule needs it)."""
        if und_price == und_price and und_price > 0:
            self.under_prices[inst.con_id] = und_price

    def option_terms(self, inst: Instrument, und_price: float | None = None) -> margin.OptionTerms | None:
        """The terms the option margin rule needs (None: not an option, or no underlying price known)."""
        if not inst.is_option:
            return None
        und = und_price if und_price else self.under_prices.get(inst.con_id)
        return margin.OptionTerms(inst.right, inst.strike, und) if und else None

    def margin_holdings(self) -> list[margin.Holding]:
        """The positions as the runtime's one margin rule sees them (security type, signed market value; options
        with their terms)."""
        return [margin.Holding(h.instrument.sec_type, h.market_value, self.option_terms(h.instrument),
                               h.amount * h.instrument.multiplier) for h in self.holdings()]

    def margin(self) -> tuple[float, float, float]:
        """(gross position value, initial margin, maintenance margin), by the runtime's one margin rule."""
        req = margin.requirements(self.margin_holdings())
        return req.gross, req.initial, req.maintenance

    def order_margin(self, inst: Instrument, signed_qty: float, price: float, und_price: float | None = None) -> float:
        """The extra initial margin an order would need (0 when it only reduces the position)."""
        return max(self.margin_change(inst, signed_qty, price, und_price)[0], 0.0)

    def margin_change(self, inst: Instrument, signed_qty: float, price: float,
                      und_price: float | None = None) -> tuple[float, float]:
        """(initial, maintenance) margin change if the order filled at ``price`` (negative when it reduces)."""
        sid = inst.asset.sid if inst.asset is not None else inst.con_id
        before, _ = self.position_of(sid)
        return margin.margin_change(inst.sec_type, before, signed_qty, price, inst.multiplier,
                                    self.option_terms(inst, und_price))

    def values(self) -> dict[str, float]:
        """The numeric account values IB reports, by tag."""
        cash = self.ledger.cash
        net_liq = self.ledger.portfolio_value
        gross, init, maint = self.margin()
        available = net_liq - init
        excess = net_liq - maint
        unrealized = sum(h.unrealized for h in self.holdings())
        stock_value = sum(h.market_value for h in self.holdings() if h.instrument.sec_type == "STK")
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": cash,
            "SettledCash": cash,
            "AccruedCash": 0.0,
            "BuyingPower": max(available, 0.0) * 4.0,
            "EquityWithLoanValue": net_liq,
            "PreviousEquityWithLoanValue": net_liq,
            "GrossPositionValue": gross,
            "RegTEquity": net_liq,
            "RegTMargin": init,
            "SMA": max(available, 0.0),
            "InitMarginReq": init,
            "MaintMarginReq": maint,
            "AvailableFunds": available,
            "ExcessLiquidity": excess,
            "Cushion": excess / net_liq if net_liq else 0.0,
            "FullInitMarginReq": init,
            "FullMaintMarginReq": maint,
            "FullAvailableFunds": available,
            "FullExcessLiquidity": excess,
            "LookAheadNextChange": 0.0,
            "LookAheadInitMarginReq": init,
            "LookAheadMaintMarginReq": maint,
            "LookAheadAvailableFunds": available,
            "LookAheadExcessLiquidity": excess,
            "HighestSeverity": 0.0,
            "DayTradesRemaining": -1.0,
            "Leverage": gross / net_liq if net_liq else 0.0,
            "UnrealizedPnL": unrealized,
            "RealizedPnL": self.realized_total,
            "CashBalance": cash,
            "TotalCashBalance": cash,
            "StockMarketValue": stock_value,
            "NetLiquidationByCurrency": net_liq,
        }

    def update_rows(self) -> list[tuple[str, str, str]]:
        """``(key, value, currency)`` rows of updateAccountValue."""
        rows: list[tuple[str, str, str]] = [
            ("AccountCode", self.code, ""),
            ("AccountReady", "true", ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("Currency", "USD", "USD"),
            ("Currency", "BASE", "BASE"),
            ("RealCurrency", "USD", "USD"),
        ]
        unitless = {"Cushion", "Leverage", "DayTradesRemaining", "HighestSeverity", "LookAheadNextChange"}
        for key, value in self.values().items():
            if key in unitless:
                rows.append((key, f"{value:g}", ""))
            else:
                rows.append((key, _money(value), "USD"))
                if key in ("CashBalance", "TotalCashBalance", "NetLiquidationByCurrency", "UnrealizedPnL",
                           "RealizedPnL", "StockMarketValue"):
                    rows.append((key, _money(value), "BASE"))
        return rows

    def summary_rows(self, tags: str) -> list[tuple[str, str, str]]:
        """``(tag, value, currency)`` rows of accountSummary for a comma-separated tag list."""
        wanted = [t.strip() for t in tags.split(",") if t.strip()] or list(SUMMARY_TAGS)
        values = self.values()
        rows: list[tuple[str, str, str]] = []
        for tag in wanted:
            if tag == "AccountType":
                rows.append((tag, "INDIVIDUAL", ""))
            elif tag.startswith("$LEDGER"):
                for key in ("CashBalance", "TotalCashBalance", "NetLiquidationByCurrency", "UnrealizedPnL",
                            "RealizedPnL", "StockMarketValue"):
                    rows.append((key, _money(values[key]), "USD" if tag != "$LEDGER" else "BASE"))
            elif tag in ("Cushion", "Leverage", "DayTradesRemaining", "HighestSeverity", "LookAheadNextChange"):
                rows.append((tag, f"{values[tag]:g}", ""))
            elif tag in values:
                rows.append((tag, _money(values[tag]), "USD"))
        return rows
