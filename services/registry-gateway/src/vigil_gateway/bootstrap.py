"""The registry-gateway's composition root: `start(process, config)` builds and starts it."""

from __future__ import annotations

from vigil_gateway.service import Gateway, GatewayConfig
from vigil_shared.process import Process

ROLE = "registry-gateway"


async def start(process: Process, config: GatewayConfig) -> Gateway:
    bus = await process.connect("vigil-registry-gateway")
    gateway = Gateway(bus, config, process.redactor, process.telemetry)

    async def close() -> None:
        # Its bus first: a check in flight ends (answered, or cut at the drain timeout)
        # before its HTTP client closes, rather than failing with "client has been
        # closed" (an ERROR) or blaming the registry ("unreachable") at a normal stop.
        await bus.close()
        await gateway.close()

    process.closers.append(close)
    await gateway.start()
    await process.heartbeat(bus, ROLE)
    return gateway
