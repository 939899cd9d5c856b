"""The dashboard in a real headless Chromium, against the real all-in-one (embedded NATS, the
real engine, a real registry) with rollouts that wait for approval (--approve): the page shows
a stale container, a click on its button runs a cycle, which holds it (its rollout waits for
approval); the rollout shows in the page, a click on Approve lets it go, and the page shows
the rollout done and the container updated. A second rollout is aborted from the page, after
its confirm step.

The screenshot it takes is docs/dashboard.png: with VIGIL_DASHBOARD_SCREENSHOT=PATH the test
also writes it there.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Browser
from tests.support.dashboard_page import STATE, row_of
from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.vigil_process import VigilProcess

pytestmark = pytest.mark.integration

TOKEN = "dashboard-t0ken-e2e"
# User data that is markup: the page must show it as text and build no element from it.
MARKUP = '<img id="injected" src="x"><b>bold</b>'


def state_of(name: str) -> str:
    """JavaScript: the state the page shows for container `name` ('' while it shows none)."""
    return f"(({row_of(name, STATE)}) || [''])[0]"


def rollout_of(image: str) -> str:
    """JavaScript: the rollout row of `image` as [id, state, actions] (null while none)."""
    return (
        "(() => { const row = [...document.querySelectorAll('#rollouts tbody tr')].find("
        f"(tr) => tr.children[1] && tr.children[1].textContent === {json.dumps(image)});"
        " if (!row) return null; return [row.children[0].textContent,"
        " row.querySelector('td[data-state]').dataset.state,"
        " [...row.querySelectorAll('td.actions button')].map((b) => b.textContent)]; })()"
    )


def rollout_state(image: str, state: str) -> str:
    return f"(({rollout_of(image)}) || [])[1] === {json.dumps(state)}"


def post(port: int, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return int(answer.status), json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post_trigger(port: int, token: str | None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/trigger", method="POST")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_page_shows_a_stale_container_and_a_click_updates_it(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    db_image = f"{registry.host}/{names('db')}:latest"
    web, db = names("web"), names("db")
    for tag, marker in ((app, "web-v1"), (db_image, "db-v1")):  # four builds, four digests
        build_test_image(docker_client, tag, marker=marker)
        push_image(docker_client, tag)
    # Hooks are off, so this label does nothing but carry markup to the page.
    hook = "com.centurylinklabs.watchtower.lifecycle.post-check"
    docker_client.containers.run(app, name=web, detach=True, labels={hook: MARKUP})
    docker_client.containers.run(db_image, name=db, detach=True)
    web_id = docker_client.api.inspect_container(web)["Id"]

    port = free_port()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    vigil = VigilProcess(
        tmp_path,
        "--host-id",
        "dash",
        "--interval",
        "3600",  # no cycle but those the page asks for
        "--digest-cache-ttl",
        "0",
        "--dashboard-port",
        str(port),
        "--dashboard-token",
        str(token_file),  # a file that holds it, as a docker secret
        "--dashboard-check-interval",
        "1s",
        "--approve",  # the all-in-one runs the rollout-coordinator; every rollout waits
        "--rollout",
        "canary=1,soak=0s",
        web,
        db,
    )
    browser: Browser | None = None
    try:
        vigil.wait_for("dashboard serving")
        vigil.wait_for("services started")
        # The trigger route refuses a caller without the token.
        assert post_trigger(port, None) == 401
        assert post_trigger(port, "wrong") == 401

        browser = Browser(tmp_path)
        browser.open(f"http://127.0.0.1:{port}/")
        browser.wait_for("document.querySelector('#hosts tbody').textContent.includes('alive')")
        # Each host names its engine (a fleet may mix Docker and Podman hosts).
        browser.wait_for("document.querySelector('#hosts tbody').textContent.includes('Docker ')")
        browser.type("#token", TOKEN)

        # A first cycle from the page: both containers are judged current.
        browser.click("#trigger")
        browser.wait_for(f"{state_of(web)} === 'current' && {state_of(db)} === 'current'")

        # A new build of web's image: the page shows web stale (its own gateway check).
        build_test_image(docker_client, app, marker="web-v2")
        push_image(docker_client, app)
        browser.wait_for(f"{state_of(web)} === 'stale'")
        assert docker_client.api.inspect_container(web)["Id"] == web_id  # nothing ran

        assert browser.evaluate("document.querySelector('#rollouts tbody').textContent") == (
            "no rollouts"
        )

        # A click: the cycle holds it, its new rollout waiting for approval, in the page.
        browser.click("#trigger")
        browser.wait_for(f"{state_of(web)} === 'held'", timeout=30)
        browser.wait_for(rollout_state(app, "awaiting_approval"))
        rid, _, buttons = browser.evaluate(rollout_of(app))
        assert buttons == ["Approve", "Abort"]
        assert docker_client.api.inspect_container(web)["Id"] == web_id
        # The rollout routes refuse a caller without the token, as the trigger does.
        assert post(port, f"/api/rollouts/{rid}/approve", None)[0] == 401
        assert post(port, f"/api/rollouts/{rid}/approve", "wrong")[0] == 401
        # A state the coordinator refuses: its reason, as `vigil rollout resume` gets it.
        status, doc = post(port, f"/api/rollouts/{rid}/resume", TOKEN)
        assert (status, doc["error"]) == (409, f"rollout {rid} is awaiting_approval, not halted")

        # Approve, with the token: the rollout goes, the page shows it done and web updated.
        browser.click(f"#rollouts button[data-rollout='{rid}'][data-action='approve']")
        browser.wait_for(rollout_state(app, "done"), timeout=30)
        browser.wait_for(f"{state_of(web)} === 'updated'", timeout=30)
        assert browser.evaluate(rollout_of(app))[2] == []  # finished: no buttons
        new = docker_client.api.inspect_container(web)
        assert new["Id"] != web_id
        assert new["Config"]["Labels"]["vigil.test.marker"] == "web-v2"

        # A new build of db's image: db stale beside web updated.
        build_test_image(docker_client, db_image, marker="db-v2")
        push_image(docker_client, db_image)
        browser.wait_for(f"{state_of(db)} === 'stale' && {state_of(web)} === 'updated'")
        db_id = docker_client.api.inspect_container(db)["Id"]
        # Its cycle holds it: a second rollout waits (the screenshot's picture).
        browser.click("#trigger")
        browser.wait_for(rollout_state(db_image, "awaiting_approval"), timeout=30)
        browser.wait_for(f"{state_of(db)} === 'held'")
        browser.wait_for("document.querySelector('#events li') !== null")
        assert browser.evaluate("document.getElementById('injected') === null")
        assert MARKUP in browser.evaluate("document.querySelector('#containers').textContent")
        shot = tmp_path / "dashboard.png"
        browser.screenshot(shot)
        assert shot.read_bytes().startswith(b"\x89PNG")
        if os.environ.get("VIGIL_DASHBOARD_SCREENSHOT"):
            shutil.copyfile(shot, os.environ["VIGIL_DASHBOARD_SCREENSHOT"])

        # Abort asks again in the page; once confirmed, the rollout is aborted, db untouched.
        db_rid = browser.evaluate(rollout_of(db_image))[0]
        abort = f"#rollouts button[data-rollout='{db_rid}'][data-action='abort']"
        browser.click(abort)
        assert browser.evaluate(rollout_of(db_image))[2] == ["Yes, abort", "Cancel"]
        browser.click(f"#rollouts button[data-rollout='{db_rid}'][data-action='cancel']")
        assert browser.evaluate(rollout_of(db_image))[2] == ["Approve", "Abort"]
        browser.click(abort)
        browser.click(f"#rollouts button[data-rollout='{db_rid}'][data-action='confirm-abort']")
        browser.wait_for(rollout_state(db_image, "aborted"))
        assert docker_client.api.inspect_container(db)["Id"] == db_id
    finally:
        if browser is not None:
            browser.close()
        status = vigil.stop()
    assert status == 0, vigil.output
    assert TOKEN not in vigil.output  # the token is never logged
