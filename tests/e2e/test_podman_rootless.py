"""The whole update on a rootless Podman: `vigil --run-once` (scan, the gateway's digest check,
pull, stop, recreate, start) against `podman system service` run by a user of its own on
`$XDG_RUNTIME_DIR/podman/podman.sock` (tests/support/podman_engine.py: RootlessPodmanService),
its containers in that user's namespace, their network slirp4netns, their ports rootlessport's."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_fixtures import TEST_PREFIX, cleanup_resources
from tests.support.images import build_test_image, push_image
from tests.support.vigil_process import run_vigil
from vigil_shared.docker_engine import connect_engine

pytestmark = [pytest.mark.integration]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def rootless_client(rootless_podman_service: Any) -> Iterator[Any]:
    client = connect_engine(rootless_podman_service.url)
    yield client
    client.close()


def host_uid(pid: int) -> int:
    """The real uid, on this host, of a process (a container's, from its State.Pid)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def test_a_stale_container_of_a_rootless_podman_is_updated(
    rootless_podman_service: Any, rootless_client: Any, registry: Any, tmp_path: Path
) -> None:
    client = rootless_client
    run = uuid.uuid4().hex[:8]
    name = f"{TEST_PREFIX}web-{run}-0"
    volume = f"{TEST_PREFIX}data-{run}-1"
    app = f"{registry.host}/{TEST_PREFIX}app-{run}-2:latest"
    port = free_port()
    try:
        old_image = build_test_image(client, app, marker="v1")
        push_image(client, app)
        client.containers.run(
            app,
            name=name,
            detach=True,
            environment={"GREETING": "hello", "MODE": "prod"},
            labels={"team": "core"},
            ports={"8080/tcp": ("127.0.0.1", port)},
            volumes={volume: {"bind": "/data", "mode": "rw"}},
            restart_policy={"Name": "unless-stopped"},
        )
        before = client.api.inspect_container(name)
        # Rootless indeed: the container's process is the user's on this host, not root's.
        assert host_uid(before["State"]["Pid"]) == rootless_podman_service.user.pw_uid
        new_image = build_test_image(client, app, marker="v2")
        push_image(client, app)
        client.api.remove_image(app)  # the host has only v1 now; the registry has v2

        result = run_vigil(
            "--state-dir", str(tmp_path / "state"), "--host-id", "rootless",
            "--docker-host", rootless_podman_service.url, "--run-once", "--cleanup", name,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"updated       {name} ({app})" in result.stdout, result.stdout
        assert f"engine at {rootless_podman_service.url}: Podman " in result.stderr

        after = client.api.inspect_container(name)
        assert after["Id"] != before["Id"]
        assert after["Image"] == new_image != old_image
        assert after["State"]["Running"]
        assert host_uid(after["State"]["Pid"]) == rootless_podman_service.user.pw_uid
        assert "GREETING=hello" in after["Config"]["Env"]
        assert after["Config"]["Labels"]["team"] == "core"
        assert after["HostConfig"]["PortBindings"] == {
            "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
        }
        assert [(m["Type"], m["Name"], m["Destination"]) for m in after["Mounts"]] == [
            ("volume", volume, "/data")
        ]
        assert after["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert [c["Names"] for c in client.api.containers(all=True)] == [[f"/{name}"]]
        with pytest.raises(Exception, match=r"(?i)no such image|image not known"):
            client.api.inspect_image(old_image)

        again = run_vigil(
            "--state-dir", str(tmp_path / "state"), "--host-id", "rootless",
            "--docker-host", rootless_podman_service.url, "--run-once", name,
        )  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        assert "1 scanned, 1 up to date" in again.stdout, again.stdout
    finally:
        cleanup_resources(client, run)
