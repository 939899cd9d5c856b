"""A scanner stopped with SIGTERM in the middle of a cycle (its digest check held in the
registry proxy) finishes that cycle before it exits: the plan is published, the executor
updates the container, and `vigil trigger` gets the report. (Before, the cycle was cut short:
no plan, no report, the container left on its old build: chaos seed 7 round 1.)
Real `nats-server`, gateway, scanner and executor processes, engine and registry.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.fleet import Fleet
from tests.support.images import StaleContainer
from tests.support.registry_proxy import RegistryProxy

pytestmark = pytest.mark.integration

HOST = "scan-term"
# The check is held this long: the signal, sent the moment the held request arrives at the
# proxy, lands inside the cycle (it takes milliseconds; 1.5 s is a wide margin).
HEAD_DELAY_S = 1.5


@pytest.mark.timeout(120)
def test_a_sigtermed_scanner_finishes_its_cycle_in_flight(
    fleet: Fleet, proxy: RegistryProxy, docker_client: Any, names: Callable[[str], str]
) -> None:
    stale = StaleContainer(docker_client, proxy.host, names("web"), names("app"))
    fleet.start("registry-gateway", label="gateway")
    scanner = fleet.start("scanner", stale.name, label="scanner", host=HOST)
    fleet.start("executor", label="executor", host=HOST)
    fleet.wait_ready()
    proxy.fault(r"/manifests/", method="HEAD", delay=HEAD_DELAY_S)

    trigger = fleet.trigger("--host", HOST, timeout="60s")
    proxy.wait_for_arrival(r"/manifests/latest", method="HEAD", timeout=30)
    scanner.process.send_signal(signal.SIGTERM)
    assert scanner.process.wait(timeout=60) == 0, scanner.output
    # The signal came while the check was held: the scanner says it finished that cycle.
    assert "finishing the cycle in flight" in scanner.output, scanner.output

    out, err = trigger.communicate(timeout=80)
    assert trigger.returncode == 0, out + err + fleet.logs()
    assert f"updated       {stale.name} ({stale.tag})" in out, out + err
    assert stale.updated()
