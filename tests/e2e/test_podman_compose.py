"""A podman-compose project on Podman, updated by `vigil --run-once`: Debian's podman-compose
(1.0.3) makes plain containers (`podman run`, no pod) on the project's network, with compose's
labels; the replacement keeps them, and stays the project's (`podman-compose down` removes
it). (Its `ipv4_address` is not in 1.0.3; a static address it gives with `--ip` in a later
version is its `podman run` command line, which Vigil reads: test_podman_fidelity.py.)"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.real_parts import part_missing
from tests.support.vigil_process import run_vigil
from vigil_shared.docker_engine import connect_engine

pytestmark = [pytest.mark.integration]

COMPOSE = """\
services:
  web:
    image: {image}
    labels:
      team: core
    environment:
      MODE: prod
    volumes: [data:/data]
volumes:
  data: {{}}
"""


def test_a_podman_compose_project_is_updated_with_compose_s_settings(
    podman_service: Any, registry: Any, tmp_path: Path
) -> None:
    if shutil.which("podman-compose") is None:
        part_missing("no podman-compose: install Debian's (scripts/prepare-test-env.sh does)")
    client = connect_engine(podman_service.url)
    run = uuid.uuid4().hex[:8]
    project = f"vigiltest{run}"
    image = f"{registry.host}/vigil-test-compose-{run}:latest"
    (tmp_path / "docker-compose.yml").write_text(COMPOSE.format(image=image))

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman-compose", "-p", project, *args],
            cwd=tmp_path,
            env=podman_service.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    try:
        build_test_image(client, image, marker="v1")
        push_image(client, image)
        up = compose("up", "-d")
        assert up.returncode == 0, up.stdout + up.stderr
        web = f"{project}_web_1"
        before = client.api.inspect_container(web)
        network = f"{project}_default"
        assert list(before["NetworkSettings"]["Networks"]) == [network]
        new_image = build_test_image(client, image, marker="v2")
        push_image(client, image)
        client.api.remove_image(image)

        result = run_vigil(
            "--state-dir", str(tmp_path / "state"), "--host-id", "compose",
            "--docker-host", podman_service.url, "--run-once", web,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"updated       {web} ({image})" in result.stdout, result.stdout

        after = client.api.inspect_container(web)
        assert after["Id"] != before["Id"] and after["State"]["Running"]
        assert after["Image"] == new_image
        compose_labels = {
            k: v for k, v in before["Config"]["Labels"].items() if k.startswith("com.docker.")
        }
        assert compose_labels["com.docker.compose.service"] == "web"
        assert compose_labels.items() <= after["Config"]["Labels"].items()
        assert after["Config"]["Labels"]["team"] == "core"
        assert "MODE=prod" in after["Config"]["Env"]
        assert [(m["Name"], m["Destination"]) for m in after["Mounts"]] == [
            (f"{project}_data", "/data")
        ]
        assert "web" in after["NetworkSettings"]["Networks"][network]["Aliases"]

        down = compose("down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert [
            c["Names"] for c in client.api.containers(all=True) if project in c["Names"][0]
        ] == []
    finally:  # what a failed test left
        for container in client.api.containers(all=True):
            if project in container["Names"][0]:
                podman_service.podman("rm", "-f", "-v", container["Id"])
        podman_service.podman("network", "rm", "-f", f"{project}_default")
        podman_service.podman("volume", "rm", "-f", f"{project}_data")
        podman_service.podman("rmi", "-f", image)
        client.close()
