"""A real registry-gateway on the test's NATS bus, and a way to ask it about images."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from vigil_gateway.service import Gateway, GatewayConfig
from vigil_shared.bus import Bus
from vigil_shared.contracts import CheckReply, CheckRequest, ImageCheck, ImageStatus
from vigil_shared.logs import Redactor

GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def gateway_factory(bus: Bus) -> AsyncIterator[GatewayFactory]:
    """`await gateway_factory(**GatewayConfig fields)`. Start one per test: gateways on one
    bus share a queue group, so two of them would split the requests between them."""
    started: list[Gateway] = []

    async def start(**config: Any) -> Gateway:
        gateway = Gateway(bus, GatewayConfig(**config), Redactor())
        await gateway.start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.close()


async def check(bus: Bus, *images: ImageCheck, timeout: float = 30) -> dict[str, ImageStatus]:
    """Ask the gateway as a scanner does; the answers by image."""
    reply = await bus.request(
        bus.subjects.registry_check,
        CheckRequest(scan_id="s1", host="h1", images=images),
        CheckReply,
        timeout=timeout,
    )
    return {r.image: r for r in reply.results}
