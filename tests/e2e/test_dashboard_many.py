"""The page with 2,000 containers on 100 hosts (bench/dashboard_page.py's fleet: the real rows,
page, script and CSP) in a real headless Chromium: it builds the first 200 rows only (2,000
cost a second of style and layout), says how many more there are, shows them on a click, and
its counts, filters and sort still cover every container.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.dashboard_page import HOSTS, PER_HOST, _fleet, _server
from tests.support.browser import Browser

pytestmark = pytest.mark.integration

ROWS = "document.querySelectorAll('#containers td[data-container]').length"


def test_two_thousand_containers_show_a_page_of_rows_and_the_rest_on_a_click(
    tmp_path: Path,
) -> None:
    server = _server(_fleet())
    browser = Browser(tmp_path)
    try:
        browser.open(f"http://127.0.0.1:{server.server_address[1]}/")
        browser.wait_for(f"{ROWS} > 0")
        assert browser.evaluate(ROWS) == 200
        assert browser.evaluate("document.getElementById('shown').textContent") == (
            f"(200 shown, {HOSTS * PER_HOST} match, {HOSTS * PER_HOST} in all)"
        )
        assert "1800 more" in browser.evaluate("document.querySelector('tr.more').textContent")
        # The counts are of every container, not of the rows built.
        counts = browser.evaluate("document.getElementById('counts').textContent")
        assert f"{HOSTS} held" in counts and f"{HOSTS} failed" in counts, counts

        browser.click("#more-rows")
        browser.wait_for(f"{ROWS} === 400")
        # A filter finds a container far beyond the rows built.
        browser.type("#f-text", "svc-49")
        browser.wait_for(f"{ROWS} > 0 && !document.querySelector('tr.more')")
        names = browser.evaluate(
            "[...document.querySelectorAll('#containers tr[data-key]')].map((r) => r.dataset.key)"
        )
        assert "host-099/app-00" in names, names
        browser.evaluate(
            "(() => { const f = document.getElementById('f-text'); f.value = '';"
            " f.dispatchEvent(new Event('input')); })()"
        )
        browser.wait_for("!!document.getElementById('all-rows')")
        browser.click("#all-rows")
        browser.wait_for(f"{ROWS} === {HOSTS * PER_HOST}")
        assert browser.evaluate("document.querySelector('tr.more')") is None
    finally:
        browser.close()
        server.shutdown()
