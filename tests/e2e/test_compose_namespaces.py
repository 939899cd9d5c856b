"""A docker-compose project whose sidecar shares its app's network (`network_mode:
"service:app"`, which docker-compose 1.29 creates as `container:<app's id>`), updated by the
real `vigil --run-once`: both run afterwards, the sidecar in the new app's namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_core_slice import Vigil, inspect, publish_new_build
from tests.support.images import build_test_image, push_image
from tests.support.real_parts import part_missing

pytestmark = pytest.mark.integration

COMPOSE_FILE = """\
version: "2.4"
services:
  app:
    image: {app}
  side:
    image: {side}
    network_mode: "service:app"
"""


@pytest.fixture
def vigil(tmp_path: Path) -> Vigil:
    return Vigil(tmp_path)


def compose(project: str, file: Path, *args: str) -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        part_missing("docker-compose is not installed (Debian's docker-compose)")
    result = subprocess.run(
        [str(binary), "--project-name", project, "--file", str(file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def net_namespace(client: Any, name: str) -> str:
    out = client.containers.get(name).exec_run(["readlink", "/proc/1/ns/net"])
    assert out.exit_code == 0, out.output
    return str(out.output.decode().strip())


@pytest.mark.parametrize("side_stale", [True, False], ids=["both-stale", "app-stale"])
def test_a_compose_sidecar_follows_its_updated_app(
    docker_client: Any,
    registry: Any,
    names: Callable[[str], str],
    vigil: Vigil,
    tmp_path: Path,
    side_stale: bool,
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, app, marker="app-v1")
    push_image(docker_client, app)
    side = app if side_stale else f"{registry.host}/{names('side')}:latest"
    if not side_stale:
        build_test_image(docker_client, side, marker="side-v1")
        push_image(docker_client, side)
    file = tmp_path / "docker-compose.yml"
    file.write_text(COMPOSE_FILE.format(app=app, side=side))
    project = names("proj")
    compose(project, file, "up", "-d")
    app_name, side_name = f"{project}_app_1", f"{project}_side_1"
    app_old, side_old = inspect(docker_client, app_name), inspect(docker_client, side_name)
    assert side_old["HostConfig"]["NetworkMode"] == f"container:{app_old['Id']}"
    new_app = publish_new_build(docker_client, app, marker="app-v2")

    result = vigil("--run-once", app_name, side_name)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"updated       {app_name} ({app})" in result.stdout, result.stdout
    if side_stale:
        assert f"updated       {side_name} ({side})" in result.stdout, result.stdout
    else:
        assert f"up to date    {side_name} ({side})" in result.stdout, result.stdout
        assert f"recreated on its own image to join the new {app_name}" in result.stdout
    app_new, side_new = inspect(docker_client, app_name), inspect(docker_client, side_name)
    assert app_new["State"]["Running"] and app_new["Image"] == new_app
    assert side_new["State"]["Running"], side_new["State"]
    assert side_new["Image"] == (new_app if side_stale else side_old["Image"])
    assert side_new["HostConfig"]["NetworkMode"] == f"container:{app_new['Id']}"
    assert net_namespace(docker_client, side_name) == net_namespace(docker_client, app_name)
    # compose still knows them as its project's services
    for data, service in ((app_new, "app"), (side_new, "side")):
        assert data["Config"]["Labels"]["com.docker.compose.project"] == project
        assert data["Config"]["Labels"]["com.docker.compose.service"] == service
    leftovers = sorted(
        c.name for c in docker_client.containers.list(all=True) if c.name.startswith(project)
    )
    assert leftovers == sorted([app_name, side_name])


def test_links_and_rm_containers_in_one_cycle(
    docker_client: Any, registry: Any, names: Callable[[str], str], vigil: Vigil
) -> None:
    """`docker run --rm` providers and a `--link`ed dependent beside other stale containers:
    every container runs afterwards, and the report says what happened to each."""
    app = f"{registry.host}/{names('app')}:latest"
    steady = f"{registry.host}/{names('steady')}:latest"
    for tag, marker in ((app, "v1"), (steady, "steady")):
        build_test_image(docker_client, tag, marker=marker)
        push_image(docker_client, tag)
    prov, dep, web = names("prov"), names("dep"), names("web")
    docker_client.containers.run(app, name=prov, detach=True, auto_remove=True)
    docker_client.containers.run(steady, name=dep, detach=True, links={prov: "db"})
    docker_client.containers.run(app, name=web, detach=True, auto_remove=True)
    dep_old = inspect(docker_client, dep)
    new_app = publish_new_build(docker_client, app, marker="v2")

    result = vigil("--run-once", prov, dep, web)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 scanned, 2 updated, 1 up to date" in result.stdout, result.stdout
    assert f"up to date    {dep} ({steady})" in result.stdout
    assert f"recreated on its own image to join the new {prov} by its link" in result.stdout
    for name in (prov, web):
        data = inspect(docker_client, name)
        assert data["State"]["Running"] and data["Image"] == new_app, name
        assert data["HostConfig"]["AutoRemove"] is True
    dep_new = inspect(docker_client, dep)
    assert dep_new["State"]["Running"] and dep_new["Image"] == dep_old["Image"]
    assert dep_new["HostConfig"]["Links"] == [f"/{prov}:/{dep}/db"]
    hosts = docker_client.containers.get(dep).exec_run(["cat", "/etc/hosts"]).output.decode()
    address = inspect(docker_client, prov)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert any(
        line.split()[:1] == [address] and "db" in line.split() for line in hosts.splitlines()
    )
