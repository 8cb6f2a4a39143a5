"""The three long order layouts at server version 157: placeOrder (in), openOrder and completedOrder (out).

Field orders follow the clients' own encoders and decoders for server version 157 (no version field: 157 is above
the "order container" version 145). Unset numbers are sent as empty fields, counts as "0".
"""

from __future__ import annotations

from runtime.gateway.ids import Out
from runtime.gateway.protocol import FieldReader, clean_text, encode_text_fields, fmt_float, fmt_int
from runtime.gateway.requests import read_contract
from runtime.gateway.tickets import GatewayOrder, OrderTicket


def decode_place_order(fields: list[str]) -> OrderTicket:
    """A placeOrder message (id 3) as an :class:`OrderTicket`.

    Reads as far as cashQty; the fields of combo legs, delta-neutral and scale orders are skipped by their counts.
    An order with conditions is decoded up to the conditions and flagged (the gateway rejects it).
    """
    r = FieldReader(fields, 1)
    order_id = r.int()
    contract = read_contract(r)
    sec_id_type = r.str()
    sec_id = r.str()
    if sec_id_type or sec_id:
        contract = type(contract)(**{**contract.__dict__, "sec_id_type": sec_id_type, "sec_id": sec_id})
    action = r.str().strip().upper()
    quantity = r.float(0.0) or 0.0
    order_type = r.str().strip().upper()
    lmt = r.float()
    aux = r.float()
    tif = r.str().strip().upper() or "DAY"
    oca_group = r.str()
    account = r.str().strip()
    open_close = r.str()
    origin = r.int(0)
    order_ref = r.str()
    transmit = r.bool(True)
    parent_id = r.int(0)
    block = r.bool()
    sweep = r.bool()
    display = r.int(0)
    trigger = r.int(0)
    outside_rth = r.bool()
    hidden = r.bool()
    if contract.sec_type == "BAG":
        r.skip(max(0, r.int()) * 8)
        r.skip(max(0, r.int()))
        r.skip(max(0, r.int()) * 2)
    r.str()  # deprecated sharesAllocation
    discretionary = r.float(0.0) or 0.0
    good_after = r.str()
    good_till = r.str()
    fa_group, fa_method, fa_pct, fa_profile = r.str(), r.str(), r.str(), r.str()
    model_code = r.str()
    r.int(0)  # shortSaleSlot
    r.str()  # designatedLocation
    r.int(-1)  # exemptCode
    oca_type = r.int(0)
    rule80a = r.str()
    r.str()  # settlingFirm
    all_or_none = r.bool()
    min_qty_v = r.int(-1)
    min_qty = None if min_qty_v < 0 else min_qty_v
    percent_offset = r.float()
    r.skip(2)  # eTradeOnly, firmQuoteOnly
    r.float()  # nbboPriceCap
    r.int(0)  # auctionStrategy
    r.skip(5)  # startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper
    r.bool()  # overridePercentageConstraints
    r.float()  # volatility
    r.int(0)  # volatilityType
    dn_type = r.str()
    r.float()  # deltaNeutralAuxPrice
    if dn_type:
        r.skip(8)
    r.bool()  # continuousUpdate
    r.int(0)  # referencePriceType
    trail_stop = r.float()
    trailing_pct = r.float()
    r.skip(2)  # scaleInitLevelSize, scaleSubsLevelSize
    increment = r.float()
    if increment is not None and increment > 0:
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.str():  # hedgeType
        r.skip(1)
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.bool():  # delta-neutral contract
        r.skip(3)
    algo = r.str()
    if algo:
        r.skip(max(0, r.int()) * 2)
    r.str()  # algoId
    what_if = r.bool()
    has_conditions = False
    cash_qty = lmt_offset = None
    if r.remaining:
        r.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
        if order_type in ("PEG BENCH", "PEGBENCH"):
            r.skip(5)
        n_conditions = r.int(0)
        if n_conditions > 0:
            has_conditions = True
        else:
            r.skip(2)  # adjustedOrderType, triggerPrice
            lmt_offset = r.float()
            r.skip(4)  # adjustedStopPrice, adjustedStopLimitPrice, adjustedTrailingAmount, adjustableTrailingUnit
            r.skip(3)  # extOperator, softDollarTier name, value
            cash_qty = r.float()
    # a negative or zero quantity and impossible prices are the exchange's rejections (error 201 for the order id,
    # status Inactive), as TWS sends them; not a protocol error
    return OrderTicket(
        order_id=order_id, contract=contract, action=action, quantity=quantity, order_type=order_type,
        lmt_price=lmt, aux_price=aux, tif=tif, oca_group=oca_group, account=account, open_close=open_close,
        origin=origin, order_ref=order_ref, transmit=transmit, parent_id=parent_id, block_order=block,
        sweep_to_fill=sweep, display_size=display, trigger_method=trigger, outside_rth=outside_rth, hidden=hidden,
        discretionary_amt=discretionary, good_after_time=good_after, good_till_date=good_till, fa_group=fa_group,
        fa_method=fa_method, fa_percentage=fa_pct, fa_profile=fa_profile, model_code=model_code, oca_type=oca_type,
        rule80a=rule80a, all_or_none=all_or_none, min_qty=min_qty, percent_offset=percent_offset,
        trail_stop_price=trail_stop, trailing_percent=trailing_pct, algo_strategy=algo, what_if=what_if,
        has_conditions=has_conditions, cash_qty=cash_qty, lmt_price_offset=lmt_offset,
    )


def _b(value: bool) -> str:
    return "1" if value else "0"


def _price_or_zero(value: float | None) -> str:
    return fmt_float(value) if value is not None else "0"


def _order_head(rec: GatewayOrder, with_client_id: bool) -> list[str]:
    t = rec.ticket
    head = [
        t.action,
        fmt_float(t.quantity),
        t.order_type,
        _price_or_zero(t.lmt_price),
        _price_or_zero(t.aux_price),
        t.tif,
        clean_text(t.oca_group),
        rec.account,
        t.open_close,
        str(t.origin),
        clean_text(t.order_ref),
    ]
    if with_client_id:
        head.append(str(rec.client_id))
    head += [
        str(rec.perm_id),
        _b(t.outside_rth),
        _b(t.hidden),
        fmt_float(t.discretionary_amt) or "0",
        t.good_after_time,
    ]
    return head


def encode_open_order(rec: GatewayOrder, margin: tuple[str, str, str] = ("", "", ""), commission: float | None = None,
                      warning: str = "") -> bytes:
    """The openOrder message (5) for an order record, with its current IB status."""
    t = rec.ticket
    inst = rec.instrument
    stop = rec.stop_price
    f = [str(int(Out.OPEN_ORDER)), str(t.order_id), *inst.contract_fields_short()]
    f += _order_head(rec, with_client_id=True)
    f += [
        "",  # sharesAllocation
        t.fa_group, t.fa_method, t.fa_percentage, t.fa_profile,
        t.model_code,
        t.good_till_date,
        t.rule80a,
        fmt_float(t.percent_offset),
        "",  # settlingFirm
        "0", "", "-1",  # shortSaleSlot, designatedLocation, exemptCode
        "0",  # auctionStrategy
        "", "", "", "", "",  # startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper
        str(t.display_size),
        _b(t.block_order),
        _b(t.sweep_to_fill),
        _b(t.all_or_none),
        fmt_int(t.min_qty),
        str(t.oca_type),
        "0", "0",  # eTradeOnly, firmQuoteOnly
        "",  # nbboPriceCap
        str(t.parent_id),
        str(t.trigger_method),
        "", "0", "", "",  # volatility, volatilityType, deltaNeutralOrderType, deltaNeutralAuxPrice
        "0", "0",  # continuousUpdate, referencePriceType
        fmt_float(stop if t.order_type.startswith("TRAIL") else t.trail_stop_price),
        fmt_float(t.trailing_percent),
        "", "",  # basisPoints, basisPointsType
        "",  # comboLegsDescrip
        "0", "0",  # comboLegs, orderComboLegs
        "0",  # smartComboRoutingParams
        "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        "0",  # optOutSmartRouting
        "", "",  # clearingAccount, clearingIntent
        "0",  # notHeld
        "0",  # delta-neutral contract present
        "",  # algoStrategy
        "0",  # solicited
        _b(t.what_if),
        rec.status.value,
        "", "", "", "", "", "",  # margin before / change
        margin[0], margin[1], margin[2],  # initMarginAfter, maintMarginAfter, equityWithLoanAfter
        fmt_float(commission), "", "",  # commission, minCommission, maxCommission
        inst.currency if commission is not None else "",
        clean_text(warning),
        "0", "0",  # randomizeSize, randomizePrice
        "0",  # conditions
        "", "",  # adjustedOrderType, triggerPrice
        fmt_float(stop if t.order_type.startswith("TRAIL") else t.trail_stop_price),
        fmt_float(t.lmt_price_offset),  # lmtPriceOffset
        "", "", "", "0",  # adjustedStopPrice, adjustedStopLimitPrice, adjustedTrailingAmount, adjustableTrailingUnit
        "", "", "",  # softDollarTier name, value, displayName
        fmt_float(t.cash_qty),
        "0", "0", "0",  # dontUseAutoPriceForHedge, isOmsContainer, discretionaryUpToLimitPrice
        "0",  # usePriceMgmtAlgo
    ]
    return encode_text_fields(f)


def encode_completed_order(rec: GatewayOrder, completed_time: str) -> bytes:
    """The completedOrder message (101) for a finished order."""
    t = rec.ticket
    inst = rec.instrument
    f = [str(int(Out.COMPLETED_ORDER)), *inst.contract_fields_short()]
    f += _order_head(rec, with_client_id=False)
    f += [
        t.fa_group, t.fa_method, t.fa_percentage, t.fa_profile,
        t.model_code,
        t.good_till_date,
        t.rule80a,
        fmt_float(t.percent_offset),
        "",  # settlingFirm
        "0", "", "-1",  # shortSaleSlot, designatedLocation, exemptCode
        "", "", "", "", "",  # startingPrice, stockRefPrice, delta, stockRangeLower, stockRangeUpper
        str(t.display_size),
        _b(t.sweep_to_fill),
        _b(t.all_or_none),
        fmt_int(t.min_qty),
        str(t.oca_type),
        str(t.trigger_method),
        "", "0", "", "",  # volatility, volatilityType, deltaNeutralOrderType, deltaNeutralAuxPrice
        "0", "0",  # continuousUpdate, referencePriceType
        fmt_float(t.trail_stop_price),
        fmt_float(t.trailing_percent),
        "",  # comboLegsDescrip
        "0", "0", "0",  # comboLegs, orderComboLegs, smartComboRoutingParams
        "", "", "",  # scale
        "",  # hedgeType
        "", "",  # clearingAccount, clearingIntent
        "0",  # notHeld
        "0",  # delta-neutral contract present
        "",  # algoStrategy
        "0",  # solicited
        rec.status.value,
        "0", "0",  # randomizeSize, randomizePrice
        "0",  # conditions
        fmt_float(rec.stop_price if t.order_type.startswith("TRAIL") else t.trail_stop_price),
        fmt_float(t.lmt_price_offset),  # lmtPriceOffset
        fmt_float(t.cash_qty),
        "0", "0",  # dontUseAutoPriceForHedge, isOmsContainer
        "",  # autoCancelDate
        fmt_float(rec.filled) or "0",
        "0",  # refFuturesConId
        "0",  # autoCancelParent
        "",  # shareholder
        "0", "0",  # imbalanceOnly, routeMarketableToBbo
        str(rec.parent_perm_id),
        completed_time,
        clean_text(rec.completed_status or rec.status.value),
    ]
    return encode_text_fields(f)
