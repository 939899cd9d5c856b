"""The core slice end to end: `vigil --run-once` (all four services over an embedded NATS)
against the real Docker engine and a real registry on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.images import build_test_image, push_image
from tests.support.vigil_process import run_vigil

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Vigil:
    """Runs the real `vigil` command, as a user would, in a state dir of its own."""

    def __init__(self, tmp_path: Path) -> None:
        self.state = tmp_path / "vigil-state"

    def __call__(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return run_vigil(
            "--state-dir", str(self.state), "--host-id", "e2e", *args, timeout=timeout
        )  # fmt: skip


@pytest.fixture
def vigil(tmp_path: Path) -> Vigil:
    return Vigil(tmp_path)


def publish_new_build(client: Any, tag: str, marker: str) -> str:
    """A new build of `tag` lands in the registry, and the host does not have it yet."""
    image_id = build_test_image(client, tag, marker=marker)
    push_image(client, tag)
    client.api.remove_image(tag)  # untag; the running container still holds the old build
    return image_id


def inspect(client: Any, name: str) -> dict[str, Any]:
    data: dict[str, Any] = client.api.inspect_container(name)
    return data


def test_stale_container_is_recreated_with_its_configuration(
    docker_client: Any, registry: Any, names: Callable[[str], str], vigil: Vigil
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    db = f"{registry.host}/{names('db')}:latest"
    old_app = build_test_image(docker_client, app, marker="app-v1")
    push_image(docker_client, app)
    build_test_image(docker_client, db, marker="db-v1")
    push_image(docker_client, db)

    network = names("net")
    docker_client.networks.create(network, driver="bridge")
    volume = names("vol")
    docker_client.volumes.create(volume)
    host_port = free_port()
    web_name, db_name = names("web"), names("db")
    docker_client.containers.run(
        app,
        name=web_name,
        detach=True,
        environment={"GREETING": "hello world", "MODE": "prod"},
        labels={"team": "core", "tier": "web"},
        ports={"8080/tcp": ("127.0.0.1", host_port)},
        volumes={volume: {"bind": "/data", "mode": "rw"}},
        network=network,
        restart_policy={"Name": "unless-stopped"},
        hostname="web-host",
    )
    docker_client.networks.get(network)  # exists
    docker_client.api.disconnect_container_from_network(web_name, network)
    docker_client.api.connect_container_to_network(web_name, network, aliases=["frontend"])
    docker_client.containers.run(db, name=db_name, detach=True)
    before_web = inspect(docker_client, web_name)
    before_db = inspect(docker_client, db_name)

    new_app = publish_new_build(docker_client, app, marker="app-v2")

    result = vigil("--run-once", "--cleanup", web_name, db_name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"updated       {web_name} ({app})" in result.stdout
    assert f"up to date    {db_name} ({db})" in result.stdout
    assert "2 scanned, 1 updated, 1 up to date" in result.stdout

    after = inspect(docker_client, web_name)
    assert after["Id"] != before_web["Id"]
    assert after["Image"] == new_app
    assert after["State"]["Running"]
    assert after["Config"]["Image"] == app
    env = after["Config"]["Env"]
    assert "GREETING=hello world" in env and "MODE=prod" in env
    assert after["Config"]["Labels"]["team"] == "core"
    assert after["Config"]["Labels"]["tier"] == "web"
    assert after["HostConfig"]["PortBindings"] == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]
    }
    assert [(m["Type"], m["Name"], m["Destination"]) for m in after["Mounts"]] == [
        ("volume", volume, "/data")
    ]
    assert after["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert after["Config"]["Hostname"] == "web-host"
    assert "frontend" in (after["NetworkSettings"]["Networks"][network]["Aliases"] or [])
    # nothing left behind, and the old build is cleaned up
    leftovers = [
        c.name for c in docker_client.containers.list(all=True) if c.name.startswith(web_name)
    ]
    assert leftovers == [web_name]
    with pytest.raises(Exception, match="No such image"):
        docker_client.api.inspect_image(old_app)
    # the current container is untouched
    assert inspect(docker_client, db_name)["Id"] == before_db["Id"]

    again = vigil("--run-once", web_name, db_name)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 scanned, 2 up to date" in again.stdout
    assert inspect(docker_client, web_name)["Id"] == after["Id"]


def test_unreachable_registry_fails_its_check_and_the_others_still_update(
    docker_client: Any, registry: Any, names: Callable[[str], str], vigil: Vigil
) -> None:
    dead = f"127.0.0.1:{free_port()}/{names('lost')}:latest"
    build_test_image(docker_client, dead, marker="lost")
    app = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, app, marker="v1")
    push_image(docker_client, app)
    lost_name, app_name = names("lost"), names("web")
    docker_client.containers.run(dead, name=lost_name, detach=True)
    docker_client.containers.run(app, name=app_name, detach=True)
    lost_id = inspect(docker_client, lost_name)["Id"]
    old_app_id = inspect(docker_client, app_name)["Id"]
    publish_new_build(docker_client, app, marker="v2")

    result = vigil("--run-once", lost_name, app_name)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"CHECK FAILED  {lost_name} ({dead})" in result.stdout
    assert f"updated       {app_name}" in result.stdout
    assert inspect(docker_client, lost_name)["Id"] == lost_id
    assert inspect(docker_client, app_name)["Id"] != old_app_id


def test_a_name_that_matches_no_container_is_named_and_nothing_changes(
    docker_client: Any, registry: Any, names: Callable[[str], str], vigil: Vigil
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, app, marker="v1")
    push_image(docker_client, app)
    web = names("web")
    docker_client.containers.run(app, name=web, detach=True)
    web_id = inspect(docker_client, web)["Id"]
    publish_new_build(docker_client, app, marker="v2")
    ghost = names("ghost")

    result = vigil("--run-once", ghost)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"no container named '{ghost}' on host e2e" in result.stdout
    assert inspect(docker_client, web)["Id"] == web_id


def test_unreachable_nats_is_a_clear_start_up_error(vigil: Vigil) -> None:
    port = free_port()
    result = vigil("--run-once", "--nats-url", f"nats://127.0.0.1:{port}", timeout=60)
    assert result.returncode == 2
    assert f"cannot reach NATS at nats://127.0.0.1:{port}" in result.stderr


def test_unreachable_engine_is_a_clear_start_up_error(vigil: Vigil, tmp_path: Path) -> None:
    sock = tmp_path / "no-engine.sock"
    result = vigil("--run-once", "--docker-host", f"unix://{sock}", timeout=60)
    assert result.returncode == 2
    assert str(sock) in result.stderr


def test_the_audit_stream_replays_the_cycle_after_vigil_exits(
    docker_client: Any, registry: Any, names: Callable[[str], str], vigil: Vigil
) -> None:
    app = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, app, marker="v1")
    push_image(docker_client, app)
    web = names("web")
    docker_client.containers.run(app, name=web, detach=True)
    publish_new_build(docker_client, app, marker="v2")
    assert vigil("--run-once", web).returncode == 0

    # vigil has exited: `vigil events` opens the all-in-one's store itself.
    events = run_vigil("events", "--state-dir", str(vigil.state), "--json", timeout=60)
    assert events.returncode == 0, events.stderr
    kinds = [json.loads(line)["kind"] for line in events.stdout.splitlines()]
    assert kinds[0] == "inventory" and kinds[1] == "plan" and kinds[-1] == "report"
    assert set(kinds[2:-1]) == {"progress"}
    phases = [
        json.loads(line)["message"]["phase"]
        for line in events.stdout.splitlines()
        if json.loads(line)["kind"] == "progress"
    ]
    assert phases[0] == "pulling" and phases[-1] == "done"
    history = run_vigil("history", "--state-dir", str(vigil.state), timeout=60)
    assert history.returncode == 0, history.stderr
    assert f"{web}" in history.stdout and "updated" in history.stdout


def test_no_pull_updates_from_the_image_the_tag_names_on_the_host(
    docker_client: Any, names: Callable[[str], str], vigil: Vigil
) -> None:
    tag = f"{names('local')}:latest"  # never in any registry
    build_test_image(docker_client, tag, marker="v1")
    web, keep = names("web"), names("keep")
    docker_client.containers.run(tag, name=web, detach=True)
    docker_client.containers.run(
        tag, name=keep, detach=True, labels={"com.centurylinklabs.watchtower.monitor-only": "true"}
    )
    new_image = build_test_image(docker_client, tag, marker="v2")

    result = vigil("--run-once", "--no-pull", web, keep)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"updated       {web}" in result.stdout
    assert "monitor only" in result.stdout
    assert inspect(docker_client, web)["Image"] == new_image
    assert inspect(docker_client, keep)["Image"] != new_image


def test_a_stale_container_beside_one_on_the_new_build_of_its_tag_is_updated(
    docker_client: Any, registry: Any, names: Callable[[str], str], vigil: Vigil
) -> None:
    """One tag, two containers: `old` on the first build, `new` already on the build the
    registry serves. One check for the tag; each container judged by its own image."""
    tag = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    push_image(docker_client, tag)
    old, new = names("old"), names("new")
    docker_client.containers.run(tag, name=old, detach=True)
    new_build = build_test_image(docker_client, tag, marker="v2")
    push_image(docker_client, tag)
    docker_client.containers.run(tag, name=new, detach=True)
    new_id = inspect(docker_client, new)["Id"]

    result = vigil("--run-once", old, new)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"updated       {old} ({tag})" in result.stdout
    assert f"up to date    {new} ({tag})" in result.stdout
    assert "2 scanned, 1 updated, 1 up to date" in result.stdout
    for name in (old, new):
        after = inspect(docker_client, name)
        assert after["Image"] == new_build and after["State"]["Running"], name
    assert inspect(docker_client, new)["Id"] == new_id  # the current one is untouched
