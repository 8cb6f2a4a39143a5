"""Options, contract details, scanners and what-if margin in algorithm files (backtests on the bundled data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.algo import run_algo

from runtime.core.assets import SecType
from runtime.core.options import black_scholes, historical_volatility, year_fraction
from runtime.core.scanner import ScanInput, scan


def test_option_chain_greeks_and_contract_details(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.seen = {}

        def handle_data(context, data):
            if context.seen:
                return
            chain = get_contract_details('OPT', 'AAPL', 'summary')
            context.seen['chain'] = chain
            row = chain[(chain['right'] == 'C')].iloc[len(chain) // 4]
            opt = superSymbol(secType='OPT', symbol='AAPL', exchange='SMART', currency='USD',
                              expiry=row['expiry'], strike=row['strike'], right='C', multiplier='100')
            context.seen['opt'] = opt
            context.seen['info'] = get_option_info(opt, ['optPrice', 'delta', 'gamma', 'vega', 'theta',
                                                         'impliedVol', 'undPrice'])
            context.seen['delta'] = get_option_greeks(opt, 'delta')
            context.seen['closes'] = data.history(symbol('AAPL'), 'close', 31, '1d').to_numpy()
            context.seen['now'] = get_datetime()
            context.seen['stk'] = get_contract_details('STK', 'AAPL', 'summary')
            context.seen['mult'] = get_contract_details('OPT', 'AAPL', 'multiplier', expiry=row['expiry'],
                                                        strike=row['strike'], right='P')
            context.seen['bp'] = superSymbol(secType='STK', symbol='BP.', exchange='LSE', currency='GBP')
    """, start="2012-03-01", end="2012-03-05")
    seen = result.engine.context.seen
    chain = seen["chain"]
    assert list(chain["expiry"].unique())[:3] == ["20120302", "20120309", "20120316"]
    assert set(chain["right"]) == {"C", "P"} and (chain["multiplier"] == "100").all()
    opt = seen["opt"]
    assert opt.sec_type is SecType.OPTION and opt.multiplier == 100
    info = seen["info"]
    closes = seen["closes"]
    strike = float(opt.extra["strike"])
    expected = black_scholes("C", closes[-1], strike, year_fraction(seen["now"], opt.expiry),
                             historical_volatility(closes))
    assert info["optPrice"] == pytest.approx(expected.price)
    assert info["delta"] == pytest.approx(expected.delta) == seen["delta"]
    assert info["undPrice"] == pytest.approx(closes[-1])
    assert seen["stk"].iloc[0]["symbol"] == "AAPL" and seen["stk"].iloc[0]["secType"] == "STK"
    assert seen["mult"] == "100"
    bp = seen["bp"]
    assert (bp.symbol, bp.currency, bp.exchange, bp.extra["calendar"]) == ("BP.", "GBP", "LSE", "XLON")


def test_scanner_ranks_the_data_and_what_if_checks_margin(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.scans = []

        def handle_data(context, data):
            if context.scans:
                return
            gain = get_scanner_results(scanCode='TOP_PERC_GAIN', numberOfRows=3, abovePrice=1)
            active = get_scanner_results(scanCode='MOST_ACTIVE', numberOfRows=10)
            context.scans = [gain, active]
            context.closes = data.history(list(active['security']), 'close', 2, '1d')
            context.volumes = data.history(list(active['security']), 'volume', 1, '1d')
            context.ok = what_if_order(symbol('AAPL'), 100)
            context.big = what_if_order(symbol('AAPL'), 10**12)
            order(gain['security'].iloc[0], 10)
    """, start="2012-03-01", end="2012-03-05")
    ctx = result.engine.context
    gain, active = ctx.scans
    change = (ctx.closes.iloc[-1] / ctx.closes.iloc[0] - 1) * 100
    assert len(gain) == 3 and list(gain["rank"]) == [0, 1, 2]
    assert list(gain["security"]) == list(change.sort_values(ascending=False).index[:3])
    assert gain["value"].iloc[0] == pytest.approx(change.max())
    assert list(active["value"]) == sorted(ctx.volumes.iloc[-1], reverse=True)
    assert ctx.ok.accepted and float(ctx.ok.ib_fields()["initMarginAfter"]) > 0
    assert not ctx.big.accepted and "AVAILABLE FUNDS" in ctx.big.warning


def test_bad_helper_arguments_are_clear(tmp_path: Path) -> None:
    result = run_algo(tmp_path, """
        def initialize(context):
            context.errors = []

        def handle_data(context, data):
            if context.errors:
                return
            for call in (lambda: get_scanner_results(scanCode='NOPE'),
                         lambda: get_scanner_results(badField=1),
                         lambda: get_option_info(symbol('AAPL'), 'delta'),
                         lambda: get_contract_details('STK', 'AAPL', 'nonsense')):
                try:
                    call()
                except Exception as exc:
                    context.errors.append(str(exc))
    """, start="2012-03-01", end="2012-03-02")
    errors = result.engine.context.errors
    assert len(errors) == 4
    assert "not served" in errors[0] and "unknown field" in errors[1]
    assert "is not an option" in errors[2] and "unknown field" in errors[3]


def test_scan_rules_are_pure():
    u = [ScanInput("a", 10.0, 9.0, 100.0, 50.0), ScanInput("b", 20.0, 21.0, 300.0, 300.0),
         ScanInput("c", 5.0, 4.0, 200.0, 40.0), ScanInput("d", np.nan, 1.0, 1.0)]
    assert [r.key for r in scan("TOP_PERC_GAIN", u)] == ["c", "a", "b"]
    assert [r.key for r in scan("TOP_PERC_LOSE", u, rows=1)] == ["b"]
    assert [r.key for r in scan("MOST_ACTIVE", u, above_price=6)] == ["b", "a"]
    assert [r.key for r in scan("HOT_BY_VOLUME", u)] == ["c", "a", "b"]
    with pytest.raises(ValueError, match="not served"):
        scan("X", u)
    assert pd.isna(u[3].last)
