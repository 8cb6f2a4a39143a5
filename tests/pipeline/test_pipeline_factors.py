# ruff: noqa: RUF012  (pipeline terms are declared with lists, as Quantopian files do)
"""Each built-in factor against a straightforward numpy/scipy computation over the same windows.

The windows come from real files (support/pipeline_data.py): a split inside windows (adjusted as of the computed day),
an asset not listed yet, sessions without trades (NaN).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from support.pipeline_data import SYMBOLS, exists, load, raw_frames, ref_window, sessions, write_folder

from runtime.pipeline import (
    EWMA,
    EWMSTD,
    RSI,
    VWAP,
    AnnualizedVolatility,
    AverageDollarVolume,
    BollingerBands,
    CustomFactor,
    DailyReturns,
    FastStochasticOscillator,
    MACDSignal,
    MaxDrawdown,
    PercentChange,
    Pipeline,
    Returns,
    RollingLinearRegressionOfReturns,
    RollingPearsonOfReturns,
    RollingSpearmanOfReturns,
    SimpleBeta,
    SimpleMovingAverage,
    TrueRange,
    run_pipeline,
)
from runtime.pipeline.data import USEquityPricing as P
from runtime.pipeline.errors import NonWindowSafeInput, PipelineError


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    return load(write_folder(tmp_path_factory.mktemp("pipe") / "bars"))


@pytest.fixture(scope="module")
def frames():
    return raw_frames()


FIRST, LAST = 40, 119  # rows computed (includes the split at 60 and CCC's first sessions after 30... and 75)


def _run(bars, columns, screen=None, first=FIRST, last=LAST):
    days = sessions()
    return run_pipeline(Pipeline(columns=columns, screen=screen), days[first], days[last], bars=bars)


def _check(out, frames, name, ref, *, rtol=1e-9, first=FIRST, last=LAST):
    """``out[name]`` equals ``ref(sym, row)`` for every existing asset and row (NaN where the reference is)."""
    days = sessions()
    checked = 0
    for row in range(first, last + 1):
        day = out.loc[days[row]]
        by_symbol = {a.symbol: v for a, v in day[name].items()}
        for sym in SYMBOLS:
            if not exists(frames, sym, row):
                assert sym not in by_symbol, (sym, row)
                continue
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                expected = ref(sym, row)
            got = by_symbol[sym]
            if np.isnan(expected):
                assert np.isnan(got), (name, sym, row, got)
            else:
                assert got == pytest.approx(expected, rel=rtol, abs=1e-12), (name, sym, row)
                checked += 1
    assert checked > 2 * (last - first)


def test_latest_sma_vwap_adv_returns(bars, frames) -> None:
    w = lambda f, L: (lambda s, r: ref_window(frames, s, f, r, L))  # noqa: E731
    out = _run(bars, {
        "close": P.close.latest, "volume": P.volume.latest, "open": P.open.latest,
        "sma": SimpleMovingAverage(inputs=[P.close], window_length=15),
        "vwap": VWAP(window_length=10), "adv": AverageDollarVolume(window_length=10),
        "ret": Returns(window_length=10), "daily": DailyReturns(),
        "pct": PercentChange(inputs=[P.volume], window_length=4),
    })
    _check(out, frames, "close", lambda s, r: w("close", 1)(s, r)[-1])
    _check(out, frames, "volume", lambda s, r: w("volume", 1)(s, r)[-1])
    _check(out, frames, "open", lambda s, r: w("open", 1)(s, r)[-1])
    _check(out, frames, "sma", lambda s, r: np.nanmean(w("close", 15)(s, r)))
    _check(out, frames, "vwap", lambda s, r: np.nansum(w("close", 10)(s, r) * w("volume", 10)(s, r))
           / np.nansum(w("volume", 10)(s, r)))
    _check(out, frames, "adv", lambda s, r: np.nansum(w("close", 10)(s, r) * w("volume", 10)(s, r)) / 10)
    _check(out, frames, "ret", lambda s, r: w("close", 10)(s, r)[-1] / w("close", 10)(s, r)[0] - 1, rtol=1e-9)
    _check(out, frames, "daily", lambda s, r: w("close", 2)(s, r)[-1] / w("close", 2)(s, r)[0] - 1)
    _check(out, frames, "pct", lambda s, r: (w("volume", 4)(s, r)[-1] - w("volume", 4)(s, r)[0])
           / abs(w("volume", 4)(s, r)[0]))


def test_the_split_is_applied_as_of_each_day(bars, frames) -> None:
    """BBB's 2:1 split on row 60: a window seen from row 59 is raw, from row 60 on it is halved before the split."""
    out = _run(bars, {"sma": SimpleMovingAverage(inputs=[P.close], window_length=5)}, first=55, last=65)
    days = sessions()
    raw = frames["BBB"]["close"].to_numpy()
    got = {d: v for (d, a), v in out["sma"].items() if a.symbol == "BBB"}
    assert got[days[59]] == pytest.approx(raw[54:59].mean())
    assert got[days[60]] == pytest.approx((raw[55:60] / 2).mean())
    assert got[days[62]] == pytest.approx(np.r_[raw[57:60] / 2, raw[60:62]].mean())


@pytest.mark.slow
def test_technical_factors(bars, frames) -> None:
    w = lambda f, L: (lambda s, r: ref_window(frames, s, f, r, L))  # noqa: E731

    def rsi(s, r):
        d = np.diff(w("close", 15)(s, r))
        ups, downs = np.nanmean(np.clip(d, 0, None)), abs(np.nanmean(np.clip(d, None, 0)))
        return 100 - 100 / (1 + ups / downs)

    def weights(n, rate):
        return np.array([rate ** k for k in range(n, 0, -1)])

    def ewma(s, r):
        x = w("close", 20)(s, r)
        return (x * weights(20, 0.9)).sum() / weights(20, 0.9).sum()

    def ewmstd(s, r):
        x, wt = w("close", 20)(s, r), weights(20, 0.9)
        mean = (x * wt).sum() / wt.sum()
        var = ((x - mean) ** 2 * wt).sum() / wt.sum()
        return np.sqrt(var * wt.sum() ** 2 / (wt.sum() ** 2 - (wt ** 2).sum()))

    def mdd(s, r):
        x = w("close", 25)(s, r)
        best = 0.0 if not np.isnan(x).all() else np.nan
        worst = None
        for i in range(len(x)):
            for j in range(i, len(x)):
                if not np.isnan(x[i]) and not np.isnan(x[j]) and (worst is None or x[i] - x[j] > worst[0]):
                    worst = (x[i] - x[j], j)
        if worst is None:
            return best
        end = worst[1]
        return (np.nanmax(x[:end + 1]) - x[end]) / x[end]

    def fso(s, r):
        c, lo, hi = w("close", 14)(s, r), w("low", 14)(s, r), w("high", 14)(s, r)
        return (c[-1] - np.nanmin(lo)) / (np.nanmax(hi) - np.nanmin(lo)) * 100

    def tr(s, r):
        h, lo, c = w("high", 2)(s, r), w("low", 2)(s, r), w("close", 2)(s, r)
        return np.nanmax([h[1] - lo[1], abs(h[1] - c[0]), abs(lo[1] - c[0])])

    def macd(s, r):
        x = w("close", 26 + 9 - 1)(s, r)

        def e(v, n):
            wt = weights(n, 1 - 2 / (1 + n))
            return (v * wt).sum() / wt.sum()

        line = [e(x[i + 26 - 12:i + 26], 12) - e(x[i:i + 26], 26) for i in range(9)]
        return e(np.array(line), 9)

    bb = BollingerBands(window_length=20, k=2.0)
    out = _run(bars, {
        "rsi": RSI(), "ewma": EWMA(inputs=[P.close], window_length=20, decay_rate=0.9),
        "ewmstd": EWMSTD(inputs=[P.close], window_length=20, decay_rate=0.9),
        "mdd": MaxDrawdown(inputs=[P.close], window_length=25), "fso": FastStochasticOscillator(),
        "tr": TrueRange(), "macd": MACDSignal(), "lower": bb.lower, "middle": bb.middle, "upper": bb.upper,
    })
    _check(out, frames, "rsi", rsi)
    _check(out, frames, "ewma", ewma)
    _check(out, frames, "ewmstd", ewmstd)
    _check(out, frames, "mdd", mdd)
    _check(out, frames, "fso", fso)
    _check(out, frames, "tr", tr)
    _check(out, frames, "macd", macd, rtol=1e-8)
    _check(out, frames, "middle", lambda s, r: np.nanmean(w("close", 20)(s, r)))
    _check(out, frames, "upper", lambda s, r: np.nanmean(w("close", 20)(s, r)) + 2 * np.nanstd(w("close", 20)(s, r)))
    _check(out, frames, "lower", lambda s, r: np.nanmean(w("close", 20)(s, r)) - 2 * np.nanstd(w("close", 20)(s, r)))


def _daily_returns(frames, sym, row):
    """Returns(window_length=2) as seen on ``row`` (from the two closes before it, adjusted as of ``row``)."""
    c = ref_window(frames, sym, "close", row, 2)
    return c[1] / c[0] - 1


def test_statistical_factors(bars, frames) -> None:
    target = next(a for a in bars.assets if a.symbol == "AAA")
    out = _run(bars, {
        "vol": AnnualizedVolatility(window_length=20),
        "beta": SimpleBeta(target, 20),
        "pearson": RollingPearsonOfReturns(target, 2, 15),
        "spearman": RollingSpearmanOfReturns(target, 2, 15),
        "slope": RollingLinearRegressionOfReturns(target, 2, 15).beta,
        "alpha": RollingLinearRegressionOfReturns(target, 2, 15).alpha,
        "pvalue": RollingLinearRegressionOfReturns(target, 2, 15).p_value,
    }, first=55, last=80)

    def chk(*args, **kw):
        _check(*args, first=55, last=80, **kw)

    def rets(sym, row, n):
        return np.array([_daily_returns(frames, sym, r) for r in range(row - n + 1, row + 1)])

    chk(out, frames, "vol", lambda s, r: np.nanstd(rets(s, r, 20)) * np.sqrt(252))

    def beta(s, r):
        y, x = rets(s, r, 20), rets("AAA", r, 20)
        x = np.where(np.isnan(y), np.nan, x)
        if np.isnan(x).sum() > 5:
            return np.nan
        xr = x - np.nanmean(x)
        return np.nanmean(xr * y) / np.nanmean(xr ** 2)

    def pair(s, r):
        return rets(s, r, 15), rets("AAA", r, 15)

    def nan_or(f):
        def g(s, r):
            y, x = pair(s, r)
            return np.nan if np.isnan(y).any() or np.isnan(x).any() else f(y, x)
        return g

    chk(out, frames, "beta", beta)
    chk(out, frames, "pearson", nan_or(lambda y, x: scipy.stats.pearsonr(y, x)[0]), rtol=1e-7)
    chk(out, frames, "spearman", nan_or(lambda y, x: scipy.stats.spearmanr(y, x)[0]), rtol=1e-7)
    chk(out, frames, "slope", nan_or(lambda y, x: scipy.stats.linregress(x, y).slope), rtol=1e-7)
    chk(out, frames, "alpha", nan_or(lambda y, x: scipy.stats.linregress(x, y).intercept), rtol=1e-6)
    chk(out, frames, "pvalue", nan_or(lambda y, x: scipy.stats.linregress(x, y).pvalue), rtol=1e-6)


def test_custom_factor_sees_masked_assets_params_and_outputs(bars, frames) -> None:
    seen: list[int] = []

    class Spread(CustomFactor):
        inputs = [P.high, P.low]
        window_length = 5
        params = {"scale": 1.0}
        outputs = ["wide", "mid"]

        def compute(self, today, assets, out, highs, lows, scale):
            assert highs.shape == (5, len(assets)) and isinstance(today, pd.Timestamp)
            seen.append(len(assets))
            out.wide[:] = scale * (np.nanmax(highs, axis=0) - np.nanmin(lows, axis=0))
            out.mid[:] = np.nanmean((highs + lows) / 2, axis=0)

    not_ccc = P.close.latest < 10_000  # CCC does not exist before row 31: the mask leaves it out
    wide, mid = Spread(scale=2.0, mask=not_ccc)
    out = _run(bars, {"wide": wide, "mid": mid}, first=25, last=45)
    w = lambda f, L: (lambda s, r: ref_window(frames, s, f, r, L))  # noqa: E731
    _check(out, frames, "wide", lambda s, r: 2 * (np.nanmax(w("high", 5)(s, r)) - np.nanmin(w("low", 5)(s, r))),
           first=25, last=45)
    _check(out, frames, "mid", lambda s, r: np.nanmean((w("high", 5)(s, r) + w("low", 5)(s, r)) / 2),
           first=25, last=45)
    assert min(seen) == 3 and max(seen) == 4  # CCC joins after its listing


def test_window_safety_and_bad_arguments() -> None:
    class Sum(CustomFactor):
        window_length = 3

        def compute(self, today, assets, out, x):
            out[:] = x.sum(axis=0)

    with pytest.raises(NonWindowSafeInput, match="not window-safe"):
        Sum(inputs=[P.close.latest])
    Sum(inputs=[Returns(window_length=2)])  # window-safe
    Sum(inputs=[P.close.latest.rank()])
    with pytest.raises(PipelineError, match="window_length"):
        SimpleMovingAverage(inputs=[P.close])
    with pytest.raises(PipelineError, match="unexpected argument"):
        SimpleMovingAverage(inputs=[P.close], window_length=3, bogus=1)
    with pytest.raises(PipelineError, match="window_length >= 2"):
        Returns(window_length=1)
