"""One container's buttons in a real headless Chromium, against the real all-in-one
(embedded NATS, the real engine, a real registry): a new build shows the row stale; *Skip*
pins it (held, with the reason; a cycle leaves it alone, and `vigil skip` lists the skip, the
same bucket); *Stop skipping* lets it go; *Update now* updates it, its row saying how it went;
*Check now* asks the registry. The filters, sort and counts are driven by clicks too.

The screenshot it takes is docs/dashboard-actions.png: with VIGIL_DASHBOARD_SCREENSHOT_DIR=DIR
the test also writes it there.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import dashboard_page
from tests.support.browser import Browser
from tests.support.dashboard_page import BUTTONS, STATE, WHY
from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.vigil_process import VigilProcess, run_vigil

pytestmark = pytest.mark.integration

TOKEN = "dashboard-actions-t0ken"
HOST = "dash"


def row_of(name: str) -> str:
    """JavaScript: [state, why, buttons] of container `name`'s row (null while none)."""
    return dashboard_page.row_of(name, STATE, WHY, BUTTONS)


def state_is(name: str, state: str) -> str:
    return f"(({row_of(name)}) || [])[0] === {json.dumps(state)}"


def why_has(name: str, text: str) -> str:
    return f"((({row_of(name)}) || [])[1] || '').includes({json.dumps(text)})"


def button(name: str, action: str) -> str:
    return f"#containers button[data-act='{action}'][data-name='{name}']"


def test_a_rows_buttons_skip_stop_skipping_update_and_check(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    db_image = f"{registry.host}/{names('db')}:latest"
    web, db = names("web"), names("db")
    for tag, marker in ((app, "web-v1"), (db_image, "db-v1")):
        build_test_image(docker_client, tag, marker=marker)
        push_image(docker_client, tag)
    docker_client.containers.run(app, name=web, detach=True)
    docker_client.containers.run(db_image, name=db, detach=True)
    web_id = docker_client.api.inspect_container(web)["Id"]

    port = free_port()
    vigil = VigilProcess(
        tmp_path,
        "--host-id",
        HOST,
        "--interval",
        "3600",  # no cycle but those the page asks for
        "--digest-cache-ttl",
        "0",
        "--dashboard-port",
        str(port),
        "--dashboard-token",
        TOKEN,
        "--dashboard-check-interval",
        "1s",
        web,
        db,
    )
    browser: Browser | None = None
    try:
        vigil.wait_for("dashboard serving")
        vigil.wait_for("services started")
        browser = Browser(tmp_path)
        browser.open(f"http://127.0.0.1:{port}/")
        browser.wait_for("document.querySelector('#hosts tbody').textContent.includes('alive')")
        browser.type("#token", TOKEN)
        browser.click("#trigger")  # a first cycle: both current, each with its buttons
        browser.wait_for(f"{state_is(web, 'current')} && {state_is(db, 'current')}", timeout=30)
        assert browser.evaluate(row_of(web))[2] == ["Update now", "Check now", "Skip"]

        # Check now, on a current container: the registry's answer on its row.
        browser.click(button(db, "check"))
        browser.wait_for(why_has(db, "checked: up to date"))

        # A new build: the page shows web stale; Skip (this build) holds it, with the reason.
        build_test_image(docker_client, app, marker="web-v2")
        push_image(docker_client, app)
        browser.wait_for(state_is(web, "stale"))
        browser.click(button(web, "skip"))
        browser.wait_for(state_is(web, "held"))
        browser.wait_for(why_has(web, "skipped by vigil dashboard until a newer one appears"))
        assert browser.evaluate(row_of(web))[2] == ["Update now", "Check now", "Stop skipping"]

        # `vigil skip` reads the same bucket: the skip holds fleet-wide and across restarts.
        listed = run_vigil("skip", "--state-dir", str(vigil.state), timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert f"{HOST}/{web}" in listed.stdout and "skipped" in listed.stdout

        # A cycle leaves web alone: its scanner holds it, and says why in the report.
        browser.click("#trigger")
        vigil.wait_for("scan planned", count=2, timeout=60)
        browser.wait_for(
            "[...document.querySelectorAll('#cycles tbody tr')].length >= 2", timeout=30
        )
        browser.wait_for(
            "document.querySelector('#cycles tbody tr').textContent.includes('1 held')",
            timeout=30,
        )
        assert docker_client.api.inspect_container(web)["Id"] == web_id

        # Filters and counts: a click on the held count shows only web; text finds db.
        browser.wait_for("document.querySelector('#counts').textContent.includes('1 held')")
        browser.click("#counts button[data-count='held']")
        assert browser.evaluate(
            "[...document.querySelectorAll('#containers td[data-container]')]"
            ".map((c) => c.textContent)"
        ) == [web]
        browser.click("#counts button[data-count='held']")  # again: every state
        browser.type("#f-text", db)
        browser.wait_for(f"document.querySelector('td[data-container={json.dumps(web)}]') === null")
        assert browser.evaluate(row_of(db)) is not None
        browser.evaluate(
            "(() => { const f = document.getElementById('f-text'); f.value = '';"
            " f.dispatchEvent(new Event('input')); })()"
        )
        # Sort by container name, then the other way: a click on the column's head. The page
        # lists every container of the engine; another suite's on a shared engine may be
        # there too, so only this test's two are compared.
        order = (
            "[...document.querySelectorAll('#containers td[data-container]')]"
            f".map((c) => c.textContent).filter((n) => {json.dumps([web, db])}.includes(n))"
        )
        browser.click("#containers th[data-sort='name']")
        assert browser.evaluate(order) == sorted([web, db])
        browser.click("#containers th[data-sort='name']")
        assert browser.evaluate(order) == sorted([web, db], reverse=True)

        shot = tmp_path / "dashboard-actions.png"
        browser.screenshot(shot)
        assert shot.read_bytes().startswith(b"\x89PNG")
        if os.environ.get("VIGIL_DASHBOARD_SCREENSHOT_DIR"):
            shutil.copyfile(shot, Path(os.environ["VIGIL_DASHBOARD_SCREENSHOT_DIR"]) / shot.name)

        # Stop skipping: the row offers Skip again (its last cycle held it: it says so until
        # the next one); Update now updates it, the row says how it went.
        browser.click(button(web, "unskip"))
        browser.wait_for(why_has(web, "no longer skipped"))
        assert browser.evaluate(row_of(web))[2] == ["Update now", "Check now", "Skip"]
        browser.click(button(web, "update"))
        browser.wait_for(state_is(web, "updated"), timeout=60)
        browser.wait_for(why_has(web, "update: updated"))
        new = docker_client.api.inspect_container(web)
        assert new["Id"] != web_id
        assert new["Config"]["Labels"]["vigil.test.marker"] == "web-v2"
        assert (
            docker_client.api.inspect_container(db)["Config"]["Labels"]["vigil.test.marker"]
            == "db-v1"
        )
    finally:
        if browser is not None:
            browser.close()
        status = vigil.stop()
    assert status == 0, vigil.output
    assert TOKEN not in vigil.output
