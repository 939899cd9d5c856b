"""The recreate fidelity sweep on a real Podman engine: the settings Podman's compatible API
supports, compared one by one before and after an update (test_fidelity.py is Docker's)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from docker.types import Healthcheck

from tests.integration.test_fidelity import PAYLOAD, read_payload, wait_running, write_payload
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
                devices=["/dev/null:/dev/xnull:rwm"],
                network_mode=net,
            ),
            networking_config=api.create_networking_config(
                {net: api.create_endpoint_config(aliases=["www"])}
            ),
        )
        api.start(name)
        write_payload(client, name, ("/cache", "/named", "/bound"))
        old = api.inspect_container(name)
        build_test_image(client, tag, marker="v2", extra="VOLUME /cache\n")
        outcome = replace_container(client, old["Id"], tag, stop_timeout=2, health_timeout=60)
        new = api.inspect_container(name)
        payloads = {d: read_payload(client, name, d) for d in ("/cache", "/named", "/bound")}
        yield outcome, old, new, payloads
    finally:
        for c in api.containers(all=True):
            if any(run in n for n in c.get("Names") or ()):
                podman_service.podman("rm", "-f", "-v", c["Id"])
        podman_service.podman("network", "rm", "-f", net)
        podman_service.podman("volume", "rm", "-f", volume)
        podman_service.podman("rmi", "-f", tag)
        client.close()


def test_the_update_succeeds_and_runs(updated: Any) -> None:
    outcome, old, new, _ = updated
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
    "devices": lambda c: c["HostConfig"]["Devices"],
    "anonymous volume": lambda c: [m["Name"] for m in c["Mounts"] if m["Destination"] == "/cache"],
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
    _, old, new, _ = updated
    pick = PICKS[what]
    assert pick(old), f"{what}: the old container should have it set"
    assert pick(new) == pick(old), what


@pytest.mark.parametrize("directory", ["/cache", "/named", "/bound"])
def test_data_in_volumes_and_binds_is_kept_on_podman(updated: Any, directory: str) -> None:
    """/cache: the image's VOLUME, an anonymous volume (Podman names it in Binds)."""
    assert updated[3][directory] == PAYLOAD


# The tests below make containers of their own on Podman: `docker_client` and `names` are
# Podman's (tests/support/engine_fixtures.py).
ON_PODMAN = pytest.mark.parametrize("engine_kind", ["podman"], indirect=True)


@ON_PODMAN
def test_a_container_on_another_containers_network_on_podman(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    """`--network container:X`: the replacement joins the same container's namespace."""
    api = docker_client.api
    tag = f"{names('app')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    provider, guest = names("provider"), names("guest")
    api.start(api.create_container(tag, name=provider))
    joined = f"container:{provider}"
    api.start(
        api.create_container(
            tag, name=guest, host_config=api.create_host_config(network_mode=joined)
        )
    )
    old = api.inspect_container(guest)
    build_test_image(docker_client, tag, marker="v2")

    outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=2)

    assert outcome.status == "updated", outcome.error
    new = wait_running(docker_client, guest)
    assert new["Id"] != old["Id"] and new["State"]["Running"]
    assert new["HostConfig"]["NetworkMode"] == old["HostConfig"]["NetworkMode"]
    provider_id = api.inspect_container(provider)["Id"]
    assert new["HostConfig"]["NetworkMode"] == f"container:{provider_id}"


@ON_PODMAN
def test_an_auto_removed_container_is_replaced_with_its_data_on_podman(
    docker_client: Any, names: Callable[[str], str]
) -> None:
    """`--rm`: Podman removes the old container when it stops; the replacement, made before,
    has its anonymous volume (by name) and `--rm` again."""
    api = docker_client.api
    tag = f"{names('app')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    web = names("web")
    api.start(
        api.create_container(
            tag, name=web, volumes=["/data"], host_config=api.create_host_config(auto_remove=True)
        )
    )
    write_payload(docker_client, web, ("/data",))
    old = api.inspect_container(web)
    new_image = build_test_image(docker_client, tag, marker="v2")

    outcome = replace_container(docker_client, old["Id"], tag, stop_timeout=2)

    assert outcome.status == "updated", outcome.error
    new = wait_running(docker_client, web)
    assert new["Id"] == outcome.new_container_id != old["Id"]
    assert new["Image"] == new_image and new["HostConfig"]["AutoRemove"] is True
    assert read_payload(docker_client, web, "/data") == PAYLOAD
    assert [c["Names"] for c in api.containers(all=True) if web in c["Names"][0]] == [[f"/{web}"]]
    # Podman's volume stays anonymous (its own mark, not the name): `rm -v` removes it.
    volume = next(m["Name"] for m in new["Mounts"] if m["Destination"] == "/data")
    api.remove_container(web, force=True, v=True)
    assert volume not in {v.name for v in docker_client.volumes.list()}


@ON_PODMAN
def test_static_ipv4_and_ipv6_addresses_are_kept_on_podman(
    docker_client: Any, podman_service: Any, names: Callable[[str], str]
) -> None:
    """`podman run --network NET --ip A --ip6 B`: Podman's inspects show the addresses but not
    that they were given (IPAMConfig is null); the replacement keeps them, and so does the
    replacement's own replacement (from Vigil's label, its CreateCommand being the service's)."""
    api = docker_client.api
    tag = f"{names('app')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    image_name = api.inspect_image(tag)["RepoTags"][0]
    n = int(uuid.uuid4().hex[:2], 16)
    net = names("net")
    ipv4, ipv6 = f"10.236.{n}.50", f"fd00:7670:{n:x}::50"
    made = podman_service.podman(
        "network", "create", "--ipv6", "--subnet", f"10.236.{n}.0/24",
        "--subnet", f"fd00:7670:{n:x}::/64", net,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    web = names("web")
    ran = podman_service.podman(
        "run", "-d", "--name", web, "--network", net, "--ip", ipv4, "--ip6", ipv6, image_name
    )
    assert ran.returncode == 0, ran.stderr

    def addresses() -> tuple[str, str]:
        endpoint = api.inspect_container(web)["NetworkSettings"]["Networks"][net]
        return endpoint["IPAddress"], endpoint["GlobalIPv6Address"]

    assert addresses() == (ipv4, ipv6)
    for marker in ("v2", "v3"):
        build_test_image(docker_client, tag, marker=marker)
        old_id = api.inspect_container(web)["Id"]
        outcome = replace_container(docker_client, old_id, tag, stop_timeout=2)
        assert outcome.status == "updated", outcome.error
        assert wait_running(docker_client, web)["Id"] == outcome.new_container_id
        assert addresses() == (ipv4, ipv6), marker
