"""What each dashboard request gets, as pure functions: the route, whether a trigger is
allowed, and the page's HTML shell (everything in it escaped).

    GET  /                 the page (static/index.html, filled in here)
    GET  /static/NAME      the page's script and style sheet
    GET  /api/hosts        the heartbeats: each host's scanner and executor, the fleet services
    GET  /api/containers   every container of the latest inventories, with its state
    GET  /api/cycles       the last cycles (reports), newest first
    GET  /api/rollouts     every rollout of the VIGIL_ROLLOUTS bucket, with its buttons
    GET  /api/rollouts/{id}
                           one rollout's page: its waves, each host's state, its soak, every step
    GET  /api/events       the audit stream, live (Server-Sent Events)
    POST /api/trigger      a cycle now on every live host, as `vigil trigger`
    POST /api/rollouts/{id}/approve|resume|abort
                           `vigil approve ID`, `vigil rollout resume|abort ID`
    GET  /api/containers/{host}/{name}/history
                           the container's last results (from the audit stream), newest first
    POST /api/containers/{host}/{name}/update|check|skip|unskip[?for=DURATION&reason=TEXT]
                           one container now: `vigil trigger --host H NAME`, a check,
                           `vigil skip H/NAME [--for D]`, `vigil skip --stop H/NAME`

The POST routes need `Authorization: Bearer <--dashboard-token>`. Without a token the
dashboard is read-only: the page has no buttons and the routes answer 403.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import re
import urllib.parse
from typing import Literal

import msgspec

Endpoint = Literal[
    "page",
    "static",
    "hosts",
    "containers",
    "cycles",
    "rollouts",
    "events",
    "trigger",
    "rollout_command",
    "container_command",
    "history",
    "rollout",
    "none",
]
ContainerAction = Literal["update", "check", "skip", "unskip"]
CONTAINER_ACTIONS: dict[str, ContainerAction] = {
    "update": "update",
    "check": "check",
    "skip": "skip",
    "unskip": "unskip",
}
CONTAINERS_PATH = "/api/containers/"
RolloutAction = Literal["approve", "resume", "abort"]
ROLLOUT_ACTIONS: dict[str, RolloutAction] = {
    "approve": "approve",
    "resume": "resume",
    "abort": "abort",
}

STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
GET_ROUTES: dict[str, Endpoint] = {
    "/": "page",
    "/index.html": "page",
    "/api/hosts": "hosts",
    "/api/containers": "containers",
    "/api/cycles": "cycles",
    "/api/rollouts": "rollouts",
    "/api/events": "events",
}
TRIGGER_PATH = "/api/trigger"
ROLLOUTS_PATH = "/api/rollouts/"
# A rollout id, or a start of one (the coordinator takes any unambiguous start).
_ROLLOUT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# A host id or a container name (Docker's: [a-zA-Z0-9][a-zA-Z0-9_.-]*).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")


class Route(msgspec.Struct, frozen=True, kw_only=True):
    endpoint: Endpoint
    status: int = 200  # the status to answer with when endpoint is "none"
    error: str = ""
    name: str = ""  # the static file
    allow: str = ""  # for 405
    rollout_id: str = ""  # for rollout_command
    action: RolloutAction | None = None
    # container_command: which container, what to do; skip: for how long (0: this build), why
    host: str = ""
    container: str = ""
    container_action: ContainerAction | None = None
    skip_for: str = ""
    reason: str = ""


def _refuse(status: int, error: str, allow: str = "") -> Route:
    return Route(endpoint="none", status=status, error=error, allow=allow)


def token_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time; never true without a
    configured token (a read-only dashboard takes no one's word)."""
    if not token:
        return False
    expected = ("Bearer " + token).encode()
    return hmac.compare_digest((header or "").encode(), expected)


def _guarded(
    method: str, path: str, token: str, authorization: str | None, allowed: Route
) -> Route:
    """A route that changes the fleet: POST, with the dashboard's token."""
    if method != "POST":
        return _refuse(405, f"{path} takes POST, not {method}", "POST")
    if not token:
        return _refuse(403, "the dashboard is read-only: it was started without --dashboard-token")
    if not token_matches(authorization, token):
        return _refuse(401, "a valid 'Authorization: Bearer <token>' header is required")
    return allowed


def _rollout_route(method: str, path: str, token: str, authorization: str | None) -> Route | None:
    """POST /api/rollouts/{id}/{approve|resume|abort}; None for any other path."""
    parts = path.removeprefix(ROLLOUTS_PATH).split("/")
    if len(parts) == 1 and parts[0]:  # GET /api/rollouts/{id}: the rollout's page
        if not _ROLLOUT_ID.match(parts[0]):
            return _refuse(400, f"{parts[0][:80]!r} is not a rollout id (letters, digits, - and _)")
        if method not in ("GET", "HEAD"):
            return _refuse(405, f"{path} takes GET, not {method}", "GET, HEAD")
        return Route(endpoint="rollout", rollout_id=parts[0])
    if len(parts) != 2:
        return None
    rollout_id, name = parts
    action = ROLLOUT_ACTIONS.get(name)
    if action is None:
        return _refuse(404, f"no page at {path} (a rollout takes approve, resume or abort)")
    if not _ROLLOUT_ID.match(rollout_id):
        return _refuse(400, f"{rollout_id[:80]!r} is not a rollout id (letters, digits, - and _)")
    allowed = Route(endpoint="rollout_command", rollout_id=rollout_id, action=action)
    return _guarded(method, path, token, authorization, allowed)


def _container_route(
    method: str, target: str, token: str, authorization: str | None
) -> Route | None:
    """POST /api/containers/{host}/{name}/{update|check|skip|unskip}; None for another path."""
    path, _, query = target.partition("?")
    parts = path.removeprefix(CONTAINERS_PATH).split("/")
    if len(parts) != 3:
        return None
    host, name, verb = (urllib.parse.unquote(p) for p in parts)
    if verb == "history":
        if not _NAME.match(host) or not _NAME.match(name):
            return _refuse(400, f"{host[:80]!r}/{name[:80]!r} is not a host id and container name")
        if method not in ("GET", "HEAD"):
            return _refuse(405, f"{path} takes GET, not {method}", "GET, HEAD")
        return Route(endpoint="history", host=host, container=name)
    action = CONTAINER_ACTIONS.get(verb)
    if action is None:
        return _refuse(404, f"no page at {path} (a container takes update, check, skip or unskip)")
    if not _NAME.match(host) or not _NAME.match(name):
        return _refuse(400, f"{host[:80]!r}/{name[:80]!r} is not a host id and container name")
    args = urllib.parse.parse_qs(query)
    allowed = Route(
        endpoint="container_command",
        host=host,
        container=name,
        container_action=action,
        skip_for=(args.get("for") or [""])[0][:32],
        reason=(args.get("reason") or [""])[0][:200],
    )
    return _guarded(method, path, token, authorization, allowed)


def route(method: str, target: str, *, token: str, authorization: str | None) -> Route:
    path = target.split("?", 1)[0]
    if path.startswith(CONTAINERS_PATH):
        found = _container_route(method, target, token, authorization)
        if found is not None:
            return found
    if path == TRIGGER_PATH:
        return _guarded(method, path, token, authorization, Route(endpoint="trigger"))
    if path.startswith(ROLLOUTS_PATH):
        decision = _rollout_route(method, path, token, authorization)
        if decision is not None:
            return decision
    if path.startswith("/static/"):
        name = path.removeprefix("/static/")
        if name not in STATIC_FILES:
            return _refuse(404, f"no file at {path}")
        endpoint: Endpoint | None = "static"
    else:
        endpoint = GET_ROUTES.get(path)
        name = ""
    if endpoint is None:
        return _refuse(404, f"no page at {path}")
    if method not in ("GET", "HEAD"):
        return _refuse(405, f"{path} takes GET, not {method}", "GET, HEAD")
    return Route(endpoint=endpoint, name=name)


def _loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def host_allowed(host_header: str | None, bind_address: str) -> bool:
    """A dashboard bound to a loopback address answers only requests for a loopback name: a
    web page elsewhere that points its own DNS name at 127.0.0.1 (DNS rebinding) must not
    read the fleet through the user's browser. Bound elsewhere, any Host goes (the address,
    or a proxy's name in front of it)."""
    if not _loopback(bind_address.lower()):
        return True
    host = (host_header or "").strip().lower()
    if host.startswith("["):
        name = host.split("]", 1)[0] + "]"
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return _loopback(name)


def render_page(template: str, *, title: str, can_trigger: bool) -> str:
    """The page shell: its title (the fleet's subject prefix, user data) escaped, and whether
    the buttons are there. Everything else the script fills in with textContent, never
    innerHTML, so names and labels stay text."""
    return template.replace("{{title}}", html.escape(title, quote=True)).replace(
        "{{can_trigger}}", "true" if can_trigger else "false"
    )


# Every answer: no script, style or frame from anywhere but the dashboard itself (so even a
# name that slipped through as markup could not run), no sniffing, no caching of fleet data.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
)
