"""The live page of a run, in a real headless Chromium: it loads, shows a replay's positions, updates after a fill."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import urllib.request

import pandas as pd
import pytest
from support.algo import wait_until, write_algo

from runtime.live.run import run_algorithm

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

ALGO = '''
"""Buys one share of AAPL every session."""

def initialize(context):
    context.asset = symbol("AAPL")


def handle_data(context, data):
    order(context.asset, 1)
    record(shares=context.portfolio.positions[context.asset].amount)
'''


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        reason = f"Chromium and its driver are needed ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium " \
                 "chromium-driver"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"in CI the browser must be installed (.ci/run does it): {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="ibalgo-chromium-")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1300,1800",
                f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _fills(driver) -> int:
    return int(driver.execute_script(
        "const t = document.querySelector('#table-fills tbody'); return t ? t.rows.length : -1;"))


def test_live_page_follows_a_replay(tmp_path, browser) -> None:
    algo = write_algo(tmp_path, ALGO)
    urls: list[str] = []
    sessions = []
    results = []

    def on_session(session) -> None:
        sessions.append(session)
        session.on_dashboard = urls.append

    def run() -> None:
        results.append(run_algorithm(str(algo), replay=(pd.Timestamp("2012-10-01"), pd.Timestamp("2012-11-30")),
                                     speed=120_000.0, output=tmp_path / "out", on_session=on_session,
                                     dashboard_port=0))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: bool(urls), 30), "the live page did not start"
        url = urls[0]
        assert url.startswith("http://127.0.0.1:")
        assert b"plotly" in urllib.request.urlopen(url + "plotly.min.js", timeout=5).read(2000).lower()
        browser.get(url)
        assert wait_until(lambda: "AAPL" in browser.execute_script(
            "const t = document.querySelector('#table-positions'); return t ? t.innerText : '';"), 60)
        assert "connected" in browser.find_element("id", "status").text
        before = _fills(browser)
        assert before >= 1
        # a loaded machine may skip late bars (the live misfire policy), so allow time for the next fill
        assert wait_until(lambda: _fills(browser) > before, 60), "the page did not update after a fill"
        charts = browser.execute_script("return document.querySelectorAll('#charts .js-plotly-plot').length")
        assert charts >= 5  # the report's charts (equity, drawdown, ...) drawn by plotly.js
        assert browser.execute_script("return !!document.getElementById('chart-record_shares')")
    finally:
        thread.join(180)
    assert results and results[0].stopped_because == "the run reached its end"
    assert (tmp_path / "out" / "report.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("cache", ["on", "off"])
def test_the_report_draws_every_chart_in_a_browser(tmp_path, browser, monkeypatch, cache) -> None:
    from support.algo import USER_ALGOS, run_data

    from runtime.assembly.backtest import run_backtest
    from runtime.data.benchmark import BenchmarkChoice
    from runtime.report import page, write_report

    # "on": plotly.js embedded gzip-compressed (from the cache folder), unpacked by the browser; "off": no cache
    # folder, plotly.js embedded as it is
    monkeypatch.setenv("IBALGO_CACHE_DIR", str(tmp_path / "cache") if cache == "on" else "off")
    page.plotly_js_packed.cache_clear()
    try:
        daily, _minute, start, end = run_data("daily", "2011-01-03", "2012-06-29")
        out = tmp_path / "out"
        run_backtest(USER_ALGOS / "dual_moving_average.py", daily=daily, minute=None, start=start, end=end,
                     capital=100_000.0, output=out, benchmark=BenchmarkChoice(symbol="IBM"))
        html = write_report(out).read_text()
    finally:
        page.plotly_js_packed.cache_clear()
    assert ("id='plotly-gz'" in html) == (cache == "on")
    snapshot = json.loads(html.split("id='snapshot'>", 1)[1].split("</script>", 1)[0].replace("<\\/", "</"))
    expected = len(snapshot["charts"])
    browser.get((out / "report.html").as_uri())
    assert wait_until(lambda: browser.execute_script(
        "return document.querySelectorAll('#charts .js-plotly-plot').length") == expected, timeout=30)
    assert expected >= 12  # every chart of the snapshot, drawn by plotly.js
    assert "charts not drawn" not in browser.find_element("id", "subtitle").text
    # the shared x axis reached the traces: the equity curve has one point per session
    points = browser.execute_script(
        "return document.querySelector('#chart-equity .js-plotly-plot').data[0].x.length")
    assert points == len(daily.calendar.sessions[daily.calendar.session_index_on_or_after(start):
                                                 daily.calendar.session_index_on_or_before(end) + 1])


def test_live_page_follows_the_clock_without_broker_events(tmp_path) -> None:
    import json

    from runtime.data.benchmark import BenchmarkChoice

    algo = write_algo(tmp_path, '''
def initialize(context):
    context.done = False


def handle_data(context, data):
    if not context.done:  # one order on the first session, then nothing the broker reports
        order(symbol("AAPL"), 10)
        context.done = True
''')
    urls: list[str] = []
    seen: list[tuple[int, str]] = []

    def on_session(session) -> None:
        session.on_dashboard = urls.append

        def hook(engine, s) -> None:
            if urls:
                snap = json.loads(urllib.request.urlopen(urls[0] + "snapshot.json", timeout=5).read())
                seen.append((snap["version"], dict((r[0], r[1]) for r in snap["status"])["exchange time"]))
        session.session_hooks.append(hook)

    run_algorithm(str(algo), frequency="daily", replay=(pd.Timestamp("2012-10-01"), pd.Timestamp("2012-10-19")),
                  speed=60_000.0, output=tmp_path / "out", on_session=on_session, dashboard_port=0,
                  benchmark=BenchmarkChoice(enabled=False))
    versions = [v for v, _ in seen]
    assert len(seen) >= 10 and versions == sorted(versions)
    # the page kept being published after the fill (it stopped at the last broker event before): about 0.4 s of
    # real time a session, a snapshot at most every second
    assert len(set(versions[3:])) >= 3 and seen[-1][1] > seen[3][1]
