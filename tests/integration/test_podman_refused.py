"""On a real Podman engine: pods, systemd-managed containers and `podman auto-update`'s label
are refused with their reason before anything is stopped; the container runs on untouched.
The scanner sees them (labels, pod) and settles them as skipped, so nothing is planned; the
executor refuses them again should one reach it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.images import build_test_image
from vigil_executor.replace import replace_container
from vigil_scanner.inventory import list_containers
from vigil_scanner.planning import checks_for
from vigil_shared.docker_engine import connect_engine

pytestmark = [pytest.mark.integration]


@pytest.fixture
def podman(podman_service: Any) -> Iterator[tuple[Any, Any, str]]:
    """The Podman client, the service, and a run marker whose pods/containers/images go."""
    run = f"vigil-test-refused-{uuid.uuid4().hex[:8]}"
    client = connect_engine(podman_service.url)
    try:
        yield client, podman_service, run
    finally:
        for container in client.api.containers(all=True):
            if any(run in name for name in container.get("Names") or ()):
                podman_service.podman("rm", "-f", container["Id"])
        podman_service.podman("pod", "rm", "-f", f"{run}-pod")
        podman_service.podman("rmi", "-f", f"docker.io/library/{run}:latest")
        client.close()


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("pod", "in Podman pod"),
        ("systemd", "managed by systemd unit vigil-web.service"),
        ("autoupdate", "io.containers.autoupdate=registry: podman auto-update updates"),
    ],
)
def test_a_podman_managed_container_is_refused_and_left_running(
    podman: tuple[Any, Any, str], how: str, reason: str
) -> None:
    client, service, run = podman
    tag = f"docker.io/library/{run}:latest"  # auto-update wants a fully-qualified name
    build_test_image(client, tag, marker="v1")
    extra = {
        "pod": ["--pod", f"{run}-pod"],
        "systemd": ["--label", "PODMAN_SYSTEMD_UNIT=vigil-web.service"],  # as quadlet sets it
        "autoupdate": ["--label", "io.containers.autoupdate=registry"],
    }[how]
    if how == "pod":
        made = service.podman("pod", "create", "--name", f"{run}-pod")
        assert made.returncode == 0, made.stderr
    name = f"{run}-web"
    ran = service.podman("run", "-d", "--name", name, *extra, tag)
    assert ran.returncode == 0, ran.stderr
    before = client.api.inspect_container(name)
    build_test_image(client, tag, marker="v2")

    [seen] = [c for c in list_containers(client) if c.name == name]
    [skipped] = checks_for([seen]).unusable
    assert skipped.status == "skipped" and reason in skipped.error, skipped
    outcome = replace_container(client, before["Id"], tag, stop_timeout=2)

    assert outcome.status == "failed"
    assert reason in outcome.error, outcome.error
    after = client.api.inspect_container(name)
    assert after["Id"] == before["Id"] and after["State"]["Running"] is True
    # Never stopped: the same start, not a restart by a rollback.
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]
