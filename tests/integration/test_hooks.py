"""Lifecycle hooks run inside a real container: output, exit codes, timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.images import build_test_image
from vigil_executor.hooks import Hook, run_hook

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture
def container(docker_client: Any, names: Callable[[str], str]) -> str:
    tag = f"{names('hooks')}:latest"
    build_test_image(docker_client, tag)
    c = docker_client.containers.run(tag, name=names("hooked"), detach=True)
    return str(c.id)


def test_a_hook_runs_in_the_container_with_its_output(docker_client: Any, container: str) -> None:
    result = run_hook(
        docker_client,
        container,
        Hook(phase="post-update", command="echo hello from $(cat /marker)", timeout_s=30),
    )
    assert (result.exit_code, result.ok) == (0, True)
    assert result.output == "hello from v1\n"


def test_exit_75_asks_to_skip_the_update(docker_client: Any, container: str) -> None:
    result = run_hook(
        docker_client, container, Hook(phase="pre-update", command="exit 75", timeout_s=30)
    )
    assert result.exit_code == 75 and result.asks_to_skip
    other = run_hook(
        docker_client, container, Hook(phase="pre-update", command="exit 3", timeout_s=30)
    )
    assert other.exit_code == 3 and not other.asks_to_skip and not other.ok
    assert other.describe() == "pre-update hook exited 3"


def test_a_hook_that_outlives_its_timeout_is_killed(docker_client: Any, container: str) -> None:
    started = time.monotonic()
    result = run_hook(
        docker_client,
        container,
        Hook(phase="pre-update", command="echo started; sleep 300", timeout_s=1),
    )
    assert time.monotonic() - started < 15
    assert result.timed_out and result.exit_code is None
    assert result.describe() == "pre-update hook timed out and was killed"
    # Nothing of it is left running in the container.
    top = docker_client.api.top(container)
    assert not [p for p in top["Processes"] if "sleep 300" in " ".join(p)]


def test_a_hook_in_a_stopped_container_says_why(docker_client: Any, container: str) -> None:
    docker_client.api.stop(container, timeout=1)
    result = run_hook(
        docker_client, container, Hook(phase="post-check", command="true", timeout_s=5)
    )
    assert result.exit_code is None
    # Docker: "Container ... is not running"; Podman: "can only create exec sessions on
    # running containers".
    assert "is not running" in result.error or "on running containers" in result.error
