"""fetch_csv: rows keyed by date and symbol, visible through data.current from Quantopian's day on (never earlier),
forward-filled; pseudo-assets; pre_func/post_func; the errors a user meets."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from runtime.errors import AlgorithmLoadError

SIGNALS = """date,symbol,signal,note
2012-01-04,AAPL,1.5,a
2012-01-04,ZZZZ,9.0,unknown ticker
2012-01-05,IBM,-2.0,b
2012-01-06,AAPL,2.5,c
2012-01-07,AAPL,3.5,saturday
2011-12-30,IBM,-1.0,before the start
"""

RECORDER = """
def initialize(context):
    context.aapl = symbol("AAPL")
    context.ibm = symbol("IBM")
    context.seen = {{}}
    fetch_csv({path!r}{args})

def handle_data(context, data):
    day = str(get_datetime().date())
    both = data.current([context.aapl, context.ibm], "signal")
    context.seen[day] = (data.current(context.aapl, "signal"), both[context.ibm], data.current(context.aapl, "note"),
                         data.current(context.aapl, "price") > 0)
"""


def _seen(algo_runner, tmp_path: Path, csv: str, args: str = "", **kw) -> dict:
    path = tmp_path / "signals.csv"
    path.write_text(csv)
    result = algo_runner(RECORDER.format(path=str(path), args=args), start="2012-01-03", end="2012-01-12", **kw)
    return result.engine.context.seen


def _num(x: float) -> float | None:
    return None if isinstance(x, float) and math.isnan(x) else x


def test_rows_are_visible_from_their_date_and_forward_filled(algo_runner, tmp_path: Path) -> None:
    seen = _seen(algo_runner, tmp_path, SIGNALS)
    aapl = {d: _num(v[0]) for d, v in seen.items()}
    ibm = {d: _num(v[1]) for d, v in seen.items()}
    assert aapl == {"2012-01-03": None, "2012-01-04": 1.5, "2012-01-05": 1.5, "2012-01-06": 2.5,
                    "2012-01-09": 3.5, "2012-01-10": 3.5, "2012-01-11": 3.5, "2012-01-12": 3.5}
    # the row dated before the first session is dropped, as zipline drops it: no value until 2012-01-05
    assert ibm["2012-01-04"] is None and ibm["2012-01-05"] == -2.0 and ibm["2012-01-12"] == -2.0
    assert seen["2012-01-06"][2] == "c" and all(v[3] for v in seen.values())  # text columns; bar fields still work


def test_a_row_stamped_after_the_close_is_visible_the_next_session(algo_runner, tmp_path: Path) -> None:
    csv = "when,ticker,signal,note\n2012-01-05 17:00,AAPL,7.0,x\n2012-01-09 09:00,AAPL,8.0,y\n"
    seen = _seen(algo_runner, tmp_path, csv, ", date_column='when', symbol_column='ticker', timezone='US/Eastern'")
    aapl = {d: _num(v[0]) for d, v in seen.items()}
    assert aapl["2012-01-05"] is None and aapl["2012-01-06"] == 7.0  # 17:00 on the 5th: after the close
    assert aapl["2012-01-09"] == 8.0  # 09:00 on the 9th: before the close of that session


def test_pre_func_and_post_func(algo_runner, tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("Day,Sym,Value\n01/04/2012,aapl,10\n01/06/2012,aapl,20\n")
    source = f"""
    import pandas as pd

    def rename(df):
        context_calls.append(("pre", list(df.columns)))
        return df.rename(columns={{"Day": "date", "Sym": "symbol", "Value": "signal"}})

    def lag(df):
        context_calls.append(("post", str(df.index.tz), sorted(a.symbol for a in df["sid"])))
        df.index = df.index + pd.Timedelta(days=1)  # known only at the close: use it the next day
        return df

    context_calls = []

    def initialize(context):
        context.calls = context_calls
        fetch_csv({str(path)!r}, pre_func=rename, post_func=lag, date_format="%m/%d/%Y")
        context.seen = {{}}

    def handle_data(context, data):
        context.seen[str(get_datetime().date())] = data.current(symbol("AAPL"), "signal")
    """
    result = algo_runner(source, start="2012-01-03", end="2012-01-09")
    ctx = result.engine.context
    assert ctx.calls == [("pre", ["Day", "Sym", "Value"]), ("post", "UTC", ["AAPL", "AAPL"])]
    assert math.isnan(ctx.seen["2012-01-04"]) and ctx.seen["2012-01-05"] == 10 and ctx.seen["2012-01-06"] == 10
    assert ctx.seen["2012-01-09"] == 20


def test_symbol_names_a_pseudo_asset(algo_runner, tmp_path: Path) -> None:
    path = tmp_path / "vix.csv"
    path.write_text("date,close,open\n2012-01-03,22.9,23.1\n2012-01-04,22.2,22.0\n")
    source = f"""
    def initialize(context):
        fetch_csv({str(path)!r}, symbol="VIX")
        context.seen = []

    def handle_data(context, data):
        context.seen.append((data.current("VIX", "close"), data.current("VIX", "open"), data.can_trade("VIX"),
                             [a.symbol for a in data.fetcher_assets]))
    """
    result = algo_runner(source, start="2012-01-03", end="2012-01-05")
    assert result.engine.context.seen == [(22.9, 23.1, False, ["VIX"]), (22.2, 22.0, False, ["VIX"]),
                                          (22.2, 22.0, False, ["VIX"])]


def test_mask_false_keeps_unknown_tickers_as_pseudo_assets(algo_runner, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(SIGNALS)
    source = f"""
    def initialize(context):
        fetch_csv({str(path)!r}, mask=False)

    def handle_data(context, data):
        context.zzzz = data.current("ZZZZ", "signal")
    """
    assert algo_runner(source, start="2012-01-03", end="2012-01-05").engine.context.zzzz == 9.0


def test_history_does_not_include_fetched_columns(algo_runner, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(SIGNALS)
    source = f"""
    def initialize(context):
        fetch_csv({str(path)!r})

    def handle_data(context, data):
        data.history(symbol("AAPL"), "signal", 5, "1d")
    """
    with pytest.raises(AlgorithmLoadError, match=r"data\.history does not include columns loaded by fetch_csv"):
        algo_runner(source, start="2012-01-03", end="2012-01-05")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("fetch_csv('no/such/file.csv')", "no file 'no/such/file.csv'"),
        ("fetch_csv('http://127.0.0.1:9/data.csv')", "could not download http://127.0.0.1:9/data.csv"),
        ("fetch_csv(PATH, date_column='day')", "no 'day' column"),
        ("fetch_csv(PATH, symbol_column='ticker')", "no 'ticker' column"),
        ("fetch_csv(PATH, colour='red')", "unknown keyword arguments ['colour']"),
    ],
)
def test_errors_name_the_line_and_the_fix(algo_runner, tmp_path: Path, call: str, expected: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(SIGNALS)
    source = f"PATH = {str(path)!r}\n\ndef initialize(context):\n    {call}\n"
    with pytest.raises(AlgorithmLoadError) as info:
        algo_runner(source, start="2012-01-03", end="2012-01-05")
    assert expected in str(info.value) and f"{tmp_path / 'algo.py'}:4" in str(info.value)


def test_fetch_csv_only_in_initialize(algo_runner, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(SIGNALS)
    source = f"""
    def initialize(context):
        pass

    def handle_data(context, data):
        fetch_csv({str(path)!r})
    """
    with pytest.raises(AlgorithmLoadError, match="fetch_csv may only be called in initialize"):
        algo_runner(source, start="2012-01-03", end="2012-01-05")


def test_minute_runs_see_a_row_from_its_timestamp(algo_runner, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("date,symbol,signal\n2012-01-04 11:00,AAPL,1.0\n2012-01-05,AAPL,2.0\n")
    source = f"""
    def initialize(context):
        fetch_csv({str(path)!r}, timezone="US/Eastern")
        context.seen = []
        schedule_function(look, date_rules.every_day(), time_rules.market_open(minutes=60))
        schedule_function(look, date_rules.every_day(), time_rules.market_open(minutes=120))

    def look(context, data):
        context.seen.append((str(get_datetime().tz_convert("US/Eastern")), data.current(symbol("AAPL"), "signal")))
    """
    seen = algo_runner(source, start="2012-01-04", end="2012-01-05", frequency="minute").engine.context.seen
    values = [None if math.isnan(v) else v for _, v in seen]
    assert [t[:16] for t, _ in seen] == ["2012-01-04 10:30", "2012-01-04 11:30", "2012-01-05 10:30",
                                         "2012-01-05 11:30"]
    assert values == [None, 1.0, 2.0, 2.0]  # 10:30 before the 11:00 row, 11:30 after it; the 5th from midnight


def test_corpus_fetcher_file_sees_each_score_from_the_session_after_its_date(tmp_path: Path) -> None:
    """tests/quant_algos/fetcher_scores.py reads weekly_scores.csv (found next to the algorithm file): with its
    one-day lag, a score dated D is first used on the first session after D, never on D."""
    import pandas as pd
    from support.algo import run_algo

    algos = Path(__file__).resolve().parents[1] / "quant_algos"
    result = run_algo(tmp_path, algos / "fetcher_scores.py", start="2011-01-03", end="2011-03-31")
    assert result.engine.error_count == 0 and result.summary.orders > 0
    table = pd.read_csv(algos / "weekly_scores.csv")
    table["Date"] = pd.to_datetime(table["Date"], format="%m/%d/%Y").dt.date
    for day, scores in result.engine.context.scores_seen:
        earlier = table[table["Date"] < day]
        for asset, value in scores.items():
            rows = earlier[earlier["Ticker"] == asset.symbol]
            if rows.empty:
                assert math.isnan(value), (day, asset)
            else:
                assert value == rows.iloc[-1]["score"], (day, asset)


@pytest.mark.socket
@pytest.mark.slow
def test_corpus_fetcher_file_trades_the_same_in_a_paper_replay(tmp_path: Path) -> None:
    import pandas as pd
    from support.algo import run_algo

    from runtime.live.paper import run_algorithm

    algo = Path(__file__).resolve().parents[1] / "quant_algos" / "fetcher_scores.py"
    start, end = "2011-01-03", "2011-02-28"
    backtest = run_algo(tmp_path, algo, start=start, end=end)
    paper = run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp(start), pd.Timestamp(end)),
                          output=tmp_path / "paper", run_id="fetcher-parity")
    assert paper.engine.error_count == 0

    def seen(result) -> list[tuple]:
        return [(day, {a.symbol: None if math.isnan(v) else v for a, v in scores.items()})
                for day, scores in result.engine.context.scores_seen]

    assert seen(paper) == seen(backtest) and any(v for _, s in seen(paper) for v in s.values())

    def fills(perf: pd.DataFrame) -> list[tuple]:
        return [(pd.Timestamp(t["dt"]), t["sid"].symbol, t["amount"], round(t["price"], 6))
                for day in perf["transactions"] for t in day]

    assert fills(backtest.perf) and sorted(fills(paper.perf)) == sorted(fills(backtest.perf))


def test_a_date_format_that_does_not_match_falls_back_to_reading_each_date(algo_runner, tmp_path: Path) -> None:
    csv = "date,symbol,signal,note\n2012-01-04,AAPL,1.5,a\n01/06/2012,AAPL,2.5,b\nnot a date,AAPL,9,c\n"
    seen = _seen(algo_runner, tmp_path, csv, ", date_format='%m/%d/%y'")  # Quantopian's documented default
    aapl = {d: _num(v[0]) for d, v in seen.items()}
    assert aapl["2012-01-03"] is None and aapl["2012-01-04"] == 1.5 and aapl["2012-01-06"] == 2.5
    assert aapl["2012-01-12"] == 2.5  # the unreadable row is dropped (and logged)
