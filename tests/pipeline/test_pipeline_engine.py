# ruff: noqa: RUF012  (pipeline terms are declared with lists, as Quantopian files do)
"""The pipeline engine: no look-ahead, chunk-independent results, masks before ranking, ties, normalisations,
filters, classifiers, downsampling and the point-in-time table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from support.pipeline_data import SYMBOLS, load, raw_frames, sessions, write_folder

from runtime.pipeline import (
    Q500US,
    All,
    AtLeastN,
    AverageDollarVolume,
    CustomFactor,
    DataSet,
    Pipeline,
    QTradableStocksUS,
    Returns,
    SimpleMovingAverage,
    StaticAssets,
    StaticSids,
    run_pipeline,
)
from runtime.pipeline import Any as AnyFilter
from runtime.pipeline.data import Column
from runtime.pipeline.data import USEquityPricing as P
from runtime.pipeline.errors import FundamentalsNotConfigured, PipelineError, UnsupportedPipelineOutput
from runtime.pipeline.fundamentals import FundamentalsNamespace, make_sector
from runtime.pipeline.loaders import TableLoader


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("pipe") / "bars")


@pytest.fixture(scope="module")
def bars(folder):
    return load(folder)


def _run(bars, columns, screen=None, first=40, last=119, **kw):
    days = sessions()
    return run_pipeline(Pipeline(columns=columns, screen=screen), days[first], days[last], bars=bars, **kw)


def _wide(out, name):
    return out[name].unstack().rename(columns=lambda a: a.symbol)


def test_no_look_ahead_a_session_sees_only_earlier_bars(tmp_path, folder) -> None:
    """Changing the bars of session D changes the pipeline of D+1 on, never of D or earlier."""
    changed = tmp_path / "changed"
    changed.mkdir()
    days = sessions()
    for sym in SYMBOLS:
        frame = pd.read_csv(folder / f"{sym}.csv", index_col="date", parse_dates=True)
        if sym == "AAA":
            frame.loc[days[80], ["open", "high", "low", "close"]] *= 1.5
            frame.loc[days[80], "high"] *= 1.01
        frame.to_csv(changed / f"{sym}.csv")
    cols = {"sma": SimpleMovingAverage(inputs=[P.close], window_length=10), "ret": Returns(window_length=3),
            "rank": P.close.latest.rank()}
    a = _wide(_run(load(folder), cols), "sma")
    b = _wide(_run(load(changed), cols), "sma")
    pd.testing.assert_frame_equal(a.loc[:days[80]], b.loc[:days[80]])
    assert (a.loc[days[81]:days[90], "AAA"] != b.loc[days[81]:days[90], "AAA"]).all()


def test_results_do_not_depend_on_chunks(bars) -> None:
    cols = {"sma": SimpleMovingAverage(inputs=[P.close], window_length=10),
            "z": Returns(window_length=5).zscore(), "top": AverageDollarVolume(window_length=5).top(2),
            "ds": Returns(window_length=5).downsample("week_start")}
    one = _run(bars, cols, chunksize=1)
    big = _run(bars, cols, chunksize=126)
    odd = _run(bars, cols, chunksize=7)
    pd.testing.assert_frame_equal(one, big)
    pd.testing.assert_frame_equal(odd, big)


def test_not_listed_assets_are_absent_and_their_windows_nan(bars) -> None:
    out = _run(bars, {"c": P.close.latest, "sma": SimpleMovingAverage(inputs=[P.close], window_length=5)},
               first=28, last=36)
    days = sessions()
    present = out["c"].unstack().rename(columns=lambda a: a.symbol)
    assert present.loc[:days[30], "CCC"].isna().all()  # not in the output at all up to its listing day
    assert present.loc[days[31]:, "CCC"].notna().all()
    sma = _wide(out, "sma")
    ccc = raw_frames()["CCC"]["close"].to_numpy()
    assert sma.loc[days[31], "CCC"] == pytest.approx(ccc[30])  # one bar in the window: the others are NaN


def test_rank_masks_before_ranking_and_breaks_ties_by_sid(bars) -> None:
    class Const(CustomFactor):
        inputs = [P.close]
        window_length = 1

        def compute(self, today, assets, out, close):
            out[:] = 1.0

    price = P.close.latest
    cheap = price < price.percentile_between(0, 100).if_else(price, price) * 0 + 1e9  # all True, a filter
    not_aaa = ~StaticAssets([a for a in bars.assets if a.symbol == "AAA"])
    out = _run(bars, {"tie": Const().rank(), "tie_desc": Const().rank(ascending=False), "masked": price.rank(
        mask=not_aaa), "avg": price.rank(method="average", mask=cheap), "price": price}, first=50, last=60)
    sids = sorted(a.sid for a in bars.assets)
    for _, day in out.groupby(level=0):
        day = day.droplevel(0)
        by_sid = sorted(day.index, key=lambda a: a.sid)
        assert [day.loc[a, "tie"] for a in by_sid] == list(range(1, len(by_sid) + 1))
        assert [day.loc[a, "tie_desc"] for a in by_sid] == list(range(1, len(by_sid) + 1))
        aaa = next(a for a in day.index if a.symbol == "AAA")
        assert np.isnan(day.loc[aaa, "masked"])
        others = day.drop(aaa)
        assert list(others["masked"]) == list(scipy.stats.rankdata(others["price"], method="ordinal"))
        assert list(day["avg"]) == list(scipy.stats.rankdata(day["price"], method="average"))
    assert len(sids) == 4


def test_normalisations_and_selections(bars) -> None:
    r = Returns(window_length=5)
    big = P.close.latest > 60
    out = _run(bars, {"r": r, "z": r.zscore(), "dm": r.demean(mask=big), "w": r.winsorize(0.25, 0.75),
                      "top": r.top(2), "bottom": r.bottom(1), "top1": r.top(1), "pb": r.percentile_between(25, 75),
                      "q": r.quartiles(), "big": big, "nan": r.isnan(), "fin": r.isfinite()})
    for _, day in out.groupby(level=0):
        x = day["r"].to_numpy()
        assert np.allclose(day["z"], (x - np.nanmean(x)) / np.nanstd(x), equal_nan=True)
        if np.isnan(x).any():  # a session after DDD's day without trades: NaN is neither ranked nor counted
            assert day["top"][np.isnan(x)].sum() == 0 and day["q"][np.isnan(x)].eq(-1).all()
            continue
        m = day["big"].to_numpy()
        if m.any():
            assert np.allclose(day["dm"][m], x[m] - x[m].mean())
        assert day["dm"][~m].isna().all()
        order = np.argsort(-x, kind="stable")
        assert set(np.flatnonzero(day["top"])) == set(order[:2])
        assert np.flatnonzero(day["top1"]).tolist() == [order[0]]
        assert np.flatnonzero(day["bottom"]).tolist() == [np.argsort(x, kind="stable")[0]]
        lo, hi = np.percentile(x, 25), np.percentile(x, 75)
        assert (day["pb"] == ((x >= lo) & (x <= hi))).all()
        assert (day["q"] == pd.qcut(x, 4, labels=False)).all()
        s = np.sort(x)
        n = len(x)
        assert np.allclose(day["w"], np.clip(x, s[int(0.25 * n)], s[int(np.ceil(0.75 * n)) - 1]))
        assert not day["nan"].any() and day["fin"].all()


def test_filters_combinations_and_windows(bars) -> None:
    up = Returns(window_length=2) > 0
    aaa_bbb = StaticAssets([a for a in bars.assets if a.symbol in ("AAA", "BBB")])
    ddd = StaticSids([a.sid for a in bars.assets if a.symbol == "DDD"])
    out = _run(bars, {"up": up, "all3": All(inputs=[up], window_length=3), "any3": AnyFilter(inputs=[up],
               window_length=3), "two": AtLeastN(inputs=[up], window_length=3, N=2), "ab": aaa_bbb,
               "or": aaa_bbb | ddd, "and": aaa_bbb & up, "not": ~aaa_bbb,
               "ifelse": aaa_bbb.if_else(P.close.latest, -P.close.latest), "c": P.close.latest})
    up_w = _wide(out, "up").astype(float)
    three = up_w.rolling(3).sum()
    assert (_wide(out, "all3").iloc[3:] == (three == 3).iloc[3:]).all().all()
    assert (_wide(out, "any3").iloc[3:] == (three > 0).iloc[3:]).all().all()
    assert (_wide(out, "two").iloc[3:] == (three >= 2).iloc[3:]).all().all()
    ab = _wide(out, "ab")
    assert ab["AAA"].all() and ab["BBB"].all() and not ab["CCC"].any()
    assert (_wide(out, "or")["DDD"]).all() and not _wide(out, "not")["AAA"].any()
    assert (_wide(out, "and") == (ab & _wide(out, "up"))).all().all()
    ie = _wide(out, "ifelse")
    c = _wide(out, "c")
    assert (ie["AAA"] == c["AAA"]).all() and (ie["CCC"] == -c["CCC"]).all()


def test_screen_and_downsample_hold_the_month_start_value(bars) -> None:
    r = Returns(window_length=5)
    out = _run(bars, {"r": r, "m": r.downsample("month_start")}, screen=P.close.latest > 0)
    wide_r, wide_m = _wide(out, "r"), _wide(out, "m")
    checked = False
    for month, rows in wide_m.groupby(wide_m.index.to_period("M")):
        first_day = rows.index[0]
        full_month = sessions()[(sessions().to_period("M") == month)]
        if first_day == full_month[0]:
            expected = np.broadcast_to(wide_r.loc[first_day].to_numpy(), rows.shape)
            shown = ~np.isnan(rows.to_numpy())  # the screen drops DDD the session after its day without trades
            assert shown.sum() > rows.shape[0] * 3
            assert np.array_equal(rows.to_numpy()[shown], expected[shown])
            checked = True
    assert checked


def test_pipeline_rules() -> None:
    with pytest.raises(UnsupportedPipelineOutput, match=r"\.latest"):
        Pipeline(columns={"c": P.close})
    p = Pipeline()
    p.add(P.close.latest, "c")
    with pytest.raises(KeyError):
        p.add(P.open.latest, "c")
    p.add(P.open.latest, "c", overwrite=True)
    assert p.remove("c") is not None and p.columns == {}
    p.set_screen(P.close.latest > 1)
    with pytest.raises(ValueError, match="already has a screen"):
        p.set_screen(P.close.latest > 2)
    with pytest.raises(PipelineError, match="Filter"):
        p.set_screen(P.close.latest, overwrite=True)


def _table(tmp_path, bars):
    days = sessions()
    rows = []
    for k, sym in enumerate(SYMBOLS):
        rows.append({"symbol": sym, "date_known": days[0], "market_cap": 1e9 * (k + 1), "sector_code": 101 + k % 2,
                     "tag": "x" if k < 2 else "y"})
        rows.append({"symbol": sym, "date_known": days[70], "market_cap": 2e9 * (k + 1),
                     "sector_code": 101 + k % 2, "tag": "x" if k < 2 else "y"})
    path = tmp_path / "fund.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_point_in_time_table_and_classifiers(tmp_path, bars) -> None:
    path = _table(tmp_path, bars)
    symbols = [a.symbol for a in sorted(bars.assets, key=lambda a: a.sid)]
    table = TableLoader.from_file(path, symbols, bars.calendar.sessions[bars.first_session:])
    fund = FundamentalsNamespace(table)
    sector = make_sector(table)()
    cap = fund.market_cap.latest
    r = Returns(window_length=5)
    out = _run(bars, {"cap": cap, "sector": sector, "tag": fund.tag.latest, "dm": r.demean(groupby=sector),
                      "r": r, "is101": sector.eq(101), "in": sector.element_of([102]), "null": sector.isnull(),
                      "x": fund.tag.latest.eq("x"), "grank": r.rank(groupby=sector)}, first=65, last=75,
               fundamentals=path)
    days = sessions()
    cap_w = _wide(out, "cap")
    assert (cap_w.loc[:days[69], "AAA"] == 1e9).all() and (cap_w.loc[days[70]:, "AAA"] == 2e9).all()
    for _, day in out.groupby(level=0):
        day = day.droplevel(0)
        assert (day["dm"] == day["r"] - day.groupby("sector")["r"].transform("mean")).all()
        assert (day["grank"] == day.groupby("sector")["r"].rank(method="first")).all()
        assert (day["is101"] == (day["sector"] == 101)).all() and (day["in"] == (day["sector"] == 102)).all()
        assert not day["null"].any() and (day["x"] == (day["tag"] == "x")).all()


def test_user_dataset_and_missing_table(tmp_path, bars) -> None:
    class Mine(DataSet):
        market_cap = Column(float)

    path = _table(tmp_path, bars)
    out = _run(bars, {"cap": Mine.market_cap.latest}, first=60, last=75, fundamentals=path)
    assert _wide(out, "cap").loc[sessions()[75], "BBB"] == 4e9
    with pytest.raises(FundamentalsNotConfigured, match="FUNDAMENTALS_FILE"):
        _run(bars, {"cap": Mine.market_cap.latest}, first=60, last=61)


def test_universes_apply_their_documented_rules(bars) -> None:
    adv = AverageDollarVolume(window_length=200)
    # the test data has 120 sessions: nothing has 200 sessions of history, so both universes are empty
    out = _run(bars, {"q": Q500US(), "qtu": QTradableStocksUS(), "adv": adv}, first=100, last=110)
    assert not out["q"].any() and not out["qtu"].any()


def test_universes_on_the_bundled_stocks(caplog) -> None:
    """FB (listed 2012-05-18) has fewer than 200 sessions of history in 2012: it is in neither universe."""
    import logging

    with caplog.at_level(logging.INFO, logger="ibalgo.pipeline"):
        out = run_pipeline(Pipeline(columns={"q": Q500US(), "qtu": QTradableStocksUS()}), "2012-11-01",
                           "2012-11-02")
    day = out.loc[pd.Timestamp("2012-11-01")]
    members = sorted(a.symbol for a in day.index[day["q"]])
    assert members == ["AAPL", "GOOG", "IBM", "MSFT"]
    assert sorted(a.symbol for a in day.index[day["qtu"]]) == members
    assert "Q500US over the run's 5 assets" in caplog.text and "200-day average dollar volume" in caplog.text
