"""``data.current`` / ``data.history`` shapes and values, daily and minute, against the bundled raw file.

Expected values come from reading the bundled CSV directly, not from the runtime's stores.
"""

from __future__ import annotations

import importlib.resources

import numpy as np
import pandas as pd
import pytest
from support.algo import run_algo, write_algo

from runtime.assembly.backtest import run_backtest
from runtime.core.assets import Asset
from runtime.data.builder import AssetSeries, assemble
from runtime.data.calendars import get_calendar
from runtime.data.store import DAILY


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The bundled file as a (Ticker, Date) indexed frame of unadjusted bars."""
    resource = importlib.resources.files("runtime.data").joinpath("sample", "us-stocks-daily-2000-2013.csv.gz")
    with resource.open("rb") as fh:
        frame = pd.read_csv(fh, compression="gzip", parse_dates=["Date"])
    return frame.set_index(["Ticker", "Date"]).sort_index()


def bar(raw: pd.DataFrame, ticker: str, day: str) -> pd.Series:
    return raw.loc[(ticker, pd.Timestamp(day))]


SHAPES_ALGO = """
def initialize(context):
    context.a = symbol("AAPL")
    context.b = symbol("IBM")
    context.got = {}

def capture(context, data):
    a, b = context.a, context.b
    context.got[get_datetime("US/Eastern").strftime("%Y-%m-%d %H:%M")] = {
        "now": get_datetime(),
        "scalar": data.current(a, "price"),
        "scalar_close": data.current(a, "close"),
        "last_traded": data.current(a, "last_traded"),
        "by_field": data.current(a, ["open", "high", "low", "close", "volume"]),
        "by_asset": data.current([a, b], "close"),
        "frame": data.current([a, b], ["price", "volume"]),
        "h_series": data.history(a, "close", 5, "1d"),
        "h_fields": data.history(a, ["open", "close", "volume"], 5, "1d"),
        "h_assets": data.history([a, b], "price", 5, "1d"),
        "h_multi": data.history([a, b], ["open", "close"], 5, "1d"),
        "h_min": data.history(a, ["high", "low", "close", "volume"], 30, "1m") if FREQ == "minute" else None,
        "h_min_multi": data.history([a, b], ["close"], 3, "1m") if FREQ == "minute" else None,
    }
"""


def _shapes_run(tmp_path, algo_runner, frequency: str, start: str, end: str, schedule: str):
    source = SHAPES_ALGO.replace("FREQ", repr(frequency)) + schedule
    result = algo_runner(source, start=start, end=end, frequency=frequency)
    assert result.engine.error_count == 0
    return result.engine.context.got


DAILY_SCHEDULE = """
def handle_data(context, data):
    if get_datetime().strftime("%Y-%m-%d") == "2012-01-10":
        capture(context, data)
"""


def test_daily_current_shapes_and_values(tmp_path, algo_runner, raw) -> None:
    got = _shapes_run(tmp_path, algo_runner, "daily", "2012-01-03", "2012-01-12", DAILY_SCHEDULE)
    (snap,) = got.values()
    a, b = snap["by_asset"].index
    today = bar(raw, "AAPL", "2012-01-10")

    assert isinstance(snap["scalar"], float) and snap["scalar"] == pytest.approx(today.Close)
    assert snap["scalar_close"] == pytest.approx(today.Close)
    assert isinstance(snap["last_traded"], pd.Timestamp)
    assert snap["last_traded"] == pd.Timestamp("2012-01-10 16:00", tz="America/New_York")

    by_field = snap["by_field"]
    assert isinstance(by_field, pd.Series) and list(by_field.index) == ["open", "high", "low", "close", "volume"]
    assert by_field["open"] == pytest.approx(today.Open) and by_field["volume"] == today.Volume

    by_asset = snap["by_asset"]
    assert isinstance(by_asset, pd.Series) and (a.symbol, b.symbol) == ("AAPL", "IBM")
    assert by_asset[b] == pytest.approx(bar(raw, "IBM", "2012-01-10").Close)

    frame = snap["frame"]
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == [a, b] and list(frame.columns) == ["price", "volume"]
    assert frame.loc[b, "volume"] == bar(raw, "IBM", "2012-01-10").Volume


def test_daily_history_shapes_and_values(tmp_path, algo_runner, raw) -> None:
    got = _shapes_run(tmp_path, algo_runner, "daily", "2012-01-03", "2012-01-12", DAILY_SCHEDULE)
    (snap,) = got.values()
    days = pd.DatetimeIndex(["2012-01-04", "2012-01-05", "2012-01-06", "2012-01-09", "2012-01-10"])
    aapl = raw.loc["AAPL"].loc[days]

    series = snap["h_series"]
    assert isinstance(series, pd.Series) and len(series) == 5
    assert isinstance(series.index, pd.DatetimeIndex)
    assert list(series.index.date) == list(days.date)  # the current bar is the last row
    np.testing.assert_allclose(series.to_numpy(), aapl.Close.to_numpy())

    fields = snap["h_fields"]
    assert isinstance(fields, pd.DataFrame) and fields.shape == (5, 3)
    assert list(fields.columns) == ["open", "close", "volume"]
    np.testing.assert_allclose(fields["volume"].to_numpy(), aapl.Volume.to_numpy())

    assets = snap["h_assets"]
    assert isinstance(assets, pd.DataFrame) and assets.shape == (5, 2)
    a, b = assets.columns
    np.testing.assert_allclose(assets[b].to_numpy(), raw.loc["IBM"].loc[days].Close.to_numpy())

    multi = snap["h_multi"]
    assert isinstance(multi.index, pd.MultiIndex)
    assert list(multi.index.names) == ["date", "asset"]
    assert multi.shape == (10, 2) and list(multi.columns) == ["open", "close"]
    assert list(multi.index.get_level_values("asset")[:2]) == [a, b]
    per_asset = multi.xs(b, level="asset")
    np.testing.assert_allclose(per_asset["open"].to_numpy(), raw.loc["IBM"].loc[days].Open.to_numpy())


MINUTE_SCHEDULE = """
def initialize_more(context):
    pass

def handle_data(context, data):
    t = get_datetime("US/Eastern")
    if t.strftime("%H:%M") in ("10:00", "16:00") and t.day == 14:
        capture(context, data)

def before_trading_start(context, data):
    if get_datetime("US/Eastern").day == 14:
        context.bts_price = data.current(context.a, "price")
        context.bts_daily = data.history(context.a, "close", 2, "1d")
"""


@pytest.fixture(scope="module")
def minute_snaps(tmp_path_factory):
    source = SHAPES_ALGO.replace("FREQ", "'minute'") + MINUTE_SCHEDULE
    result = run_algo(tmp_path_factory.mktemp("minute"), source, start="2012-11-13", end="2012-11-15",
                      frequency="minute")
    assert result.engine.error_count == 0
    return result.engine.context


def test_minute_current_and_minute_history(minute_snaps, raw) -> None:
    snap = minute_snaps.got["2012-11-14 10:00"]
    now = snap["now"]
    assert now == pd.Timestamp("2012-11-14 15:00", tz="UTC")
    h = snap["h_min"]
    assert isinstance(h, pd.DataFrame) and h.shape == (30, 4)
    assert str(h.index.tz) == "UTC" and h.index[-1] == now
    assert h.index[0] == pd.Timestamp("2012-11-14 09:31", tz="America/New_York")  # minute bars are end-labelled
    assert snap["scalar"] == pytest.approx(h["close"].iloc[-1])
    assert isinstance(snap["by_field"], pd.Series) and isinstance(snap["frame"], pd.DataFrame)
    multi = snap["h_min_multi"]
    assert list(multi.index.names) == ["date", "asset"] and multi.shape == (6, 1)
    assert snap["last_traded"] <= now


def test_minute_daily_history_ends_with_todays_partial_bar(minute_snaps, raw) -> None:
    snap = minute_snaps.got["2012-11-14 10:00"]
    minutes = snap["h_min"]
    daily = snap["h_fields"]
    assert list(daily.index.date) == [pd.Timestamp(d).date() for d in
                                      ("2012-11-08", "2012-11-09", "2012-11-12", "2012-11-13", "2012-11-14")]
    yesterday = bar(raw, "AAPL", "2012-11-13")
    assert daily["close"].iloc[-2] == pytest.approx(yesterday.Close)
    today = bar(raw, "AAPL", "2012-11-14")
    partial = daily.iloc[-1]
    assert partial["open"] == pytest.approx(today.Open)  # the day's first minute opens at the daily open
    assert partial["close"] == pytest.approx(minutes["close"].iloc[-1])
    assert partial["volume"] == pytest.approx(minutes["volume"].sum())
    assert partial["volume"] < today.Volume

    series = snap["h_series"]
    assert series.iloc[-1] == pytest.approx(minutes["close"].iloc[-1])
    assert minute_snaps.got["2012-11-14 10:00"]["h_multi"].shape == (10, 2)

    at_close = minute_snaps.got["2012-11-14 16:00"]["h_fields"].iloc[-1]
    assert at_close["open"] == pytest.approx(today.Open)
    assert at_close["close"] == pytest.approx(today.Close)
    assert at_close["volume"] == pytest.approx(today.Volume)


def test_minute_before_trading_start_sees_the_last_close(minute_snaps, raw) -> None:
    assert minute_snaps.bts_price == pytest.approx(bar(raw, "AAPL", "2012-11-13").Close)
    # before the open, the daily history ends with the last completed session
    assert minute_snaps.bts_daily.index[-1].date() == pd.Timestamp("2012-11-13").date()


SPLIT_ALGO = """
def initialize(context):
    context.a = symbol("AAPL")
    context.windows = {}
    context.prices = {}

def handle_data(context, data):
    day = get_datetime().strftime("%Y-%m-%d")
    context.prices[day] = data.current(context.a, "price")
    context.windows[day] = data.history(context.a, ["price", "close", "volume"], 10, "1d")
    if day == "2005-02-15":
        order(context.a, 100)
    window = context.windows[day]["price"]
    if window.pct_change().min() < -0.3:
        raise AssertionError(f"false crash in the adjusted history on {day}")
    record(aapl_amount=context.portfolio.positions[context.a].amount)
"""


def test_no_false_crash_across_the_aapl_split(tmp_path, algo_runner, raw) -> None:
    result = algo_runner(SPLIT_ALGO, start="2005-02-14", end="2005-03-04")
    ctx = result.engine.context
    before, after = bar(raw, "AAPL", "2005-02-25"), bar(raw, "AAPL", "2005-02-28")
    assert before.Close / after.Close > 1.8  # the raw file really has the 2:1 jump
    # no look-ahead: on 2005-02-25 prices are still the unadjusted ones
    assert ctx.prices["2005-02-25"] == pytest.approx(before.Close)
    assert ctx.windows["2005-02-25"]["close"].iloc[-1] == pytest.approx(before.Close)
    # after the split, earlier bars are adjusted: halved prices, doubled volume
    window = ctx.windows["2005-03-01"]
    assert window.index[-3].date() == pd.Timestamp("2005-02-25").date()
    assert window["close"].iloc[-3] == pytest.approx(before.Close / 2)
    assert window["volume"].iloc[-3] == pytest.approx(before.Volume * 2)
    assert window["price"].iloc[-2] == pytest.approx(after.Close)
    # the position doubled and the portfolio did not lose half its stock value
    amounts = result.perf["aapl_amount"]
    assert amounts.loc["2005-02-25"].iloc[0] == 100 and amounts.loc["2005-03-01"].iloc[0] == 200
    values = result.perf["portfolio_value"]
    assert values.pct_change().min() > -0.05


ERRORS_ALGO = """
def initialize(context):
    context.a = symbol("AAPL")
    context.errors = []

def handle_data(context, data):
    for call in (
        lambda: data.history(context.a, "price", 0, "1d"),
        lambda: data.history(context.a, "price", -3, "1d"),
        lambda: data.history(context.a, "price", 2.5, "1d"),
        lambda: data.history(context.a, "price", 5, "5m"),
        lambda: data.history(context.a, "pricee", 5, "1d"),
        lambda: data.current(context.a, "bidd"),
        lambda: data.history(context.a, "price", 5, "1m"),
    ):
        try:
            call()
        except Exception as exc:
            context.errors.append((type(exc).__name__, str(exc)))
        else:
            context.errors.append(None)
"""


def test_history_argument_errors(tmp_path, algo_runner) -> None:
    result = algo_runner(ERRORS_ALGO, start="2012-01-03", end="2012-01-03")
    errors = result.engine.context.errors
    assert None not in errors
    assert all(name == "HistoryError" for name, _ in errors)
    assert "bar_count" in errors[0][1] and "bar_count" in errors[1][1] and "bar_count" in errors[2][1]
    assert "'1d' or '1m'" in errors[3][1]
    assert "pricee" in errors[4][1] and "bid" in errors[5][1]
    assert "minute" in errors[6][1]


LISTING_ALGO = """
def initialize(context):
    context.fb = symbol("FB")
    context.ibm = symbol("IBM")
    context.seen = {}

def handle_data(context, data):
    day = get_datetime().strftime("%Y-%m-%d")
    assets = [context.fb, context.ibm]
    context.seen[day] = (
        data.can_trade(context.fb),
        data.can_trade(assets),
        data.current(assets, "price"),
        data.is_stale(context.fb),
        data.history(context.fb, "price", 3, "1d"),
    )
"""


def test_can_trade_and_listing_dates(tmp_path, algo_runner, raw) -> None:
    result = algo_runner(LISTING_ALGO, start="2012-05-16", end="2012-05-22")
    seen = result.engine.context.seen
    first_fb_day = raw.loc["FB"].index[0]
    assert first_fb_day == pd.Timestamp("2012-05-18")
    can, both, prices, stale, hist = seen["2012-05-17"]
    assert can is False and list(both) == [False, True]
    assert np.isnan(prices.iloc[0]) and prices.iloc[1] == pytest.approx(bar(raw, "IBM", "2012-05-17").Close)
    assert stale is False  # never traded is not stale
    assert hist.isna().all()
    can, both, prices, stale, hist = seen["2012-05-18"]
    assert can is True and both.all() and not stale
    assert hist.isna().tolist() == [True, True, False]
    assert seen["2012-05-22"][4].notna().all()


def _gap_store():
    """Two made-up stocks on the real XNYS calendar in January 2012; GAP has no trades on 01-05 and 01-06."""
    cal = get_calendar("XNYS", start="2011-06-01")
    first = cal.session_index_on_or_after("2012-01-03")
    last = cal.session_index_on_or_before("2012-01-31")
    ns = cal.closes[first : last + 1]
    n = len(ns)
    close = np.linspace(10.0, 20.0, n)
    volume = np.full(n, 1000.0)
    gap_close, gap_volume = close.copy(), volume.copy()
    sessions = pd.DatetimeIndex(cal.sessions[first : last + 1])
    gap_rows = np.flatnonzero(sessions.isin(pd.DatetimeIndex(["2012-01-05", "2012-01-06"])))
    gap_close[gap_rows] = np.nan
    gap_volume[gap_rows] = 0.0
    series = [
        AssetSeries(Asset(sid=900001, symbol="GAP"), ns, gap_close, gap_close, gap_close, gap_close, gap_volume),
        AssetSeries(Asset(sid=900002, symbol="FULL"), ns, close, close, close, close, volume),
    ]
    return assemble(cal, DAILY, series), close, sessions


GAP_ALGO = """
def initialize(context):
    context.gap = symbol("GAP")
    context.full = symbol("FULL")
    context.seen = {}

def handle_data(context, data):
    day = get_datetime().strftime("%Y-%m-%d")
    context.seen[day] = {
        "price": data.current(context.gap, "price"),
        "close": data.current(context.gap, "close"),
        "volume": data.current(context.gap, "volume"),
        "stale": data.is_stale([context.gap, context.full]),
        "can_trade": data.can_trade(context.gap),
        "last_traded": data.current(context.gap, "last_traded"),
        "hist": data.history(context.gap, ["price", "close", "volume"], 2, "1d"),
    }
"""


def test_price_is_forward_filled_other_fields_are_not(tmp_path) -> None:
    daily, close, sessions = _gap_store()
    path = write_algo(tmp_path, GAP_ALGO)
    result = run_backtest(path, daily=daily, minute=None, start=pd.Timestamp("2012-01-03"),
                          end=pd.Timestamp("2012-01-10"), capital=10_000.0, strict=True)
    seen = result.engine.context.seen
    last_trade_close = close[sessions.get_loc(pd.Timestamp("2012-01-04"))]
    gap_day = seen["2012-01-06"]
    assert gap_day["price"] == pytest.approx(last_trade_close)
    assert np.isnan(gap_day["close"]) and gap_day["volume"] == 0
    assert gap_day["stale"].tolist() == [True, False]
    assert gap_day["can_trade"] is True  # it has a (forward-filled) price
    assert gap_day["last_traded"].date() == pd.Timestamp("2012-01-04").date()
    # a window entirely inside the gap: price seeded from the last trade before the window
    hist = gap_day["hist"]
    assert hist["price"].tolist() == pytest.approx([round(last_trade_close, 3)] * 2)  # rounded as zipline rounds
    assert hist["close"].isna().all() and hist["volume"].tolist() == [0, 0]
    assert not seen["2012-01-09"]["stale"].any()
