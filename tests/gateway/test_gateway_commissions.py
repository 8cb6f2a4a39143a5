"""The gateway's default commissions as an ibapi client sees them: IB's fixed stock pricing, IDEALPRO's 0.2 bps
with its USD 2 minimum, and a per-contract futures rate."""

from __future__ import annotations

import pytest
from ibapi.contract import Contract
from support.gateway import clients, fx, order, start_gateway, stock


def _fill(c, order_id: int) -> tuple[float, float, float]:
    """(shares, price, commission) of an order's single fill."""
    ex = c.wait("execDetails", lambda r, con, e: e.orderId == order_id)[0][2]
    (report,) = c.wait("commissionReport", lambda r: r.execId == ex.execId)[0]
    return ex.shares, ex.price, report.commission


def test_default_commissions_by_contract_kind():
    gateway, _ = start_gateway()
    try:
        with clients(gateway.port, 51) as (c,):
            c.placeOrder(1, fx(), order("BUY", 20_000))
            shares, price, commission = _fill(c, 1)
            assert 0.2e-4 * shares * price < 2.0 and commission == pytest.approx(2.0)  # the minimum
            c.placeOrder(2, fx(), order("BUY", 10_000_000))
            shares, price, commission = _fill(c, 2)
            assert commission == pytest.approx(0.2e-4 * shares * price, rel=1e-9) and commission > 2.0
            c.placeOrder(3, stock(), order("BUY", 100))
            assert _fill(c, 3)[2] == pytest.approx(1.0)  # 100 x 0.005 is below the USD 1 minimum
            c.placeOrder(4, stock(), order("BUY", 1000))
            assert _fill(c, 4)[2] == pytest.approx(5.0)
            es = Contract()
            es.symbol, es.secType, es.exchange, es.currency, es.lastTradeDateOrContractMonth = "ES", "FUT", "CME", \
                "USD", "201206"
            c.placeOrder(5, es, order("BUY", 2))
            assert _fill(c, 5)[2] == pytest.approx(1.70)
    finally:
        gateway.stop()
