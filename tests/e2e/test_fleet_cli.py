"""`vigil status` and `vigil trigger` against the real `vigil` (all four services, joined to a
test NATS with --nats-url), the real Docker engine and a real registry."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.vigil_process import VigilProcess, run_vigil
from vigil.process.embedded_nats import EmbeddedNats

pytestmark = pytest.mark.integration

HOST = "e2e-fleet"


def tool(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return run_vigil(*args, timeout=timeout)


async def publish_garbage(url: str) -> None:
    nc = await nats.connect(url)
    try:
        for body in (b"\x00garbage{", b'{"scan_id": 12, "hosts": "e2e"}', b"[]"):
            await nc.publish("vigil.cmd.scan", body)
        await nc.flush()
    finally:
        await nc.close()


@pytest.fixture
def running(
    tmp_path: Path,
    nats_server: EmbeddedNats,
    docker_client: Any,
    registry: RegistryServer,
    names: Callable[[str], str],
) -> Iterator[tuple[VigilProcess, str, str]]:
    app = f"{registry.host}/{names('app')}:latest"
    web = names("web")
    build_test_image(docker_client, app, marker="v1")
    push_image(docker_client, app)
    docker_client.containers.run(app, name=web, detach=True)
    vigil = VigilProcess(tmp_path, "--nats-url", nats_server.url, "--host-id", HOST, web)
    try:
        vigil.wait_for("vigil is running")
        yield vigil, app, web
    finally:
        status = vigil.stop()
    assert status == 0, vigil.output


def test_status_and_trigger_on_a_running_vigil(
    running: tuple[VigilProcess, str, str],
    nats_server: EmbeddedNats,
    docker_client: Any,
) -> None:
    vigil, app, web = running
    url = nats_server.url

    result = tool("status", "--nats-url", url, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    [host] = doc["hosts"]
    assert host["host"] == HOST
    assert host["scanner"]["alive"] and host["executor"]["alive"]
    assert host["scanner"]["pid"] == vigil.process.pid
    assert host["executor"]["last_report"] is None
    assert {f["role"] for f in doc["fleet"]} == {"registry-gateway", "notifier"}
    assert all(f["alive"] for f in doc["fleet"])

    table = tool("status", "--nats-url", url)
    assert table.returncode == 0, table.stderr
    assert f"{HOST}" in table.stdout and "alive" in table.stdout
    assert "registry-gateway" in table.stdout and "no cycle yet" in table.stdout

    unknown = tool("trigger", "--nats-url", url, "--host", "nosuchhost")
    assert unknown.returncode == 2
    assert "no live scanner on host nosuchhost" in unknown.stderr

    # Garbage on the command subject is dropped; the scanner keeps serving.
    asyncio.run(publish_garbage(url))

    before = docker_client.api.inspect_container(web)["Id"]
    build_test_image(docker_client, app, marker="v2")
    push_image(docker_client, app)
    docker_client.api.remove_image(app)  # the host does not have the new build yet

    result = tool("trigger", "--nats-url", url, "--timeout", "60s", web)
    assert result.returncode == 0, result.stdout + result.stderr + vigil.output
    assert f"Vigil report for host {HOST}" in result.stdout
    assert f"updated       {web} ({app})" in result.stdout
    assert docker_client.api.inspect_container(web)["Id"] != before
    assert "dropped malformed message" in vigil.output
    assert vigil.process.poll() is None

    # Nothing to do now: still a report, still success.
    again = tool("trigger", "--nats-url", url, "--host", HOST, "--json", web)
    assert again.returncode == 0, again.stdout + again.stderr
    answer = json.loads(again.stdout)
    assert answer["silent"] == []
    [report] = answer["reports"]
    assert [r["status"] for r in report["results"]] == ["fresh"]


def test_status_without_any_vigil_says_so(tmp_path: Path) -> None:
    result = tool("status", "--state-dir", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert "no vigil is running" in result.stderr
