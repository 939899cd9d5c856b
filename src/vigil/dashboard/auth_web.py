"""Sign-in over HTTP: /auth/login, /auth/callback, /auth/logout, /auth/signed-out, and the
gate (auth_guard) in front of every other request, when --dashboard-oidc-issuer is given.

    GET  /auth/login        to the provider (a login cookie holds state, nonce, verifier)
    GET  /auth/callback     back from it: the code exchanged, the session cookie set, to /
    POST /auth/logout       the session cookie deleted (X-CSRF-Token and Origin as actions)
    GET  /auth/signed-out   a page that says so, with a link to sign in again
"""

from __future__ import annotations

import html
import secrets
import time
import urllib.parse

import msgspec

from vigil.dashboard import auth_guard, routes
from vigil.dashboard.auth_oidc import OidcClient, OidcConfig, ProviderError
from vigil.dashboard.auth_roles import display_name, role_from_claims
from vigil.dashboard.auth_session import (
    LOGIN_S,
    SESSION_S,
    Login,
    Sealer,
    Session,
    cookie_names,
    new_csrf_token,
    read_cookies,
    set_cookie,
)
from vigil.dashboard.server import Answer, Request
from vigil_shared.logs import get_logger

log = get_logger("vigil.dashboard")

HTML = ("content-type", "text/html; charset=utf-8")
JSON = ("content-type", "application/json")


class Admission(msgspec.Struct, frozen=True, kw_only=True):
    """What the gate let through: an answer of its own, or on to routes (with the session,
    and whether it is a signed-in operator's checked action)."""

    answer: Answer | None = None
    session: Session | None = None
    act: bool = False


OPEN = Admission()


def _page(status: int, title: str, text: str, link: str = "") -> Answer:
    body = f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
    body += f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
    if link:
        body += '<p><a id="sign-in" href="/auth/login">Sign in</a></p>'
    return Answer(status=status, headers=[*routes.SECURITY_HEADERS, HTML], body=body.encode())


def fill_page(page: str, session: Session | None, *, sign_in: bool) -> str:
    """The page's sign-in placeholders: who is signed in, their role, the CSRF token the
    script sends back (all escaped; empty without a session)."""
    fields = {
        "{{sign_in}}": "true" if sign_in else "false",
        "{{user}}": session.name if session else "",
        "{{role}}": session.role if session else "",
        "{{csrf}}": session.csrf if session else "",
    }
    for key, value in fields.items():
        page = page.replace(key, html.escape(value, quote=True))
    return page


class SignIn:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self.client = OidcClient(config)
        self.sealer = Sealer(config.client_secret)
        self.names = cookie_names(config.secure)
        self.public_origin = auth_guard.origin_of(config.public_url)

    def session(self, request: Request) -> Session | None:
        value = read_cookies(request.headers.get("cookie")).get(self.names.session)
        return self.sealer.open(self.names.session, value, Session) if value else None

    async def admit(self, request: Request, token: str) -> Admission:
        path = request.target.split("?", 1)[0]
        if path.startswith("/auth/"):
            return Admission(answer=await self._auth(request, path))
        authorization = request.headers.get("authorization")
        session = self.session(request)
        decision = auth_guard.gate(
            request.method,
            path,
            bearer_ok=routes.token_matches(authorization, token),
            bearer_sent=authorization is not None,
            session=session,
            origin=request.headers.get("origin"),
            csrf=request.headers.get(auth_guard.CSRF_HEADER),
            public_origin=self.public_origin,
            operators=", ".join(self.config.operators),
        )
        if decision.kind == "login":
            return Admission(answer=self._redirect("/auth/login"))
        if decision.kind == "refuse":
            body = msgspec.json.encode({"error": decision.error})
            headers = [*routes.SECURITY_HEADERS, JSON]
            return Admission(answer=Answer(status=decision.status, headers=headers, body=body))
        return Admission(session=session, act=decision.kind == "act")

    def _redirect(self, location: str, cookies: tuple[str, ...] = ()) -> Answer:
        headers = [*routes.SECURITY_HEADERS, ("location", location)]
        headers += [("set-cookie", c) for c in cookies]
        return Answer(status=303, headers=headers)

    async def _auth(self, request: Request, path: str) -> Answer:
        if path == "/auth/logout":
            return self._logout(request)
        if request.method not in ("GET", "HEAD"):
            return _page(405, "Not allowed", f"{path} takes GET")
        if path == "/auth/login":
            return await self._login()
        if path == "/auth/callback":
            return await self._callback(request)
        if path == "/auth/signed-out":
            return _page(200, "Signed out", "You are signed out of the Vigil dashboard.", "x")
        return _page(404, "Not found", f"no page at {path}")

    async def _login(self) -> Answer:
        try:
            started = await self.client.start()
        except ProviderError as exc:
            log.warning("dashboard sign-in: provider not usable", error=str(exc))
            return _page(502, "Sign-in unavailable", f"the OpenID Connect provider: {exc}", "x")
        login = Login(
            state=started.state,
            nonce=started.nonce,
            verifier=started.verifier,
            expires=time.time() + LOGIN_S,
        )
        cookie = set_cookie(
            self.names.login,
            self.sealer.seal(self.names.login, login),
            secure=self.config.secure,
            max_age=int(LOGIN_S),
        )
        return self._redirect(started.url, (cookie,))

    async def _callback(self, request: Request) -> Answer:
        query = urllib.parse.parse_qs(request.target.partition("?")[2])
        value = read_cookies(request.headers.get("cookie")).get(self.names.login, "")
        login = self.sealer.open(self.names.login, value, Login) if value else None
        if "error" in query:
            why = query["error"][0][:80]
            if query.get("error_description"):
                why += ": " + query["error_description"][0][:200]
            return _page(403, "Sign-in refused", f"the provider said: {why}", "x")
        state, code = (query.get("state") or [""])[0], (query.get("code") or [""])[0]
        if login is None:
            return _page(
                400, "Sign-in expired", "no sign-in in progress (or it took too long)", "x"
            )
        if not code or not secrets.compare_digest(state.encode(), login.state.encode()):
            return _page(400, "Sign-in refused", "the answer is not for this sign-in (state)", "x")
        try:
            claims = await self.client.finish(code, nonce=login.nonce, verifier=login.verifier)
        except ProviderError as exc:
            log.warning("dashboard sign-in failed", error=str(exc))
            return _page(502, "Sign-in failed", str(exc), "x")
        session = Session(
            sub=str(claims.get("sub")),
            name=display_name(claims),
            role=role_from_claims(claims, self.config.role_claim, self.config.operators),
            csrf=new_csrf_token(),
            expires=time.time() + SESSION_S,
        )
        log.info("dashboard sign-in", user=session.name, role=session.role)
        cookies = (
            set_cookie(
                self.names.session,
                self.sealer.seal(self.names.session, session),
                secure=self.config.secure,
                max_age=int(SESSION_S),
            ),
            set_cookie(self.names.login, "", secure=self.config.secure, max_age=0),
        )
        return self._redirect(self.config.public_url, cookies)

    def _logout(self, request: Request) -> Answer:
        session = self.session(request)
        if request.method != "POST":
            return _page(405, "Not allowed", "/auth/logout takes POST")
        if session is not None:
            problem = auth_guard.csrf_problem(
                origin=request.headers.get("origin"),
                public_origin=self.public_origin,
                sent=request.headers.get(auth_guard.CSRF_HEADER),
                expected=session.csrf,
            )
            if problem:
                body = msgspec.json.encode({"error": problem})
                return Answer(status=403, headers=[*routes.SECURITY_HEADERS, JSON], body=body)
        cookie = set_cookie(self.names.session, "", secure=self.config.secure, max_age=0)
        headers = [*routes.SECURITY_HEADERS, JSON, ("set-cookie", cookie)]
        return Answer(status=200, headers=headers, body=b'{"signed_out": true}')
