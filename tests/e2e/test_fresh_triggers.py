"""An explicit trigger sees a fresh registry: a push followed at once by `POST /v1/update`,
`vigil trigger` or a scan command on the bus rolls the new build out, even though the same
tag was checked a moment before (within --digest-cache-ttl).

The real `vigil` (all four services, on a test NATS with --nats-url), the real engine and a
real registry. Each test: build v1 is pushed and runs; a trigger checks it (up to date, and
the gateway now holds that answer); build v2 is pushed; the same trigger at once updates.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

from tests.support.fleet import Fleet, fleet
from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.vigil_process import VigilProcess, run_vigil
from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.contracts import Report, ScanCommand

pytestmark = pytest.mark.integration
__all__ = ["fleet"]  # the fixture

HOST = "e2e-fresh"
TOKEN = "t0ken-of-the-fresh-triggers"


class Running(msgspec.Struct, frozen=True, kw_only=True):
    vigil: VigilProcess
    url: str  # the NATS it joined
    port: int  # its HTTP API


@pytest.fixture
def running(tmp_path: Path, nats_server: EmbeddedNats) -> Iterator[Running]:
    # --http-api-update: cycles run only when asked (no periodic cycle gets in the way).
    port = free_port()
    vigil = VigilProcess(
        tmp_path,
        "--nats-url",
        nats_server.url,
        "--host-id",
        HOST,
        "--http-api-update",
        "--http-api-token",
        TOKEN,
        "--http-api-port",
        str(port),
        "--http-api-address",
        "127.0.0.1",
    )
    try:
        vigil.wait_for("vigil is running")
        yield Running(vigil=vigil, url=nats_server.url, port=port)
    finally:
        status = vigil.stop()
    assert status == 0, vigil.output


def deployed(client: Any, tag: str, name: str) -> str:
    """Build v1 of `tag` is in the registry and runs as `name`; its container id."""
    build_test_image(client, tag, marker="v1")
    push_image(client, tag)
    client.containers.run(tag, name=name, detach=True)
    container_id: str = client.api.inspect_container(name)["Id"]
    return container_id


def push_new_build(client: Any, tag: str) -> str:
    image_id = build_test_image(client, tag, marker="v2")
    push_image(client, tag)
    client.api.remove_image(tag)  # the host must pull it
    return image_id


def statuses(results: list[dict[str, Any]]) -> list[str]:
    return [r["status"] for r in results]


def assert_rolled_out(client: Any, name: str, old_id: str, new_image: str) -> None:
    data = client.api.inspect_container(name)
    assert data["Id"] != old_id
    assert data["Image"] == new_image and data["State"]["Running"]


# ---- POST /v1/update ----------------------------------------------------------------------


def update(port: int, name: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/update?image={name}", method="POST"
    )
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(request, timeout=120) as answer:
        assert answer.status == 200
        doc: dict[str, Any] = json.loads(answer.read())
        return doc


@pytest.mark.both_engines
def test_the_http_api_rolls_out_a_build_pushed_just_after_a_check(
    running: Running, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    repo = f"{registry.host}/{names('api')}"
    tag, web = f"{repo}:latest", names("web")
    old_id = deployed(docker_client, tag, web)

    first = update(running.port, repo)
    assert statuses(first["containers"]) == ["fresh"], first
    new_image = push_new_build(docker_client, tag)
    second = update(running.port, repo)
    assert (second["updated"], statuses(second["containers"])) == (1, ["updated"]), second
    assert_rolled_out(docker_client, web, old_id, new_image)


# ---- vigil trigger -------------------------------------------------------------------------


def trigger(url: str, name: str) -> dict[str, Any]:
    result = run_vigil("trigger", "--nats-url", url, "--host", HOST, "--json", name, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_vigil_trigger_rolls_out_a_build_pushed_just_after_a_check(
    running: Running, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    tag, web = f"{registry.host}/{names('cli')}:latest", names("web")
    old_id = deployed(docker_client, tag, web)

    [first] = trigger(running.url, web)["reports"]
    assert statuses(first["results"]) == ["fresh"], first
    new_image = push_new_build(docker_client, tag)
    [second] = trigger(running.url, web)["reports"]
    assert statuses(second["results"]) == ["updated"], second
    assert_rolled_out(docker_client, web, old_id, new_image)


# ---- a scan command on the bus -------------------------------------------------------------


async def scan_command(url: str, name: str) -> Report:
    """Publish `vigil.cmd.scan` as any fleet member may, and wait for the host's report."""
    nc = await nats.connect(url)
    try:
        scan_id = uuid.uuid4().hex
        reported: asyncio.Future[Report] = asyncio.get_running_loop().create_future()

        async def on_report(msg: Any) -> None:
            report = msgspec.json.decode(msg.data, type=Report)
            if report.scan_id == scan_id and not reported.done():
                reported.set_result(report)

        await nc.subscribe(f"vigil.report.{HOST}", cb=on_report)
        await nc.flush()
        command = ScanCommand(scan_id=scan_id, hosts=(HOST,), names=(name,), requested_by="test")
        await nc.publish("vigil.cmd.scan", msgspec.json.encode(command))
        return await asyncio.wait_for(reported, timeout=90)
    finally:
        await nc.close()


def test_a_bus_scan_command_rolls_out_a_build_pushed_just_after_a_check(
    running: Running, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    tag, web = f"{registry.host}/{names('bus')}:latest", names("web")
    old_id = deployed(docker_client, tag, web)

    first = asyncio.run(scan_command(running.url, web))
    assert [r.status for r in first.results] == ["fresh"], first
    new_image = push_new_build(docker_client, tag)
    second = asyncio.run(scan_command(running.url, web))
    assert [r.status for r in second.results] == ["updated"], second
    assert_rolled_out(docker_client, web, old_id, new_image)


# ---- a scanner group, as a fleet runs it ---------------------------------------------------


def test_a_scanner_group_rolls_out_a_build_pushed_just_after_a_check(
    fleet: Fleet, docker_client: Any, registry: RegistryServer, names: Callable[[str], str]
) -> None:
    """`vigil trigger` reaches a scanner group through its work queue; the replica that takes
    the item checks under the command's key, against a gateway process of its own."""
    host = "e2e-fresh-group"
    fleet.start("registry-gateway", label="gateway")
    fleet.start("executor", label="executor", host=host)
    fleet.start("scanner", "--scanner-group", "fresh", label="scanner", host=host)
    fleet.wait_ready()
    tag, web = f"{registry.host}/{names('group')}:latest", names("web")
    old_id = deployed(docker_client, tag, web)

    def trigger_group() -> dict[str, Any]:
        result = run_vigil(
            "trigger", "--nats-url", fleet.nats_url, "--host", host, "--json", web, timeout=90
        )
        assert result.returncode == 0, result.stdout + result.stderr + fleet.logs()
        [report] = json.loads(result.stdout)["reports"]
        assert isinstance(report, dict)
        return report

    assert statuses(trigger_group()["results"]) == ["fresh"]
    new_image = push_new_build(docker_client, tag)
    assert statuses(trigger_group()["results"]) == ["updated"], fleet.logs()
    assert_rolled_out(docker_client, web, old_id, new_image)
    assert set(fleet.stop_all().values()) == {0}
