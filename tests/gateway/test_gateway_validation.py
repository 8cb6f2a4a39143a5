"""The simulated gateway refuses what TWS refuses, with an error for the order id (real ibapi client): an infinite or
absurd limit price, a negative quantity, a contract without secType. The gateway stays up and serves the client."""

from __future__ import annotations

import pytest
from ibapi.contract import Contract
from support.gateway import clients, order, start_gateway, stock


@pytest.fixture()
def gw():
    gateway, clock = start_gateway()
    yield gateway, clock
    gateway.stop()


def _no_sec_type() -> Contract:
    c = stock("AAPL")
    c.secType = ""
    return c


@pytest.mark.parametrize(("make_contract", "make_order", "code"), [
    (stock, lambda: order("BUY", 1, "LMT", lmt=float("inf")), 201),
    (stock, lambda: order("BUY", 1, "LMT", lmt=1e300), 201),
    (stock, lambda: order("BUY", -5), 201),
    (_no_sec_type, lambda: order("BUY", 1), 321),
], ids=["inf-limit", "1e300-limit", "quantity-minus-5", "empty-secType"])
def test_orders_tws_rejects_are_rejected_with_an_error(gw, make_contract, make_order, code) -> None:
    gateway, _ = gw
    with clients(gateway.port, 1) as (c,):
        c.placeOrder(30, make_contract(), make_order())
        (err,) = c.wait("error", lambda r, cd, *a: r == 30)
        assert err[1] == code, err
        assert not gateway.call(lambda: [r for r in gateway.gateway.exchange.orders.values() if not r.is_done])
        c.reqCurrentTime()
        c.wait("currentTime")  # still served
