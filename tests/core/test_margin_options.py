"""The option margin rule of runtime/core/margin.py: long options at their premium, short options by Reg T's
uncovered option rule (100% of the option's value + 20% of the underlying less the out-of-the-money amount, at least
the value + 10% of the underlying for calls or of the strike for puts)."""

from __future__ import annotations

import pytest

from runtime.core import margin


def test_short_option_requirement_per_share():
    # an in-the-money call: 3.00 + 20% of 100
    assert margin.short_option_requirement(3.0, margin.OptionTerms("C", 95.0, 100.0)) == pytest.approx(23.0)
    # a call 5 out of the money: 1.00 + 20 - 5
    assert margin.short_option_requirement(1.0, margin.OptionTerms("C", 105.0, 100.0)) == pytest.approx(16.0)
    # far out of the money: the 10% floor of the underlying for a call, of the strike for a put
    assert margin.short_option_requirement(0.05, margin.OptionTerms("C", 150.0, 100.0)) == pytest.approx(10.05)
    assert margin.short_option_requirement(0.05, margin.OptionTerms("P", 60.0, 100.0)) == pytest.approx(6.05)


def test_requirements_and_order_margin_for_options():
    terms = margin.OptionTerms("P", 95.0, 100.0)
    short = margin.Holding("OPT", -2 * 100 * 1.5, terms, -200.0)  # 2 short puts at 1.50, 5 out of the money
    long = margin.Holding("OPT", 3 * 100 * 2.0, margin.OptionTerms("C", 100.0, 100.0), 300.0)
    req = margin.requirements([short, long])
    assert req.initial == pytest.approx(200 * (1.5 + 15.0) + 600.0) and req.maintenance == req.initial
    assert req.gross == pytest.approx(300.0 + 600.0)
    # selling 2 more puts needs their requirement; buying back needs nothing
    assert margin.order_margin("OPT", -2, -2, 1.5, 100.0, terms) == pytest.approx(200 * 16.5)
    assert margin.order_margin("OPT", -2, 1, 1.5, 100.0, terms) == 0.0
    # without terms (e.g. a backtest's holding) an option is margined at 100% of its value
    assert margin.requirements([margin.Holding("OPT", -300.0)]).initial == pytest.approx(300.0)
    answer = margin.what_if(100_000.0, [], "OPT", 0, -1, 1.5, 100.0, option=terms)
    assert answer.init_margin_change == pytest.approx(100 * 16.5) and answer.accepted
