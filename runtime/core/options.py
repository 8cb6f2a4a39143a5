"""Options as the runtime models them: Black-Scholes prices and greeks, implied volatility, the volatility rule, the
listed chain of an underlying on a date, and exercise at expiration.

Pure functions of their arguments (no I/O, no clock): the backtester, the algorithm helpers and the simulated
gateway all price an option the same way.

The model, stated once:

- **Price and greeks**: Black-Scholes-Merton for a European option with a continuous dividend yield ``q`` and a
  continuously compounded risk-free rate ``r`` (both 0 unless given). Greeks follow IB's ``tickOptionComputation``
  units: ``delta`` per 1.00 of the underlying, ``gamma`` per 1.00 of the underlying, ``vega`` per ONE volatility
  point (0.01), ``theta`` per calendar DAY (negative for a long option).
- **Volatility**: :func:`historical_volatility`: the sample standard deviation (ddof=1) of the last
  :data:`VOL_WINDOW` (30) close-to-close log returns of the underlying, annualised with sqrt(252), clipped to
  [:data:`MIN_VOL`, :data:`MAX_VOL`]; with fewer than :data:`MIN_RETURNS` returns the rule gives :data:`DEFAULT_VOL`.
- **Time to expiry**: calendar time from ``now`` to 16:00 New York time of the expiration day, in years of 365 days.
- **Chain**: :func:`option_chain`: expiries are the monthly expiration (third Friday, moved to the previous session
  when the exchange is closed that day, e.g. Good Friday) of the next :data:`MONTHLY_EXPIRIES` months, plus weekly
  Friday expirations (same holiday rule) for the next :data:`WEEKLY_EXPIRIES` weeks; strikes are on the listed
  increments of :func:`strike_increment` around the spot; rights C and P; multiplier 100.
- **Exercise at expiration**: :func:`exercised_at_expiry`: an option in the money by at least $0.01 at the
  underlying's closing price is exercised (long) or assigned (short), OCC's exercise-by-exception threshold that IB
  applies; anything else expires worthless.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

#: close-to-close returns used for the volatility of the underlying
VOL_WINDOW = 30
#: fewest returns the volatility rule uses; fewer give DEFAULT_VOL
MIN_RETURNS = 5
DEFAULT_VOL = 0.30
MIN_VOL = 0.05
MAX_VOL = 3.0
TRADING_DAYS_PER_YEAR = 252
DAYS_PER_YEAR = 365.0
#: listed options on US stocks: 100 shares per contract
MULTIPLIER = 100
#: an option in the money by at least this much at the close of its expiration day is exercised or assigned
EXERCISE_THRESHOLD = 0.01
MONTHLY_EXPIRIES = 3
WEEKLY_EXPIRIES = 4
#: strikes listed on each side of the spot
STRIKES_EACH_SIDE = 10
#: expiration instant: 16:00 in this zone on the expiration day
EXPIRY_TZ = "America/New_York"
_EXPIRY_HOUR = 16


class Right(str, Enum):
    """Call or put, with IB's one-letter codes."""

    CALL = "C"
    PUT = "P"

    @classmethod
    def parse(cls, value: str | Right) -> Right:
        """``'C'``, ``'CALL'``, ``'P'``, ``'PUT'`` (any case) -> a :class:`Right`."""
        if isinstance(value, Right):
            return value
        text = str(value).strip().upper()
        if text in ("C", "CALL"):
            return cls.CALL
        if text in ("P", "PUT"):
            return cls.PUT
        raise ValueError(f"option right {value!r}: use 'C' (call) or 'P' (put)")


@dataclass(frozen=True)
class OptionValue:
    """A model price with its greeks, in IB's ``tickOptionComputation`` units (see the module docstring)."""

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float
    implied_vol: float
    und_price: float

    def as_dict(self) -> dict[str, float]:
        """IBridgePy's ``get_option_info`` field names -> values."""
        return {
            "optPrice": self.price,
            "delta": self.delta,
            "gamma": self.gamma,
            "vega": self.vega,
            "theta": self.theta,
            "impliedVol": self.implied_vol,
            "undPrice": self.und_price,
        }


def norm_cdf(x: float) -> float:
    """Standard normal cumulative distribution."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_pdf(x: float) -> float:
    """Standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _check_inputs(spot: float, strike: float, t: float, vol: float) -> None:
    if not (spot > 0 and math.isfinite(spot)):
        raise ValueError(f"underlying price must be a positive number, not {spot!r}")
    if not (strike > 0 and math.isfinite(strike)):
        raise ValueError(f"strike must be a positive number, not {strike!r}")
    if not (t >= 0 and math.isfinite(t)):
        raise ValueError(f"time to expiry must be >= 0 years, not {t!r}")
    if not (vol >= 0 and math.isfinite(vol)):
        raise ValueError(f"volatility must be >= 0, not {vol!r}")


def black_scholes(
    right: Right | str, spot: float, strike: float, t: float, vol: float, rate: float = 0.0, dividend: float = 0.0
) -> OptionValue:
    """Black-Scholes-Merton price and greeks of a European option.

    ``t`` in years, ``vol``/``rate``/``dividend`` annual decimals. At expiry (``t == 0``) or zero volatility the
    price is the discounted intrinsic value of the forward and the greeks are their limits (delta 0 or +-1).
    """
    right = Right.parse(right)
    _check_inputs(spot, strike, t, vol)
    sign = 1.0 if right is Right.CALL else -1.0
    disc_q = math.exp(-dividend * t)
    disc_r = math.exp(-rate * t)
    sqrt_t = math.sqrt(t)
    if t == 0 or vol == 0:
        forward_payoff = sign * (spot * disc_q - strike * disc_r)
        itm = forward_payoff > 0
        price = max(forward_payoff, 0.0)
        delta = sign * disc_q if itm else 0.0
        return OptionValue(price, delta, 0.0, 0.0, 0.0, vol, spot)
    d1 = (math.log(spot / strike) + (rate - dividend + 0.5 * vol * vol) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    price = sign * (spot * disc_q * norm_cdf(sign * d1) - strike * disc_r * norm_cdf(sign * d2))
    delta = sign * disc_q * norm_cdf(sign * d1)
    gamma = disc_q * norm_pdf(d1) / (spot * vol * sqrt_t)
    vega_per_unit = spot * disc_q * norm_pdf(d1) * sqrt_t
    theta_per_year = (
        -spot * disc_q * norm_pdf(d1) * vol / (2.0 * sqrt_t)
        - sign * rate * strike * disc_r * norm_cdf(sign * d2)
        + sign * dividend * spot * disc_q * norm_cdf(sign * d1)
    )
    return OptionValue(max(price, 0.0), delta, gamma, vega_per_unit / 100.0, theta_per_year / DAYS_PER_YEAR, vol, spot)


def price_bounds(right: Right | str, spot: float, strike: float, t: float, rate: float = 0.0,
                 dividend: float = 0.0) -> tuple[float, float]:  # fmt: skip
    """No-arbitrage (lower, upper) bounds of a European option's price."""
    right = Right.parse(right)
    fs, fk = spot * math.exp(-dividend * t), strike * math.exp(-rate * t)
    if right is Right.CALL:
        return max(fs - fk, 0.0), fs
    return max(fk - fs, 0.0), fk


def implied_volatility(
    price: float,
    right: Right | str,
    spot: float,
    strike: float,
    t: float,
    rate: float = 0.0,
    dividend: float = 0.0,
    *,
    low: float = 1e-6,
    high: float = MAX_VOL * 2,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> float:
    """The volatility at which :func:`black_scholes` gives ``price``.

    A bracketed Newton search: Newton steps on vega, falling back to bisection whenever a step would leave the
    bracket ``[low, high]`` (the price is increasing in volatility, so the bracket always holds the root). Raises
    ValueError when ``price`` is outside the no-arbitrage bounds or the bracket, or ``t`` is 0.
    """
    right = Right.parse(right)
    _check_inputs(spot, strike, t, 0.0)
    if t <= 0:
        raise ValueError("implied volatility is undefined at expiry (t == 0)")
    lo_bound, hi_bound = price_bounds(right, spot, strike, t, rate, dividend)
    if not (lo_bound < price < hi_bound):
        raise ValueError(
            f"option price {price!r} is outside the no-arbitrage range ({lo_bound:.6g}, {hi_bound:.6g}) for "
            f"{right.value} strike {strike} with the underlying at {spot}: no volatility gives it"
        )

    def f(v: float) -> float:
        return black_scholes(right, spot, strike, t, v, rate, dividend).price - price

    lo, hi = low, high
    f_lo, f_hi = f(lo), f(hi)
    if f_lo > 0 or f_hi < 0:
        raise ValueError(f"option price {price!r} needs a volatility outside [{low}, {high}]")
    vol = 0.5 * (lo + hi) if not (lo < DEFAULT_VOL < hi) else DEFAULT_VOL
    for _ in range(max_iter):
        value = black_scholes(right, spot, strike, t, vol, rate, dividend)
        diff = value.price - price
        if abs(diff) < tol:
            return vol
        if diff > 0:
            hi = vol
        else:
            lo = vol
        vega = value.vega * 100.0
        step = vol - diff / vega if vega > 0 else math.nan
        vol = step if lo < step < hi else 0.5 * (lo + hi)
        if hi - lo < tol * 1e-3:
            return vol
    return vol


def historical_volatility(closes: Sequence[float] | np.ndarray | pd.Series, window: int = VOL_WINDOW) -> float:
    """The volatility rule: annualised close-to-close volatility of the last ``window`` returns.

    Sample standard deviation (ddof=1) of ``log(close[i] / close[i-1])`` over the last ``window`` returns, times
    sqrt(252), clipped to [MIN_VOL, MAX_VOL]. Non-positive and NaN closes are dropped; fewer than MIN_RETURNS returns
    give DEFAULT_VOL.
    """
    values = np.asarray(closes, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    values = values[-(window + 1):]
    if len(values) - 1 < MIN_RETURNS:
        return DEFAULT_VOL
    returns = np.diff(np.log(values))
    vol = float(np.std(returns, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR))
    return min(max(vol, MIN_VOL), MAX_VOL)


def expiry_instant(expiry: pd.Timestamp | str | _dt.date) -> pd.Timestamp:
    """16:00 New York time of the expiration day, as a UTC timestamp."""
    day = parse_expiry(expiry)
    return pd.Timestamp(day.year, day.month, day.day, _EXPIRY_HOUR, tz=EXPIRY_TZ).tz_convert("UTC")


def year_fraction(now: pd.Timestamp, expiry: pd.Timestamp | str | _dt.date) -> float:
    """Years (of 365 days) from ``now`` (tz-aware, or naive UTC) to the expiration instant; 0 once it has passed."""
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    seconds = (expiry_instant(expiry) - now).total_seconds()
    return max(seconds, 0.0) / (DAYS_PER_YEAR * 86_400.0)


def parse_expiry(expiry: pd.Timestamp | str | _dt.date) -> pd.Timestamp:
    """``'20240119'``, ``'2024-01-19'``, a date or a Timestamp -> a naive midnight Timestamp."""
    if isinstance(expiry, str):
        text = expiry.strip()
        try:
            ts = pd.Timestamp(_dt.datetime.strptime(text[:8], "%Y%m%d")) if text[:8].isdigit() else pd.Timestamp(text)
        except ValueError as exc:
            raise ValueError(f"expiry {expiry!r}: use 'YYYYMMDD' (IB's form) or 'YYYY-MM-DD'") from exc
    else:
        ts = pd.Timestamp(expiry)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def ib_expiry(expiry: pd.Timestamp | str | _dt.date) -> str:
    """IB's ``lastTradeDateOrContractMonth`` form, ``'YYYYMMDD'``."""
    return parse_expiry(expiry).strftime("%Y%m%d")


# ------------------------------------------------------------------------------------------------------- the chain
class SessionCalendar:
    """What the chain needs from an exchange calendar: whether a day is a session, the last session on or before.

    Built from the sorted session labels (``datetime64``) of an exchange_calendars calendar, e.g.
    ``SessionCalendar(runtime.core.calendar.get_calendar('XNYS').sessions)``.
    """

    def __init__(self, sessions: Sequence | np.ndarray) -> None:
        self._days = np.asarray(pd.DatetimeIndex(sessions).normalize().values.astype("datetime64[D]"))

    def is_session(self, day: pd.Timestamp) -> bool:
        d = np.datetime64(pd.Timestamp(day).date(), "D")
        i = int(np.searchsorted(self._days, d))
        return i < len(self._days) and self._days[i] == d

    def on_or_before(self, day: pd.Timestamp) -> pd.Timestamp:
        """The last session on or before ``day``; ValueError if the calendar starts later."""
        d = np.datetime64(pd.Timestamp(day).date(), "D")
        i = int(np.searchsorted(self._days, d, side="right")) - 1
        if i < 0:
            raise ValueError(f"the calendar has no session on or before {pd.Timestamp(day).date()}")
        return pd.Timestamp(self._days[i])

    @property
    def last(self) -> pd.Timestamp:
        return pd.Timestamp(self._days[-1])


def third_friday(year: int, month: int) -> pd.Timestamp:
    """The third Friday of a month (the standard monthly expiration day before holiday adjustment)."""
    first = _dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7  # Friday is weekday 4
    return pd.Timestamp(first + _dt.timedelta(days=offset + 14))


def monthly_expiry(year: int, month: int, calendar: SessionCalendar) -> pd.Timestamp:
    """The monthly expiration: the third Friday, or the session before it when the exchange is closed."""
    return calendar.on_or_before(third_friday(year, month))


def _day(value: pd.Timestamp | str | _dt.date) -> pd.Timestamp:
    ts = pd.Timestamp(parse_expiry(value) if isinstance(value, str) else value)
    return (ts.tz_localize(None) if ts.tzinfo is not None else ts).normalize()


def expiries(as_of: pd.Timestamp | str, calendar: SessionCalendar, *, monthly: int = MONTHLY_EXPIRIES,
             weekly: int = WEEKLY_EXPIRIES) -> list[pd.Timestamp]:  # fmt: skip
    """Listed expiration days on or after ``as_of``: the next ``monthly`` monthly expirations plus the weekly
    (Friday, or the session before a Friday holiday) expirations of the next ``weekly`` weeks, sorted, unique.
    Expirations beyond the calendar's last session are left out (the calendar cannot say if they are sessions)."""
    day = _day(as_of)
    out: set[pd.Timestamp] = set()
    y, m = day.year, day.month
    found = 0
    while found < monthly and third_friday(y, m) <= calendar.last:
        e = monthly_expiry(y, m, calendar)
        if e >= day:
            out.add(e)
            found += 1
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    friday = day + pd.Timedelta(days=(4 - day.weekday()) % 7)
    for k in range(weekly):
        f = friday + pd.Timedelta(weeks=k)
        if f > calendar.last:
            break
        e = calendar.on_or_before(f)
        if e >= day:
            out.add(e)
    return sorted(out)


def strike_increment(spot: float) -> float:
    """The listed strike spacing around a spot price (the classic US equity option increments): $2.50 below $25,
    $5 from $25 to $200, $10 above $200."""
    if spot < 25:
        return 2.5
    if spot <= 200:
        return 5.0
    return 10.0


def strikes_around(spot: float, each_side: int = STRIKES_EACH_SIDE) -> list[float]:
    """Strikes on :func:`strike_increment` steps: the ``each_side`` at or below the spot's nearest strike and the
    ``each_side`` above it, positive only."""
    if not (spot > 0 and math.isfinite(spot)):
        raise ValueError(f"underlying price must be a positive number, not {spot!r}")
    step = strike_increment(spot)
    center = round(spot / step) * step
    out = [round(center + k * step, 2) for k in range(-each_side, each_side + 1)]
    return [s for s in out if s > 0]


@dataclass(frozen=True)
class OptionContract:
    """One listed option: what IB's Contract carries for ``secType='OPT'``."""

    underlying: str
    expiry: str  # 'YYYYMMDD'
    strike: float
    right: Right
    multiplier: int = MULTIPLIER
    currency: str = "USD"
    exchange: str = "SMART"

    @property
    def local_symbol(self) -> str:
        """The OCC symbol IB shows as ``localSymbol``: root padded to 6, YYMMDD, C/P, strike x 1000 on 8 digits."""
        return f"{self.underlying:<6}{self.expiry[2:]}{self.right.value}{round(self.strike * 1000):08d}"

    @property
    def trading_class(self) -> str:
        return self.underlying

    def intrinsic(self, und_price: float) -> float:
        """Intrinsic value per share at an underlying price."""
        return intrinsic_value(self.right, self.strike, und_price)


@dataclass(frozen=True)
class OptionChain:
    """The listed options of one underlying on one date."""

    underlying: str
    as_of: pd.Timestamp
    spot: float
    expiries: tuple[str, ...]
    strikes: tuple[float, ...]
    multiplier: int = MULTIPLIER
    currency: str = "USD"

    @property
    def contracts(self) -> list[OptionContract]:
        """Every (expiry, strike, right), expiry-major, calls before puts."""
        return [OptionContract(self.underlying, e, k, r, self.multiplier, self.currency)
                for e in self.expiries for k in self.strikes for r in (Right.CALL, Right.PUT)]  # fmt: skip

    def frame(self) -> pd.DataFrame:
        """The chain as a DataFrame with IBridgePy's ``get_contract_details(..., 'summary')`` columns."""
        rows = [
            {"secType": "OPT", "symbol": c.underlying, "lastTradeDateOrContractMonth": c.expiry, "expiry": c.expiry,
             "strike": c.strike, "right": c.right.value, "multiplier": str(c.multiplier), "currency": c.currency,
             "exchange": c.exchange, "localSymbol": c.local_symbol, "tradingClass": c.trading_class}
            for c in self.contracts
        ]  # fmt: skip
        return pd.DataFrame(rows)


def option_chain(underlying: str, spot: float, as_of: pd.Timestamp | str, calendar: SessionCalendar, *,
                 each_side: int = STRIKES_EACH_SIDE, monthly: int = MONTHLY_EXPIRIES, weekly: int = WEEKLY_EXPIRIES,
                 currency: str = "USD") -> OptionChain:  # fmt: skip
    """The chain of ``underlying`` on ``as_of`` with the underlying at ``spot`` (see the module docstring)."""
    days = expiries(as_of, calendar, monthly=monthly, weekly=weekly)
    return OptionChain(underlying.upper(), pd.Timestamp(as_of), float(spot), tuple(ib_expiry(d) for d in days),
                       tuple(strikes_around(spot, each_side)), MULTIPLIER, currency)  # fmt: skip


def intrinsic_value(right: Right | str, strike: float, und_price: float) -> float:
    """Intrinsic value per share: max(S - K, 0) for a call, max(K - S, 0) for a put."""
    right = Right.parse(right)
    return max(und_price - strike, 0.0) if right is Right.CALL else max(strike - und_price, 0.0)


def exercised_at_expiry(right: Right | str, strike: float, und_close: float) -> bool:
    """Whether an option is exercised (long) or assigned (short) at expiration: in the money by >= $0.01 at the
    underlying's closing price of the expiration day (exercise by exception)."""
    return intrinsic_value(right, strike, und_close) >= EXERCISE_THRESHOLD - 1e-9


@dataclass(frozen=True)
class Exercise:
    """What expiration does to a position of ``contracts`` (signed) options: the underlying shares delivered
    (signed, for the holder of the position) and the cash paid for them at the strike (signed)."""

    exercised: bool
    shares: int
    cash: float


def settle_at_expiry(right: Right | str, strike: float, contracts: int, und_close: float,
                     multiplier: int = MULTIPLIER) -> Exercise:  # fmt: skip
    """The delivery of an expiring position: a long call exercised buys ``100 x contracts`` shares at the strike, a
    long put sells them; a short position is assigned the opposite. Out of the money: nothing (expires worthless)."""
    right = Right.parse(right)
    if not exercised_at_expiry(right, strike, und_close) or contracts == 0:
        return Exercise(False, 0, 0.0)
    direction = 1 if right is Right.CALL else -1
    shares = direction * contracts * multiplier
    return Exercise(True, shares, -shares * strike)


def model_value(right: Right | str, strike: float, expiry: pd.Timestamp | str, now: pd.Timestamp, spot: float,
                und_closes: Sequence[float] | np.ndarray | pd.Series, rate: float = 0.0,
                dividend: float = 0.0) -> OptionValue:  # fmt: skip
    """The model price and greeks of an option at ``now``: volatility from :func:`historical_volatility` of
    ``und_closes`` (the underlying's closes up to ``now``), time from :func:`year_fraction`."""
    vol = historical_volatility(und_closes)
    return black_scholes(right, spot, strike, year_fraction(now, expiry), vol, rate, dividend)
