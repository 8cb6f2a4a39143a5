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


def _series() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Returns and benchmark returns covering the edge cases of empyrical's rules."""
    rng = np.random.default_rng(7)
    b = rng.normal(0.0004, 0.011, 300)
    r = 0.8 * b + rng.normal(0.0002, 0.006, 300)
    with_nan, bench_nan = r.copy(), b.copy()
    with_nan[[0, 5, 6, 100]] = np.nan
    bench_nan[[3, 6, 200]] = np.nan
    idle = np.concatenate([np.zeros(40), r[:60]])  # no position for 40 sessions, then trading
    return {
        "random": (r, b),
        "nan returns and benchmark": (with_nan, bench_nan),
        "nan first": (np.array([np.nan, 0.01, -0.02, 0.005]), np.array([0.01, np.nan, 0.002, -0.01])),
        "one return": (np.array([0.013]), np.array([0.004])),
        "one loss": (np.array([-0.02]), np.array([-0.01])),
        "two returns": (np.array([0.01, -0.004]), np.array([0.002, 0.001])),
        "no losing session": (np.abs(r[:30]) + 1e-4, b[:30]),
        "constant": (np.full(25, 0.001), np.full(25, 0.0005)),
        "zeros": (np.zeros(20), np.zeros(20)),
        "idle then trading": (idle, np.concatenate([np.zeros(40), b[:60]])),
        "all nan": (np.full(5, np.nan), np.full(5, np.nan)),
        "large moves": (np.array([0.5, -0.6, 1.2, -0.3, 0.0, 0.25]), np.array([0.1, -0.2, 0.3, 0.0, 0.1, -0.1])),
    }


def _per_prefix(fn, *series: np.ndarray) -> np.ndarray:
    """What zipline does each session: ``fn`` on sessions 0..t (non-finite reported as missing)."""
    import warnings

    out = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for t in range(len(series[0])):
            value = np.asarray(fn(*(s[: t + 1] for s in series)), dtype=float)
            out.append(np.where(np.isfinite(value), value, np.nan))
    return np.array(out)


@pytest.mark.parametrize("name", list(_series()))
def test_expanding_metrics_equal_empyrical_on_every_prefix(name: str) -> None:
    import empyrical as ep

    r, b = _series()[name]

    def same(ours: np.ndarray, theirs: np.ndarray) -> None:
        assert ours.shape == theirs.shape
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), (ours, theirs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, equal_nan=True)

    same(metrics.expanding_volatility(r), _per_prefix(ep.annual_volatility, r))
    same(metrics.expanding_sharpe(r), _per_prefix(ep.sharpe_ratio, r))
    same(metrics.expanding_sortino(r), _per_prefix(ep.sortino_ratio, r))
    same(metrics.expanding_max_drawdown(r), _per_prefix(ep.max_drawdown, r))
    np.testing.assert_array_equal(metrics.drawdown_series(r), ep.stats.drawdown_series(r))
    both = _per_prefix(lambda x, y: ep.alpha_beta_aligned(x, y), r, b)
    alpha, beta = metrics.expanding_alpha_beta(r, b)
    same(alpha, both[:, 0])
    same(beta, both[:, 1])
    assert metrics.cum_returns_final(b) == pytest.approx(ep.cum_returns_final(b), nan_ok=True)
    assert metrics.sharpe_ratio(r) == pytest.approx(_per_prefix(ep.sharpe_ratio, r)[-1], nan_ok=True)


def test_expanding_metrics_of_no_session_are_empty() -> None:
    empty = np.empty(0)
    for fn in (metrics.expanding_volatility, metrics.expanding_sharpe, metrics.expanding_sortino,
               metrics.expanding_max_drawdown):
        assert fn(empty).shape == (0,)
    assert all(x.shape == (0,) for x in metrics.expanding_alpha_beta(empty, empty))
    assert math.isnan(metrics.max_drawdown(empty)) and math.isnan(metrics.cum_returns_final(empty))


def test_expanding_metrics_are_linear_in_the_sessions() -> None:
    import time

    r = np.random.default_rng(1).normal(0.0005, 0.01, 100_000)
    started = time.perf_counter()
    metrics.expanding_sharpe(r), metrics.expanding_sortino(r), metrics.expanding_alpha_beta(r, r * 0.5 + 0.001)
    assert time.perf_counter() - started < 2.0  # the per-prefix loop would take hours on 100,000 sessions


@pytest.mark.parametrize("name", ["random", "nan returns and benchmark", "idle then trading", "constant",
                                  "two returns"])
@pytest.mark.parametrize("window", [1, 2, 20, 126])
def test_rolling_metrics_equal_empyrical(name: str, window: int) -> None:
    import warnings

    import empyrical as ep

    r, b = _series()[name]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = {
            "vol": ep.roll_annual_volatility(r, window=window),
            "sharpe": ep.roll_sharpe_ratio(r, window=window),
            "beta": ep.roll_beta(r, b, window=window),
        }
    ours = {"vol": metrics.rolling_volatility(r, window), "sharpe": metrics.rolling_sharpe(r, window),
            "beta": metrics.rolling_beta(r, b, window)}
    for key, theirs in expected.items():
        theirs = np.where(np.isfinite(theirs), theirs, np.nan)
        np.testing.assert_allclose(ours[key], theirs, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=key)
