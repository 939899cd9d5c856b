"""The real Docker engine for integration tests.

Under `CI=true` an engine that does not answer fails the test; elsewhere the test is skipped
with what is missing (scripts/prepare-test-env.sh sets one up on Debian as root).

A module or test marked `both_engines` runs twice: on the Docker engine (`[docker]`) and on a
real Podman engine (`[podman]`, tests/support/podman_engine.py). For the Podman run,
`docker_client` is Podman's and DOCKER_HOST points at its socket for the whole test, so the
`vigil` processes a test starts (and main_engine_url()) follow it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker.errors
import pytest

from tests.support.real_parts import part_missing
from vigil_shared.docker_engine import EngineUnavailable, connect_engine

TEST_PREFIX = "vigil-test-"


ENGINES = ("docker", "podman")


def _engine_missing(reason: str) -> None:
    part_missing(f"no Docker engine: {reason} (run scripts/prepare-test-env.sh)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_engines: run on the Docker engine and on a real Podman engine"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_engines") is None:
        return
    if "engine_kind" in metafunc.fixturenames:
        # Session scope: pytest runs each engine's tests together, one Podman for them all.
        metafunc.parametrize("engine_kind", ENGINES, indirect=True, scope="session")


@pytest.fixture(scope="session")
def engine_kind(request: pytest.FixtureRequest) -> str:
    """ "docker", or "podman" for the Podman run of a `both_engines` test."""
    return str(getattr(request, "param", "docker"))


@pytest.fixture(scope="session")
def engine_url(engine_kind: str, request: pytest.FixtureRequest) -> str | None:
    """The engine of this test: DOCKER_HOST (None: docker-py's default), or Podman's socket."""
    if engine_kind == "podman":
        return str(request.getfixturevalue("podman_service").url)
    return os.environ.get("DOCKER_HOST")


@pytest.fixture(autouse=True)
def _engine_in_environment(
    engine_kind: str, engine_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine_kind != "docker" and engine_url:
        monkeypatch.setenv("DOCKER_HOST", engine_url)


@pytest.fixture(scope="session")
def docker_client(engine_url: str | None) -> Iterator[Any]:
    try:
        client = connect_engine(engine_url)
    except EngineUnavailable as exc:
        _engine_missing(str(exc))
    yield client
    client.close()


@pytest.fixture
def names(docker_client: Any) -> Iterator[Callable[[str], str]]:
    """Unique names for containers, networks, volumes and image repositories; whatever the
    test made under them is removed afterwards, containers first."""
    run = uuid.uuid4().hex[:8]
    made: list[str] = []

    def make(kind: str) -> str:
        name = f"{TEST_PREFIX}{kind}-{run}-{len(made)}"
        made.append(name)
        return name

    yield make
    cleanup_resources(docker_client, run)


def cleanup_resources(client: Any, run: str) -> None:
    """Remove what a test made under its run marker. Listed with the low-level API (docker-py's
    high-level list inspects each container, and fails on one removed meanwhile, as Vigil or a
    compose project may do); a resource already gone is fine."""
    marker = f"-{run}-"
    ours = [
        c["Id"]
        for c in client.api.containers(all=True)
        if any(n.lstrip("/").startswith(TEST_PREFIX) and marker in n for n in c.get("Names") or ())
    ]
    # Podman refuses to remove a container another one shares a namespace of ("has dependent
    # containers"): those go in a second round, after their dependents.
    for attempt in (1, 2):
        refused = []
        for container_id in ours:
            try:
                client.api.remove_container(container_id, force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                if attempt == 2:
                    raise
                refused.append(container_id)
        ours = refused
    for network in client.networks.list():
        if network.name.startswith(TEST_PREFIX) and marker in network.name:
            with contextlib.suppress(docker.errors.NotFound):
                network.remove()
    for volume in client.volumes.list():
        if volume.name.startswith(TEST_PREFIX) and marker in volume.name:
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)
    for image in client.api.images():
        for tag in image.get("RepoTags") or ():
            if marker in tag:
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_image(tag, force=True)
