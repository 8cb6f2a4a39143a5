"""The one class that subclasses ibapi's EClient/EWrapper.

:class:`IBClient` lives for one connection. Its callbacks run on ibapi's message thread (a daemon thread running
``client.run()``); each one copies ibapi's objects into the plain records of :mod:`runtime.brokers.ib.records` and
hands them on: connection-level messages to its :class:`~runtime.brokers.ib.listener.ClientSession` (the
connection), everything else to a typed :class:`~runtime.brokers.ib.listener.MessageListener` (the adapter's
inbound side), and only while this client is the connection's current one. They never run user code and never send.
Every outgoing message waits for a token of the shared :class:`~runtime.brokers.ib.pacing.TokenBucket`.
camelCase names exist only here, in the EWrapper overrides.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ibapi.client import EClient
from ibapi.wrapper import EWrapper

from runtime.brokers.ib.compat import ErrorArgs, normalize_error, number
from runtime.brokers.ib.listener import ClientSession, MessageListener
from runtime.brokers.ib.pacing import TokenBucket
from runtime.brokers.ib.receive import install as install_receive
from runtime.brokers.ib.records import (
    BarInfo,
    CommissionInfo,
    ExecutionInfo,
    OpenOrderInfo,
    OrderStatusInfo,
    PositionInfo,
)
from runtime.core.ib.contracts import ContractFacts

log = logging.getLogger(__name__)


def _f(value: Any, default: float = 0.0) -> float:
    v = number(value)
    return default if v is None else v


def _opt(value: Any) -> float | None:
    return number(value)


def contract_facts(contract: Any, details: Any = None) -> ContractFacts:
    """ContractFacts from an ibapi Contract (and ContractDetails when there are some)."""
    expiry = getattr(contract, "lastTradeDateOrContractMonth", "") or ""
    strike = _opt(getattr(contract, "strike", 0.0)) or 0.0
    return ContractFacts(
        con_id=int(getattr(contract, "conId", 0) or 0),
        symbol=str(getattr(contract, "symbol", "") or ""),
        sec_type=str(getattr(contract, "secType", "") or ""),
        currency=str(getattr(contract, "currency", "") or ""),
        exchange=str(getattr(contract, "exchange", "") or ""),
        primary_exchange=str(getattr(contract, "primaryExchange", "") or ""),
        local_symbol=str(getattr(contract, "localSymbol", "") or ""),
        trading_class=str(getattr(contract, "tradingClass", "") or ""),
        min_tick=_f(getattr(details, "minTick", 0.0)) if details is not None else 0.0,
        multiplier=str(getattr(contract, "multiplier", "") or ""),
        expiry=str(expiry),
        strike=float(strike),
        right=str(getattr(contract, "right", "") or ""),
        long_name=str(getattr(details, "longName", "") or "") if details is not None else "",
        time_zone_id=str(getattr(details, "timeZoneId", "") or "") if details is not None else "",
        md_size_multiplier=int(getattr(details, "mdSizeMultiplier", 1) or 1) if details is not None else 1,
    )


def _open_order(order_id: int, contract: Any, order: Any, state: Any, completed: bool = False) -> OpenOrderInfo:
    return OpenOrderInfo(
        ib_order_id=int(order_id),
        perm_id=int(getattr(order, "permId", 0) or 0),
        client_id=int(getattr(order, "clientId", 0) or 0),
        order_ref=str(getattr(order, "orderRef", "") or ""),
        contract=contract_facts(contract),
        action=str(order.action),
        quantity=_f(order.totalQuantity),
        order_type=str(order.orderType),
        limit_price=_opt(order.lmtPrice),
        aux_price=_opt(order.auxPrice),
        tif=str(order.tif),
        account=str(order.account),
        parent_id=int(order.parentId or 0),
        status=str(getattr(state, "status", "") or ""),
        filled=_opt(getattr(order, "filledQuantity", None)) if completed else None,
        completed=completed,
    )


class IBClient(EWrapper, EClient):
    """ibapi's client for ONE connection: ``session`` gets the connection-level messages, ``listener`` the rest."""

    def __init__(self, session: ClientSession, listener: MessageListener, bucket: TokenBucket | None = None) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, wrapper=self)
        self.session = session
        self.listener = listener
        self.bucket = bucket
        self.thread: threading.Thread | None = None
        self.closed = threading.Event()

    # ------------------------------------------------------------------------------------------ plumbing
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "conn" and value is not None:  # EClient.connect's new Connection, before any read
            install_receive(value)
        super().__setattr__(name, value)

    def start_thread(self) -> None:
        """Run ibapi's message loop on a daemon thread."""
        self.thread = threading.Thread(target=self._loop, name=f"ibapi-{id(self):x}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        try:
            self.run()
        except Exception:  # the loop must end cleanly whatever a callback did
            log.exception("ibapi message loop failed")
        finally:
            self.closed.set()
            self._guard("loop end", self.session.on_socket_closed, self)

    @staticmethod
    def _guard(what: str, method: Callable[..., None], *args: Any) -> None:
        try:
            method(*args)
        except Exception:
            log.exception("IB callback %s failed", what)

    def _deliver(self, method: Callable[..., None], *args: Any) -> None:
        """Hand a message to the listener if this client is still the connection's current one."""
        if self.session.is_current(self):
            self._guard(getattr(method, "__name__", "?"), method, *args)

    def sendMsg(self, *args: Any, **kwargs: Any) -> None:
        if self.bucket is not None:
            self.bucket.acquire()
        super().sendMsg(*args, **kwargs)

    if hasattr(EClient, "sendMsgProtoBuf"):

        def sendMsgProtoBuf(self, *args: Any, **kwargs: Any) -> None:
            if self.bucket is not None:
                self.bucket.acquire()
            super().sendMsgProtoBuf(*args, **kwargs)  # type: ignore[misc]

    # ------------------------------------------------------------------------------------- connection
    def error(self, reqId: Any, *args: Any) -> None:
        err: ErrorArgs = normalize_error(reqId, *args)
        try:
            handled = self.session.on_connection_error(self, err)
        except Exception:
            log.exception("IB callback error failed")
            return
        if not handled:
            self._deliver(self.listener.error, err)

    def connectionClosed(self) -> None:
        self._guard("connectionClosed", self.session.on_socket_closed, self)

    def connectAck(self) -> None:
        pass

    def nextValidId(self, orderId: int) -> None:
        self._guard("nextValidId", self.session.on_next_valid_id, self, int(orderId))

    def managedAccounts(self, accountsList: str) -> None:
        self._guard("managedAccounts", self.session.on_managed_accounts, self,
                    [a.strip() for a in str(accountsList).split(",") if a.strip()])

    def currentTime(self, time: int) -> None:
        self._deliver(self.listener.current_time, int(time))

    # ------------------------------------------------------------------------------------------ contracts
    def contractDetails(self, reqId: int, contractDetails: Any) -> None:
        facts = contract_facts(contractDetails.contract, contractDetails)
        self._deliver(self.listener.contract_details, int(reqId), facts)

    def contractDetailsEnd(self, reqId: int) -> None:
        self._deliver(self.listener.request_end, int(reqId))

    # --------------------------------------------------------------------------------------------- orders
    def openOrder(self, orderId: int, contract: Any, order: Any, orderState: Any) -> None:
        self._deliver(self.listener.open_order, _open_order(orderId, contract, order, orderState))

    def openOrderEnd(self) -> None:
        self._deliver(self.listener.open_order_end)

    def completedOrder(self, contract: Any, order: Any, orderState: Any) -> None:
        info = _open_order(order.orderId, contract, order, orderState, completed=True)
        self._deliver(self.listener.completed_order, info)

    def completedOrdersEnd(self) -> None:
        self._deliver(self.listener.completed_orders_end)

    def orderStatus(self, orderId: int, status: str, filled: Any, remaining: Any, avgFillPrice: float,
                    permId: int, parentId: int, lastFillPrice: float, clientId: int, whyHeld: str,
                    mktCapPrice: float = 0.0) -> None:
        self._deliver(self.listener.order_status, OrderStatusInfo(
            int(orderId), str(status), _f(filled), _f(remaining), _f(avgFillPrice), int(permId or 0),
            int(parentId or 0), _f(lastFillPrice), int(clientId or 0), str(whyHeld or "")))

    def execDetails(self, reqId: int, contract: Any, execution: Any) -> None:
        e = execution
        self._deliver(self.listener.execution, ExecutionInfo(
            int(reqId), str(e.execId), int(e.orderId), int(e.permId or 0), int(e.clientId or 0),
            str(getattr(e, "orderRef", "") or ""), contract_facts(contract), str(e.time), str(e.acctNumber),
            str(e.side), _f(e.shares), _f(e.price), _f(e.cumQty), _f(e.avgPrice)))

    def execDetailsEnd(self, reqId: int) -> None:
        self._deliver(self.listener.request_end, int(reqId))

    def commissionReport(self, commissionReport: Any) -> None:
        r = commissionReport
        self._deliver(self.listener.commission, CommissionInfo(str(r.execId), _f(r.commission), str(r.currency),
                                                   _opt(r.realizedPNL)))

    def commissionAndFeesReport(self, commissionAndFeesReport: Any) -> None:
        r = commissionAndFeesReport
        self._deliver(self.listener.commission, CommissionInfo(str(r.execId), _f(r.commissionAndFees), str(r.currency),
                                                   _opt(r.realizedPNL)))

    # -------------------------------------------------------------------------------- account, positions
    def updateAccountValue(self, key: str, val: str, currency: str, accountName: str) -> None:
        self._deliver(self.listener.account_value, str(key), str(val), str(currency or ""), str(accountName))

    def accountSummary(self, reqId: int, account: str, tag: str, value: str, currency: str) -> None:
        self._deliver(self.listener.account_summary, str(account), str(tag), str(value), str(currency or ""))

    def accountSummaryEnd(self, reqId: int) -> None:
        pass

    def updatePortfolio(self, contract: Any, position: Any, marketPrice: float, marketValue: float,
                        averageCost: float, unrealizedPNL: float, realizedPNL: float,
                        accountName: str) -> None:
        self._deliver(self.listener.portfolio, PositionInfo(
            str(accountName), contract_facts(contract), _f(position), _f(averageCost), _opt(marketPrice),
            _opt(marketValue), _opt(unrealizedPNL), _opt(realizedPNL)))

    def updateAccountTime(self, timeStamp: str) -> None:
        self._deliver(self.listener.account_time, str(timeStamp))

    def accountDownloadEnd(self, accountName: str) -> None:
        self._deliver(self.listener.account_download_end, str(accountName))

    def position(self, account: str, contract: Any, position: Any, avgCost: float) -> None:
        info = PositionInfo(str(account), contract_facts(contract), _f(position), _f(avgCost))
        self._deliver(self.listener.position, info)

    def positionEnd(self) -> None:
        self._deliver(self.listener.position_end)

    # ---------------------------------------------------------------------------------------- market data
    def tickPrice(self, reqId: int, tickType: int, price: float, attrib: Any) -> None:
        self._deliver(self.listener.tick, int(reqId), int(tickType), _opt(price))

    def tickSize(self, reqId: int, tickType: int, size: Any) -> None:
        self._deliver(self.listener.tick, int(reqId), int(tickType), _opt(size))

    def tickString(self, reqId: int, tickType: int, value: str) -> None:
        self._deliver(self.listener.tick_string, int(reqId), int(tickType), str(value))

    def tickGeneric(self, reqId: int, tickType: int, value: float) -> None:
        self._deliver(self.listener.tick, int(reqId), int(tickType), _opt(value))

    def marketDataType(self, reqId: int, marketDataType: int) -> None:
        self._deliver(self.listener.market_data_type, int(reqId), int(marketDataType))

    def tickSnapshotEnd(self, reqId: int) -> None:
        self._deliver(self.listener.request_end, int(reqId))

    def tickReqParams(self, tickerId: int, minTick: float, bboExchange: str,
                      snapshotPermissions: int) -> None:
        pass

    # -------------------------------------------------------------------------------------------- history
    def historicalData(self, reqId: int, bar: Any) -> None:
        self._deliver(self.listener.bar, int(reqId), BarInfo(str(bar.date), _f(bar.open), _f(bar.high), _f(bar.low),
                                                 _f(bar.close), _f(bar.volume)))

    def historicalDataEnd(self, reqId: int, start: str, end: str) -> None:
        self._deliver(self.listener.request_end, int(reqId))

    def historicalDataUpdate(self, reqId: int, bar: Any) -> None:
        pass
