"""The adapter's state machines without a socket: pacing, the request registry, the order tracker."""

from __future__ import annotations

import pytest

from runtime.brokers.base import OrderRejected
from runtime.brokers.ib.errors import IBRequestCancelled, IBTimeoutError
from runtime.brokers.ib.events import CancelRejected, CommissionReported, OrderAdopted, OrderStatusChanged
from runtime.brokers.ib.orders import KnownOrder, OrderTracker
from runtime.brokers.ib.pacing import HistoricalPacer, HistoryKey, TokenBucket
from runtime.brokers.ib.records import CommissionInfo, ExecutionInfo, OpenOrderInfo, OrderStatusInfo
from runtime.brokers.ib.requests import FIRST_REQUEST_ID, RequestRegistry
from runtime.core.assets import Asset
from runtime.core.ib_mapping import ContractFacts, asset_from_facts
from runtime.core.matching import Cancelled, Fill
from runtime.core.orders import OrderStatus


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


# ------------------------------------------------------------------------------------------------- pacing
def test_token_bucket_limits_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=45, burst=10, clock=clock)
    for _ in range(100):
        bucket.acquire(sleep=clock.sleep)
    # 10 in the burst, 90 at 45/s: two seconds
    assert clock.t - 1000.0 == pytest.approx(2.0, abs=0.05)
    assert 100 / (clock.t - 1000.0 + 1) <= 50


def test_historical_pacer_rules() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock)
    a = HistoryKey(("AAPL", "", "1 D", "1 min"), ("AAPL", "SMART", "TRADES"))
    assert pacer.reserve(a) == 0.0
    assert pacer.reserve(a) == pytest.approx(15.0)  # identical within 15 s
    # five different requests for the same contract within 2 s are fine, a sixth waits
    for i in range(4):
        assert pacer.reserve(HistoryKey(("AAPL", i), ("AAPL", "SMART", "TRADES"))) == 0.0
    wait = pacer.reserve(HistoryKey(("AAPL", 9), ("AAPL", "SMART", "TRADES")))
    assert 0 < wait <= 2.0
    clock.t += 2.0
    assert pacer.reserve(HistoryKey(("AAPL", 9), ("AAPL", "SMART", "TRADES"))) == 0.0
    # 60 per ten minutes
    for i in range(54):
        clock.t += 2.1
        assert pacer.reserve(HistoryKey(("X", i), (f"X{i}", "SMART", "TRADES"))) == 0.0
    wait = pacer.reserve(HistoryKey(("Y", 0), ("Y", "SMART", "TRADES")))
    assert wait > 400
    # BID_ASK counts twice
    p2 = HistoricalPacer(clock)
    for i in range(2):
        assert p2.reserve(HistoryKey(("B", i), ("B", "SMART", "BID_ASK"), 2)) == 0.0
    assert p2.reserve(HistoryKey(("B", 3), ("B", "SMART", "BID_ASK"), 2)) > 0


# ----------------------------------------------------------------------------------------------- registry
def test_registry_rows_errors_timeouts() -> None:
    reg = RequestRegistry()
    rid, fut = reg.open("contract details")
    assert rid >= FIRST_REQUEST_ID and rid in reg
    reg.add_row(rid, 1)
    reg.add_row(rid, 2)
    reg.finish(rid)
    assert fut.result(1) == [1, 2] and rid not in reg
    rid, fut = reg.open("history")
    reg.fail(rid, 162, "pacing violation")
    with pytest.raises(Exception, match="162"):
        fut.result(1)
    rid, fut = reg.open("slow")
    with pytest.raises(IBTimeoutError, match="slow"):
        reg.wait(rid, fut, 0.01, "slow")
    assert rid not in reg
    rid, fut = reg.open("lost")
    assert reg.fail_all("connection lost") == 1
    with pytest.raises(IBRequestCancelled):
        fut.result(1)


# ----------------------------------------------------------------------------------------- order tracker
FACTS = ContractFacts(24, "AAPL", "STK", "USD", "SMART", "NASDAQ", "AAPL", "NMS", 0.01, "", "", 0.0, "", "APPLE")
AAPL = Asset(24, "AAPL", con_id=24)


def execution(exec_id: str, ib_id: int, shares: float, cum: float, price: float, ref: str = "ibalgo:r:o1",
              side: str = "BOT") -> ExecutionInfo:
    return ExecutionInfo(-1, exec_id, ib_id, 0, 1, ref, FACTS, "20121114 10:00:00", "DU1", side, shares, price, cum,
                         price)


def status(ib_id: int, text: str, filled: float = 0.0) -> OrderStatusInfo:
    return OrderStatusInfo(ib_id, text, filled, 0.0, 0.0, 0, 0, 0.0, 1, "")


def make_tracker(wait: float = 1.0) -> tuple[OrderTracker, list[object]]:
    out: list[object] = []
    return OrderTracker("r", out.append, asset_from_facts, wait), out


def test_fills_are_deduplicated_and_joined_with_commissions() -> None:
    t, out = make_tracker()
    t.register("o1", AAPL, 100, 5, "ibalgo:r:o1")
    with pytest.raises(ValueError, match="never sent twice"):
        t.register("o1", AAPL, 100, 6, "ibalgo:r:o1")
    t.on_status(status(5, "PreSubmitted"), 1)
    t.on_status(status(5, "Submitted"), 2)
    t.on_status(status(5, "Submitted"), 3)  # repeats are silent
    assert [type(e) for e in out] == [OrderStatusChanged]
    assert t.on_execution(execution("e1", 5, 40, 40, 10.0), 10, 0.0)
    assert t.on_execution(execution("e1", 5, 40, 40, 10.0), 10, 0.0) is False  # repeated execId
    t.on_status(status(5, "Cancelled", 40), 11)  # waits behind the fill that waits for its commission
    assert [type(e) for e in out] == [OrderStatusChanged]
    t.on_commission(CommissionInfo("e1", 1.25, "USD", None), 12)
    fill, cancelled = out[1], out[2]
    assert isinstance(fill, Fill) and (fill.amount, fill.cum_filled, fill.commission, fill.order_done) == \
        (40, 40, 1.25, False)
    assert isinstance(cancelled, Cancelled)


def test_fill_sizes_come_from_cumulative_quantity() -> None:
    t, out = make_tracker()
    t.register("o1", AAPL, -100, 5, "ibalgo:r:o1")
    t.on_commission(CommissionInfo("e2", 1.0, "USD", None), 0)  # commission before its execution
    # the first execution was missed: the second one still books everything
    t.on_execution(execution("e2", 5, 50, 100, 11.0, side="SLD"), 20, 0.0)
    fill = out[-1]
    assert isinstance(fill, Fill) and fill.amount == -100 and fill.cum_filled == -100 and fill.order_done
    assert fill.commission == 1.0
    t.on_execution(execution("e1", 5, 50, 50, 11.0, side="SLD"), 10, 0.0)  # late: already booked
    assert len(out) == 1


def test_overdue_commission_and_late_report() -> None:
    t, out = make_tracker(wait=0.5)
    t.register("o1", AAPL, 10, 5, "ibalgo:r:o1")
    t.on_execution(execution("e1", 5, 10, 10, 10.0), 10, 100.0)
    t.flush_due(100.2)
    assert out == []
    t.flush_due(100.6)
    assert isinstance(out[0], Fill) and out[0].commission == 0.0
    t.on_commission(CommissionInfo("e1", 1.0, "USD", None), 20)
    assert isinstance(out[1], CommissionReported) and out[1].commission == 1.0


def test_errors_reject_cancel_and_refuse() -> None:
    t, out = make_tracker()
    t.register("o1", AAPL, 10, 5, "ibalgo:r:o1")
    t.register("o2", AAPL, 10, 6, "ibalgo:r:o2")
    t.register("o3", AAPL, 10, 7, "ibalgo:r:o3")
    assert t.on_error(5, 201, "Order rejected - reason: no funds", 1)
    t.on_status(status(5, "Inactive"), 2)  # no second event
    assert isinstance(out[0], OrderRejected) and out[0].code == 201 and "no funds" in out[0].reason
    assert len(out) == 1
    t.on_error(6, 202, "Order Canceled - reason:", 3)
    t.on_status(status(6, "Cancelled"), 4)
    assert isinstance(out[1], Cancelled) and len(out) == 2
    t.on_error(7, 10148, "cannot cancel", 5)
    assert isinstance(out[2], CancelRejected)
    assert not t.on_error(99, 201, "not ours", 6)


def test_adoption_by_order_ref_and_restore() -> None:
    t, out = make_tracker()
    t.restore([KnownOrder("o1", AAPL, 100, filled=40)], lambda oid: f"ibalgo:r:{oid}")
    info = OpenOrderInfo(77, 1, 1, "ibalgo:r:o1", FACTS, "BUY", 100, "LMT", 10.0, None, "GTC", "DU1", 0, "Submitted")
    t.on_open_order(info, 5)
    assert t.get("o1").ib_order_id == 77 and t.by_ib(77) is t.get("o1")
    # the journal knew 40 shares: an execution with cumQty 40 is not booked again, 100 books 60
    t.on_execution(execution("e1", 77, 40, 40, 10.0), 6, 0.0)
    t.on_execution(execution("e2", 77, 60, 100, 10.0), 7, 0.0)
    t.on_commission(CommissionInfo("e2", 1.0, "USD", None), 8)
    fills = [e for e in out if isinstance(e, Fill)]
    assert [f.amount for f in fills] == [60]
    # an order of this run that the engine did not restore is adopted; other runs' orders are ignored
    t.on_open_order(OpenOrderInfo(78, 2, 1, "ibalgo:r:o9", FACTS, "SELL", 5, "MKT", None, None, "DAY", "DU1", 0,
                                  "PreSubmitted"), 9)
    adopted = [e for e in out if isinstance(e, OrderAdopted)]
    assert adopted[0].order_id == "o9" and adopted[0].amount == -5 and adopted[0].status is OrderStatus.HELD
    assert t.on_open_order(OpenOrderInfo(79, 3, 1, "ibalgo:other:o1", FACTS, "BUY", 5, "MKT", None, None, "DAY",
                                         "DU1", 0, "Submitted"), 10) is None


def test_close_missing_after_reconnect() -> None:
    t, out = make_tracker()
    t.register("o1", AAPL, 10, 5, "ibalgo:r:o1")
    t.register("o2", AAPL, 10, 6, "ibalgo:r:o2")
    t.register("o3", AAPL, 10, 7, "ibalgo:r:o3")
    done = OpenOrderInfo(6, 1, 1, "ibalgo:r:o2", FACTS, "BUY", 10, "LMT", 1.0, None, "GTC", "DU1", 0, "Cancelled",
                         completed=True)
    n = t.close_missing({5}, {"o2": done}, 9)
    assert n == 2
    kinds = {e.order_id: type(e) for e in out}
    assert kinds == {"o2": Cancelled, "o3": Cancelled}
    assert "while disconnected" in out[0].reason
