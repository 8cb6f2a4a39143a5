"""The typed interface between ibapi's callbacks and the adapter.

:class:`~runtime.brokers.ib.client.IBClient` (the one EWrapper subclass) turns each ibapi callback into a call of
one method below, with plain records (:mod:`runtime.brokers.ib.records`) as arguments. The connection-level
messages (next valid id, managed accounts, the socket closing, connection error codes) go to the connection
(:class:`ClientSession`); everything else goes to a :class:`MessageListener`, the adapter's inbound side.

Every method of :class:`MessageListener` does nothing by default, so a listener implements only what it handles,
and a new kind of IB message is added in three steps: the EWrapper override in ``client.py`` calls a new method
here (with a record), the default here does nothing, the part of the adapter that wants it overrides it.
All methods run on ibapi's message thread: they record, complete futures or emit events; they never send and never
run user code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from runtime.brokers.ib.client import IBClient
    from runtime.brokers.ib.compat import ErrorArgs
    from runtime.brokers.ib.records import (
        BarInfo,
        CommissionInfo,
        ExecutionInfo,
        OpenOrderInfo,
        OrderStatusInfo,
        PositionInfo,
    )
    from runtime.core.ib.contracts import ContractFacts


class ClientSession(Protocol):
    """The connection's side of one :class:`IBClient` (the client passes itself: stale clients are ignored)."""

    def is_current(self, client: IBClient) -> bool:
        """Whether ``client`` is the connection's current one (callbacks of an old socket are dropped)."""

    def on_next_valid_id(self, client: IBClient, order_id: int) -> None:
        """nextValidId: the handshake's first order id, or an answer to reqIds."""

    def on_managed_accounts(self, client: IBClient, accounts: list[str]) -> None:
        """managedAccounts: the account codes this login may trade."""

    def on_socket_closed(self, client: IBClient) -> None:
        """The socket closed, or the message loop ended."""

    def on_connection_error(self, client: IBClient, err: ErrorArgs) -> bool:
        """An error during the handshake or about the link to IB (1100/1101/1102); True if handled there."""


class MessageListener:
    """Everything from IB that is not about the connection itself (see the module docstring)."""

    # ------------------------------------------------------------------------------------------ general
    def error(self, err: ErrorArgs) -> None:
        """An error or notice (code, request / order id, text) the connection did not handle."""

    def request_end(self, req_id: int) -> None:
        """The end of the rows of a request (contract details, executions, history, snapshot)."""

    def current_time(self, epoch_s: int) -> None:
        """The answer to reqCurrentTime: the broker's clock in whole seconds."""

    # ---------------------------------------------------------------------------------------- contracts
    def contract_details(self, req_id: int, facts: ContractFacts) -> None:
        """One contract matching a reqContractDetails."""

    # ------------------------------------------------------------------------------------------- orders
    def open_order(self, info: OpenOrderInfo) -> None:
        """openOrder: an order working at the broker (answers reqAllOpenOrders, and follows each change)."""

    def open_order_end(self) -> None:
        """The end of the open orders."""

    def completed_order(self, info: OpenOrderInfo) -> None:
        """completedOrder: a finished order (reqCompletedOrders)."""

    def completed_orders_end(self) -> None:
        """The end of the completed orders."""

    def order_status(self, info: OrderStatusInfo) -> None:
        """orderStatus of one order."""

    def execution(self, info: ExecutionInfo) -> None:
        """execDetails: one execution (``req_id`` -1 when pushed, else the reqExecutions id)."""

    def commission(self, info: CommissionInfo) -> None:
        """The commission report of one execution."""

    # -------------------------------------------------------------------------------- account, positions
    def account_value(self, key: str, value: str, currency: str, account: str) -> None:
        """updateAccountValue: one tag of the subscribed account."""

    def account_summary(self, account: str, tag: str, value: str, currency: str) -> None:
        """accountSummary: one tag of one account of the summary subscription."""

    def portfolio(self, info: PositionInfo) -> None:
        """updatePortfolio: a position of the subscribed account with its mark."""

    def account_time(self, stamp: str) -> None:
        """updateAccountTime."""

    def account_download_end(self, account: str) -> None:
        """The first download of the subscribed account is complete."""

    def position(self, info: PositionInfo) -> None:
        """One row of reqPositions (every account)."""

    def position_end(self) -> None:
        """The end of the positions."""

    # -------------------------------------------------------------------------------------- market data
    def tick(self, req_id: int, tick_type: int, value: float | None) -> None:
        """A price, size or generic tick of a market data line."""

    def tick_string(self, req_id: int, tick_type: int, value: str) -> None:
        """A string tick (last trade time...)."""

    def market_data_type(self, req_id: int, data_type: int) -> None:
        """The market data type (1 live, 3 delayed...) a line now sends."""

    # ------------------------------------------------------------------------------------------ history
    def bar(self, req_id: int, bar: BarInfo) -> None:
        """One historical bar of a reqHistoricalData."""
