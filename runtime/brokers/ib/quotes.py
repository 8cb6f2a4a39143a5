"""The adapter's market data lines: subscribe, resubscribe after a reconnect, fall back to delayed data.

Every line is opened by one helper (:meth:`MarketDataService._request`: a new request id, the book entry with the
contract's size multiplier, ``reqMktData``), whether it is a first subscription, a resubscription after 1101 or a
reconnect, or a switch to delayed data after 354. The quotes themselves are folded by
:class:`~runtime.brokers.ib.market_data.MarketDataBook` on the message thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from runtime.brokers.ib.connection import IBConnection
from runtime.brokers.ib.contracts import ContractResolver
from runtime.brokers.ib.errors import MarketDataError
from runtime.brokers.ib.events import IBNotice, MarketDataDelayed
from runtime.brokers.ib.ibobjects import make_contract
from runtime.brokers.ib.market_data import MarketDataBook, Quote
from runtime.brokers.ib.requests import RequestRegistry
from runtime.core.assets import Asset
from runtime.core.ib.contracts import contract_spec_for
from runtime.core.ib.errors import ErrorKind, error_info

log = logging.getLogger("runtime.brokers.ib.broker")

#: reqMarketDataType's delayed data (15 minutes late, no subscription needed)
DELAYED = 3
#: 354: no market data subscription for this contract; 10167: displaying delayed data
NO_SUBSCRIPTION, DISPLAYING_DELAYED = 354, 10167


class MarketDataService:
    """Streaming quotes of the assets the run asked for (see the module docstring)."""

    def __init__(self, conn: IBConnection, registry: RequestRegistry, contracts: ContractResolver,
                 emit: Callable[[object], None], timeout_s: float) -> None:
        self.conn = conn
        self.registry = registry
        self.contracts = contracts
        self.book = MarketDataBook()
        self._emit = emit
        self._timeout_s = timeout_s
        self.data_type = 1  # 1 live, 3 delayed (switched once, for every line, at the first 354)

    def _request(self, client: Any, asset: Asset) -> None:
        rid = self.registry.next_id()
        self.book.add(rid, asset, self.contracts.size_multiplier(asset.con_id))
        client.reqMktData(rid, make_contract(contract_spec_for(asset)), "", False, False, [])

    def on_connected(self, client: Any, reconnect: bool) -> None:
        """A socket is up: the market data type again, and (after a reconnect) every line again."""
        self.book.server_version = self.conn.server_version or 0
        if self.data_type != 1:
            client.reqMarketDataType(self.data_type)
        if reconnect:
            self.resubscribe()

    def subscribe(self, asset: Asset) -> None:
        """Stream ``asset``'s market data (no-op if already streaming). NotConnectedError while disconnected."""
        if self.book.req_id_of(asset) is not None:
            return
        client = self.conn.require(f"market data request for {asset.symbol}")
        if not asset.con_id:
            asset = self.contracts.resolve_asset(asset)
        self._request(client, asset)

    def unsubscribe(self, asset: Asset) -> None:
        """Stop streaming ``asset`` (its quote is forgotten)."""
        rid = self.book.remove(asset)
        client = self.conn.client
        if rid is not None and client is not None and self.conn.is_connected:
            client.cancelMktData(rid)

    def resubscribe(self) -> None:
        """Open every line again (after 1101 or a reconnect: TWS dropped them)."""
        client = self.conn.client
        if client is None:
            return
        for asset in self.book.assets():
            self._request(client, asset)

    def quote(self, asset: Asset) -> Quote | None:
        """The latest streamed quote (None if not subscribed)."""
        return self.book.quote(asset)

    def wait_for_quote(self, asset: Asset, timeout: float | None = None) -> Quote:
        """Subscribe if needed and wait for a first price; MarketDataError if none comes in time."""
        self.subscribe(asset)
        wait = timeout or self._timeout_s
        if not self.book.wait_fresh(asset, wait):
            raise MarketDataError(f"no market data for {asset.symbol} within {wait:g} s (market closed and no close "
                                  "price, or no permissions)")
        q = self.book.quote(asset)
        assert q is not None
        return q

    def on_error(self, asset: Asset, rid: int, code: int, text: str, now: int) -> None:
        """An error naming one of the lines (message thread): 354 switches to delayed data (on the worker)."""
        if code == NO_SUBSCRIPTION and self.data_type == 1:
            log.warning("no real-time market data subscription for %s: switching to delayed data", asset.symbol)
            self._emit(MarketDataDelayed(asset, now, code, text))
            self.conn.worker.call_soon(lambda: self._fallback_to_delayed(asset))
        elif code == DISPLAYING_DELAYED:
            self._emit(MarketDataDelayed(asset, now, code, text))
        elif error_info(code).kind is ErrorKind.INFO:
            log.debug("IB %d for %s: %s", code, asset.symbol, text)
        else:
            self._emit(IBNotice(now, code, text, rid))

    def _fallback_to_delayed(self, asset: Asset) -> None:
        client = self.conn.client
        if client is None:
            return
        if self.data_type == 1:
            self.data_type = DELAYED
            client.reqMarketDataType(DELAYED)
        old = self.book.req_id_of(asset)
        if old is not None:
            client.cancelMktData(old)
        self._request(client, asset)
