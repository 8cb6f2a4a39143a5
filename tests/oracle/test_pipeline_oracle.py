"""Pipeline algorithm files give the same orders, fills and pipeline outputs in ibalgo as in zipline-reloaded.

The expected outputs in tests/data/pipeline_oracle/ were recorded by running the very same files in zipline-reloaded
3.2.1 on the very same data (tests/oracle/make_pipeline_expected.py says how to regenerate them); here each file runs
in ibalgo's backtest with the same recorder appended, over the oracle data written afresh from the seeded synthetic
universe (its fingerprint must match the one recorded). tests/oracle/test_oracle_control.py checks the same harness on a
file without Pipeline, so a difference here is the Pipeline's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("runtime.pipeline")

from oracle.compare import compare_pipeline, compare_trades, run_in_ibalgo
from oracle.make_pipeline_expected import ALGOS, load_expected
from oracle.oracle_data import data_fingerprint, write_oracle_data

FILES = sorted(ALGOS.glob("*.py"))


@pytest.fixture(scope="module")
def oracle_data(tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("oracle-data")
    write_oracle_data(folder)
    return folder, data_fingerprint(folder)


@pytest.mark.slow
@pytest.mark.parametrize("algo", FILES, ids=[p.stem for p in FILES])
def test_same_as_zipline(algo: Path, oracle_data, tmp_path) -> None:
    folder, fingerprint = oracle_data
    want = load_expected(algo.stem)
    assert want["data_sha256"] == fingerprint, (
        "the oracle data changed since the outputs were recorded: run tests/oracle/make_pipeline_expected.py")
    got = run_in_ibalgo(algo, folder, tmp_path)
    compare_pipeline(got["pipeline"], want["pipeline"])
    compare_trades(got, want)


def test_zipline_daily_skipped_sessions() -> None:
    """The early closes zipline's daily clock skips (checked against zipline-reloaded 3.2.1's OncePerDay rule)."""
    from oracle.compare import zipline_daily_skipped_sessions

    assert zipline_daily_skipped_sessions("2011-01-03", "2012-12-31") == ["2012-07-03"]
    # 2024-11-29 follows the Thanksgiving holiday and 2012-12-24 a weekend: more than 24 hours after the last close
    assert zipline_daily_skipped_sessions("2024-01-01", "2024-12-31") == ["2024-07-03", "2024-12-24"]
    assert zipline_daily_skipped_sessions("2012-12-20", "2012-12-31") == []
    # only the first session after a reset counts: a simulation starting on the early close runs it
    assert zipline_daily_skipped_sessions("2012-07-03", "2012-07-06") == []
