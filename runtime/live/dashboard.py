"""The live page's snapshots of a paper or live run, built on the engine thread from the run's own state.

:class:`LiveDashboard` is called by the session on the engine thread (after each tick and each batch of broker
events); when its throttle says so it builds a snapshot (connection, IB account values, positions with P&L, working
and recent orders with their IB statuses, fills, the results so far with the report's charts, the last log lines
and the algorithm's errors) and publishes it to the :class:`~runtime.report.dashboard.DashboardServer`, whose
threads only serve the encoded bytes.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from runtime.brokers.base import OrderRejected
from runtime.brokers.ib.events import OrderStatusChanged
from runtime.core.matching import Cancelled, Fill
from runtime.report import figures
from runtime.report.dashboard import DashboardServer, RecentLog, Throttle

if TYPE_CHECKING:
    from runtime.live.session import LiveSession

log = logging.getLogger("ibalgo.dashboard")

#: the IB account tags the page shows (as IB reports them)
ACCOUNT_TAGS = ("NetLiquidation", "TotalCashValue", "SettledCash", "BuyingPower", "AvailableFunds", "ExcessLiquidity",
                "GrossPositionValue", "MaintMarginReq", "UnrealizedPnL", "RealizedPnL")


def _mask(account: str) -> str:
    return account[:2] + "*" * max(len(account) - 4, 0) + account[-2:] if len(account) > 4 else "****"


def _money(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:,.2f}"


class LiveDashboard:
    """The engine-thread side of the live page of one run."""

    def __init__(self, session: LiveSession, server: DashboardServer, interval_s: float = 1.0) -> None:
        self.session = session
        self.server = server
        self.throttle = Throttle(interval_s)
        self.recent_log = RecentLog(stamp=lambda: session.calendar.to_local(session.clock.now_ns()).strftime(
            "%Y-%m-%d %H:%M:%S %Z"))
        self.ib_status: dict[str, str] = {}
        self.fills: collections.deque[dict[str, Any]] = collections.deque(maxlen=500)
        self._fill_keys: set[tuple[str, int]] = set()
        self.version = 0
        self.stopped: str | None = None

    def start(self) -> None:
        """Serve the page and collect log lines."""
        logging.getLogger().addHandler(self.recent_log)
        self.server.start()
        self.publish()

    def stop(self, reason: str) -> None:
        """Publish the final state, stop serving, stop collecting log lines."""
        self.stopped = reason
        try:
            self.publish()
        finally:
            logging.getLogger().removeHandler(self.recent_log)
            self.server.stop()

    # ---------------------------------------------------------------------------------- engine-thread calls
    def observe(self, events: list[object]) -> None:
        """Note what the page shows of broker events (IB statuses, fills) and ask for a prompt update."""
        session = self.session
        for ev in events:
            if isinstance(ev, OrderStatusChanged):
                self.ib_status[ev.order_id] = ev.ib_status
                self.throttle.urgent = True
            elif isinstance(ev, Fill):
                key = (ev.order_id, int(ev.cum_filled))
                if key in self._fill_keys:
                    continue
                self._fill_keys.add(key)
                stamp = session.calendar.to_local(ev.time_ns).strftime("%Y-%m-%d %H:%M:%S %Z")
                self.fills.append({"time": stamp, "symbol": ev.asset.symbol, "amount": ev.amount,
                                   "price": ev.price, "commission": ev.commission, "order": ev.order_id[:8]})
                if ev.order_done:
                    self.ib_status[ev.order_id] = "Filled"
                self.throttle.urgent = True
            elif isinstance(ev, (Cancelled, OrderRejected)):
                self.ib_status[ev.order_id] = "Cancelled" if isinstance(ev, Cancelled) else "Rejected"
                self.throttle.urgent = True

    def tick(self) -> None:
        """Publish a new snapshot if it is time to."""
        if self.throttle.due():
            self.publish()

    def publish(self) -> None:
        try:
            snapshot = self.snapshot()
        except Exception:  # the page must never stop the run
            log.debug("live page snapshot failed", exc_info=True)
            return
        self.server.publish(snapshot)

    # ------------------------------------------------------------------------------------------- snapshot
    def snapshot(self) -> dict[str, Any]:
        """The live page's JSON (see :mod:`runtime.report.page`), from the run's state right now."""
        self.version += 1
        session = self.session
        engine, ib, recorder = session.engine, session.ib, session.recorder
        opts = session.options
        name = Path(opts.algorithm).name
        now_ns = session.clock.now_ns()
        clock = session.calendar.to_local(now_ns).strftime("%Y-%m-%d %H:%M:%S %Z")
        connected = bool(ib is not None and ib.is_connected() and session.connected)
        state = "stopped: " + self.stopped if self.stopped else ("connected" if connected else
                                                                  "starting" if ib is None else "disconnected")
        status = [
            ["connection", state, "state-ok" if connected and not self.stopped else "state-bad"],
            ["run", opts.run_id], ["mode", opts.mode],
            ["account", _mask(ib.account) if ib is not None else "-"],
            ["exchange time", clock],
            ["updated", time.strftime("%H:%M:%S")],
        ]
        snap: dict[str, Any] = {"title": f"ibalgo run: {name}", "version": self.version, "tables_first": True,
                                "subtitle": f"{opts.mode} run of {opts.algorithm} ({opts.frequency} bars): {state}",
                                "status": status, "log": list(self.recent_log.lines),
                                "errors": list(self.recent_log.errors)}
        if ib is not None:
            values = [[tag, _money(_float(ib.account_value(tag)))] for tag in ACCOUNT_TAGS]
            snap["panels"] = [{"id": "account", "title": "IB account values", "rows": values}]
        if engine is None or recorder is None:
            return snap
        status += [["portfolio value", _money(engine.ledger.portfolio_value)], ["cash", _money(engine.ledger.cash)],
                   ["orders sent", str(session.link.sent)], ["fills", str(session.fills)],
                   ["errors in the algorithm", str(engine.error_count)]]
        perf = recorder.frame(session.calendar, risk=False)
        if not perf.empty:
            summary = recorder.summary(perf)
            snap["summary"] = figures.summary_rows(summary.__dict__)
            snap["charts"] = figures.charts(perf, recorder.recorded_names)
        snap["tables"] = [self._positions(), *self._orders(), figures.table(
            "fills", "Fills", pd.DataFrame(list(self.fills), columns=["time", "symbol", "amount", "price",
                                                                       "commission", "order"]))]
        return snap

    def _positions(self) -> dict[str, Any]:
        session = self.session
        engine, ib = session.engine, session.ib
        assert engine is not None
        marks = {}
        if ib is not None:
            marks = {p.asset.symbol: p.unrealized_pnl for p in ib.positions() if p.amount}
        rows = []
        for _sid, asset, amount, basis, price in engine.ledger.position_items():
            if not amount:
                continue
            multiplier = asset.multiplier or 1.0
            rows.append({"symbol": asset.symbol, "amount": amount, "cost basis": basis, "last price": price,
                         "market value": amount * price * multiplier,
                         "unrealized P&L": (price - basis) * amount * multiplier,
                         "IB unrealized P&L": marks.get(asset.symbol)})
        columns = ["symbol", "amount", "cost basis", "last price", "market value", "unrealized P&L",
                   "IB unrealized P&L"]
        return figures.table("positions", "Positions", pd.DataFrame(rows, columns=columns), newest_first=False)

    def _orders(self) -> list[dict[str, Any]]:
        engine = self.session.engine
        assert engine is not None
        cal = self.session.calendar
        columns = ["id", "created", "symbol", "amount", "filled", "type", "limit", "stop", "status", "IB status"]

        def row(o: Any) -> list[Any]:
            return [o.id[:8], cal.to_local(o.created_ns).strftime("%Y-%m-%d %H:%M:%S"), o.asset.symbol, o.amount,
                    o.filled, getattr(o.kind, "value", str(o.kind)), o.limit, o.stop, o.status.name.lower(),
                    self.ib_status.get(o.id, "")]

        working = [row(o) for o in engine.open_orders()]
        recent = sorted(engine.orders.values(), key=lambda o: o.created_ns)[-100:]
        return [figures.table("working", "Working orders", pd.DataFrame(working, columns=columns), False),
                figures.table("recent", "Recent orders", pd.DataFrame([row(o) for o in recent], columns=columns))]


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None
