"""What the HTTP API answers, as pure functions: which endpoint, whether the caller may use
it, what the query asks for, and the body of an update's answer.

    GET|POST /v1/update[?image=repo1,repo2]   run a cycle on this host, answer when it ended
    GET      /v1/metrics                      Prometheus text format
    POST     /v1/rollouts/{id}/approve        `vigil approve ID` (with --http-api-update and
                                              --rollout or --approve)
    POST     /v1/containers/{name}/update     one container of this host now (--http-api-update):
             /v1/containers/{name}/check      update it, check it, skip its build
             /v1/containers/{name}/skip[?for=DURATION&reason=TEXT]
             /v1/containers/{name}/unskip     (vigil_scanner.container_commands)

Both need `Authorization: Bearer <token>`. The order of checks: an unknown or disabled path is
404; then a missing or wrong token is 401 (nothing else is revealed to such a caller); then a
method the endpoint does not take is 405; then a bad query is 400.
"""

from __future__ import annotations

import hmac
import re
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import msgspec

from vigil_scanner.image_filter import parse_image_filter
from vigil_scanner.trigger import CycleOutcome
from vigil_shared.contracts.report import FAILED_STATUSES
from vigil_shared.imageref import InvalidImageRef

UPDATE_PATH = "/v1/update"
METRICS_PATH = "/v1/metrics"
UPDATE_METHODS = ("GET", "POST")
METRICS_METHODS = ("GET",)
APPROVE_METHODS = ("POST",)
_APPROVE = re.compile(r"^/v1/rollouts/([A-Za-z0-9_-]+)/approve$")
_CONTAINER = re.compile(r"^/v1/containers/([A-Za-z0-9][A-Za-z0-9_.-]*)/(update|check|skip|unskip)$")
CONTAINER_METHODS = ("POST",)


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    endpoint: Literal["update", "metrics", "approve", "container", "none"]
    status: int = 200  # the status to answer with when endpoint is "none"
    error: str = ""
    images: tuple[str, ...] = ()  # ?image= entries, one repository each
    allow: str = ""  # for 405
    rollout_id: str = ""  # for approve
    # for container: its name, the action, and a skip's duration (text) and reason
    container: str = ""
    action: str = ""
    skip_for: str = ""
    reason: str = ""


def authorized(header: bytes | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    expected = b"Bearer " + token.encode()
    return hmac.compare_digest(header or b"", expected)


def _refuse(status: int, error: str, allow: str = "") -> Decision:
    return Decision(endpoint="none", status=status, error=error, allow=allow)


def decide(
    method: str,
    target: str,
    *,
    is_authorized: bool,
    update: bool,
    metrics: bool,
    approve: bool = False,
) -> Decision:
    if not target.startswith("/"):
        return _refuse(400, "the request target must be a path such as /v1/update")
    try:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        return _refuse(400, f"the request target cannot be read: {exc}")
    path = parts.path.rstrip("/") or "/"
    endpoints = {UPDATE_PATH: (update, UPDATE_METHODS), METRICS_PATH: (metrics, METRICS_METHODS)}
    approving = _APPROVE.match(path)
    if approving:
        endpoints[path] = (approve, APPROVE_METHODS)
    one = _CONTAINER.match(path)
    if one:
        endpoints[path] = (update, CONTAINER_METHODS)
    enabled, methods = endpoints.get(path, (False, ()))
    if not enabled:
        return _refuse(404, f"no endpoint at {path}")
    if not is_authorized:
        return _refuse(401, "a valid 'Authorization: Bearer <token>' header is required")
    if method not in methods:
        allow = ", ".join(methods)
        return _refuse(405, f"{path} takes {allow}, not {method}", allow)
    if path == METRICS_PATH:
        return Decision(endpoint="metrics")
    if approving:
        return Decision(endpoint="approve", rollout_id=approving.group(1))
    if one:
        return Decision(
            endpoint="container",
            container=one.group(1),
            action=one.group(2),
            skip_for=(query.get("for") or [""])[0],
            reason=(query.get("reason") or [""])[0][:200],
        )
    images: tuple[str, ...] = ()
    if "image" in query:
        images = tuple(
            text.strip() for value in query["image"] for text in value.split(",") if text.strip()
        )
        if not images:
            return _refuse(400, "?image= names no repository (e.g. ?image=nginx,team/app)")
        try:
            parse_image_filter(images)
        except InvalidImageRef as exc:
            return _refuse(400, f"?image=: {exc}")
    return Decision(endpoint="update", images=images)


class _Container(msgspec.Struct, frozen=True):
    name: str
    image: str
    status: str
    error: str = ""


class _Answer(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    scan_id: str
    images: tuple[str, ...]
    finished: bool
    scanned: int = 0
    updated: int = 0
    failed: int = 0
    containers: tuple[_Container, ...] = ()
    problems: tuple[str, ...] = ()
    note: str = ""


def outcome_answer(outcome: CycleOutcome, report_timeout: float) -> tuple[int, bytes]:
    """200 with the report's figures once the executor reported; 202 when it did not within
    the wait (the plan is published and will be carried out)."""
    report = outcome.report
    if report is None:
        answer = _Answer(
            host=outcome.host,
            scan_id=outcome.scan_id,
            images=outcome.images,
            finished=False,
            note=f"the plan is published, but the executor of host {outcome.host} did not "
            f"report within {report_timeout:g} s: follow it with `vigil events`",
        )
        return 202, msgspec.json.encode(answer)
    answer = _Answer(
        host=outcome.host,
        scan_id=outcome.scan_id,
        images=outcome.images,
        finished=True,
        scanned=len(report.results),
        updated=report.count("updated"),
        failed=report.count(*FAILED_STATUSES),
        containers=tuple(_Container(r.name, r.image, r.status, r.error) for r in report.results),
        problems=report.problems,
        note="" if report.results or not outcome.images else "no container of these images",
    )
    return 200, msgspec.json.encode(answer)


def error_body(error: str) -> bytes:
    return msgspec.json.encode({"error": error})
