"""Order styles: how an order executes (market, limit, stop, trailing, on-close, on-open), as the algorithm writes it.

Each style turns into the order's kind and its prices rounded to the tick (limit prices in the trader's favour, stop
prices against, see :func:`runtime.core.orders.asymmetric_round_price`); :func:`resolve_style` turns zipline's
``limit_price``/``stop_price`` shorthands into a style. Pure values.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.core.orders import OrderKind, TimeInForce, asymmetric_round_price, check_price
from runtime.errors import BadOrderError


@dataclass(frozen=True)
class ExecutionStyle:
    """Base of the order styles. ``tif`` None lets the cancel policy decide (GTC, or DAY under EODCancel)."""

    kind = OrderKind.MARKET

    def limit_for(self, is_buy: bool, tick_size: float) -> float | None:
        """The limit price to send, rounded to the tick in the trader's favour."""
        return None

    def stop_for(self, is_buy: bool, tick_size: float) -> float | None:
        """The stop price to send, rounded to the tick against the trader (so it triggers no earlier)."""
        return None

    def trail_terms(self) -> tuple[float | None, float | None, float | None]:
        """A trailing order's (trailing amount, trailing percent, limit offset); all None for other styles."""
        return None, None, None

    @property
    def time_in_force(self) -> TimeInForce | None:
        return getattr(self, "tif", None)


def _tif(value: str | TimeInForce | None) -> TimeInForce | None:
    if value is None or isinstance(value, TimeInForce):
        return value
    try:
        return TimeInForce(str(value).upper())
    except ValueError:
        raise BadOrderError(f"unknown time in force {value!r}: use 'DAY', 'GTC' or 'IOC'") from None


@dataclass(frozen=True)
class MarketOrder(ExecutionStyle):
    """Buy or sell at the market: fills at the next bar's price (plus slippage) in simulation."""

    tif: TimeInForce | None = None
    exchange: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tif", _tif(self.tif))


@dataclass(frozen=True)
class LimitOrder(ExecutionStyle):
    """Buy at ``limit_price`` or lower, sell at ``limit_price`` or higher."""

    limit_price: float = 0.0
    tif: TimeInForce | None = None
    exchange: str | None = None
    kind = OrderKind.LIMIT

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_price", check_price(self.limit_price, "limit_price"))
        object.__setattr__(self, "tif", _tif(self.tif))

    def limit_for(self, is_buy: bool, tick_size: float) -> float | None:
        return asymmetric_round_price(self.limit_price, is_buy, tick_size)


@dataclass(frozen=True)
class StopOrder(ExecutionStyle):
    """Becomes a market order once the price reaches ``stop_price`` (buy: at or above, sell: at or below)."""

    stop_price: float = 0.0
    tif: TimeInForce | None = None
    exchange: str | None = None
    kind = OrderKind.STOP

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop_price", check_price(self.stop_price, "stop_price"))
        object.__setattr__(self, "tif", _tif(self.tif))

    def stop_for(self, is_buy: bool, tick_size: float) -> float | None:
        return asymmetric_round_price(self.stop_price, not is_buy, tick_size)


@dataclass(frozen=True)
class StopLimitOrder(ExecutionStyle):
    """Becomes a limit order at ``limit_price`` once the price reaches ``stop_price``."""

    limit_price: float = 0.0
    stop_price: float = 0.0
    tif: TimeInForce | None = None
    exchange: str | None = None
    kind = OrderKind.STOP_LIMIT

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_price", check_price(self.limit_price, "limit_price"))
        object.__setattr__(self, "stop_price", check_price(self.stop_price, "stop_price"))
        object.__setattr__(self, "tif", _tif(self.tif))

    def limit_for(self, is_buy: bool, tick_size: float) -> float | None:
        return asymmetric_round_price(self.limit_price, is_buy, tick_size)

    def stop_for(self, is_buy: bool, tick_size: float) -> float | None:
        return asymmetric_round_price(self.stop_price, not is_buy, tick_size)


@dataclass(frozen=True)
class TrailStopOrder(ExecutionStyle):
    """A stop that follows the price by ``trailing_amount`` (currency) or ``trailing_percent`` (percent, 1 = 1%).

    A sell trail's stop rises with the price and never falls; a buy trail's stop falls with it. ``stop_price`` is
    the initial stop (default: the first price seen minus/plus the trail).
    """

    stop_price: float | None = None
    trailing_amount: float | None = None
    trailing_percent: float | None = None
    tif: TimeInForce | None = None
    exchange: str | None = None
    kind = OrderKind.TRAIL

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop_price", check_price(self.stop_price, "stop_price"))
        object.__setattr__(self, "trailing_amount", check_price(self.trailing_amount, "trailing_amount"))
        object.__setattr__(self, "trailing_percent", check_price(self.trailing_percent, "trailing_percent"))
        if (self.trailing_amount is None) == (self.trailing_percent is None):
            raise BadOrderError("TrailStopOrder needs exactly one of trailing_amount or trailing_percent")
        object.__setattr__(self, "tif", _tif(self.tif))

    def stop_for(self, is_buy: bool, tick_size: float) -> float | None:
        if self.stop_price is None:
            return None
        return asymmetric_round_price(self.stop_price, not is_buy, tick_size)

    def trail_from(self, price: float) -> float:
        """How far the stop trails ``price``."""
        if self.trailing_amount is not None:
            return self.trailing_amount
        return price * float(self.trailing_percent or 0.0) / 100.0

    def trail_terms(self) -> tuple[float | None, float | None, float | None]:
        return self.trailing_amount, self.trailing_percent, None


@dataclass(frozen=True)
class TrailStopLimitOrder(ExecutionStyle):
    """A trailing stop that becomes a limit order when it triggers (IBridgePy's and IB's TRAIL LIMIT).

    The stop follows the price by ``trailing_amount`` (currency) or ``trailing_percent`` (percent, 1 = 1%), as in
    :class:`TrailStopOrder`; once the price reaches it, the order becomes a limit order at the stop minus
    ``limit_offset`` (a sell) or plus it (a buy). ``stop_price`` is the initial stop (None: the first price seen
    minus/plus the trail).
    """

    stop_price: float | None = None
    limit_offset: float = 0.0
    trailing_amount: float | None = None
    trailing_percent: float | None = None
    tif: TimeInForce | None = None
    exchange: str | None = None
    kind = OrderKind.TRAIL_LIMIT

    def __post_init__(self) -> None:
        object.__setattr__(self, "stop_price", check_price(self.stop_price, "stop_price"))
        object.__setattr__(self, "limit_offset", check_price(self.limit_offset, "limit_offset"))
        object.__setattr__(self, "trailing_amount", check_price(self.trailing_amount, "trailing_amount"))
        object.__setattr__(self, "trailing_percent", check_price(self.trailing_percent, "trailing_percent"))
        if self.limit_offset is None:
            raise BadOrderError("TrailStopLimitOrder needs limit_offset, the distance of its limit from its stop")
        if (self.trailing_amount is None) == (self.trailing_percent is None):
            raise BadOrderError("TrailStopLimitOrder needs exactly one of trailing_amount or trailing_percent")
        object.__setattr__(self, "tif", _tif(self.tif))

    def stop_for(self, is_buy: bool, tick_size: float) -> float | None:
        if self.stop_price is None:
            return None
        return asymmetric_round_price(self.stop_price, not is_buy, tick_size)

    def trail_terms(self) -> tuple[float | None, float | None, float | None]:
        return self.trailing_amount, self.trailing_percent, self.limit_offset


@dataclass(frozen=True)
class MarketOnCloseOrder(ExecutionStyle):
    """Fills at the session's closing price (the close bar in simulation)."""

    tif: TimeInForce | None = TimeInForce.DAY
    exchange: str | None = None
    kind = OrderKind.MARKET_ON_CLOSE


@dataclass(frozen=True)
class LimitOnCloseOrder(ExecutionStyle):
    """Fills at the close only if the closing price satisfies ``limit_price``."""

    limit_price: float = 0.0
    tif: TimeInForce | None = TimeInForce.DAY
    exchange: str | None = None
    kind = OrderKind.LIMIT_ON_CLOSE

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_price", check_price(self.limit_price, "limit_price"))

    def limit_for(self, is_buy: bool, tick_size: float) -> float | None:
        return asymmetric_round_price(self.limit_price, is_buy, tick_size)


@dataclass(frozen=True)
class LimitOnOpenOrder(ExecutionStyle):
    """Works only in the opening auction of the next session: fills at the session's opening price if it satisfies
    ``limit_price``, else expires (IB: a LMT order with time in force OPG)."""

    limit_price: float = 0.0
    tif: TimeInForce | None = TimeInForce.DAY
    exchange: str | None = None
    kind = OrderKind.LIMIT_ON_OPEN

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_price", check_price(self.limit_price, "limit_price"))

    def limit_for(self, is_buy: bool, tick_size: float) -> float | None:
        return asymmetric_round_price(self.limit_price, is_buy, tick_size)


def resolve_style(
    limit_price: float | None, stop_price: float | None, style: ExecutionStyle | None
) -> ExecutionStyle:
    """Turn zipline's ``limit_price``/``stop_price`` shorthands or an explicit style into one style.

    Passing a shorthand together with ``style`` is an error, as in zipline.
    """
    if style is not None and (limit_price is not None or stop_price is not None):
        raise BadOrderError("pass either style= or limit_price=/stop_price=, not both")
    if style is not None:
        if not isinstance(style, ExecutionStyle):
            raise BadOrderError(
                f"style must be an order style such as LimitOrder(10.5), got {style!r}"
                + (" (did you forget the parentheses, e.g. MarketOrder()?)" if isinstance(style, type) else "")
            )
        return style
    if limit_price is not None and stop_price is not None:
        return StopLimitOrder(limit_price=limit_price, stop_price=stop_price)
    if limit_price is not None:
        return LimitOrder(limit_price=limit_price)
    if stop_price is not None:
        return StopOrder(stop_price=stop_price)
    return MarketOrder()
