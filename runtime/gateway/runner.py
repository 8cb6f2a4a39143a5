"""Run a gateway in a background thread with its own event loop (for tests, benchmarks and in-process use).

    with GatewayThread(GatewayConfig(port=0), clock=my_clock) as gw:
        client.connect("127.0.0.1", gw.port, clientId=1)
        gw.reject_next_order()

Every method is thread-safe: it runs the action on the gateway's loop and waits for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from runtime.core.costs import CommissionModel, SlippageModel
from runtime.gateway.gateway import Gateway, GatewayClock, GatewayConfig
from runtime.gateway.universe import Universe

T = TypeVar("T")


class GatewayThread:
    """A :class:`Gateway` serving from a daemon thread."""

    def __init__(
        self,
        config: GatewayConfig | None = None,
        clock: GatewayClock | None = None,
        universe: Universe | None = None,
        slippage: SlippageModel | None = None,
        commission: CommissionModel | None = None,
    ) -> None:
        self._args = (config or GatewayConfig(port=0), clock, universe, slippage, commission)
        self.gateway: Gateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # ---------------------------------------------------------------------------------------------- lifecycle
    def start(self, timeout_s: float = 60.0) -> GatewayThread:
        """Build the gateway, start listening, and return once clients can connect."""
        self._thread = threading.Thread(target=self._run, name="ibalgo-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("the simulated gateway did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the simulated gateway failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self.gateway = Gateway(*self._args)
            loop.run_until_complete(self.gateway.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close every connection and the listening socket, save the state, end the thread."""
        loop, gw = self._loop, self.gateway
        if loop is None or gw is None or not loop.is_running():
            return
        fut = asyncio.run_coroutine_threadsafe(gw.stop(), loop)
        fut.result(timeout_s)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> GatewayThread:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------------ access
    @property
    def port(self) -> int:
        assert self.gateway is not None, "start the gateway first"
        return self.gateway.port

    def call(self, fn: Callable[..., T], *args: Any, timeout_s: float = 30.0) -> T:
        """Run ``fn(*args)`` on the gateway's loop (a coroutine function is awaited) and return its result."""
        loop = self._loop
        assert loop is not None and self.gateway is not None, "start the gateway first"

        async def run() -> T:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result  # type: ignore[return-value]

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout_s)

    def pump(self) -> None:
        """Follow the clock now (match orders, stream data) instead of waiting for the next periodic pump."""
        self.call(lambda: self.gateway.pump())  # type: ignore[union-attr]

    # ------------------------------------------------------------------------------------------------ faults
    def drop_connections(self) -> int:
        return self.call(lambda: self.gateway.drop_connections())  # type: ignore[union-attr]

    def refuse_connections(self, seconds: float) -> None:
        self.call(lambda: self.gateway.refuse_connections(seconds))  # type: ignore[union-attr]

    def connectivity_lost(self) -> None:
        self.call(lambda: self.gateway.connectivity_lost())  # type: ignore[union-attr]

    def connectivity_restored(self, data_lost: bool = False) -> None:
        self.call(lambda: self.gateway.connectivity_restored(data_lost))  # type: ignore[union-attr]

    def reject_next_order(self, reason: str = "simulated rejection (fault injection)") -> None:
        self.call(lambda: self.gateway.reject_next_order(reason))  # type: ignore[union-attr]

    def force_pacing_violation(self, count: int = 1) -> None:
        self.call(lambda: self.gateway.force_pacing_violation(count))  # type: ignore[union-attr]

    def delay_messages(self, seconds: float) -> None:
        self.call(lambda: self.gateway.delay_messages(seconds))  # type: ignore[union-attr]

    def restart(self, downtime_s: float = 1.0) -> None:
        self.call(lambda: self.gateway.restart(downtime_s))  # type: ignore[union-attr]
