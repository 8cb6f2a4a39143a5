"""Paper replays on the simulated gateway with a currency pair (EUR.USD on IDEALPRO) and a future (ES on CME).

The live feed asks IB for MIDPOINT history of a currency pair (IB has no TRADES bars for CASH) and prices its
current bar at the bid/ask midpoint (no last trade); FX volume is 0. Daily bars of both are IB's bars of a trade
date, placed on the run's session of that date. Every value an algorithm reads is compared with what the gateway
itself serves for the same instant: its quotes and its reqHistoricalData bars (MIDPOINT for EUR.USD, TRADES for ES).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.algo import write_algo

from runtime.core.assets import SecType
from runtime.core.ib_mapping import history_what_to_show, session_end_labels
from runtime.data.calendars import get_calendar
from runtime.engine.clocks import ReplayClock
from runtime.gateway.contracts import Instrument, quarterly_expiries
from runtime.gateway.history import DAY, build_bars, format_rows, window_start
from runtime.gateway.history import Duration as IBDuration
from runtime.live.paper import EmbeddedGateway, replay_start_ns, run_algorithm

ALGO = """
def initialize(context):
    context.eur = symbol('CASH,EUR,USD')
    context.eur2 = superSymbol(secType='CASH', symbol='EUR', currency='USD', exchange='IDEALPRO')
    context.es = superSymbol(secType='FUT', symbol='ES', exchange='CME', expiry='{expiry}')
    context.rows = []

def handle_data(context, data):
    n = len(context.rows)
    eur, es = context.eur, context.es
    pos = context.portfolio.positions
    context.rows.append(dict(
        t=get_datetime(),
        eur=data.current(eur, 'price'), eur_volume=data.current(eur, 'volume'),
        eur_days=data.history(eur, ['close', 'volume'], 3, '1d'),
        es=data.current(es, 'price'), es_days=data.history(es, 'close', 3, '1d'),
        held=pos[eur].amount if eur in pos else 0,
        value=context.portfolio.portfolio_value,
    ))
    if n == {minutes_at} and {minute}:
        context.eur_minutes = data.history(eur, ['close', 'volume'], {minutes_at} + 1, '1m')
        context.es_minutes = data.history(es, 'close', {minutes_at} + 1, '1m')
    if n == 0:
        order(eur, 20000)
    if n == {target_at}:
        context.target_id = order_target_percent(eur, 0.5)
"""


def _expiry(start: str) -> str:
    cal = get_calendar("XNYS")
    return f"{quarterly_expiries(replay_start_ns(cal, cal.session_index_on_or_after(start)), 2)[0]:%Y%m%d}"


def _run(tmp_path: Path, frequency: str, start: str, end: str, target_at: int, minutes_at: int = -1):
    cal = get_calendar("XNYS")
    clock = ReplayClock(replay_start_ns(cal, cal.session_index_on_or_after(pd.Timestamp(start))), speed=None)
    gw = EmbeddedGateway(clock, capital=100_000.0)
    algo = ALGO.format(expiry=_expiry(start), target_at=target_at, minutes_at=minutes_at,
                       minute=frequency == "minute")
    path = write_algo(tmp_path, algo)
    try:
        result = run_algorithm(str(path), frequency=frequency, replay=(pd.Timestamp(start), pd.Timestamp(end)),
                               output=tmp_path / "out", run_id=f"fxfut{frequency}", strict=True, gateway=gw)
    finally:
        gw.stop()
    assert result.stopped_because == "the run reached its end" and result.engine.error_count == 0
    return result, gw.thread.gateway


def _inst(gateway, asset) -> Instrument:
    inst = gateway.universe.book.by_con_id(asset.con_id)
    assert inst is not None
    return inst


def _ns(t: pd.Timestamp) -> int:
    return int(pd.Timestamp(t).value)


def _served_bars(gateway, inst: Instrument, bar_seconds: int, duration: IBDuration, now_ns: int,
                 what: str) -> pd.DataFrame:
    """What the gateway answers to reqHistoricalData at ``now_ns``: IB's start labels and the formatted fields."""
    series = gateway.universe.market.series(inst)
    tz = gateway.config.time_zone
    rows = build_bars(series, bar_seconds, window_start(series, now_ns, duration), now_ns, True, now_ns, tz)
    out = format_rows(rows, inst, what, 1, tz)
    return pd.DataFrame([[float(x) for x in r[1:6]] for r in out], index=[r[0] for r in out],
                        columns=["open", "high", "low", "close", "volume"])


def _mid(gateway, inst: Instrument, now_ns: int) -> float:
    """The gateway's bid/ask midpoint at ``now_ns`` (up to the last bit of the float)."""
    q = gateway.universe.market.quote(inst, now_ns)
    return pytest.approx((q.bid + q.ask) / 2, rel=1e-12, abs=0)


def _check_days(gateway, eur, es, row) -> None:
    """Daily history before today: the gateway's bars of the same trade dates; today's row: the current price."""
    now = _ns(row["t"])
    eur_served = _served_bars(gateway, _inst(gateway, eur), DAY, IBDuration(10, "D"), now, "MIDPOINT")
    es_served = _served_bars(gateway, _inst(gateway, es), DAY, IBDuration(10, "D"), now, "TRADES")
    eur_days, es_days = row["eur_days"], row["es_days"]
    assert eur_days.notna().all().all() and es_days.notna().all()
    for t in eur_days.index[:-1]:
        date = f"{t:%Y%m%d}"
        assert eur_days.loc[t, "close"] == eur_served.loc[date, "close"]
        assert es_days.loc[t] == es_served.loc[date, "close"]
    assert eur_served["volume"].eq(-1).all()  # IB's MIDPOINT bars carry no volume
    assert (eur_days["volume"] == 0).all()
    assert eur_days["close"].iloc[-1] == row["eur"] and es_days.iloc[-1] == row["es"]


def _check_fills(result, gateway, eur, target_at: int) -> None:
    """Both EUR.USD orders filled at the gateway; the run booked each fill at the gateway's price and commission."""
    fills = [t for day in result.perf["transactions"] for t in day]
    executions = [ex for ex in gateway.exchange.executions if ex.instrument.con_id == eur.con_id]
    assert [t["amount"] for t in fills][:1] == [20000] and len(fills) == len(executions) == 2
    for t, ex in zip(fills, executions, strict=True):
        assert t["price"] == ex.price and abs(t["amount"]) == ex.shares and t["commission"] == ex.commission
    ctx = result.engine.context
    pos = ctx.portfolio.positions[eur]
    assert pos.amount == sum(t["amount"] for t in fills) == ctx.rows[-1]["held"]
    assert pos.cost_basis == pytest.approx(sum(t["amount"] * t["price"] + t["commission"] for t in fills) / pos.amount)
    # order_target_percent(eur, 0.5) sized at the midpoint of the bar it was called on
    at = ctx.rows[target_at]
    assert abs(pos.amount - 0.5 * at["value"] / at["eur"]) <= 1


def test_daily_run_prices_fx_at_the_midpoint_and_futures_by_trade_date(tmp_path: Path) -> None:
    result, gateway = _run(tmp_path, "daily", "2012-01-03", "2012-01-09", target_at=2)
    ctx = result.engine.context
    eur, es = ctx.eur, ctx.es
    assert eur is ctx.eur2 and eur.sec_type is SecType.CASH and es.sec_type is SecType.FUTURE
    assert len(ctx.rows) == 5
    for row in ctx.rows:
        now = _ns(row["t"])
        assert np.isfinite(row["eur"]) and row["eur"] == _mid(gateway, _inst(gateway, eur), now)
        assert row["eur_volume"] == 0
        assert np.isfinite(row["es"]) and row["es"] == gateway.universe.market.quote(_inst(gateway, es), now).last
        _check_days(gateway, eur, es, row)
    _check_fills(result, gateway, eur, 2)
    # a daily run sends stock market orders as market-on-close; IDEALPRO has no closing auction: plain MKT
    types = {rec.ticket.order_type for rec in gateway.exchange.orders.values() if rec.instrument.con_id == eur.con_id}
    assert types == {"MKT"}


@pytest.mark.slow
def test_minute_run_prices_fx_at_the_midpoint_and_futures_by_trade_date(tmp_path: Path) -> None:
    result, gateway = _run(tmp_path, "minute", "2012-01-04", "2012-01-04", target_at=45, minutes_at=30)
    ctx = result.engine.context
    eur, es = ctx.eur, ctx.es
    eur_inst, es_inst = _inst(gateway, eur), _inst(gateway, es)
    assert len(ctx.rows) == 390
    for row in ctx.rows:
        now = _ns(row["t"])
        assert np.isfinite(row["eur"]) and row["eur"] == _mid(gateway, eur_inst, now)
        assert row["eur_volume"] == 0
        assert row["es"] == gateway.universe.market.quote(es_inst, now).last
    for row in ctx.rows[::97]:
        _check_days(gateway, eur, es, row)
    # the minutes so far: each the price the algorithm saw at that bar, which the gateway's minute bars close at
    minutes = ctx.eur_minutes
    seen = ctx.rows[:31]
    assert list(minutes.index) == [r["t"] for r in seen]
    assert minutes["close"].tolist() == [r["eur"] for r in seen] and (minutes["volume"] == 0).all()
    assert ctx.es_minutes.tolist() == [r["es"] for r in seen]
    now = _ns(seen[-1]["t"])
    served = _served_bars(gateway, eur_inst, 60, IBDuration(1, "D"), now, "MIDPOINT")
    np.testing.assert_array_equal(served["close"].to_numpy()[-31:], minutes["close"].to_numpy())
    served_es = _served_bars(gateway, es_inst, 60, IBDuration(1, "D"), now, "TRADES")
    np.testing.assert_array_equal(served_es["close"].to_numpy()[-31:], ctx.es_minutes.to_numpy())
    _check_fills(result, gateway, eur, 45)


@pytest.mark.parametrize(("sec_type", "what"), [(SecType.CASH, "MIDPOINT"), ("CASH", "MIDPOINT"),
                                                (SecType.STOCK, "TRADES"), (SecType.FUTURE, "TRADES"),
                                                ("IND", "TRADES"), ("CFD", "TRADES")])
def test_history_what_to_show_per_security_type(sec_type: SecType | str, what: str) -> None:
    assert history_what_to_show(sec_type) == what


def test_daily_bars_go_to_the_session_of_their_trade_date() -> None:
    cal = get_calendar("XNYS")
    dates = np.array(["2011-12-30", "2012-01-02", "2012-01-03"], dtype="datetime64[ns]")  # 01-02: NYSE closed
    k = cal.session_index_on_or_after(pd.Timestamp("2011-12-30"))
    assert session_end_labels(dates, cal.sessions, cal.closes).tolist() == [int(cal.closes[k]), -1,
                                                                            int(cal.closes[k + 1])]
