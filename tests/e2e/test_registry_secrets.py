"""Private registries end to end: the `vigil` command over a real NATS updates a container
whose registry needs credentials, and no secret appears on the bus or in the output."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.bus_recorder import BusRecorder, secret_forms
from tests.support.images import StaleContainer
from tests.support.registry_fixtures import RegistryServer
from tests.support.vigil_process import run_vigil
from vigil.process.embedded_nats import EmbeddedNats

pytestmark = pytest.mark.integration

USER, PASSWORD = "deploy-bot", "s3cr3t-Pa55w0rd-for-vigil"


def run_fleet_vigil(tmp_path: Path, nats_url: str, docker_config: Path, *args: str) -> Any:
    return run_vigil(
        "--nats-url", nats_url, "--host-id", "e2e", *args,
        env={"DOCKER_CONFIG": str(docker_config)}, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.parametrize("auth", ["htpasswd", "token"])
def test_private_registry_update_leaks_no_secret(
    auth: str,
    registry_factory: Callable[..., RegistryServer],
    docker_client: Any,
    names: Callable[[str], str],
    nats_server: EmbeddedNats,
    tmp_path: Path,
) -> None:
    users = {USER: PASSWORD}
    server = (
        registry_factory(htpasswd=users)
        if auth == "htpasswd"
        else registry_factory(token_users=users)
    )
    login = {"username": USER, "password": PASSWORD, "serveraddress": server.host}
    stale = StaleContainer(docker_client, server.host, names("web"), names("private"), auth=login)
    web, old_id, new_image = stale.name, stale.old_id, stale.new_image

    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config_dir / "config.json").write_text(json.dumps({"auths": {server.host: {"auth": encoded}}}))

    with BusRecorder(nats_server.url) as recorder:
        result = run_fleet_vigil(
            tmp_path, nats_server.url, config_dir, "--run-once", "--debug", web
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"updated       {web}" in result.stdout
    after = docker_client.api.inspect_container(web)
    assert after["Id"] != old_id
    assert after["Image"] == new_image

    kinds = [
        json.loads(data).get("kind")
        for subject, data, _ in recorder.messages
        if subject.startswith("_INBOX.") and b'"kind"' in data
    ]
    assert ("token" if auth == "token" else "basic") in kinds  # the pull used our credentials
    traffic = [data.decode(errors="replace") + json.dumps(h) for _, data, h in recorder.messages]
    assert len(traffic) > 10
    for secret in secret_forms(USER, PASSWORD):
        assert secret not in result.stdout
        assert secret not in result.stderr
        leaks = [t[:200] for t in traffic if secret in t]
        assert not leaks, f"{secret!r} on the bus: {leaks}"
