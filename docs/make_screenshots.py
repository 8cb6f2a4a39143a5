"""Make the README's screenshots with the project's own code: a backtest's report.html and the live page of a
replay, photographed by headless Chromium through Selenium.

    python docs/make_screenshots.py            (writes docs/report.png and docs/live-page.png)

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``) and ``pip install selenium``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def browser(width: int, height: int):
    """A headless Chromium driven by Selenium (a fresh profile, no network services)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                f"--window-size={width},{height}", f"--user-data-dir={tempfile.mkdtemp(prefix='ibalgo-chromium-')}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def shoot_report(out: Path) -> None:
    from runtime.assembly.backtest import load_run_data, run_backtest
    from runtime.config import Settings
    from runtime.data.benchmark import BenchmarkChoice

    with tempfile.TemporaryDirectory() as tmp:
        daily, _minute, start, end = load_run_data(Settings(start="2005-01-03", end="2012-12-31"))
        run_backtest("user_algos/dual_moving_average.py", daily=daily, minute=None, start=start, end=end,
                     capital=100_000.0, output=Path(tmp), benchmark=BenchmarkChoice(symbol="IBM"))
        driver = browser(1400, 2400)
        try:
            driver.get((Path(tmp) / "report.html").as_uri())
            time.sleep(2.0)
            driver.save_screenshot(str(out))
        finally:
            driver.quit()


def shoot_live(out: Path) -> None:
    import pandas as pd

    from runtime.data.benchmark import BenchmarkChoice
    from runtime.live.paper import run_algorithm

    ready = threading.Event()
    urls: list[str] = []

    def on_session(session) -> None:
        def announce(url: str) -> None:
            urls.append(url)
            ready.set()

        session.on_dashboard = announce

    with tempfile.TemporaryDirectory() as tmp:
        done = threading.Event()

        def run() -> None:
            try:
                run_algorithm("user_algos/buy_and_hold.py", frequency="daily",
                              replay=(pd.Timestamp("2012-10-01"), pd.Timestamp("2012-11-30")), speed=60_000.0,
                              output=Path(tmp), on_session=on_session, dashboard_port=0,
                              benchmark=BenchmarkChoice(symbol="IBM"))
            finally:
                done.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        ready.wait(60)
        driver = browser(1400, 2300)
        try:
            driver.get(urls[0])
            time.sleep(30.0)
            driver.save_screenshot(str(out))
        finally:
            driver.quit()
        done.wait(120)


if __name__ == "__main__":
    os.chdir(ROOT)  # the pages name the algorithm as a user would type it
    if "--live-only" not in sys.argv:
        shoot_report(ROOT / "docs" / "report.png")
    if "--report-only" not in sys.argv:
        shoot_live(ROOT / "docs" / "live-page.png")
