"""deploy/ as an operator uses it: the image built from deploy/Dockerfile, and the fleet of
deploy/compose/ (a hub with its rollout-coordinator, and two agents on this one engine, each
owning its own containers through a watchtower scope) against the local engine (DOCKER_HOST),
a real registry and deploy/nats/'s secured NATS configuration."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import TIMINGS, Compose, Projects, health, health_log
from tests.support.certs import TestCA
from tests.support.images import StaleContainer
from tests.support.registry_fixtures import RegistryServer
from tests.support.secured_nats import make_users
from tests.support.vigil_process import run_vigil
from vigil.process.embedded_nats import free_port

# The first test also makes the Debian base (about 100 s) and builds the image (about 50 s).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

UID = 10001  # the image's user: the files it reads are given to it, as docs/deploy.md says
SCOPE_LABEL = "com.centurylinklabs.watchtower.scope"


def engine_socket() -> str:
    """The socket of the engine the tests use, for the compose files to mount (never the
    machine's default engine when DOCKER_HOST names another)."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if not host.startswith("unix://"):
        pytest.fail(f"the deploy tests mount the engine's socket: DOCKER_HOST={host} is not one")
    return host.removeprefix("unix://")


def test_image_is_small_non_root_and_checks_its_health(
    vigil_image: str, docker_client: Any
) -> None:
    config = docker_client.api.inspect_image(vigil_image)["Config"]
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["vigil"]
    assert config["Healthcheck"]["Test"] == ["CMD", "vigil", "--health-check"]
    assert docker_client.api.inspect_image(vigil_image)["Size"] < 250e6

    # Nothing runs in a fresh container: its health check says so and fails.
    result = subprocess.run(
        ["docker", "run", "--rm", vigil_image, "--health-check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no Vigil service is running here" in result.stderr
    nats = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "nats-server", vigil_image, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert nats.returncode == 0 and nats.stdout.startswith("nats-server: v2."), nats.stderr


class FleetFiles:
    """What an operator prepares for a hub: the server's TLS files, the users file from
    deploy/nats/make-users.py, and the CA the services trust."""

    def __init__(self, workdir: Path, hosts: list[str]) -> None:
        self.tls = workdir / "tls"
        self.secrets = workdir / "secrets"
        self.tls.mkdir()
        self.secrets.mkdir()
        ca = TestCA(self.tls, name="vigil fleet CA")
        cert, key = ca.server_cert("server")
        ca.path.rename(self.tls / "ca.crt")
        assert (cert, key) == (self.tls / "server.crt", self.tls / "server.key")
        (self.secrets / "ca.crt").write_bytes((self.tls / "ca.crt").read_bytes())
        self.ca_on_host = self.secrets / "ca.crt"
        tools = make_users()
        users = tools.fleet_users(hosts)
        self.passwords = {u.name: secrets.token_urlsafe(16) for u in users}
        self.users = workdir / "users.conf"
        self.users.write_text(tools.render(users, tools.hashed(self.passwords, cost=4)))
        for path in (self.tls, self.secrets, self.users, *self.tls.iterdir()):
            os.chown(path, UID, UID)
        for path in self.secrets.iterdir():
            os.chown(path, UID, UID)


def _wait(what: str, check: Callable[[], bool], timeout: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f}s:\n{why()}")
        time.sleep(1)


def test_fleet_compose_updates_each_agents_containers_and_turns_healthy(
    tmp_path: Path,
    vigil_image: str,
    docker_client: Any,
    registry: RegistryServer,
    names: Callable[[str], str],
    compose_projects: Projects,
) -> None:
    started = time.monotonic()
    hosts = [names("host"), names("host")]
    scopes = {host: names("scope") for host in hosts}
    files = FleetFiles(tmp_path, hosts)
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    in_container_ca = "/etc/vigil/secrets/ca.crt"
    socket = engine_socket()
    gid = str(os.stat(socket).st_gid)
    common = {
        "VIGIL_IMAGE": vigil_image,
        "VIGIL_NATS_URL": url,
        "VIGIL_NATS_TLS_CA": in_container_ca,
        "VIGIL_SECRETS_DIR": str(files.secrets),
        "DOCKER_GID": gid,
        "VIGIL_DOCKER_SOCKET": socket,
        # Rollouts on: every update asks the hub's rollout-coordinator first. The agents share
        # one engine, so each sees both images: with two canaries both hosts go at once.
        "VIGIL_ROLLOUT": "canary=2",
    }
    hub = Compose(
        names("hub"),
        "hub.yml",
        {
            **common,
            "VIGIL_NATS_ADDR": "127.0.0.1",
            "VIGIL_NATS_PORT": str(port),
            "VIGIL_NATS_USERS": str(files.users),
            "VIGIL_NATS_TLS_DIR": str(files.tls),
            "VIGIL_NATS_USER_REGISTRY_GATEWAY": "registry-gateway",
            "VIGIL_NATS_PASSWORD_REGISTRY_GATEWAY": files.passwords["registry-gateway"],
            "VIGIL_NATS_USER_NOTIFIER": "notifier",
            "VIGIL_NATS_PASSWORD_NOTIFIER": files.passwords["notifier"],
            "COMPOSE_PROFILES": "rollouts",
            "VIGIL_NATS_USER_ROLLOUT_COORDINATOR": "rollout-coordinator",
            "VIGIL_NATS_PASSWORD_ROLLOUT_COORDINATOR": files.passwords["rollout-coordinator"],
        },
    )
    agents = [
        Compose(
            names("agent"),
            "agent.yml",
            {
                **common,
                "VIGIL_HOST_ID": host,
                "WATCHTOWER_SCOPE": scopes[host],
                "VIGIL_NATS_USER_SCANNER": f"scanner-{host}",
                "VIGIL_NATS_PASSWORD_SCANNER": files.passwords[f"scanner-{host}"],
                "VIGIL_NATS_USER_EXECUTOR": f"executor-{host}",
                "VIGIL_NATS_PASSWORD_EXECUTOR": files.passwords[f"executor-{host}"],
            },
        )
        for host in hosts
    ]
    every = [hub, *agents]

    def logs() -> str:
        return "\n".join(f"--- {p.project}\n{p.logs()}" for p in every)

    # One stale container per agent, labelled with that agent's scope.
    stale = {
        host: StaleContainer(
            docker_client,
            registry.host,
            names("web"),
            names("app"),
            extra=f'LABEL {SCOPE_LABEL}="{scopes[host]}"\n',
        )
        for host in hosts
    }

    for one in stale.values():
        # Build v1 is left untagged once v2 takes the tag: removed with the test's things.
        compose_projects.cleanups.append(one.old_image)
    for project in every:
        compose_projects.append(project)
        project.up()

    # The operator's tools from this machine: `status` as the auditor, `trigger` as operator.
    def login(user: str) -> dict[str, str]:
        return {
            "VIGIL_NATS_URL": url,
            "VIGIL_NATS_USER": user,
            "VIGIL_NATS_PASSWORD": files.passwords[user],
            "VIGIL_NATS_TLS_CA": str(files.ca_on_host),
        }

    auditor, operator = login("auditor"), login("operator")

    def all_alive() -> bool:
        result = run_vigil("status", "--json", env=auditor, timeout=30)
        if result.returncode != 0:
            return False
        doc = json.loads(result.stdout)
        alive = {
            h["host"]
            for h in doc["hosts"]
            # A role whose heartbeat is not in yet is null in the JSON.
            if (h.get("scanner") or {}).get("alive") and (h.get("executor") or {}).get("alive")
        }
        fleet = {f["role"] for f in doc["fleet"] if f["alive"]}
        return alive >= set(hosts) and fleet >= {
            "registry-gateway",
            "notifier",
            "rollout-coordinator",
        }

    _wait("every service's heartbeat", all_alive, 90, logs)

    result = run_vigil("trigger", "--json", "--timeout", "120s", env=operator, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr + logs()
    answer = json.loads(result.stdout)
    assert answer["silent"] == []
    by_host = {r["host"]: r for r in answer["reports"]}
    assert set(hosts) <= set(by_host)
    for host in hosts:
        # Each agent saw and updated its own scope's container, and only that one.
        results = by_host[host]["results"]
        assert [(r["name"], r["status"]) for r in results] == [(stale[host].name, "updated")], (
            json.dumps(results, indent=1) + logs()
        )
        assert stale[host].updated()
    cycle_done = time.monotonic()

    # The coordinator answered each scanner's gate on the secured bus, and answers the
    # operator: one rollout per image, in which the host that owns its container is updated
    # (from the host's report, which the coordinator reads a moment after the trigger's).
    rollouts: dict[str, Any] = {}

    def rollouts_updated() -> bool:
        result = run_vigil("rollout", "status", "--json", env=operator, timeout=30)
        assert result.returncode == 0, result.stdout + result.stderr + logs()
        reply = json.loads(result.stdout)
        rollouts.update(reply=reply)
        by_image = {r["image"]: r for r in reply["rollouts"]}
        return all(
            by_image.get(stale[host].tag, {}).get("hosts", {}).get(host, {}).get("status")
            == "updated"
            for host in hosts
        )

    _wait("each rollout's host updated", rollouts_updated, 30, lambda: f"{rollouts}\n{logs()}")

    def all_healthy() -> bool:
        containers = [c for p in every for c in p.containers(docker_client)]
        return len(containers) == 8 and all(health(c) == "healthy" for c in containers)

    def health_report() -> str:
        return "\n".join(
            f"{c['Name']}: {health(c)} {health_log(c)}"
            for p in every
            for c in p.containers(docker_client)
        )

    _wait("every container healthy", all_healthy, 120, lambda: health_report() + logs())
    for container in (c for p in agents for c in p.containers(docker_client)):
        # Not root: the image's user, with the socket's group added.
        assert container["Config"]["User"] == f"{UID}:{UID}"
        assert container["HostConfig"]["GroupAdd"] == [gid]
    healthy = time.monotonic()

    for project in every:
        result = project.down()
        assert result.returncode == 0, result.stdout + result.stderr
        assert project.containers(docker_client) == []
        assert project.volumes(docker_client) == []
    TIMINGS["fleet test"] = (
        f"up and a cycle on both agents {cycle_done - started:.1f}s, all healthy after "
        f"{healthy - started:.1f}s, down after {time.monotonic() - started:.1f}s"
    )


def test_one_host_compose_turns_healthy(
    vigil_image: str,
    docker_client: Any,
    names: Callable[[str], str],
    compose_projects: Projects,
) -> None:
    started = time.monotonic()
    socket = engine_socket()
    gid = str(os.stat(socket).st_gid)
    one = Compose(
        names("one"),
        "one-host.yml",
        {
            "VIGIL_IMAGE": vigil_image,
            "DOCKER_GID": gid,
            "VIGIL_HOST_ID": names("host"),
            "VIGIL_DOCKER_SOCKET": socket,
        },
    )
    compose_projects.append(one)
    one.up()

    def healthy() -> bool:
        found = one.containers(docker_client)
        return len(found) == 1 and health(found[0]) == "healthy"

    _wait(
        "the all-in-one healthy",
        healthy,
        120,
        lambda: "\n".join(health_log(c) for c in one.containers(docker_client)) + one.logs(),
    )
    [container] = one.containers(docker_client)
    assert container["Config"]["User"] == f"{UID}:{UID}"
    # Its check judged all four services of the one process.
    [last] = (container["State"]["Health"]["Log"] or [{}])[-1:]
    for role in ("scanner", "executor", "registry-gateway", "notifier"):
        assert f"{role}" in last["Output"] and "healthy" in last["Output"], last
    result = one.down()
    assert result.returncode == 0, result.stdout + result.stderr
    assert one.containers(docker_client) == [] and one.volumes(docker_client) == []
    TIMINGS["one-host test"] = f"healthy and down in {time.monotonic() - started:.1f}s"
