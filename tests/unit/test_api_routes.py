"""What the HTTP API answers: routes, token, query, merging of waiting requests, bodies."""

from __future__ import annotations

import json

import pytest

from vigil_scanner.api_routes import Decision, authorized, decide, outcome_answer
from vigil_scanner.trigger import CycleOutcome, merge_targets
from vigil_shared.contracts import ContainerResult, Report

ROUTES = [
    # (method, target, authorized, update on, metrics on, expected)
    ("GET", "/v1/update", True, True, False, Decision(endpoint="update")),
    ("POST", "/v1/update", True, True, False, Decision(endpoint="update")),
    ("POST", "/v1/update/", True, True, False, Decision(endpoint="update")),
    ("POST", "/v1/update?x=1", True, True, False, Decision(endpoint="update")),
    (
        "POST",
        "/v1/update?image=nginx,team/app&image=reg:5000/x:1",
        True,
        True,
        False,
        Decision(endpoint="update", images=("nginx", "team/app", "reg:5000/x:1")),
    ),
    (
        "GET",
        "/v1/update?image=a%2Cb",
        True,
        True,
        False,
        Decision(endpoint="update", images=("a", "b")),
    ),
    ("GET", "/v1/metrics", True, False, True, Decision(endpoint="metrics")),
    ("GET", "/v1/metrics", True, True, True, Decision(endpoint="metrics")),
]

REFUSALS = [
    # (method, target, authorized, update on, metrics on, status, in the error)
    ("GET", "/v1/update", False, True, False, 401, "Authorization: Bearer"),
    ("GET", "/v1/metrics", False, False, True, 401, "Authorization: Bearer"),
    ("GET", "/v1/metrics", True, True, False, 404, "no endpoint at /v1/metrics"),
    ("GET", "/v1/update", True, False, True, 404, "no endpoint at /v1/update"),
    ("GET", "/", True, True, True, 404, "no endpoint at /"),
    ("GET", "/v1/updates", False, True, True, 404, "no endpoint"),  # 404 before 401
    ("DELETE", "/v1/update", True, True, False, 405, "takes GET, POST, not DELETE"),
    ("DELETE", "/v1/update", False, True, False, 401, "Bearer"),  # 401 before 405
    ("POST", "/v1/metrics", True, False, True, 405, "takes GET"),
    ("GET", "/v1/update?image=", True, True, False, 400, "names no repository"),
    ("GET", "/v1/update?image=,", True, True, False, 400, "names no repository"),
    ("GET", "/v1/update?image=Nginx", True, True, False, 400, "repository names must be lowercase"),
    ("GET", "http://x/v1/update", True, True, False, 400, "must be a path"),
    ("OPTIONS", "*", True, True, False, 400, "must be a path"),
]


@pytest.mark.parametrize(("method", "target", "ok", "update", "metrics", "expected"), ROUTES)
def test_routes(
    method: str, target: str, ok: bool, update: bool, metrics: bool, expected: Decision
) -> None:
    assert decide(method, target, is_authorized=ok, update=update, metrics=metrics) == expected


@pytest.mark.parametrize(
    ("method", "target", "ok", "update", "metrics", "status", "needle"), REFUSALS
)
def test_refusals(
    method: str, target: str, ok: bool, update: bool, metrics: bool, status: int, needle: str
) -> None:
    decision = decide(method, target, is_authorized=ok, update=update, metrics=metrics)
    assert decision.endpoint == "none"
    assert decision.status == status
    assert needle in decision.error
    assert (decision.allow != "") is (status == 405)


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (b"Bearer s3cret", True),
        (None, False),
        (b"", False),
        (b"Bearer s3cre", False),
        (b"Bearer s3cret2", False),
        (b"bearer s3cret", False),
        (b"Basic s3cret", False),
        (b"s3cret", False),
        (b"Bearer \xff\xfe", False),
    ],
)
def test_token(header: bytes | None, ok: bool) -> None:
    assert authorized(header, "s3cret") is ok


@pytest.mark.parametrize(
    ("requests", "merged"),
    [
        ([("a",)], ("a",)),
        ([("a",), ("b", "a"), ("c",)], ("a", "b", "c")),
        ([("a",), ()], ()),  # one asked for every container
        ([()], ()),
    ],
)
def test_waiting_requests_share_one_cycle(
    requests: list[tuple[str, ...]], merged: tuple[str, ...]
) -> None:
    assert merge_targets(requests) == merged


def report(*statuses: str, problems: tuple[str, ...] = ()) -> Report:
    results = tuple(
        ContainerResult(name=f"c{i}", container_id=f"id{i}", image="app:1", status=s)  # type: ignore[arg-type]
        for i, s in enumerate(statuses)
    )
    return Report(
        scan_id="s1",
        plan_id="p1",
        host="h1",
        started_at=0,
        finished_at=1,
        results=results,
        problems=problems,
    )


def test_answer_once_the_executor_reported() -> None:
    outcome = CycleOutcome(
        scan_id="s1", host="h1", images=("app",), report=report("updated", "fresh", "failed")
    )
    status, body = outcome_answer(outcome, 600)
    answer = json.loads(body)
    assert status == 200
    assert answer["finished"] is True
    assert (answer["scanned"], answer["updated"], answer["failed"]) == (3, 1, 1)
    assert answer["containers"][0] == {
        "name": "c0",
        "image": "app:1",
        "status": "updated",
        "error": "",
    }
    assert answer["images"] == ["app"]


def test_answer_when_no_container_has_the_images() -> None:
    status, body = outcome_answer(
        CycleOutcome(scan_id="s1", host="h1", images=("app",), report=report()), 600
    )
    assert status == 200 and json.loads(body)["note"] == "no container of these images"


def test_answer_without_a_report_in_time_is_202() -> None:
    status, body = outcome_answer(CycleOutcome(scan_id="s1", host="h1"), 600)
    answer = json.loads(body)
    assert status == 202 and answer["finished"] is False
    assert "did not report within 600 s" in answer["note"]
