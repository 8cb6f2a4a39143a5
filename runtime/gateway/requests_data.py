"""Decoders of the requests for data derived from the quotes and of the option requests (server version 157
layouts): market depth, tick-by-tick, scanners, option parameters and calculators. The session, contract, order,
history and account requests are in requests.py; the same rules apply (fields read from the front, trailing fields
ignored, a missing or unparsable field raises FieldError).
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.gateway.contracts import ContractQuery
from runtime.gateway.protocol import FieldReader
from runtime.gateway.requests import CancelRequest, read_contract

# ------------------------------------------------------------------------------- depth, tick-by-tick, scanners
TRADING_CLASS_VERSION = 68
LINKING_VERSION = 70


@dataclass(frozen=True)
class MktDepthRequest:
    req_id: int
    contract: ContractQuery
    num_rows: int
    smart_depth: bool


def req_mkt_depth(fields: list[str], version: int) -> MktDepthRequest:
    """``10, 5, reqId, [conId,] symbol .. exchange, [primaryExchange,] currency, localSymbol, [tradingClass,]
    numRows, [isSmartDepth,] options`` (the bracketed fields by server version: 68, 149, 68, 146)."""
    r = FieldReader(fields, 2)
    req_id = r.int()
    c = read_contract(r, with_con_id=version >= TRADING_CLASS_VERSION, with_primary=version >= 149,
                      with_trading_class=version >= TRADING_CLASS_VERSION)
    rows = r.int_or(5)
    smart = r.bool_or(False) if version >= 146 else False
    return MktDepthRequest(req_id, c, rows, smart)


def cancel_mkt_depth(fields: list[str]) -> CancelRequest:
    return CancelRequest(FieldReader(fields, 2).int())


@dataclass(frozen=True)
class TickByTickRequest:
    req_id: int
    contract: ContractQuery
    tick_type: str
    number_of_ticks: int
    ignore_size: bool


def req_tick_by_tick(fields: list[str]) -> TickByTickRequest:
    """``97, reqId, conId, symbol .. tradingClass, tickType, numberOfTicks, ignoreSize`` (no version field)."""
    r = FieldReader(fields, 1)
    req_id = r.int()
    c = read_contract(r)
    return TickByTickRequest(req_id, c, r.str(), r.int_or(0), r.bool_or(False))


def cancel_tick_by_tick(fields: list[str]) -> CancelRequest:
    return CancelRequest(FieldReader(fields, 1).int())


@dataclass(frozen=True)
class ScannerRequest:
    req_id: int
    rows: int
    instrument: str
    location: str
    scan_code: str
    above_price: float | None
    below_price: float | None
    above_volume: int | None
    market_cap_above: float | None
    market_cap_below: float | None


def req_scanner_subscription(fields: list[str], version: int) -> ScannerRequest:
    """``22, [version,] reqId, numberOfRows, instrument, locationCode, scanCode, abovePrice, belowPrice,
    aboveVolume, marketCapAbove, marketCapBelow, ...`` (the version field only below server version 143)."""
    r = FieldReader(fields, 1 if version >= 143 else 2)
    req_id = r.int()
    rows = r.int_or(-1)
    instrument = r.str_or("").strip().upper()
    location = r.str_or("").strip().upper()
    code = r.str_or("").strip().upper()
    above, below = r.float(), r.float()
    above_volume = r.int(-1)
    cap_above, cap_below = r.float(), r.float()
    return ScannerRequest(req_id, rows if rows and rows > 0 else 50, instrument, location, code, above, below,
                          above_volume if above_volume is not None and above_volume >= 0 else None, cap_above,
                          cap_below)


def cancel_scanner_subscription(fields: list[str]) -> CancelRequest:
    return CancelRequest(FieldReader(fields, 2).int())


# ------------------------------------------------------------------------------------------------------- options
@dataclass(frozen=True)
class SecDefOptParamsRequest:
    req_id: int
    underlying_symbol: str
    fut_fop_exchange: str
    underlying_sec_type: str
    underlying_con_id: int


def req_sec_def_opt_params(fields: list[str]) -> SecDefOptParamsRequest:
    """``78, reqId, underlyingSymbol, futFopExchange, underlyingSecType, underlyingConId`` (no version field)."""
    r = FieldReader(fields, 1)
    return SecDefOptParamsRequest(r.int(), r.str_or("").strip().upper(), r.str_or("").strip().upper(),
                                  r.str_or("").strip().upper(), r.int_or(0))


@dataclass(frozen=True)
class OptionCalculationRequest:
    """calculateImpliedVolatility (``value``: the option price) or calculateOptionPrice (``value``: the
    volatility), with the underlying's price."""

    req_id: int
    contract: ContractQuery
    value: float | None
    under_price: float | None
    implied_volatility: bool  # True: calculateImpliedVolatility (54); False: calculateOptionPrice (55)


def req_option_calculation(fields: list[str], version: int) -> OptionCalculationRequest:
    """``54|55, 3, reqId, conId, symbol .. localSymbol, [tradingClass,] value, underPrice, [options]``."""
    r = FieldReader(fields, 2)
    req_id = r.int()
    c = read_contract(r, with_trading_class=version >= TRADING_CLASS_VERSION)
    return OptionCalculationRequest(req_id, c, r.float(), r.float(), fields[0].strip() == "54")


@dataclass(frozen=True)
class ExerciseRequest:
    """exerciseOptions: action 1 exercise, 2 lapse; ``override`` 1 to act against the natural action."""

    req_id: int
    contract: ContractQuery
    action: int
    quantity: int
    account: str
    override: bool


def exercise_options(fields: list[str]) -> ExerciseRequest:
    r = FieldReader(fields, 2)
    req_id = r.int()
    c = read_contract(r, with_primary=False)
    return ExerciseRequest(req_id, c, r.int(), r.int(), r.str_or(""), r.bool_or(False))
