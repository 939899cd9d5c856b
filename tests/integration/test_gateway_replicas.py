"""A gateway replica that dies holding a scanner's request costs a retry, not the cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.gateway_fixtures import GatewayFactory
from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from vigil_gateway.service import QUEUE
from vigil_scanner.selection import Selection
from vigil_scanner.service import Scanner, ScannerConfig
from vigil_shared.bus import Bus
from vigil_shared.telemetry import Telemetry

pytestmark = pytest.mark.integration


async def test_a_replica_dying_mid_request_costs_a_retry(
    bus: Bus,
    gateway_factory: GatewayFactory,
    registry: RegistryServer,
    docker_client: Any,
    names: Callable[[str], str],
) -> None:
    tag = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, tag)
    push_image(docker_client, tag)
    web = names("web")
    docker_client.containers.run(tag, name=web, detach=True)

    # The only replica at first takes the request and dies without answering.
    taken = asyncio.Event()

    async def die(msg: Any) -> None:
        taken.set()
        await sub.unsubscribe()

    sub = await bus.nc.subscribe(bus.subjects.registry_check, queue=QUEUE, cb=die)
    scanner = Scanner(
        bus,
        docker_client,
        ScannerConfig(host_id="h1", selection=Selection(names=(web,)), check_timeout=2),
        Telemetry.from_env("test", {}),
    )
    scan = asyncio.create_task(scanner.scan())
    await asyncio.wait_for(taken.wait(), 10)
    await gateway_factory()  # a healthy replica takes over
    plan = await asyncio.wait_for(scan, 30)
    assert plan is not None
    assert plan.problems == ()
    assert [(r.name, r.status) for r in plan.settled] == [(web, "fresh")]


async def test_no_gateway_at_all_fails_the_check_after_the_retries(
    bus: Bus, registry: RegistryServer, docker_client: Any, names: Callable[[str], str]
) -> None:
    tag = f"{registry.host}/{names('app')}:latest"
    build_test_image(docker_client, tag)
    push_image(docker_client, tag)
    web = names("web")
    docker_client.containers.run(tag, name=web, detach=True)
    scanner = Scanner(
        bus,
        docker_client,
        ScannerConfig(
            host_id="h1", selection=Selection(names=(web,)), check_timeout=1, check_attempts=2
        ),
        Telemetry.from_env("test", {}),
    )
    plan = await scanner.scan()
    assert plan is not None
    assert [(r.name, r.status) for r in plan.settled] == [(web, "check_failed")]
    assert "no service answers on vigil.registry.check" in plan.settled[0].error
