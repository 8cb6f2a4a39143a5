"""The gateway's quotes show nothing after their instant.

Bars are end-labelled: the minute bar ending at ``T`` covers ``(T - 1 min, T]`` and its 1-second bars (the seeded
path inside the minute) end at ``T - 59 s .. T``. The quote at ``t`` summarises exactly the 1-second bars of the
session that ended by ``t``: last = the close of the latest of them, high/low/volume over all of them. At a minute
boundary that is the close of the minute that just ended, never a price of the minute that starts there. The
exchange matches an arriving order against the same quote.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from runtime.core.assets import Asset
from runtime.core.costs import NoCommission, NoSlippage
from runtime.data.aggregate import aggregate_daily
from runtime.data.builder import AssetSeries, assemble
from runtime.data.calendars import get_calendar
from runtime.data.store import MINUTE
from runtime.gateway.contracts import ContractQuery, Instrument
from runtime.gateway.exchange import Exchange
from runtime.gateway.market import NS_PER_SECOND, MarketQuote, Series
from runtime.gateway.tickets import OrderTicket
from runtime.gateway.universe import build_universe, sample_universe

NS_MIN = 60 * NS_PER_SECOND
T0 = pd.Timestamp("2012-06-01 10:35:00", tz="America/New_York").value
CAL = get_calendar("XNYS")
AAPL = 24
#: Minutes 30..44 (0-based) of the minute store's second session have no trade.
GAP = (30, 45)


@pytest.fixture(scope="module")
def sample() -> Series:
    """AAPL of the bundled daily sample (minute bars expanded from the daily bars)."""
    universe = sample_universe(T0)
    series = universe.market.series(universe.book.by_con_id(AAPL))
    assert series is not None
    return series


@pytest.fixture(scope="module")
def minute_store_series() -> Series:
    """A stock priced from a minute store: two sessions, the second with a gap of untraded minutes."""
    k = CAL.session_index_on_or_after(pd.Timestamp("2012-06-04"))
    times = np.concatenate([CAL.session_minutes(k), CAL.session_minutes(k + 1)]).astype(np.int64)
    n = len(times)
    close = np.round(50.0 + 0.01 * np.arange(1, n + 1) + 0.37 * np.sin(np.arange(n)), 2)
    open_ = np.round(np.concatenate([[49.9], close[:-1]]) + 0.02, 2)
    high = np.maximum(open_, close) + 0.05
    low = np.minimum(open_, close) - 0.05
    volume = 1000.0 + np.arange(n) * 3.0
    second = len(CAL.session_minutes(k))
    gap = slice(second + GAP[0], second + GAP[1])
    for field in (open_, high, low, close):
        field[gap] = np.nan
    volume[gap] = 0.0
    asset = Asset(sid=900_001, symbol="QQQX")
    store = assemble(CAL, MINUTE, [AssetSeries(asset, times, open_, high, low, close, volume)])
    universe = build_universe(int(times[0]), [aggregate_daily(store)], fx_pairs=(), futures=(), minute_stores=[store])
    (series,) = universe.market.all_series()
    return series


def _expected(series: Series, t: int) -> dict[str, float] | None:
    """The quote fields from the 1-second bars of the session that ended by ``t`` (None: none has ended)."""
    k = int(np.searchsorted(series.calendar.opens, t, side="left")) - 1
    start = int(series.calendar.opens[k])
    secs = series.seconds_between(start, min(t, int(series.calendar.closes[k])))
    if not len(secs):
        return None
    return {"last": float(secs.close[-1]), "high": float(secs.high.max()), "low": float(secs.low.min()),
            "volume": float(secs.volume.sum()), "open": float(secs.open[0]), "last_trade_ns": int(secs.end_ns[-1])}


def _assert_no_look_ahead(series: Series, t: int) -> MarketQuote:
    q = series.quote(t)
    assert q is not None
    want = _expected(series, t)
    assert want is not None
    got = {"last": q.last, "high": q.high, "low": q.low, "volume": q.volume, "open": q.open,
           "last_trade_ns": q.last_trade_ns}
    assert got == pytest.approx(want), pd.Timestamp(t, tz="UTC")
    return q


def _minute(series: Series, end_ns: int) -> tuple[float, float]:
    """(close, volume) of the minute bar ending at ``end_ns``."""
    bars = series.minutes_between(end_ns - NS_MIN, end_ns)
    assert len(bars) == 1
    return float(bars.close[0]), float(bars.volume[0])


# ------------------------------------------------------------------------------------------------ minute boundary
@pytest.mark.parametrize("series_name", ["sample", "minute_store_series"])
def test_quote_at_a_minute_boundary_is_the_close_of_the_minute_that_just_ended(request, series_name: str) -> None:
    series: Series = request.getfixturevalue(series_name)
    k = series.daily.first_session + series.last_row
    opens = int(series.calendar.opens[k])
    for m in (1, 2, 17, 65, 200, 389):
        t = opens + m * NS_MIN
        close, volume = _minute(series, t)
        q = _assert_no_look_ahead(series, t)
        assert q.last == close and q.last_trade_ns == t and q.trading
        assert q.minute_volume == volume  # the minute that just ended
        assert q.bid < q.last < q.ask


def test_a_boundary_with_a_different_next_second_shows_the_close_not_the_next_second(sample: Series) -> None:
    close, _ = _minute(sample, T0)
    nxt = sample.seconds_between(T0, T0 + NS_PER_SECOND)
    assert float(nxt.close[0]) != close  # the 10:35:01 price differs: a look-ahead would show
    for t in (T0, T0 + 1, T0 + NS_PER_SECOND // 2, T0 + NS_PER_SECOND - 1):
        assert sample.quote(t).last == close
    assert sample.quote(T0 + NS_PER_SECOND).last == float(nxt.close[0])


def test_inside_a_minute_only_the_seconds_that_ended_are_visible(sample: Series) -> None:
    for t in [T0 - 1, T0 - NS_PER_SECOND, T0 - NS_PER_SECOND - 1, T0 - 59 * NS_PER_SECOND, T0 - NS_MIN + 1]:
        _assert_no_look_ahead(sample, t)
    for s in range(1, 60):
        for frac in (0, NS_PER_SECOND // 3, NS_PER_SECOND - 1):
            _assert_no_look_ahead(sample, T0 + s * NS_PER_SECOND + frac)
    path = sample.seconds_between(T0, T0 + NS_MIN)
    assert sample.quote(T0 + NS_MIN - 1).last == float(path.close[-2])  # 10:35:59.999: not yet the minute's close


# --------------------------------------------------------------------------------------------- session edges
@pytest.mark.parametrize("series_name", ["sample", "minute_store_series"])
def test_session_open_and_close(request, series_name: str) -> None:
    series: Series = request.getfixturevalue(series_name)
    cal = series.calendar
    k = series.daily.first_session + series.last_row
    opens, closes = int(cal.opens[k]), int(cal.closes[k])
    prev = float(series.daily_bars(k - 1, k - 1).close[0])
    day = series.daily_bars(k, k)

    at_open = series.quote(opens)
    assert at_open.last == prev and not at_open.trading  # the open itself belongs to the previous session
    for t in (opens + 1, opens + NS_PER_SECOND - 1):
        q = series.quote(t)
        assert q.trading and q.last == prev and q.volume == 0 and q.minute_volume == 0  # nothing traded yet
        assert q.open == q.high == q.low == prev and q.prev_close == prev
        assert q.last_trade_ns == int(cal.closes[k - 1])
    q = _assert_no_look_ahead(series, opens + NS_PER_SECOND)
    assert q.open == float(day.open[0])
    _assert_no_look_ahead(series, opens + NS_PER_SECOND + 1)

    before = _assert_no_look_ahead(series, closes - 1)
    assert before.trading
    at_close = series.quote(closes)
    assert not at_close.trading and at_close.last == float(day.close[0]) and at_close.last_trade_ns == closes
    assert (at_close.open, at_close.high, at_close.low, at_close.volume) == pytest.approx(
        (float(day.open[0]), float(day.high[0]), float(day.low[0]), float(day.volume[0])))
    after = series.quote(closes + 3600 * NS_PER_SECOND)
    assert not after.trading and after.last == at_close.last and after.volume == at_close.volume


def test_daily_sample_close_and_next_open(sample: Series) -> None:
    k = CAL.session_index_on_or_after(pd.Timestamp("2012-06-01"))
    closes, next_open = int(CAL.closes[k]), int(CAL.opens[k + 1])
    friday = float(sample.daily_bars(k, k).close[0])
    for t in (closes, closes + 1, next_open - 1, next_open, next_open + NS_PER_SECOND - 1):
        assert sample.quote(t).last == friday, pd.Timestamp(t, tz="UTC")
    monday = sample.seconds_between(next_open, next_open + NS_PER_SECOND)
    assert sample.quote(next_open + NS_PER_SECOND).last == float(monday.close[0])


def test_first_session_has_no_quote_before_its_first_second(minute_store_series: Series) -> None:
    series = minute_store_series
    k = series.daily.first_session + series.first_row
    opens = int(series.calendar.opens[k])
    assert series.quote(opens) is None
    assert series.quote(opens + NS_PER_SECOND - 1) is None
    _assert_no_look_ahead(series, opens + NS_PER_SECOND)


def test_untraded_minutes_show_the_last_trade_until_the_next_traded_second(minute_store_series: Series) -> None:
    series = minute_store_series
    k = series.daily.first_session + series.last_row
    opens = int(series.calendar.opens[k])
    last_before = opens + GAP[0] * NS_MIN
    close, _ = _minute(series, last_before)
    resume = opens + GAP[1] * NS_MIN  # the first traded minute after the gap starts here
    for t in (last_before, last_before + NS_PER_SECOND, last_before + 7 * NS_MIN, resume, resume + 1,
              resume + NS_PER_SECOND - 1):
        q = _assert_no_look_ahead(series, t)
        assert q.last == close and q.last_trade_ns == last_before
    q = _assert_no_look_ahead(series, resume + NS_PER_SECOND)
    assert q.last_trade_ns == resume + NS_PER_SECOND


def test_random_instants_of_a_session(sample: Series) -> None:
    k = CAL.session_index_on_or_after(pd.Timestamp("2012-06-01"))
    opens, closes = int(CAL.opens[k]), int(CAL.closes[k])
    rng = np.random.default_rng(3)
    for t in rng.integers(opens + NS_PER_SECOND, closes, size=200):
        _assert_no_look_ahead(sample, int(t))


# ------------------------------------------------------------------------------------------------------ matching
class _Outbox:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def to_client(self, client_id: int, data: bytes) -> None:
        self.sent.append(data)

    def account_changed(self, account: str, inst: Instrument | None) -> None:
        pass


def _exchange() -> tuple[Exchange, Instrument]:
    universe = sample_universe(T0)
    ex = Exchange(universe.book, universe.market, ["DU1"], _Outbox(), slippage=NoSlippage(),
                  commission=NoCommission())
    return ex, universe.book.by_con_id(AAPL)


def _ticket(order_id: int, action: str, kind: str = "MKT", lmt: float | None = None) -> OrderTicket:
    contract = ContractQuery(con_id=AAPL, symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD")
    return OrderTicket(order_id, contract, action, 10, kind, lmt_price=lmt)


def test_an_order_arriving_at_a_boundary_fills_at_the_close_that_just_ended(sample: Series) -> None:
    ex, _ = _exchange()
    close, _ = _minute(sample, T0)
    ex.advance(T0)
    ex.place(1, _ticket(1, "BUY"), T0)
    (fill,) = ex.executions
    assert fill.price == close and fill.time_ns == T0 + 1


def test_a_limit_order_at_a_boundary_does_not_see_the_next_second(sample: Series) -> None:
    ex, _ = _exchange()
    close, _ = _minute(sample, T0)
    nxt = float(sample.seconds_between(T0, T0 + NS_PER_SECOND).close[0])
    assert nxt > close
    ex.advance(T0)
    ex.place(1, _ticket(1, "SELL", "LMT", round((close + nxt) / 2, 2)), T0)  # only the 10:35:01 price reaches it
    assert not ex.executions
    ex.advance(T0 + NS_MIN)
    (fill,) = ex.executions
    assert fill.time_ns == T0 + NS_MIN  # filled when the minute that reached the limit ended
