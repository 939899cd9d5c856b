"""The recreate fidelity sweep on a real Podman engine: the settings Podman's compatible API
supports, compared one by one before and after an update (test_fidelity.py is Docker's)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from docker.types import Healthcheck

from tests.support.images import build_test_image
from vigil_executor.replace import replace_container
from vigil_shared.docker_engine import connect_engine

pytestmark = [pytest.mark.integration]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def updated(podman_service: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    run = f"vigil-test-pfid-{uuid.uuid4().hex[:8]}"
    client = connect_engine(podman_service.url)
    api = client.api
    tag = f"{run}:latest"
    bound = tmp_path_factory.mktemp("pfid")
    net, volume, name = f"{run}-net", f"{run}-data", f"{run}-web"
    port = free_port()
    try:
        build_test_image(client, tag, marker="v1", extra="VOLUME /cache\n")
        api.create_network(net)
        api.create_volume(volume)
        api.create_container(
            tag,
            name=name,
            environment={"MODE": "prod", "EMPTY": ""},
            labels={"com.example.role": "web"},
            ports=[8080],
            healthcheck=Healthcheck(
                test=["CMD-SHELL", "test -d /tmp"], interval=1_000_000_000, retries=2
            ),
            working_dir="/tmp",
            hostname="myhost",
            host_config=api.create_host_config(
                binds={
                    str(bound): {"bind": "/bound", "mode": "rw"},
                    volume: {"bind": "/named", "mode": "rw"},
                },
                port_bindings={8080: ("127.0.0.1", port)},
                restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
                mem_limit="256m",
                cpu_shares=512,
                pids_limit=100,
                cap_add=["NET_ADMIN"],
                cap_drop=["MKNOD"],
                network_mode=net,
            ),
            networking_config=api.create_networking_config(
                {net: api.create_endpoint_config(aliases=["www"])}
            ),
        )
        api.start(name)
        old = api.inspect_container(name)
        build_test_image(client, tag, marker="v2", extra="VOLUME /cache\n")
        outcome = replace_container(client, old["Id"], tag, stop_timeout=2, health_timeout=60)
        new = api.inspect_container(name)
        yield outcome, old, new
    finally:
        for c in api.containers(all=True):
            if any(run in n for n in c.get("Names") or ()):
                podman_service.podman("rm", "-f", "-v", c["Id"])
        podman_service.podman("network", "rm", "-f", net)
        podman_service.podman("volume", "rm", "-f", volume)
        podman_service.podman("rmi", "-f", tag)
        client.close()


def test_the_update_succeeds_and_runs(updated: Any) -> None:
    outcome, old, new = updated
    assert outcome.status == "updated", outcome.error
    assert new["Id"] != old["Id"] and new["State"]["Running"] is True


def _env(c: dict[str, Any]) -> set[str]:
    return {e for e in c["Config"]["Env"] if e.split("=")[0] in ("MODE", "EMPTY")}


def _mounts(c: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m["Destination"], m.get("Name") or m.get("Source") or "") for m in c["Mounts"]}


PICKS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "env": _env,
    "label": lambda c: c["Config"]["Labels"].get("com.example.role"),
    "port bindings": lambda c: c["HostConfig"]["PortBindings"],
    "mounts": _mounts,
    "restart policy": lambda c: c["HostConfig"]["RestartPolicy"],
    "memory": lambda c: c["HostConfig"]["Memory"],
    "cpu shares": lambda c: c["HostConfig"]["CpuShares"],
    "pids limit": lambda c: c["HostConfig"]["PidsLimit"],
    "cap add": lambda c: sorted(c["HostConfig"]["CapAdd"] or ()),
    "cap drop": lambda c: sorted(c["HostConfig"]["CapDrop"] or ()),
    "healthcheck": lambda c: c["Config"].get("Healthcheck"),
    "working dir": lambda c: c["Config"]["WorkingDir"],
    "hostname": lambda c: c["Config"]["Hostname"],
    "networks": lambda c: sorted(c["NetworkSettings"]["Networks"]),
    "aliases": lambda c: sorted(
        a
        for n in c["NetworkSettings"]["Networks"].values()
        for a in n.get("Aliases") or ()
        if a == "www"
    ),
}


@pytest.mark.parametrize("what", sorted(PICKS))
def test_setting_survives_the_update_on_podman(updated: Any, what: str) -> None:
    _, old, new = updated
    pick = PICKS[what]
    assert pick(old), f"{what}: the old container should have it set"
    assert pick(new) == pick(old), what
