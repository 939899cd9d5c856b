"""A fleet on the secured bus (deploy/nats): the gateway, notifier, scanner and executor run as
separate `vigil <service>` processes, each logged in as its role over TLS, and update a stale
container whose image is in an htpasswd registry. A subscriber to everything sees no secret,
nor do the logs; a service that oversteps its permissions says so and keeps serving."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bus_recorder import BusRecorder, secret_forms
from tests.support.images import StaleContainer
from tests.support.registry_fixtures import RegistryServer
from tests.support.secured_nats import SPY, SecuredNats
from tests.support.vigil_process import VigilProcess, clean_env
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.contracts import ScanCommand

pytestmark = pytest.mark.integration

USER, PASSWORD = "fleet-bot", "fleet-Pa55w0rd-never-on-the-bus"
REFUSED = "NATS refused a permission"


class SecuredFleet:
    """`vigil <service>` processes, each with its role's VIGIL_NATS_* environment."""

    def __init__(self, tmp_path: Path, nats: SecuredNats, docker_config: Path) -> None:
        self.tmp_path = tmp_path
        self.nats = nats
        self.docker_config = docker_config
        self.processes: dict[str, VigilProcess] = {}

    def start(self, command: str, user: str, *args: str, label: str = "") -> VigilProcess:
        env = {**self.nats.env(user), "DOCKER_CONFIG": str(self.docker_config)}
        label = label or user
        process = VigilProcess(self.tmp_path, *args, env=env, command=command, label=label)
        self.processes[label] = process
        return process

    def tool(self, user: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vigil.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(self.nats.env(user)),
            check=False,
        )

    def logs(self) -> str:
        return "\n".join(f"--- {k}:\n{p.output[-3000:]}" for k, p in self.processes.items())

    def stop_all(self) -> dict[str, int]:
        return {label: p.stop() for label, p in self.processes.items()}


@pytest.fixture
def docker_config(tmp_path: Path, registry_factory: Callable[..., RegistryServer]) -> Any:
    """An htpasswd registry and the gateway's docker config.json for it."""
    registry = registry_factory(htpasswd={USER: PASSWORD})
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config_dir / "config.json").write_text(
        json.dumps({"auths": {registry.host: {"auth": encoded}}})
    )
    return registry, config_dir


@pytest.fixture
def fleet(tmp_path: Path, secured_nats: SecuredNats, docker_config: Any) -> Iterator[SecuredFleet]:
    started = SecuredFleet(tmp_path, secured_nats, docker_config[1])
    try:
        yield started
    finally:
        started.stop_all()


async def ask_scan(nats: SecuredNats, host: str) -> None:
    """A scan command for `host` alone, as `vigil trigger` sends it."""
    config = BusConfig(
        url=nats.url, user=SPY, password=nats.passwords[SPY], tls_ca=str(nats.ca.path)
    )
    bus = await Bus.connect(config, name="test-trigger")
    try:
        await bus.publish(
            bus.subjects.cmd_scan, ScanCommand(scan_id=uuid.uuid4().hex, hosts=(host,))
        )
        await bus.nc.flush()
    finally:
        await bus.close()


# Podman too: the pull with the registry credentials sealed for the executor.
@pytest.mark.both_engines
@pytest.mark.timeout(300)
def test_fleet_on_the_secured_bus_updates_and_leaks_nothing(
    fleet: SecuredFleet,
    secured_nats: SecuredNats,
    docker_config: Any,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    registry: RegistryServer = docker_config[0]
    login = {"username": USER, "password": PASSWORD, "serveraddress": registry.host}
    stale = StaleContainer(docker_client, registry.host, names("web"), names("secured"), auth=login)
    tag, web, old_id, new_image = stale.tag, stale.name, stale.old_id, stale.new_image

    with BusRecorder(secured_nats.url, **secured_nats.spy_options()) as recorder:
        # The fleet-wide services first: their users create the stream and the buckets.
        fleet.start("registry-gateway", "registry-gateway", "--debug")
        fleet.start("notifier", "notifier", "--debug")
        for process in fleet.processes.values():
            process.wait_for("vigil is running", timeout=60)
        fleet.start("executor", "executor-h1", "--host-id", "h1", "--debug")
        fleet.start(
            "scanner", "scanner-h1", "--host-id", "h1", "--interval", "86400", "--debug", web
        )
        for process in fleet.processes.values():
            process.wait_for("vigil is running", timeout=60)

        result = fleet.tool("operator", "trigger", "--host", "h1", "--timeout", "90s", web)
        assert result.returncode == 0, result.stdout + result.stderr + fleet.logs()
        assert f"updated       {web} ({tag})" in result.stdout
        after = docker_client.api.inspect_container(web)
        assert after["Id"] != old_id and after["Image"] == new_image

        # The audit stream can be read with the auditor's credentials.
        events = fleet.tool("auditor", "events", "--host", "h1")
        assert events.returncode == 0, events.stderr
        assert "plan" in events.stdout and "report" in events.stdout
        history = fleet.tool("auditor", "history", "--host", "h1")
        assert history.returncode == 0 and web in history.stdout, history.stderr
        # The operator may ask the fleet's gateway about an image (vigil check).
        check = fleet.tool("operator", "check", tag)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "remote digest: sha256:" in check.stdout
        status = fleet.tool("auditor", "status", "--json")
        assert status.returncode == 0, status.stderr
        [host] = json.loads(status.stdout)["hosts"]
        assert host["scanner"]["alive"] and host["executor"]["alive"]

    # The pull used the registry's credentials (sealed for the executor) ...
    kinds = [
        json.loads(data).get("kind")
        for subject, data, _ in recorder.messages
        if subject.startswith("_INBOX.executor-h1.") and b'"kind"' in data
    ]
    assert "basic" in kinds, kinds
    # ... and every reply went to its asker's own inbox.
    inboxes = {s.split(".")[1] for s, _, _ in recorder.messages if s.startswith("_INBOX.")}
    assert inboxes <= {"scanner-h1", "executor-h1", "registry-gateway", "notifier", "operator",
                       "auditor"}, inboxes  # fmt: skip
    assert len(recorder.messages) > 20
    logs = {label: p.output for label, p in fleet.processes.items()}
    for name, ran in (
        ("trigger", result),
        ("events", events),
        ("history", history),
        ("check", check),
        ("status", status),
    ):
        logs[f"vigil {name}"] = ran.stdout + ran.stderr  # fmt: skip
    # Neither the registry's password (in any form) nor any NATS password is on the bus, in a
    # service's log (at --debug) or in what the tools print.
    for secret in (*secret_forms(USER, PASSWORD), *secured_nats.passwords.values()):
        assert not recorder.leaks(secret), recorder.leaks(secret)
        for label, text in logs.items():
            assert secret not in text, f"{secret!r} in the log of {label}"
    # The permissions are narrow, yet nothing the services and tools do is refused.
    for label, text in logs.items():
        assert REFUSED not in text, f"{label}:\n{text[-3000:]}"
    assert "Violation" not in secured_nats.server_log, secured_nats.server_log[-3000:]
    assert all(status == 0 for status in fleet.stop_all().values()), fleet.logs()


@pytest.mark.timeout(300)
def test_a_permission_violation_is_logged_and_the_service_keeps_serving(
    fleet: SecuredFleet,
    secured_nats: SecuredNats,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    fleet.start("registry-gateway", "registry-gateway")
    fleet.processes["registry-gateway"].wait_for("vigil is running", timeout=60)
    # A scanner given host h1's credentials but started as host h2: a misconfigured host.
    scanner = fleet.start(
        "scanner", "scanner-h1", "--host-id", "h2", "--interval", "86400", label="wrong-host"
    )
    scanner.wait_for("vigil is running", timeout=60)
    for attempt in (1, 2):
        asyncio.run(ask_scan(secured_nats, "h2"))
        scanner.wait_for(f"{REFUSED} action=publish subject=vigil.inventory.h2", count=attempt)
    assert scanner.running
    lines = [line for line in scanner.output.splitlines() if REFUSED in line]
    inventory = [line for line in lines if "subject=vigil.inventory.h2" in line]
    assert len(inventory) == 2, scanner.output
    assert all("user=scanner-h1" in line and "action=publish" in line for line in inventory)
    # Its heartbeat key (scanner.h2) was refused too, as a warning, not a crash.
    assert any("$KV.VIGIL_STATUS.scanner.h2" in line for line in lines), scanner.output
    deadline = time.monotonic() + 5
    refusal = '"$G/user:scanner-h1" - Publish Violation - Subject "vigil.inventory.h2"'
    while time.monotonic() < deadline and refusal not in secured_nats.server_log:
        time.sleep(0.1)
    assert refusal in secured_nats.server_log
    assert fleet.stop_all()["wrong-host"] == 0, scanner.output
