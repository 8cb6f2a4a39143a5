"""The live page of a run, in a real headless Chromium: it loads, shows a replay's positions, updates after a fill."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import urllib.request

import pandas as pd
import pytest
from support.algo import wait_until, write_algo

from runtime.live.paper import run_algorithm

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
