"""`vigil check IMAGE` and the gateway's start-up checks, through the real command."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.vigil_process import run_vigil

pytestmark = pytest.mark.integration


def vigil(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_vigil(*args, env=env, timeout=120)


def test_check_prints_digest_credentials_and_token_cache(
    registry_factory: Callable[..., RegistryServer],
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    server = registry_factory(token_users={})
    tag = f"{server.host}/{names('app')}:latest"
    build_test_image(docker_client, tag)
    digest = push_image(docker_client, tag)
    dead = f"127.0.0.1:{free_port()}/gone:latest"

    result = vigil("check", tag, dead, env={"DOCKER_CONFIG": str(tmp_path)})
    assert result.returncode == 1, result.stdout + result.stderr  # one image failed
    assert f"{tag}\n  remote digest: {digest}\n  credentials:   anonymous\n" in result.stdout
    repo = tag.split("/", 1)[1].rsplit(":", 1)[0]
    assert f"token cache:   token cached for repository:{repo}:pull" in result.stdout
    dead_host = dead.split("/")[0]
    assert f"{dead}\n  ERROR: registry {dead_host} unreachable: connection refused" in result.stdout


def test_registry_ca_validate_stops_the_start_with_exit_2(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    result = vigil(
        "registry-gateway",
        "--nats-url",
        "nats://127.0.0.1:1",
        "--registry-ca",
        str(bundle),
        "--registry-ca-validate",
    )
    assert result.returncode == 2
    # The bundle is judged before NATS is reached: the fault named is the bundle's.
    assert f"--registry-ca {bundle}: is empty" in result.stderr
