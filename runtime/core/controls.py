"""Trading controls (checked when an order is placed) and account controls (checked at each session's end).

zipline's semantics: ``on_error='fail'`` raises :class:`TradingControlViolation` into the algorithm; ``'log'``
logs the violation and still places the order. Open orders are ignored by the position checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from runtime.core.assets import Asset
from runtime.errors import ControlSettingError, TradingControlViolation

OnViolation = Callable[[str], None]


@dataclass(frozen=True)
class OrderCheck:
    """What a trading control sees of an order about to be placed."""

    asset: Asset
    amount: int
    price: float
    current_position: int
    orders_today: int


ON_ERROR_CHOICES = ("fail", "log")


def _validate_on_error(on_error: object, control: str) -> str:
    if on_error not in ON_ERROR_CHOICES:
        raise ControlSettingError(f"{control}: on_error must be 'fail' (raise into the algorithm) or 'log' (log and "
                                  f"place the order anyway), got {on_error!r}")
    return str(on_error)


@dataclass(frozen=True)
class TradingControl:
    """Base: ``violation(check)`` returns a message when the order breaks the control, else None. An ``on_error``
    other than 'fail' or 'log' raises :class:`~runtime.errors.ControlSettingError` when the control is made."""

    on_error: str = "fail"

    def __post_init__(self) -> None:
        _validate_on_error(self.on_error, type(self).__name__)

    def violation(self, check: OrderCheck) -> str | None:
        raise NotImplementedError


@dataclass(frozen=True)
class _SizeLimit(TradingControl):
    """Shares/notional limits on a quantity derived from the order (one asset, or all when ``asset`` is None)."""

    asset: Asset | None = None
    max_shares: float | None = None
    max_notional: float | None = None

    def _quantity(self, check: OrderCheck) -> tuple[int, str, str]:
        """(shares, what to call them, the verb) for the messages."""
        raise NotImplementedError

    def violation(self, check: OrderCheck) -> str | None:
        if self.asset is not None and check.asset != self.asset:
            return None
        shares, what, verb = self._quantity(check)
        if self.max_shares is not None and abs(shares) > self.max_shares:
            return f"{what} of {shares} {check.asset.symbol} {verb} max_shares={self.max_shares}"
        value = abs(shares * check.price * check.asset.multiplier)
        if self.max_notional is not None and check.price == check.price and value > self.max_notional:
            return f"{what} value {value:,.2f} for {check.asset.symbol} {verb} max_notional={self.max_notional}"
        return None


@dataclass(frozen=True)
class MaxOrderSize(_SizeLimit):
    """No single order larger than ``max_shares`` shares or ``max_notional`` in value (for one asset or all)."""

    def _quantity(self, check: OrderCheck) -> tuple[int, str, str]:
        return check.amount, "order", "exceeds"


@dataclass(frozen=True)
class MaxPositionSize(_SizeLimit):
    """The position after this order (open orders ignored) no larger than ``max_shares`` / ``max_notional``."""

    def _quantity(self, check: OrderCheck) -> tuple[int, str, str]:
        return check.current_position + check.amount, "position", "would exceed"


@dataclass(frozen=True)
class MaxOrderCount(TradingControl):
    """At most ``max_count`` orders per session."""

    max_count: int = 0

    def violation(self, check: OrderCheck) -> str | None:
        if check.orders_today >= self.max_count:
            return f"this would be order number {check.orders_today + 1} today; max_count={self.max_count}"
        return None


@dataclass(frozen=True)
class LongOnly(TradingControl):
    """No order that would leave a short position."""

    def violation(self, check: OrderCheck) -> str | None:
        if check.current_position + check.amount < 0:
            return (
                f"order of {check.amount} {check.asset.symbol} would leave a short position of "
                f"{check.current_position + check.amount} (set_long_only is on)"
            )
        return None


@dataclass(frozen=True)
class RestrictedList(TradingControl):
    """No order in an asset on the do-not-order list."""

    assets: frozenset[Asset] = field(default_factory=frozenset)

    def violation(self, check: OrderCheck) -> str | None:
        if check.asset in self.assets:
            return f"{check.asset.symbol} is on the do-not-order list"
        return None


def check_order(
    controls: Iterable[TradingControl], check: OrderCheck, log: OnViolation
) -> None:
    """Run every control; raise on the first 'fail' violation, log the 'log' ones."""
    for control in controls:
        message = control.violation(check)
        if message is None:
            continue
        if control.on_error == "fail":
            raise TradingControlViolation(f"{type(control).__name__}: {message}")
        log(f"trading control {type(control).__name__} violated (order placed anyway): {message}")


@dataclass(frozen=True)
class MaxLeverage:
    """Account control: gross leverage must stay at or below ``max_leverage`` (checked at each session's end)."""

    max_leverage: float

    def __post_init__(self) -> None:
        if not (isinstance(self.max_leverage, (int, float)) and math.isfinite(self.max_leverage)) or (
            self.max_leverage < 0
        ):
            raise ControlSettingError(f"max_leverage must be a number >= 0, got {self.max_leverage!r}")

    def violation(self, leverage: float) -> str | None:
        if leverage > self.max_leverage:
            return f"gross leverage {leverage:.3f} exceeds set_max_leverage({self.max_leverage})"
        return None


@dataclass(frozen=True)
class MinLeverage:
    """Account control: leverage at least ``min_leverage`` once ``grace_period`` sessions have passed."""

    min_leverage: float
    grace_period_sessions: int

    def violation(self, leverage: float, sessions_elapsed: int) -> str | None:
        if sessions_elapsed > self.grace_period_sessions and leverage < self.min_leverage:
            return f"gross leverage {leverage:.3f} is below set_min_leverage({self.min_leverage})"
        return None
