"""Private registries end to end: the `vigil` command over a real NATS updates a container
whose registry needs credentials, and no secret appears on the bus or in the output."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.vigil_process import run_vigil
from vigil.embedded_nats import EmbeddedNats

pytestmark = pytest.mark.integration

USER, PASSWORD = "deploy-bot", "s3cr3t-Pa55w0rd-for-vigil"


class BusRecorder:
    """Every message on every subject (`>`), payload and headers, from a thread of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[tuple[str, bytes, dict[str, str]]] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        nc = await nats.connect(self.url)

        async def record(msg: Any) -> None:
            self.messages.append((msg.subject, msg.data, dict(msg.headers or {})))

        await nc.subscribe(">", cb=record)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await nc.drain()

    def __enter__(self) -> BusRecorder:
        self._thread.start()
        assert self._ready.wait(10), "the recorder could not subscribe"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def secret_forms() -> list[str]:
    return [
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        base64.urlsafe_b64encode(PASSWORD.encode()).decode().rstrip("="),
    ]


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
    tag = f"{server.host}/{names('private')}:latest"
    build_test_image(docker_client, tag, marker="v1")
    push_image(docker_client, tag, auth=login)
    web = names("web")
    docker_client.containers.run(tag, name=web, detach=True)
    old_id = docker_client.api.inspect_container(web)["Id"]
    new_image = build_test_image(docker_client, tag, marker="v2")
    push_image(docker_client, tag, auth=login)
    docker_client.api.remove_image(tag)  # the engine must pull the new build, with our auth

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
    for secret in secret_forms():
        assert secret not in result.stdout
        assert secret not in result.stderr
        leaks = [t[:200] for t in traffic if secret in t]
        assert not leaks, f"{secret!r} on the bus: {leaks}"
