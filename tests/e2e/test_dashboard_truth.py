"""The page says what the latest report and the engine say, in a real headless Chromium
against the real all-in-one (embedded NATS, the real engine, a real registry).

The dashboard keeps its own registry answers for --dashboard-check-interval (here an hour):
one taken before an update must not outlive the update's report, or the page calls the
container stale and names the build it has just replaced "newer" (issue 18).

The screenshot it takes is docs/dashboard-history.png: with VIGIL_DASHBOARD_SCREENSHOT_DIR=DIR
the test also writes it there.
"""

from __future__ import annotations

import os
import shutil
import signal
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import dashboard_page
from tests.support.browser import Browser
from tests.support.dashboard_page import DIGEST, STATE, WHY
from tests.support.images import StaleContainer, build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.registry_proxy import RegistryProxy
from tests.support.vigil_process import VigilProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TOKEN = "dashboard-truth-t0ken"
HOST = "truth"
SOURCE = "https://git.example.test/web"
OCI_LABELS = (
    f'LABEL org.opencontainers.image.source="{SOURCE}" '
    'org.opencontainers.image.version="2.0.0" org.opencontainers.image.revision="9fceb02"\n'
)


def row_of(name: str) -> str:
    """JavaScript: [state, why, digest] of container `name`'s row (null while none)."""
    return dashboard_page.row_of(name, STATE, WHY, DIGEST)


def dashboard_args(port: int, check_interval: str) -> tuple[str, ...]:
    """The all-in-one of these tests: no cycle but those the test asks for, no digest cache,
    the dashboard on `port` with the token, its own checks every `check_interval`."""
    return (
        *("--host-id", HOST, "--interval", "3600", "--digest-cache-ttl", "0"),
        *("--dashboard-port", str(port), "--dashboard-token", TOKEN),
        *("--dashboard-check-interval", check_interval),
    )


def image_ids(docker_client: Any, app: str, running: dict[str, Any]) -> tuple[str, str]:
    """The short ids of the build the container ran first (v1) and of the one it runs."""
    new = str(running["Image"])
    repo = app.rsplit(":", 1)[0]
    # v1 was pushed: its RepoDigests name the repository (a build's intermediate images,
    # listed with all=True, carry its labels too, but no digest).
    old = next(
        i.id
        for i in docker_client.images.list(all=True)
        if i.labels.get("vigil.test.marker") == "web-v1"
        and any(d.startswith(f"{repo}@") for d in i.attrs.get("RepoDigests") or ())
    )
    return old.removeprefix("sha256:")[:12], new.removeprefix("sha256:")[:12]


def cycles_shown(n: int) -> str:
    return f"document.querySelectorAll('#cycles tbody tr td.mono').length >= {n}"


def error_lines(output: str) -> list[str]:
    return [
        line
        for line in output.splitlines()
        if " ERROR " in line or "Traceback" in line or "has been closed" in line
    ]


@pytest.mark.timeout(240)
def test_after_an_update_the_row_shows_the_report_not_an_older_registry_answer(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    web = names("web")
    build_test_image(docker_client, app, marker="web-v1")
    old_digest = push_image(docker_client, app)
    docker_client.containers.run(app, name=web, detach=True)

    port = free_port()
    # The dashboard's own answer is kept an hour: the report must win over it.
    vigil = VigilProcess(tmp_path, *dashboard_args(port, "1h"), web)
    browser: Browser | None = None
    try:
        vigil.wait_for("dashboard serving")
        vigil.wait_for("services started")
        browser = Browser(tmp_path)
        browser.open(f"http://127.0.0.1:{port}/")
        browser.type("#token", TOKEN)
        browser.click("#trigger")
        browser.wait_for(f"(({row_of(web)}) || [])[0] === 'current'", timeout=60)
        # The dashboard's own answer for the image, now: the build it runs, up to date.
        browser.click(f"#containers button[data-act='check'][data-name='{web}']")
        browser.wait_for(f"(({row_of(web)}) || [''])[1].includes('checked: up to date')")

        build_test_image(docker_client, app, marker="web-v2", extra=OCI_LABELS)
        new_digest = push_image(docker_client, app)
        browser.click("#trigger")  # updates it to the new build
        browser.wait_for(f"(({row_of(web)}) || [])[0] === 'updated'", timeout=90)
        browser.click("#trigger")  # the next cycle finds it on the new build
        browser.wait_for(cycles_shown(3), timeout=60)
        vigil.wait_for("report delivered", count=3, timeout=60)
        browser.wait_for(
            f"(({row_of(web)}) || [])[0] !== 'updated' && (({row_of(web)}) || [])[0] !== ''",
            timeout=30,
        )
        state, why, digest = browser.evaluate(row_of(web))
        running = docker_client.api.inspect_container(web)
        assert running["Config"]["Labels"]["vigil.test.marker"] == "web-v2"
        # The latest report says fresh, the engine runs the new build: current, and the
        # build it replaced is not "a newer build in the registry".
        assert (state, digest) == ("current", new_digest.removeprefix("sha256:")[:12]), why
        assert old_digest.removeprefix("sha256:")[:12] not in why
        assert "checked: up to date" not in why  # the reports since say more than the check
        # What next: the scanner's heartbeat (every 10 s) says when its next cycle starts.
        browser.wait_for(
            f"/next: checked again at the next cycle \\d{{4}}-\\d\\d-\\d\\d \\d\\d:/"
            f".test((({row_of(web)}) || ['', ''])[1])",
            timeout=40,
        )

        # A click on its name: its history, newest first, from the reports.
        browser.click(f"#containers button[data-history$='/{web}']")
        lines = "[...document.querySelectorAll('tr.history table tr[data-status]')]"
        browser.wait_for(f"{lines}.length === 3", timeout=20)
        history = browser.evaluate(f"{lines}.map((tr) => tr.children[2].textContent)")
        old_id, new_id = image_ids(docker_client, app, running)
        assert history[0] == "up to date" and history[2] == "up to date", history
        assert history[1].startswith(f"updated {old_id} -> {new_id}"), history
        # Its image's OCI labels above the results, the source a link to it.
        source = "document.querySelector('tr.history a[data-oci=source]')"
        assert browser.evaluate(f"[{source}.href, {source}.textContent]") == [SOURCE, SOURCE]
        oci = "(k) => document.querySelector(`tr.history [data-oci=${k}]`).textContent"
        assert browser.evaluate(f"['version', 'revision'].map({oci})") == ["2.0.0", "9fceb02"]
        shot = tmp_path / "dashboard-history.png"
        browser.screenshot(shot)
        if os.environ.get("VIGIL_DASHBOARD_SCREENSHOT_DIR"):
            shutil.copyfile(shot, Path(os.environ["VIGIL_DASHBOARD_SCREENSHOT_DIR"]) / shot.name)
        browser.click(f"#containers button[data-history$='/{web}']")  # closes it
        browser.wait_for("document.querySelector('tr.history') === null")
    finally:
        if browser is not None:
            browser.close()
        status = vigil.stop()
    assert status == 0, vigil.output
    assert error_lines(vigil.output) == [], vigil.output


def _ask(port: int, path: str, method: str = "GET") -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(request, timeout=20) as answer:
        return int(answer.status)


@pytest.mark.timeout(240)
def test_a_sigterm_while_the_dashboard_checks_the_registry_logs_no_error(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    """SIGTERM while the dashboard's own check waits for a slow registry: the all-in-one
    exits 0 with no ERROR line (`client has been closed` was one) and no traceback."""
    with RegistryProxy(registry.url) as proxy:
        web = names("web")
        StaleContainer(docker_client, proxy.host, web, names("app"))
        port = free_port()
        vigil = VigilProcess(
            tmp_path,
            *dashboard_args(port, "1s"),
            "--monitor-only",  # the cycle only gives the dashboard an inventory
            web,
        )
        try:
            vigil.wait_for("services started", timeout=60)
            assert _ask(port, "/api/trigger", "POST") == 202
            vigil.wait_for("report delivered", timeout=60)
            proxy.delay = 5.0
            before = len(proxy.arrivals())
            assert _ask(port, "/api/containers") == 200  # the dashboard checks its images
            wait_until(
                lambda: [a for a in proxy.arrivals()[before:] if "/manifests/" in a.path],
                60,
                "the dashboard's check reaching the registry",
            )
            vigil.process.send_signal(signal.SIGTERM)
            status = vigil.process.wait(timeout=90)
        finally:
            vigil.stop()
    assert status == 0, vigil.output
    assert error_lines(vigil.output) == [], vigil.output


BANNER = (
    "(() => { const b = document.getElementById('banner');"
    " return b.hidden ? '' : b.textContent; })()"
)


@pytest.mark.timeout(240)
def test_the_page_says_when_its_stream_drops_and_reconnects_on_its_own(
    tmp_path: Path, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    """Vigil restarted under an open page: a banner says the connection is lost, the page
    reconnects by itself when Vigil is back (no reload), removes the banner, and shows what
    the new Vigil says (its audit stream, each event once)."""
    app = f"{registry.host}/{names('app')}:latest"
    web = names("web")
    build_test_image(docker_client, app, marker="web-v1")
    push_image(docker_client, app)
    docker_client.containers.run(app, name=web, detach=True)
    port = free_port()
    args = ["--host-id", HOST, "--interval", "3600", "--dashboard-port", str(port)]
    args += ["--dashboard-token", TOKEN, web]
    first = VigilProcess(tmp_path, *args)
    second: VigilProcess | None = None
    browser: Browser | None = None
    try:
        first.wait_for("dashboard serving")
        browser = Browser(tmp_path)
        browser.open(f"http://127.0.0.1:{port}/")
        browser.wait_for("document.getElementById('stream-state').textContent === '(live)'")
        assert browser.evaluate(BANNER) == ""
        browser.evaluate("window.notReloaded = true")

        assert first.stop() == 0, first.output
        browser.wait_for(f"{BANNER}.includes('Lost the connection to Vigil')", timeout=30)
        assert browser.evaluate("document.getElementById('stream-state').textContent") == (
            "(reconnecting)"
        )

        second = VigilProcess(tmp_path, *args, label="vigil-again")
        second.wait_for("dashboard serving", timeout=60)
        browser.wait_for(f"{BANNER} === ''", timeout=30)
        assert browser.evaluate("document.getElementById('stream-state').textContent") == "(live)"
        assert browser.evaluate("window.notReloaded") is True  # the same page, not a reload

        # Live again: a cycle of the new Vigil shows in the page, each event once.
        browser.type("#token", TOKEN)
        browser.click("#trigger")
        browser.wait_for(f"(({row_of(web)}) || [])[0] === 'current'", timeout=60)
        browser.wait_for(
            "[...document.querySelectorAll('#events li')].some((li) =>"
            " li.textContent.includes('report'))",
            timeout=30,
        )
        lines = browser.evaluate(
            "[...document.querySelectorAll('#events li')].map((li) => li.textContent)"
        )
        assert len(lines) == len(set(lines)), lines
    finally:
        if browser is not None:
            browser.close()
        first.stop()
        status = second.stop() if second is not None else None
    assert status == 0, second.output if second else first.output
