"""The rollout-coordinator's composition root: `start(process, config)` builds and starts it."""

from __future__ import annotations

import msgspec

from vigil_coordinator.service import DEFAULT_RETENTION_S, Coordinator
from vigil_coordinator.spec import RolloutPolicy
from vigil_shared.process import Process

ROLE = "rollout-coordinator"


class CoordinatorConfig(msgspec.Struct, frozen=True, kw_only=True):
    policy: RolloutPolicy = RolloutPolicy()
    retention_s: float = DEFAULT_RETENTION_S  # --rollout-retention (0: keep every rollout)


async def start(process: Process, config: CoordinatorConfig) -> Coordinator:
    bus = await process.connect("vigil-rollout-coordinator")
    coordinator = Coordinator(bus, config.policy, retention_s=config.retention_s)
    process.closers.append(coordinator.close)
    await coordinator.start()
    await process.heartbeat(bus, ROLE)
    return coordinator
