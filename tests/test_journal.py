"""The SQLite journal: orders written before they are sent, executions booked once, context restored."""

from __future__ import annotations

import math
import subprocess
import sys
import threading

from runtime.core.assets import Asset
from runtime.journal import SENDING, SENT, Journal, JournalOrder, snapshot_state

AAPL = Asset(24, "AAPL")


def _order(i: int, status: str = SENDING) -> JournalOrder:
    return JournalOrder(f"o{i}", "run1", f"ibalgo:run1:o{i}", None, "AAPL", 24, 10 * i, "LMT", 100.5, None, "GTC",
                        1_000 + i, status, 0, 0.0, None)


def test_orders_survive_a_reopen_and_are_found_by_order_ref(tmp_path) -> None:
    path = tmp_path / "journal.sqlite"
    j = Journal(path)
    j.start_run("run1", "algo.py", "DU123", "paper", now_ns=1)
    j.order_sending(_order(1))
    j.order_sending(_order(2))
    j.order_update("o1", 2_000, status=SENT, broker_id="17")
    j.order_update("o2", 2_001, status="filled", filled=20, commission=1.0)
    j.close()
    again = Journal(path)  # a restart
    open_orders = again.orders(open_only=True)
    assert [o.order_id for o in open_orders] == ["o1"]
    assert open_orders[0].broker_id == "17" and open_orders[0].status == SENT
    assert again.order_by_ref("ibalgo:run1:o2").is_final
    assert again.runs()[0][:4] == ("run1", "algo.py", "DU123", "paper")


def test_an_execution_is_booked_once(tmp_path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.order_sending(_order(1))
    assert j.add_fill("0001.01", "o1", 10, 100.0, 0.5, 5)
    assert not j.add_fill("0001.01", "o1", 10, 100.0, 0.5, 5)  # the same report again after a reconnect
    assert len(j.fills("o1")) == 1


def test_context_round_trip_keeps_assets_and_reports_what_it_cannot_store(tmp_path) -> None:
    j = Journal(tmp_path / "j.sqlite")

    class Custom:
        pass

    attrs = {"asset": AAPL, "weights": {"a": 0.5, "b": math.nan}, "days": [1, 2, 3], "flag": True,
             "model": Custom(), "_private": 1}
    skipped = j.save_context(attrs, now_ns=10, run_id="run1")
    assert skipped == ["model"]
    assert j.load_context(lambda sid: {24: AAPL}[sid], "another run") is None
    restored = j.load_context(lambda sid: {24: AAPL}[sid], "run1")
    assert restored["asset"] == AAPL
    assert restored["days"] == [1, 2, 3] and restored["flag"] is True
    assert restored["weights"]["a"] == 0.5 and math.isnan(restored["weights"]["b"])
    assert "model" not in restored and "_private" not in restored


def test_snapshot_of_numpy_scalars() -> None:
    import numpy as np

    state, skipped = snapshot_state({"n": np.int64(3), "x": np.float64(1.5), "arr": np.arange(3)})
    assert state["n"] == 3 and state["x"] == 1.5
    assert skipped == ["arr"]



def test_numpy_nan_and_inf_in_the_context_survive_a_restart(tmp_path) -> None:
    import numpy as np

    j = Journal(tmp_path / "j.sqlite")
    j.save_context({"last": np.float64("nan"), "peak": np.float64("-inf"), "prices": [np.float64(2.5)]}, 10, "r")
    j.close()
    restored = Journal(tmp_path / "j.sqlite").load_context(lambda sid: AAPL, "r")
    assert math.isnan(restored["last"]) and restored["peak"] == -math.inf and restored["prices"] == [2.5]
    assert type(restored["prices"][0]) is float
    j = Journal(tmp_path / "old.sqlite")  # a journal written by an earlier version (repr of the numpy scalar)
    j.save_context({"last": {"__float__": "placeholder"}}, 10, "r")
    j._db.execute("UPDATE run_context SET state = ?", ('{"last": {"__float__": "np.float64(nan)"}}',))
    assert math.isnan(j.load_context(lambda sid: AAPL, "r")["last"])

def test_concurrent_writers_do_not_lose_rows(tmp_path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    errors: list[BaseException] = []

    def write(base: int) -> None:
        try:
            for i in range(50):
                j.order_sending(_order(base + i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(j.orders()) == 200


def test_a_killed_writer_leaves_a_readable_journal(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    code = f"""
import os
from runtime.journal import Journal, JournalOrder
j = Journal({str(path)!r})
for i in range(100):
    j.order_sending(JournalOrder(f"o{{i}}", "r", f"ref{{i}}", None, "AAPL", 24, 1, "MKT", None, None, "GTC", i,
                                 "sending", 0, 0.0, None))
os._exit(9)  # die without closing anything
"""
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == 9
    assert len(Journal(path).orders()) == 100


def test_the_journal_is_private_and_account_codes_are_masked(tmp_path) -> None:
    import stat

    from runtime.core.ib.account import mask_account, mask_accounts

    path = tmp_path / "run" / "journal.sqlite"
    journal = Journal(path)
    journal.start_run("r", "algo.py", "DU1234567", "paper", 1)
    journal.order_sending(_order(1))
    for part in (path, path.with_name(path.name + "-wal")):
        if part.exists():
            assert stat.S_IMODE(part.stat().st_mode) == 0o600, part
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    journal.close()
    assert mask_account("DU1234567") == "DU***567"
    assert mask_accounts(["DU1234567", "U7654321"]) == "DU***567,U7***321"
