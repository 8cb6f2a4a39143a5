"""The live page of a run (``ibalgo run --dashboard``): a small HTTP server on the loopback interface.

Threads: the engine thread owns every piece of run state. It builds a snapshot (the same JSON the report draws:
:mod:`runtime.report.page`) from that state, encodes it to bytes and hands the bytes to :meth:`DashboardServer.publish`
(one reference assignment). The server's threads (``http.server``, standard library) only read the latest bytes:
they never touch the engine, the ledger or the broker. The page fetches ``snapshot.json`` every second and redraws.

Only 127.0.0.1 is served (the page shows account values and positions): to look from another machine, forward the
port over SSH.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from runtime.report.page import live_html, plotly_js, snapshot_json

log = logging.getLogger("ibalgo.dashboard")


class DashboardServer:
    """Serves the live page, plotly.js and the latest snapshot on ``127.0.0.1:port`` (0: a free port)."""

    def __init__(self, port: int = 0) -> None:
        self._snapshot: bytes = json.dumps({"title": "ibalgo run", "subtitle": "starting", "version": 0}).encode()
        page = live_html().encode()
        script = plotly_js().encode()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path in ("/", "/index.html"):
                    body, kind = page, "text/html; charset=utf-8"
                elif path == "/plotly.min.js":
                    body, kind = script, "application/javascript"
                elif path == "/snapshot.json":
                    body, kind = server._snapshot, "application/json"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="ibalgo-dashboard", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        self.thread.start()

    def publish(self, snapshot: dict[str, Any]) -> None:
        """Make ``snapshot`` the one the page gets (called on the engine thread; encoded here, read-only after)."""
        self._snapshot = snapshot_json(snapshot).encode()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class RecentLog(logging.Handler):
    """Keeps the last log lines (and the algorithm's errors apart) for the live page; thread-safe appends."""

    def __init__(self, lines: int = 200, errors: int = 50, stamp: Callable[[], str] | None = None) -> None:
        super().__init__(logging.INFO)
        self.stamp = stamp or (lambda: time.strftime("%Y-%m-%d %H:%M:%S"))
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)
        self.errors: collections.deque[str] = collections.deque(maxlen=errors)
        self.setFormatter(logging.Formatter("%(levelname)-7s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stamp = getattr(record, "simtime", None) or self.stamp()
            text = f"{stamp} {self.format(record).removeprefix('ibalgo.')}"
        except Exception:  # a log line must never break the run
            return
        self.lines.append(text)
        if record.levelno >= logging.ERROR and record.name == "ibalgo.algo":
            self.errors.append(text)


class Throttle:
    """Decides when the engine thread builds the next snapshot: at most every ``interval_s`` of wall time, and
    soon after something the page must show (a fill, a status change) even when the clock runs fast."""

    def __init__(self, interval_s: float = 1.0, urgent_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self.urgent_s = urgent_s
        self.last = 0.0
        self.urgent = False

    def due(self) -> bool:
        now = time.monotonic()
        wait = self.urgent_s if self.urgent else self.interval_s
        if now - self.last >= wait:
            self.last = now
            self.urgent = False
            return True
        return False
