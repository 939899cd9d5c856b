"""POST /v1/rollouts/{id}/approve in the HTTP API's routing: a table, no IO."""

from __future__ import annotations

import pytest

from vigil_scanner.api_routes import Decision, decide


@pytest.mark.parametrize(
    ("method", "target", "ok", "approve", "expected"),
    [
        ("POST", "/v1/rollouts/3f2a9c0d1b7e/approve", True, True,
         Decision(endpoint="approve", rollout_id="3f2a9c0d1b7e")),
        ("POST", "/v1/rollouts/3f2a/approve/", True, True,
         Decision(endpoint="approve", rollout_id="3f2a")),
        # Not under rollout control (or no --http-api-update): no such endpoint.
        ("POST", "/v1/rollouts/3f2a/approve", True, False,
         Decision(endpoint="none", status=404, error="no endpoint at /v1/rollouts/3f2a/approve")),
        ("POST", "/v1/rollouts/3f2a/approve", False, True,
         Decision(endpoint="none", status=401,
                  error="a valid 'Authorization: Bearer <token>' header is required")),
        ("GET", "/v1/rollouts/3f2a/approve", True, True,
         Decision(endpoint="none", status=405,
                  error="/v1/rollouts/3f2a/approve takes POST, not GET", allow="POST")),
        ("POST", "/v1/rollouts/3f.2a/approve", True, True,
         Decision(endpoint="none", status=404, error="no endpoint at /v1/rollouts/3f.2a/approve")),
        ("POST", "/v1/rollouts//approve", True, True,
         Decision(endpoint="none", status=404, error="no endpoint at /v1/rollouts//approve")),
    ],
)  # fmt: skip
def test_approve_route(
    method: str, target: str, ok: bool, approve: bool, expected: Decision
) -> None:
    got = decide(method, target, is_authorized=ok, update=True, metrics=False, approve=approve)
    assert got == expected
