"""The real Docker engine for integration tests.

Under `CI=true` an engine that does not answer fails the test; elsewhere the test is skipped
with what is missing (scripts/prepare-test-env.sh sets one up on Debian as root).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.real_parts import part_missing
from vigil_shared.docker_engine import EngineUnavailable, connect_engine

TEST_PREFIX = "vigil-test-"


def _engine_missing(reason: str) -> None:
    part_missing(f"no Docker engine: {reason} (run scripts/prepare-test-env.sh)")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = connect_engine(os.environ.get("DOCKER_HOST"))
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
    marker = f"-{run}-"
    for container in client.containers.list(all=True):
        if container.name.startswith(TEST_PREFIX) and marker in container.name:
            container.remove(force=True, v=True)
    for network in client.networks.list():
        if network.name.startswith(TEST_PREFIX) and marker in network.name:
            network.remove()
    for volume in client.volumes.list():
        if volume.name.startswith(TEST_PREFIX) and marker in volume.name:
            volume.remove(force=True)
    for image in client.images.list():
        for tag in image.tags:
            if marker in tag:
                client.api.remove_image(tag, force=True)
