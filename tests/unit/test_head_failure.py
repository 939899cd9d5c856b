"""--warn-on-head-failure, and what `vigil check` prints."""

from __future__ import annotations

import pytest

from vigil.commands.check import render_status
from vigil_gateway.digests import warn_on_head_failure
from vigil_shared.contracts import ImageStatus


@pytest.mark.parametrize(
    ("policy", "image", "warn"),
    [
        ("always", "reg.example.com/app:1", True),
        ("never", "nginx", False),
        ("auto", "nginx", True),  # Docker Hub answers HEAD: a failure there is news
        ("auto", "docker.io/library/nginx:1", True),
        ("auto", "ghcr.io/org/app:1", True),
        ("auto", "reg.example.com/app:1", False),
        ("auto", "127.0.0.1:5000/app", False),
        ("auto", "Not A Ref", True),
    ],
)
def test_warn_on_head_failure(policy: str, image: str, warn: bool) -> None:
    assert warn_on_head_failure(policy, image) is warn


def test_check_output_for_a_private_image() -> None:
    status = ImageStatus(
        image="reg/app:1",
        outcome="stale",
        remote_digest="sha256:" + "b" * 64,
        credentials="/root/.docker/config.json",
        token_cache="token cached for repository:app:pull (realm r), expires in 290s",
        rate_limit="76 of 100 left",
    )
    assert render_status(status).splitlines() == [
        "reg/app:1",
        "  remote digest: sha256:" + "b" * 64,
        "  credentials:   /root/.docker/config.json",
        "  token cache:   token cached for repository:app:pull (realm r), expires in 290s",
        "  rate limit:    76 of 100 left",
    ]


@pytest.mark.parametrize(
    ("outcome", "label"),
    [("error", "ERROR"), ("rate_limited", "RATE LIMITED"), ("unverified", "NO DIGEST")],
)
def test_check_output_names_the_failure(outcome: str, label: str) -> None:
    status = ImageStatus(image="reg/app:1", outcome=outcome, error="HTTP 500")  # type: ignore[arg-type]
    assert render_status(status).splitlines()[1] == f"  {label}: HTTP 500"
