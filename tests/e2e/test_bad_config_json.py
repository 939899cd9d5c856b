"""A broken `auth` in config.json is an error of that registry's credentials: Vigil starts,
the checks of that registry fail naming the file and the registry, and the other registries
(credentials from the same file included) work. Real gateway, registries, engine and NATS."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.vigil_process import run_vigil

pytestmark = pytest.mark.integration


def test_a_bad_base64_auth_fails_only_its_registry(
    tmp_path: Path,
    docker_client: Any,
    registry_factory: Callable[..., RegistryServer],
    names: Callable[[str], str],
) -> None:
    broken = registry_factory()
    private = registry_factory(htpasswd={"alice": "s3cret"})
    login = {"username": "alice", "password": "s3cret"}
    bad_app = f"{broken.host}/{names('app')}:latest"
    good_app = f"{private.host}/{names('app')}:latest"
    build_test_image(docker_client, bad_app, marker="v1")
    push_image(docker_client, bad_app)
    build_test_image(docker_client, good_app, marker="v1")
    push_image(docker_client, good_app, auth=login)
    bad, good = names("bad"), names("good")
    docker_client.containers.run(bad_app, name=bad, detach=True)
    docker_client.containers.run(good_app, name=good, detach=True)
    for tag, auth in ((bad_app, None), (good_app, login)):
        build_test_image(docker_client, tag, marker="v2")
        push_image(docker_client, tag, auth=auth)

    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    config = config_dir / "config.json"
    config.write_text(
        json.dumps(
            {
                "auths": {
                    broken.host: {"auth": "!!!not-base64"},
                    private.host: {"auth": base64.b64encode(b"alice:s3cret").decode()},
                }
            }
        )
    )
    result = run_vigil(
        "--state-dir",
        str(tmp_path / "state"),
        "--host-id",
        "e2e-cfg",
        "--run-once",
        bad,
        good,
        env={"DOCKER_CONFIG": str(config_dir)},
        timeout=180,
    )
    out = result.stdout + result.stderr
    assert "Docker engine" not in out, out
    assert result.returncode == 1, out  # a check failed; start-up went on
    [updated] = [line for line in out.splitlines() if line.startswith("  updated ")]
    [failed] = [line for line in out.splitlines() if line.startswith("  CHECK FAILED ")]
    assert good in updated, out
    assert bad in failed and str(config) in failed and f"'{broken.host}'" in failed, out
    assert "not base64" in failed
    assert "s3cret" not in out
    assert docker_client.containers.get(bad).image.id != docker_client.images.get(bad_app).id
    assert docker_client.containers.get(good).image.id == docker_client.images.get(good_app).id
