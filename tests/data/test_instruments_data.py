"""Documented FX/futures levels, the anchored synthetic series, non-US listings, the IDEALPRO commission."""

from __future__ import annotations

import pandas as pd
import pytest

from runtime.core.assets import Asset, SecType
from runtime.core.costs import IdealproCommission
from runtime.data.calendars import get_calendar
from runtime.data.contracts import asset_from_spec
from runtime.data.instruments import anchored_bars, find_listing, level_at


def test_levels_follow_the_replayed_period():
    assert level_at("EUR.USD", "2012-01-02") == pytest.approx(1.30, rel=0.01)
    assert level_at("CASH,EUR,USD", "2008-01-02") == pytest.approx(1.46, rel=0.01)
    assert 1_250 < level_at("ES", "2012-01-03") < 1_270
    assert level_at("FUT,ES,USD", "2024-01-02") == pytest.approx(4_770, rel=0.01)
    mid = level_at("USD.JPY", "2012-07-01")
    assert 77 < mid < 87
    assert level_at("GC", "1995-01-01") == pytest.approx(level_at("GC", "2000-01-01"))
    with pytest.raises(KeyError, match="known"):
        level_at("XYZ.ABC", "2012-01-01")


def test_anchored_series_is_seeded_and_anchored():
    sessions = get_calendar("XNYS").sessions
    days = pd.DatetimeIndex(sessions[(sessions >= pd.Timestamp("2012-01-03").to_datetime64())][:60])
    a = anchored_bars("EUR.USD", days, seed=3)
    b = anchored_bars("EUR.USD", days, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(anchored_bars("EUR.USD", days, seed=4))
    assert a["close"].iloc[0] == pytest.approx(level_at("EUR.USD", days[0]), abs=1e-4)
    assert (a["high"] >= a[["open", "close"]].max(axis=1)).all()
    assert (a["low"] <= a[["open", "close"]].min(axis=1)).all()
    # a later range shares the overlapping sessions' draws only through its own anchor; the first bar is the anchor
    es = anchored_bars("ES", days, seed=3)
    assert 1_100 < es["close"].iloc[0] < 1_400


def test_non_us_listings():
    bp = find_listing("BP.", "LSE", "GBP")
    assert bp is not None and (bp.currency, bp.calendar) == ("GBP", "XLON")
    sap = find_listing("SAP", "XETRA")
    assert sap is not None and (sap.exchange, sap.currency, sap.calendar) == ("IBIS", "EUR", "XETR")
    assert find_listing("BP.", "LSE", "USD") is None
    assert find_listing("AAPL", "NASDAQ") is None
    generic = find_listing("RIO", "LSE")
    assert generic is not None and generic.calendar == "XLON"
    get_calendar(bp.calendar, start="2020-01-01", end="2020-12-31")  # the calendar name resolves


class _Order:
    def __init__(self, asset: Asset, filled: int = 0, commission: float = 0.0) -> None:
        self.asset, self.amount, self.filled, self.commission = asset, 0, filled, commission


def test_idealpro_commission():
    model = IdealproCommission()
    eur = asset_from_spec("EUR.USD")
    assert eur.sec_type is SecType.CASH
    assert model.calculate(_Order(eur), 1.10, 100_000) == pytest.approx(2.20)  # 0.2 bp of 110,000
    assert model.calculate(_Order(eur), 1.10, 10_000) == pytest.approx(2.00)  # the minimum
    jpy = asset_from_spec("USD.JPY")
    assert model.calculate(_Order(jpy), 150.0, 1_000_000) == pytest.approx(20.0)  # 0.2 bp of USD 1m
    # a second fill of the same order tops the total up, the minimum is paid once
    assert model.calculate(_Order(eur, filled=50_000, commission=2.0), 1.10, 50_000) == pytest.approx(0.20)
    assert model.calculate(_Order(eur, filled=5_000, commission=2.0), 1.10, 5_000) == 0.0
