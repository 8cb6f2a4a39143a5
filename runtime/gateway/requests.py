"""Decoders of the client -> gateway messages at server version 157 (except placeOrder: see order_wire.py).

Each decoder takes the message's fields (field 0 is the message id) and returns a frozen dataclass: the typed
request a client connection hands to the handlers of its area (runtime/gateway/handlers/). Fields are read
from the front and trailing fields a newer client may add are ignored. A missing or unparsable field raises
:class:`~runtime.gateway.protocol.FieldError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.gateway.contracts import ContractQuery
from runtime.gateway.protocol import FieldReader


def read_contract(r: FieldReader, with_con_id: bool = True, with_primary: bool = True,
                  with_trading_class: bool = True) -> ContractQuery:
    """The common contract block: [conId,] symbol, secType, lastTradeDate, strike, right, multiplier, exchange,
    [primaryExchange,] currency, localSymbol[, tradingClass]."""
    con_id = r.int() if with_con_id else 0
    symbol = r.str()
    sec_type = r.str()
    last = r.str()
    strike = r.float()
    right = r.str()
    multiplier = r.str()
    exchange = r.str()
    primary = r.str() if with_primary else ""
    currency = r.str()
    local = r.str()
    trading_class = r.str() if with_trading_class else ""
    return ContractQuery(
        con_id=con_id, symbol=symbol.strip(), sec_type=sec_type.strip().upper(), last_trade_date=last.strip(),
        strike=strike, right=right, multiplier=multiplier, exchange=exchange.strip().upper(),
        primary_exchange=primary.strip().upper(), currency=currency.strip().upper(), local_symbol=local.strip(),
        trading_class=trading_class.strip(),
    )


def _skip_combo_legs(r: FieldReader, contract: ContractQuery, per_leg: int = 4) -> None:
    if contract.sec_type == "BAG":
        n = r.int()
        r.skip(max(0, n) * per_leg)


# ---------------------------------------------------------------------------------------------------- session
@dataclass(frozen=True)
class StartApi:
    client_id: int
    capabilities: str = ""


def start_api(fields: list[str]) -> StartApi:
    r = FieldReader(fields, 1)
    r.int()  # version
    client_id = r.int()
    return StartApi(client_id, r.str_or(""))


@dataclass(frozen=True)
class NoArguments:
    """A request that carries nothing the gateway reads (reqCurrentTime, reqPositions, reqOpenOrders...)."""


def no_arguments(fields: list[str]) -> NoArguments:
    return NoArguments()


@dataclass(frozen=True)
class IdsRequest:
    num_ids: int


def req_ids(fields: list[str]) -> IdsRequest:
    r = FieldReader(fields, 2)
    return IdsRequest(r.int_or(1))


@dataclass(frozen=True)
class CancelRequest:
    """The end of a subscription (cancelMktData, cancelHistoricalData, cancelPnL...)."""

    req_id: int


# ----------------------------------------------------------------------------------------------------- contracts
@dataclass(frozen=True)
class ContractDetailsRequest:
    req_id: int
    contract: ContractQuery
    include_expired: bool = False


def req_contract_details(fields: list[str]) -> ContractDetailsRequest:
    r = FieldReader(fields, 2)
    req_id = r.int()
    c = read_contract(r)
    include_expired = r.bool_or(False)
    sec_id_type = r.str_or("")
    sec_id = r.str_or("")
    if sec_id_type or sec_id:
        c = ContractQuery(**{**c.__dict__, "sec_id_type": sec_id_type, "sec_id": sec_id})
    return ContractDetailsRequest(req_id, c, include_expired)


# --------------------------------------------------------------------------------------------------- market data
@dataclass(frozen=True)
class MktDataRequest:
    req_id: int
    contract: ContractQuery
    generic_ticks: str
    snapshot: bool
    regulatory_snapshot: bool


def req_mkt_data(fields: list[str]) -> MktDataRequest:
    r = FieldReader(fields, 2)
    req_id = r.int()
    c = read_contract(r)
    _skip_combo_legs(r, c)
    if r.bool_or(False):  # delta-neutral contract
        r.skip(3)
    generic = r.str_or("")
    snapshot = r.bool_or(False)
    regulatory = r.bool_or(False)
    return MktDataRequest(req_id, c, generic, snapshot, regulatory)


def cancel_by_req_id(fields: list[str]) -> CancelRequest:
    """``id, version, reqId`` layouts (cancelMktData, cancelHistoricalData, cancelRealTimeBars...)."""
    return CancelRequest(FieldReader(fields, 2).int())


@dataclass(frozen=True)
class MarketDataTypeRequest:
    data_type: int


def req_market_data_type(fields: list[str]) -> MarketDataTypeRequest:
    return MarketDataTypeRequest(FieldReader(fields, 2).int(1))


@dataclass(frozen=True)
class HistoricalRequest:
    req_id: int
    contract: ContractQuery
    include_expired: bool
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


def req_historical_data(fields: list[str]) -> HistoricalRequest:
    r = FieldReader(fields, 1)  # no version field at server version >= 124
    req_id = r.int()
    c = read_contract(r)
    include_expired = r.bool()
    end = r.str()
    bar_size = r.str()
    duration = r.str()
    use_rth = r.bool(False)
    what = r.str()
    fmt = r.int(1)
    _skip_combo_legs(r, c)
    keep = r.bool_or(False)
    return HistoricalRequest(req_id, c, include_expired, end.strip(), bar_size.strip(), duration.strip(), use_rth,
                             what.strip().upper(), fmt, keep)


@dataclass(frozen=True)
class HeadTimestampRequest:
    req_id: int
    contract: ContractQuery
    what_to_show: str
    use_rth: bool
    format_date: int


def req_head_timestamp(fields: list[str]) -> HeadTimestampRequest:
    r = FieldReader(fields, 1)
    req_id = r.int()
    c = read_contract(r)
    r.bool_or(False)  # includeExpired
    use_rth = r.bool_or(False)
    what = r.str_or("TRADES")
    fmt = r.int_or(1)
    return HeadTimestampRequest(req_id, c, what.upper(), use_rth, fmt)


@dataclass(frozen=True)
class RealTimeBarsRequest:
    req_id: int
    contract: ContractQuery
    bar_size: int
    what_to_show: str
    use_rth: bool


def req_real_time_bars(fields: list[str]) -> RealTimeBarsRequest:
    r = FieldReader(fields, 2)
    req_id = r.int()
    c = read_contract(r)
    bar_size = r.int(5)
    what = r.str()
    use_rth = r.bool(False)
    return RealTimeBarsRequest(req_id, c, bar_size, what.strip().upper(), use_rth)


# -------------------------------------------------------------------------------------------------------- orders
@dataclass(frozen=True)
class CancelOrderRequest:
    order_id: int


def cancel_order(fields: list[str]) -> CancelOrderRequest:
    return CancelOrderRequest(FieldReader(fields, 2).int())


@dataclass(frozen=True)
class AutoOpenOrdersRequest:
    auto_bind: bool


def req_auto_open_orders(fields: list[str]) -> AutoOpenOrdersRequest:
    return AutoOpenOrdersRequest(FieldReader(fields, 2).bool_or(False))


@dataclass(frozen=True)
class ExecutionFilterRequest:
    req_id: int
    client_id: int
    account: str
    time: str
    symbol: str
    sec_type: str
    exchange: str
    side: str


def req_executions(fields: list[str]) -> ExecutionFilterRequest:
    r = FieldReader(fields, 2)
    req_id = r.int()
    return ExecutionFilterRequest(
        req_id, r.int_or(0), r.str_or(""), r.str_or(""), r.str_or("").upper(), r.str_or("").upper(),
        r.str_or("").upper(), r.str_or("").upper(),
    )


@dataclass(frozen=True)
class CompletedOrdersRequest:
    api_only: bool


def req_completed_orders(fields: list[str]) -> CompletedOrdersRequest:
    return CompletedOrdersRequest(FieldReader(fields, 1).bool_or(False))


# ------------------------------------------------------------------------------------------------------- account
@dataclass(frozen=True)
class AccountUpdatesRequest:
    subscribe: bool
    account: str


def req_account_updates(fields: list[str]) -> AccountUpdatesRequest:
    r = FieldReader(fields, 2)
    return AccountUpdatesRequest(r.bool(), r.str_or("").strip())


@dataclass(frozen=True)
class AccountSummaryRequest:
    req_id: int
    group: str
    tags: str


def req_account_summary(fields: list[str]) -> AccountSummaryRequest:
    r = FieldReader(fields, 2)
    return AccountSummaryRequest(r.int(), r.str_or("All"), r.str_or(""))


@dataclass(frozen=True)
class AccountUpdatesMultiRequest:
    req_id: int
    account: str
    model_code: str
    ledger_and_nlv: bool


def req_account_updates_multi(fields: list[str]) -> AccountUpdatesMultiRequest:
    r = FieldReader(fields, 2)
    return AccountUpdatesMultiRequest(r.int(), r.str_or("").strip(), r.str_or(""), r.bool_or(False))


@dataclass(frozen=True)
class PositionsMultiRequest:
    req_id: int
    account: str
    model_code: str


def req_positions_multi(fields: list[str]) -> PositionsMultiRequest:
    r = FieldReader(fields, 2)
    return PositionsMultiRequest(r.int(), r.str_or("").strip(), r.str_or(""))


@dataclass(frozen=True)
class PnlRequest:
    req_id: int
    account: str
    model_code: str
    con_id: int = 0


def req_pnl(fields: list[str]) -> PnlRequest:
    r = FieldReader(fields, 1)
    return PnlRequest(r.int(), r.str_or("").strip(), r.str_or(""))


def req_pnl_single(fields: list[str]) -> PnlRequest:
    r = FieldReader(fields, 1)
    return PnlRequest(r.int(), r.str_or("").strip(), r.str_or(""), r.int_or(0))


def cancel_pnl(fields: list[str]) -> CancelRequest:
    """``id, reqId`` (cancelPnL, cancelPnLSingle have no version field)."""
    return CancelRequest(FieldReader(fields, 1).int())


@dataclass(frozen=True)
class MarketRuleRequest:
    rule_id: int


def req_market_rule(fields: list[str]) -> MarketRuleRequest:
    return MarketRuleRequest(FieldReader(fields, 1).int())
