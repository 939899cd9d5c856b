"""The executor's Docker adapter against the real engine: replace, keep settings, roll back."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.images import build_test_image
from vigil_executor.replace import PullError, pull_image, replace_container

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def steps() -> tuple[list[str], Callable[[str, str], None]]:
    seen: list[str] = []
    return seen, lambda phase, message: seen.append(phase)


def test_image_defaults_follow_the_new_image_and_user_settings_stay(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    tag = f"{names('app')}:latest"
    build_test_image(docker_client, tag, marker="v1", extra="VOLUME /cache\n")
    web = names("web")
    net_a, net_b = names("neta"), names("netb")
    docker_client.networks.create(net_a)
    docker_client.networks.create(net_b)
    docker_client.containers.run(
        tag,
        name=web,
        detach=True,
        environment={"MINE": "1"},
        labels={"mine": "yes"},
        network=net_a,
    )
    docker_client.api.connect_container_to_network(web, net_b, aliases=["second"])
    old = docker_client.api.inspect_container(web)
    anon = next(m["Name"] for m in old["Mounts"] if m["Destination"] == "/cache")
    docker_client.containers.get(web).exec_run(["sh", "-c", "echo kept > /cache/file"])
    new_image = build_test_image(docker_client, tag, marker="v2", extra="VOLUME /cache\n")

    seen, on_step = steps()
    outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=5, on_step=on_step)
    assert outcome.status == "updated", outcome.error
    assert seen == ["stopping", "creating", "starting", "removing-old"]

    new = docker_client.api.inspect_container(web)
    assert new["Id"] == outcome.new_container_id != old["Id"]
    assert new["Image"] == new_image
    assert new["State"]["Running"]
    env = new["Config"]["Env"]
    assert "MINE=1" in env
    assert "VIGIL_TEST_MARKER=v2" in env and "VIGIL_TEST_MARKER=v1" not in env
    assert new["Config"]["Labels"]["mine"] == "yes"
    assert new["Config"]["Labels"]["vigil.test.marker"] == "v2"
    assert new["Config"]["Hostname"] == new["Id"][:12]  # the default, not the old id
    assert set(new["NetworkSettings"]["Networks"]) == {net_a, net_b}
    assert "second" in new["NetworkSettings"]["Networks"][net_b]["Aliases"]
    assert [m["Name"] for m in new["Mounts"] if m["Destination"] == "/cache"] == [anon]
    out = docker_client.containers.get(web).exec_run(["cat", "/cache/file"]).output
    assert out == b"kept\n"
    with pytest.raises(Exception, match=r"(?i)no such container"):
        docker_client.api.inspect_container(old["Id"])


def test_a_stopped_container_is_replaced_but_not_started(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    tag = f"{names('app')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    name = names("idle")
    container = docker_client.containers.create(tag, name=name)
    build_test_image(docker_client, tag, marker="v2")
    outcome = replace_container(docker_client, container.id, tag)
    assert outcome.status == "updated", outcome.error
    new = docker_client.api.inspect_container(name)
    assert not new["State"]["Running"]
    assert new["Config"]["Labels"]["vigil.test.marker"] == "v2"


def test_a_new_image_that_cannot_start_is_rolled_back(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    tag = f"{names('app')}:latest"
    old_image = build_test_image(docker_client, tag, marker="v1")
    web = names("web")
    docker_client.containers.run(tag, name=web, detach=True, environment={"MINE": "1"})
    old = docker_client.api.inspect_container(web)
    build_test_image(docker_client, tag, marker="broken", extra='ENTRYPOINT ["/no/such/binary"]\n')

    seen, on_step = steps()
    outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=5, on_step=on_step)
    assert outcome.status == "rolled_back"
    assert "no/such/binary" in outcome.error
    assert "rolling-back" in seen
    after = docker_client.api.inspect_container(web)
    assert after["Id"] == old["Id"]  # the very same container, under its own name, running
    assert after["Image"] == old_image
    assert after["State"]["Running"]
    leftovers = [c.name for c in docker_client.containers.list(all=True) if web in c.name]
    assert leftovers == [web]


def test_pull_of_a_missing_image_names_it(docker_client: Any) -> None:
    with pytest.raises(PullError, match=re.escape("pull of 127.0.0.1:1/nothing:latest")):
        pull_image(docker_client, "127.0.0.1:1/nothing:latest", None)


def test_user_set_command_entrypoint_workdir_user_and_healthcheck_are_kept(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    tag = f"{names('app')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    web = names("web")
    healthcheck = {
        "Test": ["CMD-SHELL", "test -d /tmp"],
        "Interval": 2_000_000_000,
        "Timeout": 1_000_000_000,
        "Retries": 2,
    }
    docker_client.containers.run(
        tag,
        name=web,
        detach=True,
        entrypoint=["/bin/sh", "-c"],
        command=["trap 'exit 0' TERM; while true; do sleep 1; done"],
        working_dir="/tmp",
        user="1000:1000",
        healthcheck=healthcheck,
        stop_signal="SIGINT",
    )
    old = docker_client.api.inspect_container(web)
    build_test_image(docker_client, tag, marker="v2", extra="WORKDIR /\n")
    outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=5)
    assert outcome.status == "updated", outcome.error
    config = docker_client.api.inspect_container(web)["Config"]
    assert config["Entrypoint"] == ["/bin/sh", "-c"]
    assert config["Cmd"] == ["trap 'exit 0' TERM; while true; do sleep 1; done"]
    assert config["WorkingDir"] == "/tmp"
    assert config["User"] == "1000:1000"
    assert config["Healthcheck"] == healthcheck
    # Podman reports a stop signal by number.
    assert config["StopSignal"] in ("SIGINT", str(int(signal.SIGINT)))
    assert config["Labels"]["vigil.test.marker"] == "v2"


def test_a_new_image_whose_healthcheck_fails_is_rolled_back(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    tag = f"{names('app')}:latest"
    healthy = 'HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["true"]\n'
    old_image = build_test_image(docker_client, tag, marker="v1", extra=healthy)
    web = names("web")
    docker_client.containers.run(tag, name=web, detach=True)
    old = docker_client.api.inspect_container(web)
    sick = (
        'HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["sh", "-c", "echo sick; exit 1"]\n'
    )
    build_test_image(docker_client, tag, marker="v2", extra=sick)

    seen, on_step = steps()
    outcome = replace_container(
        docker_client, old["Id"], tag, stop_timeout=5, on_step=on_step, health_timeout=20
    )
    assert outcome.status == "rolled_back", outcome
    assert "unhealthy" in outcome.error and "sick" in outcome.error
    assert "health-check" in seen and "rolling-back" in seen
    after = docker_client.api.inspect_container(web)
    assert after["Id"] == old["Id"] and after["Image"] == old_image
    assert after["State"]["Running"]
    assert [c.name for c in docker_client.containers.list(all=True) if web in c.name] == [web]


def test_a_healthy_new_image_passes_the_gate(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    tag = f"{names('app')}:latest"
    healthy = 'HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["true"]\n'
    build_test_image(docker_client, tag, marker="v1", extra=healthy)
    web = names("web")
    docker_client.containers.run(tag, name=web, detach=True)
    old = docker_client.api.inspect_container(web)
    build_test_image(docker_client, tag, marker="v2", extra=healthy)
    seen, on_step = steps()
    outcome = replace_container(docker_client, old["Id"], tag, on_step=on_step, health_timeout=20)
    assert outcome.status == "updated", outcome.error
    assert seen[-3:] == ["health-check", "healthy", "removing-old"]


def test_the_engine_refusing_the_new_container_rolls_back_and_the_old_one_runs(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    import socket

    tag = f"{names('app')}:latest"
    old_image = build_test_image(docker_client, tag, marker="v1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    web = names("web")
    docker_client.containers.run(
        tag, name=web, detach=True, ports={"8080/tcp": ("127.0.0.1", port)}
    )
    old = docker_client.api.inspect_container(web)
    build_test_image(docker_client, tag, marker="v2")
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def on_step(phase: str, message: str) -> None:
        # The port is taken while the old container is down, and freed once Vigil rolls back.
        if phase == "creating":
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
        elif phase == "rolling-back":
            squatter.close()

    try:
        outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=5, on_step=on_step)
    finally:
        squatter.close()
    assert outcome.status == "rolled_back", outcome
    assert str(port) in outcome.error or "address already in use" in outcome.error
    after = docker_client.api.inspect_container(web)
    assert after["Id"] == old["Id"] and after["Image"] == old_image
    assert after["State"]["Running"]
    assert [c.name for c in docker_client.containers.list(all=True) if web in c.name] == [web]
