"""OpenID Connect sign-in against a real provider process (oidc-provider-mock) and a real
NATS: the code flow over HTTP as a browser does it (the dashboard sends it to the provider
with PKCE, the provider's login form is filled in, its redirect comes back with a code), the
session cookie's attributes, CSRF and Origin on actions, the operator and viewer roles, the
token beside it all, and sign-out."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import httpx
import pytest

from tests.support.certs import TestCA
from tests.support.oidc_provider import OPERATOR, OidcProvider
from tests.support.registry_fixtures import free_port
from vigil.dashboard.auth_oidc import OidcConfig
from vigil.dashboard.service import Dashboard, DashboardConfig
from vigil_shared.bus import Bus

pytestmark = pytest.mark.integration

TOKEN = "sign-in-t0ken"


def _data(page: str, name: str) -> str:
    found = re.search(rf'data-{name}="([^"]*)"', page)
    assert found, f"no data-{name} in the page"
    return found.group(1)


async def _sign_in(http: httpx.AsyncClient, base: str, sub: str) -> tuple[httpx.Response, str]:
    """The whole code flow: / sends to the provider's form; the form, sent as `sub`,
    redirects back to the callback, which sets the session and sends to /."""
    form = await http.get(base + "/", follow_redirects=True)
    assert form.status_code == 200 and 'name="sub"' in form.text, form.text[:300]
    authorize = str(form.url)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["response_type"] == ["code"] and query["nonce"][0] and query["state"][0]
    back = await http.post(authorize, data={"sub": sub}, follow_redirects=False)
    assert back.status_code == 302
    callback = await http.get(back.headers["location"], follow_redirects=False)
    assert callback.status_code == 303, callback.text
    page = await http.get(base + "/", follow_redirects=False)
    assert page.status_code == 200
    return callback, page.text


def _signed_in_dashboard(
    bus: Bus, provider: OidcProvider, *, issuer: str = "", token: str = ""
) -> tuple[Dashboard, str]:
    """A dashboard on a free port whose client the provider knows; its base URL. `issuer`:
    another one than the provider's (where nothing answers)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client_id, secret = provider.register(base + "/auth/callback")
    oidc = OidcConfig(
        issuer=issuer or provider.issuer,
        client_id=client_id,
        client_secret=secret,
        public_url=base + "/",
    )
    config = DashboardConfig(port=port, token=token, check_interval=0, oidc=oidc)
    return Dashboard(bus, config), base


async def test_the_code_flow_roles_csrf_and_the_token_beside_it(
    bus: Bus, oidc_provider: OidcProvider
) -> None:
    dashboard, base = _signed_in_dashboard(bus, oidc_provider, token=TOKEN)
    await dashboard.start()
    try:
        async with httpx.AsyncClient(timeout=20) as anonymous:
            # Signed out: the page sends to the sign-in, the API answers 401 with the way in.
            page = await anonymous.get(base + "/")
            assert (page.status_code, page.headers["location"]) == (303, "/auth/login")
            hosts = await anonymous.get(base + "/api/hosts")
            assert hosts.status_code == 401 and "/auth/login" in hosts.json()["error"]
            # The token goes on as before, reading and acting (409: no scanner, past the gate).
            bearer = {"authorization": f"Bearer {TOKEN}"}
            assert (await anonymous.get(base + "/api/hosts", headers=bearer)).status_code == 200
            acted = await anonymous.post(base + "/api/trigger", headers=bearer)
            assert acted.status_code == 409, acted.text
            wrong = await anonymous.post(
                base + "/api/trigger", headers={"authorization": "Bearer x"}
            )
            assert wrong.status_code == 401

        async with httpx.AsyncClient(timeout=20) as alice:
            callback, text = await _sign_in(alice, base, "alice")
            cookie = next(
                v
                for k, v in callback.headers.multi_items()
                if k == "set-cookie" and v.startswith("vigil_session=")
            )
            attributes = {a.strip().split("=")[0] for a in cookie.split(";")[1:]}
            assert {"HttpOnly", "SameSite", "Path", "Max-Age"} <= attributes
            assert "SameSite=Lax" in cookie and "Secure" not in attributes  # http public URL
            # The sealed cookie tells the browser nothing: neither name, role nor CSRF token.
            sealed = cookie.split(";")[0].removeprefix("vigil_session=")
            csrf = _data(text, "csrf")
            assert "alice" not in sealed and "operator" not in sealed and csrf not in sealed
            assert (_data(text, "user"), _data(text, "role")) == ("alice", "operator")
            assert _data(text, "can-trigger") == "true"
            assert (await alice.get(base + "/api/hosts")).status_code == 200

            same = {"origin": base}
            no_csrf = await alice.post(base + "/api/trigger", headers=same)
            assert no_csrf.status_code == 403 and "X-CSRF-Token" in no_csrf.json()["error"]
            elsewhere = {"origin": "http://evil.example", "x-csrf-token": csrf}
            cross = await alice.post(base + "/api/trigger", headers=elsewhere)
            assert cross.status_code == 403 and "evil.example" in cross.json()["error"]
            no_origin = await alice.post(base + "/api/trigger", headers={"x-csrf-token": csrf})
            assert no_origin.status_code == 403 and "Origin" in no_origin.json()["error"]
            acted = await alice.post(base + "/api/trigger", headers={**same, "x-csrf-token": csrf})
            assert acted.status_code == 409 and "no live scanner" in acted.json()["error"]

            # A tampered cookie is no session.
            alice.cookies.set("vigil_session", sealed[:-4] + "AAAA", domain="127.0.0.1")
            assert (await alice.get(base + "/api/hosts")).status_code == 401
            alice.cookies.set("vigil_session", sealed, domain="127.0.0.1")

            out = await alice.post(base + "/auth/logout", headers={**same, "x-csrf-token": csrf})
            assert out.status_code == 200 and "Max-Age=0" in out.headers["set-cookie"]
            assert (await alice.get(base + "/api/hosts")).status_code == 401

        async with httpx.AsyncClient(timeout=20) as bob:
            _, text = await _sign_in(bob, base, "bob")
            assert (_data(text, "user"), _data(text, "role")) == ("bob", "viewer")
            assert _data(text, "can-trigger") == "true"  # the token form: bob may type it
            csrf = _data(text, "csrf")
            refused = await bob.post(
                base + "/api/containers/h1/web/update",
                headers={"origin": base, "x-csrf-token": csrf},
            )
            assert refused.status_code == 403
            assert refused.json()["error"].startswith("signed in as bob, a viewer: only operators")
            assert (await bob.get(base + "/api/containers")).status_code == 200
    finally:
        await dashboard.close()


async def test_a_denied_forged_or_unreachable_sign_in_is_refused_with_the_reason(
    bus: Bus, oidc_provider: OidcProvider
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    dashboards = [
        _signed_in_dashboard(bus, oidc_provider),
        _signed_in_dashboard(bus, oidc_provider, issuer=nowhere),
    ]
    base, down = dashboards[0][1], dashboards[1][1]
    for dashboard, _ in dashboards:
        await dashboard.start()
    try:
        async with httpx.AsyncClient(timeout=20) as http:
            # The user clicks Deny on the provider's form: its error comes back, and is said.
            form = await http.get(base + "/", follow_redirects=True)
            denied = await http.post(str(form.url), data={"action": "deny"}, follow_redirects=True)
            assert denied.status_code == 403 and "access_denied" in denied.text
            assert "vigil_session" not in http.cookies
            # An answer for another sign-in (its state), or with no sign-in begun, sets nothing.
            await http.get(base + "/auth/login")
            forged = await http.get(base + "/auth/callback?code=x&state=not-this-one")
            assert forged.status_code == 400 and "state" in forged.text
            async with httpx.AsyncClient(timeout=20) as other:
                other.cookies.set("vigil_login", "garbage", domain="127.0.0.1")
                fresh = await other.get(base + "/auth/callback?code=x&state=y")
                assert fresh.status_code == 400 and "no sign-in in progress" in fresh.text
            assert "vigil_session" not in http.cookies
            # No provider where the issuer says: the page says which URL did not answer.
            unreachable = await http.get(down + "/auth/login")
            assert unreachable.status_code == 502
            assert nowhere + "/.well-known/openid-configuration" in unreachable.text
    finally:
        for dashboard, _ in dashboards:
            await dashboard.close()


def _set_cookie(answer: httpx.Response, name: str) -> str:
    found = [v for k, v in answer.headers.multi_items() if k == "set-cookie"]
    return next(v for v in found if v.startswith(name + "="))


async def test_over_https_the_provider_is_checked_against_the_ca_and_the_cookie_is_secure(
    bus: Bus, tmp_path: Path
) -> None:
    ca = TestCA(tmp_path)
    cert, key = ca.server_cert("oidc")
    provider = OidcProvider(tmp_path, (OPERATOR,), tls=(ca.path, cert, key))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    public = f"https://127.0.0.1:{port}"  # as the TLS proxy in front of it would serve it
    client_id, secret = provider.register(public + "/auth/callback")

    def dashboard(port: int, ca_file: str) -> Dashboard:
        oidc = OidcConfig(
            issuer=provider.issuer,
            client_id=client_id,
            client_secret=secret,
            public_url=public + "/",
            ca_file=ca_file,
        )
        return Dashboard(bus, DashboardConfig(port=port, check_interval=0, oidc=oidc))

    trusting, untrusting = dashboard(port, str(ca.path)), dashboard(0, "")
    for each in (trusting, untrusting):
        await each.start()
    try:
        async with httpx.AsyncClient(timeout=20, verify=provider.verify) as http:
            # Without --dashboard-oidc-ca-file the system's CAs do not know the provider's.
            down = await http.get(f"http://127.0.0.1:{untrusting.server.port}/auth/login")
            assert down.status_code == 502 and "CERTIFICATE_VERIFY_FAILED" in down.text

            login = await http.get(base + "/auth/login")
            assert login.status_code == 303, login.text
            login_cookie = _set_cookie(login, "__Host-vigil_login")
            assert login_cookie.endswith("; HttpOnly; SameSite=Lax; Secure")
            form = await http.get(login.headers["location"])
            back = await http.post(str(form.url), data={"sub": "alice"})
            assert back.status_code == 302
            http.cookies.clear()  # the dashboard's cookies go as the browser would send them
            callback = await http.get(
                back.headers["location"].replace(public, base, 1),  # as the proxy forwards it
                headers={"cookie": login_cookie.split(";")[0]},
            )
            assert callback.status_code == 303, callback.text
            session = _set_cookie(callback, "__Host-vigil_session")
            assert "; Path=/;" in session and session.endswith("; HttpOnly; SameSite=Lax; Secure")
            http.cookies.clear()
            sent = {"cookie": session.split(";")[0]}
            page = await http.get(base + "/", headers=sent)
            assert _data(page.text, "role") == "operator"
            acted = await http.post(
                base + "/api/trigger",
                headers={**sent, "origin": public, "x-csrf-token": _data(page.text, "csrf")},
            )
            assert acted.status_code == 409 and "no live scanner" in acted.json()["error"]
    finally:
        for each in (trusting, untrusting):
            await each.close()
        provider.close()
