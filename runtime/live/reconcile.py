"""What a run makes of the broker's reconciliation report (:class:`~runtime.brokers.ib.events.ReconcileReport`).

The adapter reports the facts; the rules of the run are here:

- an order the broker no longer works and no execution finished is closed for the algorithm: one journalled as
  ``sending`` that the broker never knew was never sent (cancelled, with :data:`NEVER_SENT`, and not sent again);
  one the broker shows Inactive was rejected; any other was cancelled while the runtime was away (with the broker's
  final status when it has one);
- the broker's positions are compared with the ledger by :class:`~runtime.live.positions.PositionCheck`.
"""

from __future__ import annotations

from runtime.brokers.base import OrderRejected
from runtime.brokers.ib.events import MissingOrder
from runtime.core.ib.orders import order_status_from_ib
from runtime.core.matching import Cancelled
from runtime.core.orders import OrderStatus

#: Why an order journalled as ``sending`` that the broker does not know is closed after a restart.
NEVER_SENT = ("never sent: the runtime stopped after journalling this order and before it reached the broker "
              "(the broker has no order with its orderRef); it is closed, not sent again: order again if still wanted")


def missing_order_event(m: MissingOrder, now_ns: int) -> Cancelled | OrderRejected:
    """The event that closes an order the broker no longer works (see the module docstring)."""
    if m.never_sent:
        return Cancelled(m.order_id, m.asset, now_ns, NEVER_SENT)
    st = order_status_from_ib(m.broker_status) if m.broker_status else None
    if st is OrderStatus.REJECTED:
        return OrderRejected(m.order_id, m.asset, now_ns, m.last_error or
                             f"rejected while disconnected ({m.broker_status})", m.last_code)
    reason = (f"cancelled while disconnected ({m.broker_status})" if m.broker_status else
              "no longer working at IB after the reconnect (not among the open orders)")
    return Cancelled(m.order_id, m.asset, now_ns, reason)
