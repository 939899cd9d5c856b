"""The rollout-coordinator's composition root: `start(process, policy)` builds and starts it."""

from __future__ import annotations

from vigil_coordinator.service import Coordinator
from vigil_coordinator.spec import RolloutPolicy
from vigil_shared.process import Process

ROLE = "rollout-coordinator"


async def start(process: Process, config: RolloutPolicy) -> Coordinator:
    bus = await process.connect("vigil-rollout-coordinator")
    coordinator = Coordinator(bus, config)
    process.closers.append(coordinator.close)
    await coordinator.start()
    await process.heartbeat(bus, ROLE)
    return coordinator
