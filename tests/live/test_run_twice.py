"""A second run into the same output folder (the same journal) books its own fills: the embedded gateway's
execution ids never repeat those of an earlier gateway, as IB's never do."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support.algo import USER_ALGOS

from runtime.live.run import run_algorithm


@pytest.mark.slow
def test_a_second_run_into_the_same_folder_books_its_fills(tmp_path: Path) -> None:
    replay = (pd.Timestamp("2012-10-01"), pd.Timestamp("2012-10-05"))
    fills = []
    for _ in range(2):
        result = run_algorithm(str(USER_ALGOS / "dual_moving_average.py"), output=tmp_path / "out", replay=replay)
        fills.append(sum(len(t) for t in result.perf["transactions"]))
    assert fills[0] == fills[1] > 0
