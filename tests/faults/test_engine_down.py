"""A host's Docker engine dies in the middle of a fleet cycle: that host is reported with a
problem naming its engine, the other hosts update, and every service keeps running.

Two hosts on one machine: host A is the main engine, host B a second `dockerd` of its own
(tests/support/second_engine.py). Each host has its own `vigil scanner` and `vigil executor`
processes; one `vigil registry-gateway` serves both, over one `nats-server`. The registry sits
behind a proxy that holds every manifest HEAD a few seconds, so both scans are in flight when
B's engine is SIGKILLed (as a host that loses power would lose it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.fleet import Fleet
from tests.support.images import StaleContainer, build_test_image, push_image
from tests.support.registry_proxy import RegistryProxy
from tests.support.second_engine import SecondEngine

pytestmark = pytest.mark.integration

HOST_A, HOST_B = "host-a", "host-b"
HEAD_DELAY_S = 3.0


@pytest.mark.timeout(150)
def test_engine_killed_mid_scan_that_host_is_reported_the_other_updates(
    fleet: Fleet,
    proxy: RegistryProxy,
    docker_client: Any,
    second_engine: SecondEngine,
    names: Callable[[str], str],
) -> None:
    a = StaleContainer(docker_client, proxy.host, names("web-a"), names("app-a"))
    b_client = second_engine.client()
    b = StaleContainer(b_client, proxy.host, names("web-b"), names("app-b"))
    b_client.close()
    # Answers are reused for a second only: the second cycle must see the newer build.
    fleet.start("registry-gateway", "--digest-cache-ttl", "1s", label="gateway")
    # Only the test's containers: the main engine may run other things.
    fleet.start("scanner", a.name, label="scanner-a", host=HOST_A)
    fleet.start("executor", label="executor-a", host=HOST_A)
    docker_b = second_engine.url
    fleet.start("scanner", b.name, label="scanner-b", host=HOST_B, docker_host=docker_b)
    fleet.start("executor", label="executor-b", host=HOST_B, docker_host=docker_b)
    fleet.wait_ready()
    proxy.fault(r"/manifests/", method="HEAD", delay=HEAD_DELAY_S)

    trigger = fleet.trigger("--json")
    # B's scan listed its containers and waits for the gateway: its engine dies now.
    proxy.wait_for_arrival(rf"/{b.tag.split('/')[1].split(':')[0]}/manifests/", method="HEAD")
    second_engine.kill()

    out, err = trigger.communicate(timeout=100)
    answer = json.loads(out or "{}")
    assert answer.get("silent") == [], out + err + fleet.logs()
    reports = {r["host"]: r for r in answer["reports"]}
    # Host A updated as if nothing happened.
    assert [(r["name"], r["status"]) for r in reports[HOST_A]["results"]] == [
        (a.name, "updated")
    ], reports[HOST_A]
    assert reports[HOST_A]["problems"] == []
    assert a.updated()
    # Host B is reported, with a problem that names its engine; its container is not lost
    # track of: it is in the report too.
    engine_gone = f"cannot reach the Docker engine at {docker_b}: "
    assert any(p.startswith(engine_gone) for p in reports[HOST_B]["problems"]), reports[HOST_B]
    [result] = reports[HOST_B]["results"]
    assert (result["name"], result["status"]) == (b.name, "failed"), result
    assert result["error"].startswith(engine_gone)
    assert trigger.returncode == 1  # a host failed its cycle
    assert all(p.running for p in fleet.processes.values()), fleet.logs()

    # The next cycle: A updates again (a newer build came meanwhile); B, still without an
    # engine, says so again (its scanner, now) instead of going silent.
    newer = build_test_image(docker_client, a.tag, marker="v3")
    push_image(docker_client, a.tag)
    docker_client.api.remove_image(a.tag)
    proxy.clear_faults()
    again = fleet.trigger("--host", HOST_A, timeout="60s")
    out, err = again.communicate(timeout=80)
    assert again.returncode == 0, out + err + fleet.logs()
    assert f"updated       {a.name} ({a.tag})" in out
    assert docker_client.api.inspect_container(a.name)["Image"] == newer
    down = fleet.trigger("--host", HOST_B, "--json", timeout="60s")
    out, err = down.communicate(timeout=80)
    [report] = json.loads(out)["reports"]
    named = f"cannot list containers on host {HOST_B} (Docker engine at {docker_b}): "
    assert [p for p in report["problems"] if p.startswith(named)], report["problems"]
    assert down.returncode == 1

    status = fleet.stop_all()
    assert status == dict.fromkeys(status, 0), fleet.logs()
