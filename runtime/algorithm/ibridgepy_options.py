"""IBridgePy's run options and the conventions they decide, shared by the algorithm API and IBridgePy's helpers:
whether the file is IBridgePy-style (get_datetime in the show time zone, 'NoOrderPlaced', DAY orders), which of
the run's accounts a call is for (``accountCode=``), another account's positions and values, IBridgePy's order
keywords."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from runtime.core.assets import Asset, SecType
from runtime.core.orders import TimeInForce
from runtime.errors import AlgorithmApiError, NotAvailableError

if TYPE_CHECKING:
    from runtime.core.ledger import Portfolio
    from runtime.engine.engine import Engine

#: what IBridgePy's order_target & co. return when nothing needed ordering (IBridgePy-style files)
NO_ORDER_PLACED = "NoOrderPlaced"


@dataclass(frozen=True)
class IBridgePyOptions:
    """The run options IBridgePy's helpers read (from settings.py; see runtime.config.Settings)."""

    #: time zone of get_datetime() in IBridgePy-style files (SHOW_TIME_ZONE / showTimeZone)
    show_time_zone: str = "US/Eastern"
    #: the run's account codes (ACCOUNT_CODE, a list for several); the first is the default
    account_codes: tuple[str, ...] = ()
    #: "ibridgepy", "zipline", or None: decided from the algorithm file (see :func:`file_dialect`)
    dialect: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    email_from: str | None = None
    email_to: str | None = None

    def __repr__(self) -> str:
        return (f"IBridgePyOptions(show_time_zone={self.show_time_zone!r}, accounts={len(self.account_codes)}, "
                f"dialect={self.dialect!r}, smtp_host={self.smtp_host!r})")

    @classmethod
    def from_settings(cls, settings: Any) -> IBridgePyOptions:
        """The options of a :class:`runtime.config.Settings`."""
        return cls(
            show_time_zone=str(settings.show_time_zone), account_codes=tuple(settings.account_codes),
            dialect=settings.algorithm_style,
            smtp_host=settings.smtp_host, smtp_port=int(settings.smtp_port), smtp_user=settings.smtp_user,
            smtp_password=settings.smtp_password, smtp_starttls=bool(settings.smtp_starttls),
            email_from=settings.email_from, email_to=settings.email_to,
        )


_DEFAULT_OPTIONS = IBridgePyOptions()


#: names only IBridgePy files use: a file that uses one (and imports nothing from zipline/quantopian) is
#: IBridgePy-style
IBRIDGEPY_ONLY_NAMES = frozenset({
    "show_real_time_price", "show_real_time_size", "show_timestamp", "request_historical_data", "superSymbol",
    "order_status_monitor", "get_order_status", "get_all_open_orders", "get_all_orders", "get_position",
    "get_all_positions", "count_positions", "hold_any_position", "display_all", "display_positions",
    "display_orderStatus", "display_account_info", "show_account_info", "modify_order", "close_all_positions",
    "close_all_positions_except", "close_all_positions_LMT", "rebalance_portfolio", "place_order_with_stoploss",
    "place_order_with_takeprofit", "place_order_with_stoploss_takeprofit", "send_email", "isTradingDay",
    "isEarlyClose", "end", "calculate_profit", "get_contract_details", "cancel_all_orders",
})


def file_dialect(path: str) -> str:
    """'ibridgepy' when the algorithm file imports nothing from zipline/quantopian and uses one of IBridgePy's own
    helpers (:data:`IBRIDGEPY_ONLY_NAMES`), else 'zipline'. Decides IBridgePy's conventions (get_datetime in the
    show time zone, 'NoOrderPlaced', DAY orders) without changing zipline files."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return "zipline"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("zipline", "quantopian"):
            return "zipline"
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in ("zipline", "quantopian") for a in node.names):
            return "zipline"
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "context":
            names.add(node.attr)
    return "ibridgepy" if names & IBRIDGEPY_ONLY_NAMES else "zipline"


class IBridgePyConventions:
    """The IBridgePy conventions of one run (see the module's docstring), bound to its engine."""

    def __init__(self, engine: Engine, resolve_asset: Callable[[object], Asset],
                 portfolio: Callable[[], Portfolio]) -> None:
        self._engine = engine
        self._resolve_asset = resolve_asset
        self._portfolio = portfolio

    @property
    def options(self) -> IBridgePyOptions:
        """The run's IBridgePy options (the defaults when the run gives none)."""
        options = self._engine.ibridgepy_options
        return options if isinstance(options, IBridgePyOptions) else _DEFAULT_OPTIONS

    @cached_property
    def _dialect(self) -> str:
        return self.options.dialect or file_dialect(self._engine.functions.path)

    @property
    def ibridgepy_style(self) -> bool:
        """Whether the algorithm is an IBridgePy-style file (see :func:`file_dialect`)."""
        if self._engine.functions.path == "<not loaded>":
            return self.options.dialect == "ibridgepy"
        return self._dialect == "ibridgepy"

    def default_tif(self) -> TimeInForce | None:
        """IBridgePy's default time in force for an order whose style has none: DAY, in minute runs of IBridgePy
        files (a daily run's orders fill at the next session's close, so DAY would expire them first: there the
        cancel policy decides, as for zipline files)."""
        if self.ibridgepy_style and self._engine.frequency == "minute":
            return TimeInForce.DAY
        return None

    def account_for(self, accountCode: Any, what: str) -> str | None:
        """Check IBridgePy's ``accountCode=`` against the run's accounts (ACCOUNT_CODE): None for the run's own
        account (the first; the one ``context.portfolio`` and the results follow), else the other account's code.

        Another account is served by the broker in paper and live runs (orders are sent for it, its positions and
        values are IB's); a backtest simulates one account, so there another account raises NotAvailableError."""
        codes = self.options.account_codes
        if accountCode in (None, "", "default"):
            return None
        if not isinstance(accountCode, str):
            raise AlgorithmApiError(f"{what}: accountCode must be an account code string, got {accountCode!r}")
        if codes and accountCode not in codes:
            raise AlgorithmApiError(f"{what}: accountCode {accountCode!r} is not one of this run's accounts "
                                    f"({', '.join(codes)}; ACCOUNT_CODE in settings.py)")
        if not codes or accountCode == codes[0]:
            return None
        if self._engine.positions_source is None:
            raise NotAvailableError(f"{what}: accountCode {accountCode!r}: a backtest simulates one account per run "
                                    f"(the first of ACCOUNT_CODE, {codes[0]!r}); paper and live runs trade every "
                                    "account of ACCOUNT_CODE")
        return accountCode

    def account_positions(self, account: str) -> dict[Asset, Any]:
        """IB's positions of another account, as zipline Positions keyed by the run's assets."""
        from runtime.core.ledger import Position

        source = self._engine.positions_source
        assert source is not None
        out: dict[Asset, Any] = {}
        for p in source(account):
            if not p.amount:
                continue
            try:
                asset = self._resolve_asset(p.asset.symbol) if p.asset.sec_type is SecType.STOCK else p.asset
            except AlgorithmApiError:
                asset = p.asset
            mult = asset.multiplier or 1.0
            cost = float(p.avg_cost) / mult
            out[asset] = Position(asset, round(p.amount), cost,
                                  float(p.market_price) if p.market_price else cost)
        return out

    def account_position(self, account: str | None, asset: Asset) -> Any:
        """The position in ``asset`` of ``account`` (None: the run's own, from the portfolio)."""
        if account is None:
            return self._portfolio().positions[asset]
        from runtime.core.ledger import Position

        return self.account_positions(account).get(asset, Position(asset))

    def account_value(self, account: str, tag: str) -> float:
        """IB's value ``tag`` of another account (AlgorithmApiError when IB sends none)."""
        source = self._engine.account_value_source
        text = source(tag, account) if source is not None else None
        try:
            return float(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise AlgorithmApiError(f"IB sends no account value {tag!r} for account {account!r}") from None

    def order_options(self, what: str, options: dict[str, Any]) -> dict[str, Any]:
        """IBridgePy's order keywords, checked: orderRef, outsideRth, accountCode, hidden, followUp,
        waitForFeedbackInSeconds (zipline spellings outside_rth / order_ref too)."""
        known = {"orderRef", "order_ref", "outsideRth", "outside_rth", "accountCode", "hidden", "followUp",
                 "waitForFeedbackInSeconds", "ocaGroup"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise AlgorithmApiError(f"{what}: unknown keyword {unknown[0]!r}; IBridgePy's are orderRef, outsideRth, "
                                    "accountCode, hidden, followUp, waitForFeedbackInSeconds")
        if options.get("hidden"):
            raise NotAvailableError(f"{what}: hidden=True orders are not available in this version")
        ref = options.get("orderRef", options.get("order_ref", "")) or ""
        if not isinstance(ref, str):
            raise AlgorithmApiError(f"{what}: orderRef must be a string, got {ref!r}")
        account = self.account_for(options.get("accountCode"), what)
        return {"order_ref": ref, "outside_rth": bool(options.get("outsideRth", options.get("outside_rth", False))),
                "account": account or ""}

    def call_site(self) -> str:
        """``file:line`` of the innermost algorithm line on the call stack (the file alone if none)."""
        path = self._engine.functions.path
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == path:
                return f"{path}:{frame.f_lineno}"
            frame = frame.f_back
        return path

    def show(self, title: str, text: str) -> str:
        """Log ``text`` under ``title`` in the algorithm's log; returns ``text``."""
        self._engine.algo_log.info("%s\n%s", title, text)
        return text
