"""OpenID Connect sign-in in a real headless Chromium, against the real all-in-one (embedded
NATS, the real engine) and a real provider process (oidc-provider-mock): the page sends the
browser to the provider; alice (in vigil-operators) picks herself on its login form, comes
back signed in as an operator and runs a cycle with a click; she signs out; bob (a viewer)
signs in, sees the page without buttons, and an action sent from his page, with his cookie
and CSRF token, is refused with the reason. The page's script never sees the cookie.

The screenshot it takes is docs/dashboard-sign-in.png (alice's page, signed in as an
operator): with VIGIL_DASHBOARD_SCREENSHOT_DIR=DIR the test also writes it there."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support.browser import Browser
from tests.support.oidc_provider import OidcProvider
from tests.support.registry_fixtures import free_port
from tests.support.vigil_process import VigilProcess

pytestmark = pytest.mark.integration

# The page's own POST, as its buttons send it (the session cookie goes on its own).
ACT_FROM_PAGE = (
    "fetch('/api/trigger', {method: 'POST', headers: {'X-CSRF-Token': document.body.dataset.csrf}})"
    ".then(async (a) => [a.status, (await a.json()).error])"
)


def signed_in_as(text: str) -> str:
    return f"(document.getElementById('user') || {{}}).textContent === {json.dumps(text)}"


def sign_in(browser: Browser, sub: str) -> None:
    """On the provider's login form: the button of a predefined user."""
    browser.wait_for(f"!!document.querySelector('button[name=sub][value={sub}]')")
    browser.click(f"button[name=sub][value={sub}]")


def test_an_operator_acts_and_a_viewer_is_refused(
    tmp_path: Path, oidc_provider: OidcProvider
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client_id, secret = oidc_provider.register(base + "/auth/callback")
    (tmp_path / "oidc-secret").write_text(secret + "\n")
    vigil = VigilProcess(
        tmp_path,
        "--host-id",
        "signin",
        "--interval",
        "3600",
        "--dashboard-port",
        str(port),
        "--dashboard-oidc-issuer",
        oidc_provider.issuer,
        "--dashboard-oidc-client-id",
        client_id,
        "--dashboard-oidc-client-secret",
        str(tmp_path / "oidc-secret"),  # a file, as /run/secrets/... would be
        "--dashboard-public-url",
        base + "/",
        "vigil-sign-in-watches-nothing",
    )
    browser: Browser | None = None
    try:
        vigil.wait_for("dashboard serving")
        vigil.wait_for("services started")
        assert secret not in vigil.output
        browser = Browser(tmp_path)
        browser.open(base + "/")
        sign_in(browser, "alice")
        browser.wait_for(signed_in_as("signed in as alice (operator)"))
        browser.wait_for("document.querySelector('#hosts tbody').textContent.includes('alive')")
        assert browser.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
        assert browser.evaluate("document.getElementById('token').hidden") is True
        browser.click("#trigger")
        browser.wait_for(
            "document.getElementById('trigger-result').textContent.includes('asked of signin')"
        )
        vigil.wait_for("cycle asked from the dashboard")
        shot = tmp_path / "dashboard-sign-in.png"
        browser.screenshot(shot)
        if os.environ.get("VIGIL_DASHBOARD_SCREENSHOT_DIR"):
            shutil.copyfile(shot, Path(os.environ["VIGIL_DASHBOARD_SCREENSHOT_DIR"]) / shot.name)

        browser.click("#sign-out")
        # The signed-out page loaded, as open() waits for a page: a fetch made while the
        # navigation was still under way failed once in 20 runs ("Failed to fetch").
        browser.wait_for(
            "location.pathname === '/auth/signed-out' && document.readyState === 'complete'"
        )
        assert (
            browser.evaluate("fetch('/api/hosts').then((a) => a.status)") == 401
        )  # signed out: the cookie is gone
        browser.click("#sign-in")
        sign_in(browser, "bob")
        browser.wait_for(signed_in_as("signed in as bob (viewer)"))
        browser.wait_for("document.querySelector('#hosts tbody').textContent.includes('alive')")
        assert browser.evaluate("document.getElementById('trigger-form').hidden") is True
        status, error = browser.evaluate(ACT_FROM_PAGE)
        assert status == 403
        assert error == (
            "signed in as bob, a viewer: only operators may act (the role claim must hold "
            "one of: vigil-operators)"
        )
        assert vigil.output.count("cycle asked from the dashboard") == 1
    finally:
        if browser is not None:
            browser.close()
        vigil.stop()
