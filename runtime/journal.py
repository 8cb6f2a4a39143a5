"""The journal: what a live or paper run did, in SQLite, so a restart never loses or repeats an order.

One file per run name (``<output>/journal.sqlite``), WAL mode, every write in its own transaction, except the
writes a caller marks ``defer=True`` (order updates after the send, fills after they are booked): those go to a
background writer that commits them in one transaction as soon as it gets the lock, and every later synchronous
write or read commits them first (so the file's order of writes is the callers' order). An order's write-ahead row
(:meth:`Journal.order_sending`) is never deferred:
- ``runs``: one row per start of the process (run id, algorithm, account, mode, start time);
- ``orders``: every order the runtime sent, written BEFORE it is sent (status ``sending``), with the ``orderRef``
  that identifies it at the broker; updated as the broker reports;
- ``fills``: every execution, keyed by the broker's execution id (IB's ``execId``), with the order's cumulative
  filled quantity after it; both are unique (an execution id once, an order's cumulative quantity once), so neither
  a repeated report nor a correction under a new execution id is booked twice. Journals written before the
  execution id was kept have ``<order id>:<cumulative quantity>`` in that column: the cumulative quantity is read
  from it when such a journal is opened, so they keep working and keep refusing duplicates;
- ``records``: the values passed to ``record()``, per session;
- ``events``: what the runtime did to the run's state on its own (e.g. a split IB booked, applied to the ledger),
  with the details as JSON;
- ``run_context``: per run id, the latest snapshot of the algorithm's ``context`` attributes that can be stored as
  JSON (others are named in a warning, never pickled). It is written in the same transaction as the order updates
  waiting for the writer, so a restored context never names an order the journal lacks;
- ``session_results``: per run id and session, that session's row of the results table (so the results of a run
  cover every start of it).

The file is created readable by its owner only (0600; SQLite gives its ``-wal`` and ``-shm`` files the same mode),
in a folder created 0700 if missing: it holds account codes.

After a restart, ``initialize`` runs again (as Quantopian relaunched live algorithms every morning) and then the
saved context is restored on top; open orders are matched to the broker's by ``orderRef``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, algorithm TEXT NOT NULL, account TEXT, mode TEXT NOT NULL,
    started_ns INTEGER NOT NULL, stopped_ns INTEGER, stop_reason TEXT
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, order_ref TEXT NOT NULL UNIQUE, broker_id TEXT,
    symbol TEXT NOT NULL, sid INTEGER NOT NULL, amount INTEGER NOT NULL, kind TEXT NOT NULL,
    limit_price REAL, stop_price REAL, tif TEXT NOT NULL, created_ns INTEGER NOT NULL,
    status TEXT NOT NULL, filled INTEGER NOT NULL DEFAULT 0, commission REAL NOT NULL DEFAULT 0,
    reason TEXT, updated_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    exec_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, amount INTEGER NOT NULL, price REAL NOT NULL,
    commission REAL NOT NULL, time_ns INTEGER NOT NULL, cum_filled INTEGER
);
CREATE TABLE IF NOT EXISTS records (
    time_ns INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (time_ns, name)
);
CREATE TABLE IF NOT EXISTS events (
    time_ns INTEGER NOT NULL, run_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_context (
    run_id TEXT PRIMARY KEY, saved_ns INTEGER NOT NULL, state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_results (
    run_id TEXT NOT NULL, session INTEGER NOT NULL, close_ns INTEGER NOT NULL, row TEXT NOT NULL,
    PRIMARY KEY (run_id, session)
);
"""

#: statuses of a journalled order, in the order they can happen
SENDING, SENT, OPEN, FILLED, CANCELLED, REJECTED = "sending", "sent", "open", "filled", "cancelled", "rejected"
FINAL = frozenset({FILLED, CANCELLED, REJECTED})


@dataclass(frozen=True)
class JournalOrder:
    """An order as the journal knows it."""

    order_id: str
    run_id: str
    order_ref: str
    broker_id: str | None
    symbol: str
    sid: int
    amount: int
    kind: str
    limit_price: float | None
    stop_price: float | None
    tif: str
    created_ns: int
    status: str
    filled: int
    commission: float
    reason: str | None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


def _jsonable(value: Any, path: str, skipped: list[str]) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"__float__": repr(float(value))}  # np.float64 too
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{path}[{i}]", skipped) for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return {"__set__": [_jsonable(v, f"{path}{{}}", skipped) for v in value]}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str):
                out[k] = _jsonable(v, f"{path}[{k!r}]", skipped)
            else:
                skipped.append(f"{path}[{k!r}]")
        return out
    if hasattr(value, "sid") and hasattr(value, "symbol"):
        return {"__asset__": int(value.sid), "symbol": str(value.symbol)}
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        try:
            return _jsonable(value.item(), path, skipped)
        except (TypeError, ValueError):
            pass
    skipped.append(path)
    return None


def _restore(value: Any, resolve_sid: Any) -> Any:
    if isinstance(value, list):
        return [_restore(v, resolve_sid) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__float__"}:
            text = str(value["__float__"])
            if text.startswith("np.float") and text.endswith(")"):  # written by earlier versions: np.float64(nan)
                text = text[text.index("(") + 1:-1]
            return float(text)
        if "__asset__" in value:
            return resolve_sid(int(value["__asset__"]))
        if set(value) == {"__set__"}:
            return {_restore(v, resolve_sid) for v in value["__set__"]}
        return {k: _restore(v, resolve_sid) for k, v in value.items()}
    return value


#: context keys the runtime itself stores next to the algorithm's attributes (e.g. where a restart resumes)
RUNTIME_PREFIX = "_ibalgo_"


def snapshot_state(attributes: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The JSON-storable part of ``context`` attributes, and the names of what could not be stored."""
    skipped: list[str] = []
    state = {}
    for name, value in attributes.items():
        if name.startswith("_") and not name.startswith(RUNTIME_PREFIX):
            continue
        before = len(skipped)
        converted = _jsonable(value, name, skipped)
        if len(skipped) == before or converted is not None:
            state[name] = converted
    return state, skipped


def _private_file(path: Path) -> None:
    """Create ``path`` (and its folder, 0700, if missing) readable by its owner only; an existing file is made 0600."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists() and part.stat().st_mode & 0o077:
            os.chmod(part, 0o600)


class Journal:
    """The SQLite journal of one run name. Thread-safe (one connection, one lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _private_file(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._migrate()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []  # deferred statements, in call order
        self._fill_ids: set[str] | None = None  # execution ids booked (loaded on the first deferred add_fill)
        self._fill_cums: set[tuple[str, int]] = set()  # (order id, cumulative filled) booked (loaded with them)
        self._wake = threading.Condition(self._lock)
        self._writer: threading.Thread | None = None
        self._closed = False

    def _migrate(self) -> None:
        """Journals from before the ``cum_filled`` column: add it, read it from their ``order:cum`` execution ids."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(fills)")}
        if "cum_filled" not in columns:
            self._db.execute("ALTER TABLE fills ADD COLUMN cum_filled INTEGER")
        self._db.execute(
            "UPDATE fills SET cum_filled = CAST(substr(exec_id, length(order_id) + 2) AS INTEGER) "
            "WHERE cum_filled IS NULL AND substr(exec_id, 1, length(order_id) + 1) = order_id || ':'")
        self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS fills_order_cum ON fills (order_id, cum_filled)")

    def close(self) -> None:
        """Commit the deferred writes, stop the writer, close the file."""
        with self._lock:
            if self._closed:
                return
            self._flush_locked()
            self._closed = True
            self._wake.notify_all()
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(5.0)
        with self._lock:
            self._db.close()

    def flush(self) -> None:
        """Commit the deferred writes now."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._pending or self._closed:
            return
        with self._tx_locked():
            pass  # _tx_locked commits the pending statements first

    def _defer(self, sql: str, args: tuple[Any, ...]) -> None:
        """Queue one statement for the writer thread (caller holds the lock)."""
        if self._closed:
            raise sqlite3.ProgrammingError("the journal is closed")
        self._pending.append((sql, args))
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="ibalgo-journal", daemon=True)
            self._writer.start()
        self._wake.notify()

    def _write_loop(self) -> None:
        with self._lock:
            while not self._closed:
                if self._pending:
                    try:
                        self._flush_locked()
                    except sqlite3.Error:
                        # keep the statements: the next synchronous write retries them and raises to its caller
                        self._wake.wait(0.5)
                    continue
                self._wake.wait()

    @contextmanager
    def _tx_locked(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            pending = self._pending
            for sql, args in pending:
                db.execute(sql, args)
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        del pending[:]

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._tx_locked() as db:
            yield db

    # --------------------------------------------------------------------------------------------------- runs
    def start_run(self, run_id: str, algorithm: str, account: str | None, mode: str, now_ns: int | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs (run_id, algorithm, account, mode, started_ns) VALUES (?, ?, ?, ?, ?)",
                (run_id, algorithm, account, mode, now_ns if now_ns is not None else time.time_ns()),
            )

    def stop_run(self, run_id: str, reason: str, now_ns: int | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET stopped_ns = ?, stop_reason = ? WHERE run_id = ?",
                (now_ns if now_ns is not None else time.time_ns(), reason, run_id),
            )

    def runs(self) -> list[tuple[str, str, str | None, str, int, int | None, str | None]]:
        with self._lock:
            self._flush_locked()
            return list(self._db.execute("SELECT * FROM runs ORDER BY started_ns"))

    # ------------------------------------------------------------------------------------------------- orders
    def order_sending(self, order: JournalOrder) -> None:
        """Write an order BEFORE it is sent: if the process dies in between, the restart finds it by orderRef."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO orders (order_id, run_id, order_ref, broker_id, symbol, sid, amount, kind, limit_price,"
                " stop_price, tif, created_ns, status, filled, commission, reason, updated_ns)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (order.order_id, order.run_id, order.order_ref, order.broker_id, order.symbol, order.sid,
                 order.amount, order.kind, order.limit_price, order.stop_price, order.tif, order.created_ns,
                 order.status, order.filled, order.commission, order.reason, order.created_ns),
            )

    def order_update(self, order_id: str, now_ns: int, *, status: str | None = None, broker_id: str | None = None,
                     filled: int | None = None, commission: float | None = None, reason: str | None = None,
                     defer: bool = False) -> None:
        """Change an order's row; ``defer``: by the writer thread, off the caller's path (see the module docstring)."""
        sets, args = ["updated_ns = ?"], [now_ns]
        for column, value in (("status", status), ("broker_id", broker_id), ("filled", filled),
                              ("commission", commission), ("reason", reason)):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        sql = f"UPDATE orders SET {', '.join(sets)} WHERE order_id = ?"
        if defer:
            with self._lock:
                self._defer(sql, (*args, order_id))
            return
        with self._tx() as db:
            db.execute(sql, (*args, order_id))

    def orders(self, *, open_only: bool = False) -> list[JournalOrder]:
        query = "SELECT order_id, run_id, order_ref, broker_id, symbol, sid, amount, kind, limit_price, stop_price," \
                " tif, created_ns, status, filled, commission, reason FROM orders"
        if open_only:
            query += " WHERE status NOT IN ('filled', 'cancelled', 'rejected')"
        with self._lock:
            self._flush_locked()
            rows = list(self._db.execute(query + " ORDER BY created_ns, rowid"))
        return [JournalOrder(*row) for row in rows]

    def order_by_ref(self, order_ref: str) -> JournalOrder | None:
        return next((o for o in self.orders() if o.order_ref == order_ref), None)

    # -------------------------------------------------------------------------------------------------- fills
    def add_fill(self, exec_id: str, order_id: str, amount: int, price: float, commission: float,
                 time_ns: int, *, cum_filled: int | None = None, defer: bool = False) -> bool:
        """Book an execution once; returns False if it was booked before: the same execution id, or the same
        order's same cumulative filled quantity (``cum_filled``, unsigned) under another id.

        ``defer``: decide from the journal's sets of booked executions (in memory) and let the writer thread store
        the row (see the module docstring).
        """
        sql = ("INSERT OR IGNORE INTO fills (exec_id, order_id, amount, price, commission, time_ns, cum_filled)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)")
        args = (exec_id, order_id, amount, price, commission, time_ns, cum_filled)
        key = (order_id, int(cum_filled)) if cum_filled is not None else None
        if defer:
            with self._lock:
                if self._fill_ids is None:
                    self._flush_locked()
                    rows = list(self._db.execute("SELECT exec_id, order_id, cum_filled FROM fills"))
                    self._fill_ids = {row[0] for row in rows}
                    self._fill_cums = {(row[1], int(row[2])) for row in rows if row[2] is not None}
                if exec_id in self._fill_ids or (key is not None and key in self._fill_cums):
                    return False
                self._defer(sql, args)
                self._fill_ids.add(exec_id)
                if key is not None:
                    self._fill_cums.add(key)
                return True
        with self._tx() as db:
            new = db.execute(sql, args).rowcount == 1
            if new and self._fill_ids is not None:
                self._fill_ids.add(exec_id)
                if key is not None:
                    self._fill_cums.add(key)
            return new

    def fills(self, order_id: str | None = None) -> list[tuple[str, str, int, float, float, int]]:
        """Booked executions ``(exec_id, order_id, amount, price, commission, time_ns)`` in time order."""
        columns = "exec_id, order_id, amount, price, commission, time_ns"
        with self._lock:
            self._flush_locked()
            if order_id is None:
                return list(self._db.execute(f"SELECT {columns} FROM fills ORDER BY time_ns, rowid"))
            return list(self._db.execute(f"SELECT {columns} FROM fills WHERE order_id = ? ORDER BY time_ns",
                                         (order_id,)))

    # ------------------------------------------------------------------------------------------ records/context
    def add_records(self, time_ns: int, values: dict[str, Any]) -> None:
        skipped: list[str] = []
        rows = [(time_ns, k, json.dumps(_jsonable(v, k, skipped))) for k, v in values.items()]
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO records (time_ns, name, value) VALUES (?, ?, ?)", rows)

    def add_event(self, time_ns: int, run_id: str, kind: str, detail: dict[str, Any]) -> None:
        """Record something the runtime did to the run's state on its own (``kind``, e.g. ``broker_split``)."""
        skipped: list[str] = []
        with self._tx() as db:
            db.execute("INSERT INTO events (time_ns, run_id, kind, detail) VALUES (?, ?, ?, ?)",
                       (time_ns, run_id, kind, json.dumps(_jsonable(detail, kind, skipped))))

    def events(self, run_id: str | None = None) -> list[tuple[int, str, str, dict[str, Any]]]:
        """``(time_ns, run_id, kind, detail)`` of the recorded events (of one run, or all), oldest first."""
        with self._lock:
            self._flush_locked()
            query = "SELECT time_ns, run_id, kind, detail FROM events"
            rows = (self._db.execute(query + " WHERE run_id = ? ORDER BY time_ns, rowid", (run_id,)) if run_id
                    is not None else self._db.execute(query + " ORDER BY time_ns, rowid"))
            return [(t, r, k, json.loads(d)) for t, r, k, d in rows]

    def save_context(self, attributes: dict[str, Any], now_ns: int, run_id: str = "") -> list[str]:
        """Store the JSON-storable context attributes of run ``run_id``; returns the names that could not be
        stored."""
        state, skipped = snapshot_state(attributes)
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO run_context (run_id, saved_ns, state) VALUES (?, ?, ?)",
                       (run_id, now_ns, json.dumps(state)))
        return skipped

    def load_context(self, resolve_sid: Any, run_id: str = "") -> dict[str, Any] | None:
        """The saved context attributes of run ``run_id`` (assets resolved again through ``resolve_sid``), or None
        if that run saved none: another run's context is never restored."""
        with self._lock:
            self._flush_locked()
            row = self._db.execute("SELECT state FROM run_context WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return {k: _restore(v, resolve_sid) for k, v in json.loads(row[0]).items()}

    # --------------------------------------------------------------------------------------- session results
    def save_session_row(self, run_id: str, session: int, close_ns: int, row: dict[str, Any]) -> None:
        """Store one session's results row of run ``run_id`` (a later start's row for the same session replaces it)."""
        skipped: list[str] = []
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO session_results (run_id, session, close_ns, row) VALUES (?, ?, ?, ?)",
                       (run_id, session, close_ns, json.dumps(_jsonable(row, "row", skipped))))

    def session_rows(self, run_id: str) -> list[tuple[int, int, dict[str, Any]]]:
        """``(session, close_ns, row)`` of every stored session of run ``run_id``, in session order."""
        with self._lock:
            self._flush_locked()
            rows = list(self._db.execute("SELECT session, close_ns, row FROM session_results WHERE run_id = ?"
                                         " ORDER BY session", (run_id,)))
        return [(s, c, _restore(json.loads(r), lambda sid: {"__asset__": sid})) for s, c, r in rows]
