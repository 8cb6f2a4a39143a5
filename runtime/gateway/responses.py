"""Encoders of the gateway -> client messages at server version 157 (orders: see order_wire.py).

Every function returns one framed message (bytes). Field counts matter: ibapi decodes several messages by matching
the field count against the callback's signature and silently drops a message with one field too many.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.gateway.contracts import Instrument
from runtime.gateway.ids import MinVersion, Out
from runtime.gateway.protocol import SERVER_VERSION, clean_text, encode_text_fields, fmt_float

_ONE = "1"


def server_hello(version: int, connection_time: str) -> bytes:
    """The handshake reply: server version and connection time ("yyyymmdd hh:mm:ss TZ")."""
    return encode_text_fields([str(version), connection_time])


def error(req_id: int, code: int, message: str) -> bytes:
    """Message 4 (version 2): id (-1, request id or order id), code, text."""
    return encode_text_fields(["4", "2", str(req_id), str(int(code)), clean_text(message)])


def managed_accounts(accounts: Sequence[str]) -> bytes:
    return encode_text_fields([str(int(Out.MANAGED_ACCTS)), _ONE, ",".join(accounts)])


def next_valid_id(order_id: int) -> bytes:
    return encode_text_fields([str(int(Out.NEXT_VALID_ID)), _ONE, str(order_id)])


def current_time(epoch_seconds: int) -> bytes:
    return encode_text_fields([str(int(Out.CURRENT_TIME)), _ONE, str(epoch_seconds)])


# ------------------------------------------------------------------------------------------------------ contracts
def contract_details(req_id: int, inst: Instrument, trading_hours: str, liquid_hours: str) -> bytes:
    """Message 10 (version 8) in the clients' processContractDataMsg order at server version 157."""
    last = inst.last_trade_date
    f = [
        str(int(Out.CONTRACT_DATA)), "8", str(req_id),
        inst.symbol, inst.sec_type, last, inst.strike_text, inst.right,
        inst.exchange, inst.currency, inst.local_symbol,
        inst.trading_class,  # marketName
        inst.trading_class,
        str(inst.con_id),
        fmt_float(inst.min_tick),
        str(inst.md_size_multiplier),
        inst.multiplier_text,
        inst.order_types,
        inst.valid_exchanges,
        "1",  # priceMagnifier
        str(inst.under_con_id),  # underConId
        clean_text(inst.long_name),
        inst.primary_exchange,
        last[:6] if inst.sec_type in ("FUT", "OPT") else "",  # contractMonth
        inst.industry, inst.category, inst.subcategory,
        inst.time_zone_id,
        trading_hours,
        liquid_hours,
        "", "",  # evRule, evMultiplier
        "0",  # secIdList count
        "1",  # aggGroup
        inst.under_symbol, inst.under_sec_type,
        "26" if inst.is_stock else ("32" if inst.is_option else ""),  # marketRuleIds
        last,  # realExpirationDate
        "COMMON" if inst.is_stock else "",  # stockType
    ]
    return encode_text_fields(f)


def contract_details_end(req_id: int) -> bytes:
    return encode_text_fields([str(int(Out.CONTRACT_DATA_END)), _ONE, str(req_id)])


def market_rule(rule_id: int, increments: Sequence[tuple[float, float]]) -> bytes:
    f = [str(int(Out.MARKET_RULE)), str(rule_id), str(len(increments))]
    for low, inc in increments:
        f += [fmt_float(low), fmt_float(inc)]
    return encode_text_fields(f)


# ---------------------------------------------------------------------------------------------------- market data
def tick_price(req_id: int, tick_type: int, price: float, size: int, attrib_mask: int = 0) -> bytes:
    """Message 1 (version 6): the clients also derive a tickSize from bid/ask/last prices."""
    return encode_text_fields(["1", "6", str(req_id), str(tick_type), fmt_float(price), str(int(size)),
                               str(attrib_mask)])


def tick_size(req_id: int, tick_type: int, size: int) -> bytes:
    return encode_text_fields(["2", "6", str(req_id), str(tick_type), str(int(size))])


def tick_string(req_id: int, tick_type: int, value: str) -> bytes:
    return encode_text_fields([str(int(Out.TICK_STRING)), "6", str(req_id), str(tick_type), clean_text(value)])


def tick_generic(req_id: int, tick_type: int, value: float) -> bytes:
    return encode_text_fields([str(int(Out.TICK_GENERIC)), "6", str(req_id), str(tick_type), fmt_float(value)])


def tick_snapshot_end(req_id: int) -> bytes:
    return encode_text_fields([str(int(Out.TICK_SNAPSHOT_END)), _ONE, str(req_id)])


def market_data_type(req_id: int, data_type: int) -> bytes:
    return encode_text_fields([str(int(Out.MARKET_DATA_TYPE)), _ONE, str(req_id), str(data_type)])


def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str, snapshot_permissions: int = 3) -> bytes:
    return encode_text_fields([str(int(Out.TICK_REQ_PARAMS)), str(req_id), fmt_float(min_tick), bbo_exchange,
                               str(snapshot_permissions)])


def historical_data(req_id: int, start: str, end: str, rows: Sequence[Sequence[str]]) -> bytes:
    """Message 17 without version field (server version >= 124): the bars and the end marker in one message.

    ``rows`` are already formatted: date, open, high, low, close, volume, wap, barCount.
    """
    f = [str(int(Out.HISTORICAL_DATA)), str(req_id), start, end, str(len(rows))]
    for row in rows:
        f.extend(row)
    return encode_text_fields(f)


def historical_data_update(req_id: int, bar_count: int, date: str, o: float, c: float, h: float, low: float,
                           wap: float, volume: int) -> bytes:
    """Message 90: note the field order open, close, high, low."""
    return encode_text_fields([str(int(Out.HISTORICAL_DATA_UPDATE)), str(req_id), str(bar_count), date,
                               fmt_float(o), fmt_float(c), fmt_float(h), fmt_float(low), fmt_float(wap),
                               str(int(volume))])


def head_timestamp(req_id: int, timestamp: str) -> bytes:
    return encode_text_fields([str(int(Out.HEAD_TIMESTAMP)), str(req_id), timestamp])


def realtime_bar(req_id: int, time_s: int, o: float, h: float, low: float, c: float, volume: int, wap: float,
                 count: int) -> bytes:
    return encode_text_fields([str(int(Out.REAL_TIME_BARS)), "3", str(req_id), str(time_s), fmt_float(o),
                               fmt_float(h), fmt_float(low), fmt_float(c), str(int(volume)), fmt_float(wap),
                               str(count)])


# --------------------------------------------------------------------------------------------------------- orders
def order_status(order_id: int, status: str, filled: float, remaining: float, avg_fill_price: float, perm_id: int,
                 parent_id: int, last_fill_price: float, client_id: int, why_held: str = "",
                 mkt_cap_price: float = 0.0) -> bytes:
    """Message 3 without version field (server version >= 131)."""
    return encode_text_fields([
        str(int(Out.ORDER_STATUS)), str(order_id), status, fmt_float(filled) or "0", fmt_float(remaining) or "0",
        fmt_float(avg_fill_price) or "0", str(perm_id), str(parent_id), fmt_float(last_fill_price) or "0",
        str(client_id), why_held, fmt_float(mkt_cap_price) or "0",
    ])


def open_order_end() -> bytes:
    return encode_text_fields([str(int(Out.OPEN_ORDER_END)), _ONE])


def completed_orders_end() -> bytes:
    return encode_text_fields([str(int(Out.COMPLETED_ORDERS_END))])


def exec_details(req_id: int, order_id: int, inst: Instrument, exec_id: str, time_text: str, account: str,
                 exchange: str, side: str, shares: float, price: float, perm_id: int, client_id: int,
                 cum_qty: float, avg_price: float, order_ref: str, last_liquidity: int = 2) -> bytes:
    """Message 11 without version field (server version >= 136)."""
    f = [str(int(Out.EXECUTION_DATA)), str(req_id), str(order_id), *inst.contract_fields_short()]
    f[3 + 7] = exchange  # the contract's exchange is where it executed
    f += [
        exec_id, time_text, account, exchange, side, fmt_float(shares), fmt_float(price), str(perm_id),
        str(client_id), "0", fmt_float(cum_qty), fmt_float(avg_price), clean_text(order_ref), "", "", "",
        str(last_liquidity),
    ]
    return encode_text_fields(f)


def exec_details_end(req_id: int) -> bytes:
    return encode_text_fields([str(int(Out.EXECUTION_DATA_END)), _ONE, str(req_id)])


def commission_report(exec_id: str, commission: float, currency: str, realized_pnl: float | None) -> bytes:
    """Message 59: an unset realized P&L is sent as IB's max double, as TWS does."""
    pnl = "1.7976931348623157E308" if realized_pnl is None else fmt_float(realized_pnl) or "0"
    return encode_text_fields([str(int(Out.COMMISSION_REPORT)), _ONE, exec_id, fmt_float(commission) or "0",
                               currency, pnl, "1.7976931348623157E308", "0"])


# -------------------------------------------------------------------------------------------------------- account
def position(account: str, inst: Instrument, amount: float, avg_cost: float) -> bytes:
    """Message 61 (version 3)."""
    return encode_text_fields([str(int(Out.POSITION_DATA)), "3", account, *inst.contract_fields_short(),
                               fmt_float(amount) or "0", fmt_float(avg_cost) or "0"])


def position_end() -> bytes:
    return encode_text_fields([str(int(Out.POSITION_END)), _ONE])


def position_multi(req_id: int, account: str, inst: Instrument, amount: float, avg_cost: float,
                   model_code: str = "") -> bytes:
    return encode_text_fields([str(int(Out.POSITION_MULTI)), _ONE, str(req_id), account,
                               *inst.contract_fields_short(), fmt_float(amount) or "0", fmt_float(avg_cost) or "0",
                               model_code])


def position_multi_end(req_id: int) -> bytes:
    return encode_text_fields([str(int(Out.POSITION_MULTI_END)), _ONE, str(req_id)])


def account_value(key: str, value: str, currency: str, account: str) -> bytes:
    return encode_text_fields([str(int(Out.ACCT_VALUE)), "2", key, value, currency, account])


def portfolio_value(inst: Instrument, amount: float, market_price: float, market_value: float, avg_cost: float,
                    unrealized: float, realized: float, account: str) -> bytes:
    """Message 7 (version 8): note primaryExchange in place of exchange."""
    return encode_text_fields([
        str(int(Out.PORTFOLIO_VALUE)), "8", str(inst.con_id), inst.symbol, inst.sec_type, inst.last_trade_date,
        inst.strike_text, inst.right, inst.multiplier_text, inst.primary_exchange, inst.currency, inst.local_symbol,
        inst.trading_class,
        fmt_float(amount) or "0", fmt_float(market_price) or "0", fmt_float(market_value) or "0",
        fmt_float(avg_cost) or "0", fmt_float(unrealized) or "0", fmt_float(realized) or "0", account,
    ])


def account_time(hhmm: str) -> bytes:
    return encode_text_fields([str(int(Out.ACCT_UPDATE_TIME)), _ONE, hhmm])


def account_download_end(account: str) -> bytes:
    return encode_text_fields([str(int(Out.ACCT_DOWNLOAD_END)), _ONE, account])


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return encode_text_fields([str(int(Out.ACCOUNT_SUMMARY)), _ONE, str(req_id), account, tag, value, currency])


def account_summary_end(req_id: int) -> bytes:
    return encode_text_fields([str(int(Out.ACCOUNT_SUMMARY_END)), _ONE, str(req_id)])


def account_update_multi(req_id: int, account: str, model_code: str, key: str, value: str, currency: str) -> bytes:
    return encode_text_fields([str(int(Out.ACCOUNT_UPDATE_MULTI)), _ONE, str(req_id), account, model_code, key,
                               value, currency])


def account_update_multi_end(req_id: int) -> bytes:
    return encode_text_fields([str(int(Out.ACCOUNT_UPDATE_MULTI_END)), _ONE, str(req_id)])


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> bytes:
    return encode_text_fields([str(int(Out.PNL)), str(req_id), fmt_float(daily) or "0",
                               fmt_float(unrealized) or "0", fmt_float(realized) or "0"])


def pnl_single(req_id: int, pos: int, daily: float, unrealized: float, realized: float, value: float) -> bytes:
    return encode_text_fields([str(int(Out.PNL_SINGLE)), str(req_id), str(int(pos)), fmt_float(daily) or "0",
                               fmt_float(unrealized) or "0", fmt_float(realized) or "0", fmt_float(value) or "0"])


__all__ = ["SERVER_VERSION"]


# ------------------------------------------------------------------------------- depth, tick-by-tick, scanners
def market_depth(req_id: int, position: int, operation: int, side: int, price: float, size: int) -> bytes:
    """Message 12 (version 1): one row of the book (operation 0 insert, 1 update, 2 delete; side 0 ask, 1 bid)."""
    return encode_text_fields([str(int(Out.MARKET_DEPTH)), _ONE, str(req_id), str(position), str(operation),
                               str(side), fmt_float(price), str(int(size))])


def market_depth_l2(req_id: int, position: int, market_maker: str, operation: int, side: int, price: float,
                    size: int, smart_depth: bool) -> bytes:
    """Message 13 (version 1) with the isSmartDepth flag (server version >= 146)."""
    return encode_text_fields([str(int(Out.MARKET_DEPTH_L2)), _ONE, str(req_id), str(position), market_maker,
                               str(operation), str(side), fmt_float(price), str(int(size)),
                               "1" if smart_depth else "0"])


def tick_by_tick_last(req_id: int, tick_type: int, time_s: int, price: float, size: int, exchange: str) -> bytes:
    """Message 99 (no version), tick type 1 (Last) or 2 (AllLast): price, size, attribute mask, exchange,
    special conditions."""
    return encode_text_fields([str(int(Out.TICK_BY_TICK)), str(req_id), str(tick_type), str(time_s),
                               fmt_float(price), str(int(size)), "0", exchange, ""])


def tick_by_tick_bid_ask(req_id: int, time_s: int, bid: float, ask: float, bid_size: int, ask_size: int) -> bytes:
    """Message 99, tick type 3 (BidAsk)."""
    return encode_text_fields([str(int(Out.TICK_BY_TICK)), str(req_id), "3", str(time_s), fmt_float(bid),
                               fmt_float(ask), str(int(bid_size)), str(int(ask_size)), "0"])


def tick_by_tick_midpoint(req_id: int, time_s: int, mid: float) -> bytes:
    """Message 99, tick type 4 (MidPoint)."""
    return encode_text_fields([str(int(Out.TICK_BY_TICK)), str(req_id), "4", str(time_s), fmt_float(mid)])


def scanner_parameters(xml: str) -> bytes:
    """Message 19 (version 1): the scanner parameters XML document."""
    return encode_text_fields([str(int(Out.SCANNER_PARAMETERS)), _ONE, xml])


def scanner_data(req_id: int, rows: Sequence[tuple[int, Instrument]]) -> bytes:
    """Message 20 (version 3): rank and contract of each row (distance, benchmark, projection, legs empty)."""
    f = [str(int(Out.SCANNER_DATA)), "3", str(req_id), str(len(rows))]
    for rank, inst in rows:
        f += [str(rank), str(inst.con_id), inst.symbol, inst.sec_type, inst.last_trade_date, "0", "",
              inst.exchange, inst.currency, inst.local_symbol, inst.trading_class, inst.trading_class,
              "", "", "", ""]
    return encode_text_fields(f)


# ------------------------------------------------------------------------------------------------------- options
def security_definition_option_parameter(req_id: int, exchange: str, underlying_con_id: int, trading_class: str,
                                         multiplier: str, expirations: Sequence[str],
                                         strikes: Sequence[float]) -> bytes:
    """Message 75 (no version): one exchange's expirations and strikes of an underlying's options."""
    f = [str(int(Out.SECURITY_DEFINITION_OPTION_PARAMETER)), str(req_id), exchange, str(underlying_con_id),
         trading_class, multiplier, str(len(expirations)), *expirations, str(len(strikes)),
         *(fmt_float(k) for k in strikes)]
    return encode_text_fields(f)


def security_definition_option_parameter_end(req_id: int) -> bytes:
    return encode_text_fields([str(int(Out.SECURITY_DEFINITION_OPTION_PARAMETER_END)), str(req_id)])


def tick_option_computation(req_id: int, tick_type: int, price_based: bool, implied_vol: float, delta: float,
                            opt_price: float, pv_dividend: float, gamma: float, vega: float, theta: float,
                            und_price: float, server_version: int = SERVER_VERSION) -> bytes:
    """Message 21: at server version >= 156 no version field and the tickAttrib (1 price based, 0 return based),
    as the clients' decoder reads it; below, version 6 and no tickAttrib."""
    values = [fmt_float(implied_vol), fmt_float(delta), fmt_float(opt_price), fmt_float(pv_dividend),
              fmt_float(gamma), fmt_float(vega), fmt_float(theta), fmt_float(und_price)]
    if server_version < MinVersion.PRICE_BASED_VOLATILITY:
        return encode_text_fields([str(int(Out.TICK_OPTION_COMPUTATION)), "6", str(req_id), str(tick_type), *values])
    return encode_text_fields([str(int(Out.TICK_OPTION_COMPUTATION)), str(req_id), str(tick_type),
                               "1" if price_based else "0", *values])
