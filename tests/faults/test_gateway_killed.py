"""A registry-gateway SIGKILLed while it holds a scanner's digest check, with a second replica
running: the scanner asks again, the other replica answers, and the cycle completes.

Every part is real and separate: `nats-server`, two `vigil registry-gateway` processes, a
`vigil scanner` and a `vigil executor`, the engine, and `docker-registry` behind a proxy that
holds each manifest HEAD a few seconds, so the kill lands in the middle of a check for sure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.fleet import Fleet
from tests.support.images import StaleContainer
from tests.support.registry_proxy import RegistryProxy
from tests.support.vigil_process import connected_from

pytestmark = pytest.mark.integration

HOST = "gwkill"
HEAD_DELAY_S = 4.0  # each manifest HEAD is held this long before it reaches the registry


@pytest.mark.timeout(120)
def test_gateway_killed_during_checks_the_other_replica_answers(
    fleet: Fleet,
    proxy: RegistryProxy,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    stale = StaleContainer(docker_client, proxy.host, names("web"), names("app"))
    gateways = [fleet.start("registry-gateway", label=f"gateway-{i}") for i in (1, 2)]
    # The scanner asks again after --gateway-timeout; 8 s outlasts the other replica's held HEAD.
    scanner = fleet.start(
        "scanner", stale.name, "--gateway-timeout", "8s", label="scanner", host=HOST
    )
    executor = fleet.start("executor", label="executor", host=HOST)
    fleet.wait_ready()
    proxy.fault(r"/manifests/", method="HEAD", delay=HEAD_DELAY_S)

    trigger = fleet.trigger("--host", HOST)
    # The check is held in the proxy: the replica that sent it is the one to kill.
    held = proxy.wait_for_arrival(r"/manifests/latest", method="HEAD", timeout=30)
    [holder] = [g for g in gateways if connected_from(g.pid, held.client_port)]
    [other] = [g for g in gateways if g is not holder]
    holder.kill()

    out, err = trigger.communicate(timeout=100)
    assert trigger.returncode == 0, out + err + fleet.logs()
    assert f"Vigil report for host {HOST}" in out
    assert f"updated       {stale.name} ({stale.tag})" in out
    assert stale.updated()
    # It took a retry, and the surviving replica answered it from the registry.
    assert "no answer from the registry gateway; asking again" in scanner.output
    assert "checked images" in other.output and "checked images" not in holder.output
    # One manifest HEAD each: the one the killed replica held, and the retry's.
    checks = [
        a for a in proxy.arrivals() if a.method == "HEAD" and a.path.endswith("/manifests/latest")
    ]
    assert len(checks) == 2, proxy.arrivals()
    assert all(p.running for p in (other, scanner, executor)), fleet.logs()
    # The survivors stop cleanly on SIGTERM; the killed one stayed dead.
    status = fleet.stop_all()
    assert status == {holder.label: -9, other.label: 0, "scanner": 0, "executor": 0}, fleet.logs()
