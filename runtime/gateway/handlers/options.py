"""Option requests answered from the model in runtime/core/options.py (Black-Scholes, the chain rule):
reqSecDefOptParams (an underlying's expirations and strikes on its exchange calendar) and the option calculators
calculateImpliedVolatility / calculateOptionPrice (one tickOptionComputation each), and exerciseOptions (early
exercise of a long option now, or a lapse instruction for its expiration; runtime/gateway/options.py states the
delivery rule).

The underlying's price is the client's ``underPrice`` when given, else the gateway's last price at its clock's
time; time to expiry runs from the clock to 16:00 New York time of the expiry day.
"""

from __future__ import annotations

import pandas as pd

from runtime.core import options as opt
from runtime.gateway import requests as rq
from runtime.gateway import requests_data as rd
from runtime.gateway import responses as msg
from runtime.gateway.connection import ClientConnection, Route
from runtime.gateway.contracts import ContractQuery, Instrument
from runtime.gateway.handlers.base import Desk
from runtime.gateway.ids import Code, In, MinVersion

#: tickOptionComputation's tick type for the calculators' answers (IB's "custom option computation")
CUST_OPTION_COMPUTATION = 53
OPTION_EXCHANGES = ("SMART", "CBOE")


class OptionHandlers:
    """reqSecDefOptParams, calculateImpliedVolatility, calculateOptionPrice (and their cancels)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def routes(self) -> dict[int, Route]:
        calc = Route(rd.req_option_calculation, self.calculate, versioned=True)
        ignore = Route(rq.no_arguments, lambda conn, req: None)
        return {
            In.REQ_SEC_DEF_OPT_PARAMS: Route(rd.req_sec_def_opt_params, self.sec_def_opt_params,
                                             min_version=MinVersion.SEC_DEF_OPT_PARAMS, id_at=1),
            In.REQ_CALC_IMPLIED_VOLAT: calc,
            In.REQ_CALC_OPTION_PRICE: calc,
            In.CANCEL_CALC_IMPLIED_VOLAT: ignore,
            In.CANCEL_CALC_OPTION_PRICE: ignore,
            In.EXERCISE_OPTIONS: Route(rd.exercise_options, self.exercise, id_at=2),
        }

    def exercise(self, conn: ClientConnection, req: rd.ExerciseRequest) -> None:
        inst = self.desk.resolve(conn, req.req_id, ContractQuery(**{**req.contract.__dict__, "sec_type": "OPT"}))
        if inst is None:
            return
        ex = self.desk.exchange
        account = req.account or ex.default_account
        if req.action == 2:  # lapse: the long position expires unexercised even in the money
            ex.lapse_at_expiry(account, inst.con_id)
            return
        if req.action != 1:
            conn.send(msg.error(req.req_id, Code.VALIDATION, "Error validating request:-'exerciseAction' : cause - "
                                "use 1 (exercise) or 2 (lapse)"))
            return
        refusal = ex.exercise(conn.order_client_id, account, inst, req.quantity, self.desk.now_ns())
        if refusal is not None:
            conn.send(msg.error(req.req_id, Code.VALIDATION, f"Error validating request:-'exercise' : cause - "
                                f"{refusal}"))
            return
        self.desk.save()

    def _underlying(self, conn: ClientConnection, req_id: int, symbol: str, con_id: int = 0) -> Instrument | None:
        inst = self.desk.resolve(conn, req_id, ContractQuery(con_id=con_id, symbol=symbol, sec_type="STK"))
        if inst is not None and not inst.is_stock:
            conn.send(msg.error(req_id, Code.NO_SECURITY, f"{inst.local_symbol} has no listed options at the "
                                "simulated gateway (stocks only)"))
            return None
        return inst

    def _spot(self, inst: Instrument) -> float | None:
        q = self.desk.universe.market.quote(inst, self.desk.now_ns())
        return q.last if q is not None and q.last > 0 else None

    def sec_def_opt_params(self, conn: ClientConnection, req: rd.SecDefOptParamsRequest) -> None:
        inst = self._underlying(conn, req.req_id, req.underlying_symbol, req.underlying_con_id)
        if inst is None:
            return
        spot = self._spot(inst)
        if spot is None:
            conn.send(msg.error(req.req_id, Code.NO_SECURITY, f"No price for {inst.symbol} at the gateway's time"))
            return
        now = pd.Timestamp(self.desk.now_ns(), tz="UTC").tz_convert(opt.EXPIRY_TZ).tz_localize(None).normalize()
        chain = opt.option_chain(inst.symbol, spot, now, opt.SessionCalendar(inst.calendar.sessions),
                                 currency=inst.currency)
        for exchange in OPTION_EXCHANGES:
            conn.send(msg.security_definition_option_parameter(req.req_id, exchange, inst.con_id, inst.symbol,
                                                               str(chain.multiplier), chain.expiries, chain.strikes))
        conn.send(msg.security_definition_option_parameter_end(req.req_id))

    def calculate(self, conn: ClientConnection, req: rd.OptionCalculationRequest) -> None:
        c = req.contract
        try:
            right = opt.Right.parse(c.right)
            expiry = opt.parse_expiry(c.last_trade_date)
            if c.sec_type not in ("", "OPT") or not c.strike or c.strike <= 0:
                raise ValueError("an option (secType OPT) with a strike, a right and an expiry is needed")
        except ValueError as exc:
            conn.send(msg.error(req.req_id, Code.VALIDATION, f"Error validating request:-'contract' : cause - {exc}"))
            return
        inst = self._underlying(conn, req.req_id, c.symbol)
        if inst is None:
            return
        spot = req.under_price if req.under_price and req.under_price > 0 else self._spot(inst)
        if spot is None or req.value is None:
            conn.send(msg.error(req.req_id, Code.VALIDATION, "Error validating request:-'value' : cause - an "
                                "option price (or volatility) and an underlying price are needed"))
            return
        t = opt.year_fraction(pd.Timestamp(self.desk.now_ns(), tz="UTC"), expiry)
        try:
            if req.implied_volatility:
                vol = opt.implied_volatility(req.value, right, spot, c.strike, t)
            else:
                vol = req.value
            value = opt.black_scholes(right, spot, c.strike, t, vol)
        except ValueError as exc:
            conn.send(msg.error(req.req_id, Code.VALIDATION, f"Error validating request:-'value' : cause - {exc}"))
            return
        conn.send(msg.tick_option_computation(req.req_id, CUST_OPTION_COMPUTATION, True, value.implied_vol,
                                              value.delta, value.price, 0.0, value.gamma, value.vega, value.theta,
                                              spot, conn.version))

