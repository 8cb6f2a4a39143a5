"""Quantopian-era compatibility: positional integer keys on the frames algorithms get (pandas 2 and 3), the
asset-lookup cache, history rounding, and the ``ibalgo port`` converter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from runtime.algorithm.frames import AlgoFrame, AlgoSeries, for_algorithm
from runtime.errors import LegacyAttributeError
from runtime.port import port_source

INDEX = pd.date_range("2012-01-02", periods=6, freq="B")


def test_integer_keys_are_positions_on_a_datetime_index() -> None:
    s = AlgoSeries(np.arange(1.0, 7.0), index=INDEX)
    assert (s[-1], s[-2], s[0]) == (6.0, 5.0, 1.0)
    assert s[-3:].tolist() == [4.0, 5.0, 6.0] and s[1:3].tolist() == [2.0, 3.0]
    assert s[INDEX[2]] == 3.0 and s.loc[INDEX[-1]] == 6.0  # labels unchanged
    ratio = s / s[-2]
    assert type(ratio) is AlgoSeries and ratio[-2] == 1.0
    assert type(s.rolling(2).mean()) is AlgoSeries and s.pct_change()[-1] == pytest.approx(0.2)
    s[-1] = 9.0
    assert s.iloc[-1] == 9.0


def test_integer_labels_stay_labels() -> None:
    s = AlgoSeries([1.0, 2.0, 3.0], index=[10, 20, 30])
    assert s[20] == 2.0
    with pytest.raises(KeyError):
        s[-1]


def test_frames_columns_rows_and_results_keep_the_rule() -> None:
    df = AlgoFrame(np.arange(12.0).reshape(6, 2), index=INDEX, columns=["a", "b"])
    assert type(df["a"]) is AlgoSeries and df["a"][-1] == 10.0
    assert df[-2:].shape == (2, 2) and df.iloc[-1][0] == 10.0
    assert type(df / df.shift(1)) is AlgoFrame and type(df.mean()) is AlgoSeries and df.mean()[1] == 6.0
    with pytest.raises(KeyError):
        df[-1]  # df[...] is column access, as in every pandas
    with pytest.raises(LegacyAttributeError, match=r"\.loc"):
        df.ix  # noqa: B018
    assert not hasattr(df, "ix")
    plain = pd.DataFrame({"a": [1.0]}, index=INDEX[:1])
    assert type(for_algorithm(plain)) is AlgoFrame and type(for_algorithm(plain["a"])) is AlgoSeries
    assert pd.Series([1.0], index=INDEX[:1]).__class__ is pd.Series  # pandas itself is unchanged


HISTORY_ALGO = """
def initialize(context):
    context.ibm = symbol('IBM')
    context.seen = []

def handle_data(context, data):
    ok = data.can_trade(context.ibm)
    one = data.history([context.ibm], 'price', 3, '1d')
    single = data.history(context.ibm, 'price', 3, '1d')
    many = data.can_trade([context.ibm])
    context.seen.append((ok, type(one).__name__, type(single).__name__, type(many).__name__, one, single,
                         data.current(context.ibm, 'price'), data.history(context.ibm, 'close', 3, '1d')[-1]))
"""


def test_single_asset_and_one_element_list_do_not_share_a_lookup(algo_runner) -> None:
    result = algo_runner(HISTORY_ALGO, start="2012-01-03", end="2012-01-06")
    for ok, one, single, many, frame, series, _, _ in result.engine.context.seen:
        assert (ok, one, single, many) == (True, "AlgoFrame", "AlgoSeries", "AlgoSeries")
        assert frame.shape == (3, 1) and series[-1] == frame.iloc[-1, 0]


def test_history_of_equities_is_rounded_to_three_decimals(algo_runner) -> None:
    # the bundled IBM prices are dividend-adjusted, so unrounded windows have many decimals
    result = algo_runner(HISTORY_ALGO, start="2012-01-03", end="2012-01-06")
    for *_, frame, series, current, close in result.engine.context.seen:
        values = frame.to_numpy()
        assert np.array_equal(values, values.round(3)) and np.array_equal(series.to_numpy(), values[:, 0])
        assert abs(close - current) < 1e-3


PY2 = '''def initialize(context):
    context.s = sid(24)

def handle_data(context, data):
    for i in xrange(3):
        print "x", i,
    print >>f, "y"
    for k, v in context.portfolio.positions.iteritems():
        pass
    try:
        pass
    except ValueError, e:
        raise RuntimeError, "bad"
    if data[context.s].price <> data[context.s].mavg(5):
        print
'''


def test_port_converts_python2_and_the_old_api() -> None:
    result = port_source(PY2)
    assert result.compiles, result.error
    out = result.source
    for text in ('for i in range(3):', 'print("x", i, end=" ")', 'print("y", file=f)', '.positions.items()',
                 "except ValueError as e:", 'raise RuntimeError("bad")', "print()",
                 "if data.current(context.s, 'price') != data.history(context.s, 'price', 5, '1d').mean():"):
        assert text in out, (text, out)
    assert port_source(out).source == out  # already converted: nothing changes
    assert port_source("s = 'print x, xrange'  # print y\n").source == "s = 'print x, xrange'  # print y\n"


def test_port_command_writes_the_file_and_shows_the_diff(tmp_path, capsys) -> None:
    from runtime.cli import main

    old, new = tmp_path / "old.py", tmp_path / "new.py"
    old.write_text(PY2, encoding="utf-8")
    assert main(["port", str(old), "-o", str(new)]) == 0
    shown = capsys.readouterr().out
    assert "-    for i in xrange(3):" in shown and "+    for i in range(3):" in shown
    compile(new.read_text(encoding="utf-8"), str(new), "exec")


def test_unknown_quantopian_name_in_a_running_algorithm(algo_runner) -> None:
    from runtime.errors import AlgorithmLoadError

    source = "def initialize(context):\n    pass\n\ndef handle_data(context, data):\n    set_universe([])\n"
    with pytest.raises(AlgorithmLoadError, match="set_universe is not supported"):
        algo_runner(source, start="2012-01-03", end="2012-01-04")
