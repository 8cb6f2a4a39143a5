"""The zipline oracle's harness on a file without Pipeline: ibalgo and zipline-reloaded agree on the oracle data.

The control file (tests/algos/oracle_control.py) trades synthetic tickers across their splits and dividends and
AAPL/IBM/MSFT with the default cost models, choosing from adjusted ``data.history``; its orders, fills and final
portfolio value were recorded in zipline-reloaded by tests/oracle/make_pipeline_expected.py. Agreement here means
the oracle data, the bundle's adjustments, the costs and the calendar line up, so the Pipeline comparisons in
tests/oracle/test_pipeline_oracle.py compare only the Pipeline.
"""

from __future__ import annotations

from oracle.compare import compare_trades, run_in_ibalgo
from oracle.make_pipeline_expected import CONTROL, load_expected
from oracle.oracle_data import data_fingerprint, oracle_symbols, write_oracle_data


def test_oracle_data_is_deterministic_and_has_the_cases(tmp_path):
    meta = write_oracle_data(tmp_path / "a")
    again = write_oracle_data(tmp_path / "b")
    assert meta == again and data_fingerprint(tmp_path / "a") == data_fingerprint(tmp_path / "b")
    assert len(meta["splits"]) >= 3 and len(meta["dividends"]) >= 20
    assert any(start > meta["start"] for start, _ in meta["listings"].values())  # a late listing
    assert {"AAPL", "IBM", "MSFT"} <= set(meta["symbols"]) and len(oracle_symbols()) >= 40


def test_control_file_matches_zipline(tmp_path):
    data = tmp_path / "data"
    write_oracle_data(data)
    want = load_expected(CONTROL.stem)
    assert want["data_sha256"] == data_fingerprint(data), "regenerate with tests/oracle/make_pipeline_expected.py"
    got = run_in_ibalgo(CONTROL, data, tmp_path)
    assert len(want["orders"]) > 50 and not any(want["pipeline"].values()) and not any(got["pipeline"].values())
    compare_trades(got, want)
