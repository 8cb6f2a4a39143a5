"""Risk metrics follow zipline's conventions (empyrical per session), and the benchmark is a total return."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from support.algo import USER_ALGOS, run_data

from runtime.assembly.backtest import run_backtest
from runtime.core import metrics
from runtime.data.benchmark import BenchmarkChoice, resolve_benchmark, returns_from_bars, returns_from_file
from runtime.data.errors import DataError, DataFileError


def test_alpha_is_compounded_to_a_year_not_multiplied() -> None:
    # zipline (empyrical.alpha_aligned): (1 + mean(r - beta * b)) ** 252 - 1; the old linear form was mean * 252
    bench = np.array([0.01, -0.02, 0.015, 0.003, -0.004, 0.02])
    returns = 0.5 * bench + 0.001
    alpha, beta = metrics.expanding_alpha_beta(returns, bench)
    assert beta[-1] == pytest.approx(0.5)
    assert alpha[-1] == pytest.approx(1.001**252 - 1)  # 28.7%, not 0.001 * 252 = 25.2%
    assert math.isnan(alpha[0]) and math.isnan(beta[0])


def test_sortino_of_one_return_is_missing_and_first_day_volatility_too() -> None:
    r = np.array([-0.01, 0.02, -0.005])
    sortino = metrics.expanding_sortino(r)
    assert math.isnan(sortino[0])  # one return: no downside deviation (empyrical and zipline give NaN)
    assert sortino[2] == pytest.approx(np.mean(r) / np.sqrt(np.mean(np.minimum(r, 0) ** 2)) * np.sqrt(252))
    vol = metrics.expanding_volatility(r)
    assert math.isnan(vol[0]) and vol[2] == pytest.approx(np.std(r, ddof=1) * np.sqrt(252))
    assert math.isnan(metrics.expanding_sortino(np.array([0.01, 0.02]))[1])  # no losing day: infinite -> missing


def test_max_drawdown_counts_from_the_starting_capital() -> None:
    mdd = metrics.expanding_max_drawdown(np.array([-0.1, 0.05, -0.2]))
    assert mdd[0] == pytest.approx(-0.1)
    assert mdd[2] == pytest.approx(0.9 * 1.05 * 0.8 / 1.0 - 1.0)


def test_summary_figures() -> None:
    values = np.array([101.0, 99.0, 99.0, 102.0])
    returns = np.array([0.01, 99 / 101 - 1, 0.0, 102 / 99 - 1])
    s = metrics.summarize("a", "b", 100.0, values, returns, 2, 2, bench=np.full(4, 0.01), benchmark="X",
                          traded_value=np.array([50.0, 0.0, 0.0, 0.0]), commissions=1.5)
    assert s.total_return == pytest.approx(0.02) and s.win_rate == pytest.approx(2 / 3)
    assert s.benchmark_return == pytest.approx(1.01**4 - 1) and s.turnover == pytest.approx(50 / 101 / 4)
    assert s.commissions == 1.5 and any("benchmark return" in line for line in s.lines())


@pytest.fixture(scope="module")
def daily():
    return run_data("daily", "2000-03-01", "2013-01-31")[0]


def test_benchmark_returns_are_total_returns_from_adjusted_prices(daily) -> None:
    cal = daily.calendar
    first, last = cal.session_index_on_or_after("2005-02-01"), cal.session_index_on_or_before("2012-12-31")
    bench = returns_from_bars(daily, "AAPL", first, last).returns
    col = daily.column(24)
    raw = pd.Series(daily.close[:, col], index=pd.DatetimeIndex(daily.sessions))
    assert raw.pct_change()["2005-02-28"] < -0.45  # the raw prices show AAPL's 2-for-1 split as a loss
    assert abs(bench["2005-02-28"]) < 0.05
    # the first session compares with the session before it (zipline), not 0
    assert bench.iloc[0] == pytest.approx(raw["2005-02-01"] / raw["2005-01-31"] - 1)
    # a dividend is part of the return: 2012-11-07 ex-date, 2.7549 a share; zipline's ratio adjustment makes the
    # previous close prev * (1 - d / prev) = prev - d
    prev, ex = raw["2012-11-06"], raw["2012-11-07"]
    assert bench["2012-11-07"] == pytest.approx(ex / (prev - 2.7549) - 1, rel=1e-9)
    assert bench["2012-11-07"] > ex / prev - 1
    assert len(bench) == last - first + 1


def test_benchmark_choices(tmp_path, daily) -> None:
    cal = daily.calendar
    first, last = cal.session_index_on_or_after("2012-01-03"), cal.session_index_on_or_before("2012-01-31")
    labels = pd.DatetimeIndex(cal.sessions[first:last + 1])
    csv = tmp_path / "bench.csv"
    pd.DataFrame({"date": labels[:3].strftime("%Y-%m-%d"), "return": [0.01, -0.02, 0.03]}).to_csv(csv, index=False)
    from_file = resolve_benchmark(BenchmarkChoice(file=str(csv)), None, daily, first, last)
    assert from_file.returns.iloc[:4].tolist() == [0.01, -0.02, 0.03, 0.0]
    assert resolve_benchmark(BenchmarkChoice(symbol="IBM", enabled=False), None, daily, first, last) is None
    # the algorithm's set_benchmark wins over the command line's symbol
    assert resolve_benchmark(BenchmarkChoice(symbol="IBM"), 24, daily, first, last).name == "AAPL"
    with pytest.raises(DataError, match=r"'SPY' is not in the data.*AAPL"):
        resolve_benchmark(BenchmarkChoice(symbol="SPY"), None, daily, first, last)
    (tmp_path / "bad.csv").write_text("day,ret\n2012-01-03,0.1\n")
    with pytest.raises(DataFileError, match="'date' and 'return' columns"):
        returns_from_file(tmp_path / "bad.csv", labels)


def test_backtest_perf_has_zipline_risk_columns_against_the_benchmark(tmp_path, daily) -> None:
    import empyrical as ep

    start, end = pd.Timestamp("2011-01-03"), pd.Timestamp("2011-12-30")
    result = run_backtest(USER_ALGOS / "buy_and_hold.py", daily=daily, minute=None, start=start, end=end,
                          capital=100_000.0, benchmark=BenchmarkChoice(symbol="MSFT"))
    perf = result.perf
    r, b = perf["returns"].to_numpy(), perf["benchmark_returns"].to_numpy()
    t = 100
    assert perf["sharpe"].iloc[t] == pytest.approx(ep.sharpe_ratio(r[: t + 1]))
    assert perf["alpha"].iloc[t] == pytest.approx(ep.alpha_aligned(r[: t + 1], b[: t + 1]))
    assert perf["beta"].iloc[-1] == pytest.approx(result.summary.beta)
    assert result.summary.benchmark == "MSFT"
    assert result.summary.benchmark_return == pytest.approx(np.prod(1 + b) - 1)
