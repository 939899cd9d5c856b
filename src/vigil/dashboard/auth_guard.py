"""Who may do what once sign-in is on (pure): the gate every request passes before routes.

- The token (`Authorization: Bearer <--dashboard-token>`) goes on as before: a browser never
  adds that header on its own, so no other site can make it send one (no CSRF).
- A session cookie a browser adds on its own, so a state-changing request (every POST) with
  it must show it comes from the dashboard's page: an Origin that is the public URL's and the
  session's CSRF token in X-CSRF-Token (a synchronizer token: the page gets it in its HTML,
  another site can read neither). Then the role: an operator acts, a viewer gets 403.
- Without either: the page sends the browser to sign in, the API answers 401; the page's
  script and style sheet are served to anyone (they hold no fleet data).
"""

from __future__ import annotations

import hmac
import urllib.parse
from typing import Literal

import msgspec

from vigil.dashboard.auth_session import Session

CSRF_HEADER = "x-csrf-token"
PAGES = ("/", "/index.html")


class Gate(msgspec.Struct, frozen=True, kw_only=True):
    # pass: on to routes as today; act: a signed-in operator's checked action; login: send the
    # browser to /auth/login; refuse: answer status with error
    kind: Literal["pass", "act", "login", "refuse"]
    status: int = 200
    error: str = ""


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, the default port dropped (as browsers
    send Origin)."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{scheme}://{host}{port}"


def csrf_problem(*, origin: str | None, public_origin: str, sent: str | None, expected: str) -> str:
    """Why a cookie-authenticated action is not the dashboard page's own ('' when it is)."""
    if not origin or origin == "null":
        return "refused: the request has no Origin (actions must come from the dashboard's page)"
    if origin_of(origin) != public_origin:
        return (
            f"refused: the request comes from {origin[:100]}, not from the dashboard at "
            f"{public_origin} (--dashboard-public-url)"
        )
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return "refused: a valid X-CSRF-Token header is required (reload the page)"
    return ""


def gate(
    method: str,
    path: str,
    *,
    bearer_ok: bool,
    bearer_sent: bool,
    session: Session | None,
    origin: str | None,
    csrf: str | None,
    public_origin: str,
    operators: str,
) -> Gate:
    """The decision for a request that is not one of /auth/*. `bearer_ok`: it carries the
    dashboard's token; `operators` names the values that make an operator, for the viewer's
    message."""
    if bearer_ok or path.startswith("/static/"):
        return Gate(kind="pass")
    if method in ("GET", "HEAD"):
        if session is not None:
            return Gate(kind="pass")
        if path in PAGES:
            return Gate(kind="login")
        return Gate(
            kind="refuse",
            status=401,
            error="sign in first (/auth/login), or send 'Authorization: Bearer <token>'",
        )
    if session is None:
        if bearer_sent:
            return Gate(kind="pass")  # a wrong token: routes says so, as today
        return Gate(
            kind="refuse",
            status=401,
            error="sign in first (/auth/login), or send 'Authorization: Bearer <token>'",
        )
    problem = csrf_problem(
        origin=origin, public_origin=public_origin, sent=csrf, expected=session.csrf
    )
    if problem:
        return Gate(kind="refuse", status=403, error=problem)
    if session.role != "operator":
        return Gate(
            kind="refuse",
            status=403,
            error=f"signed in as {session.name}, a viewer: only operators may act "
            f"(the role claim must hold one of: {operators})",
        )
    return Gate(kind="act")
