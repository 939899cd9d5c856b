"""The executor's composition root: `start(process, config)` builds and starts it."""

from __future__ import annotations

import asyncio

from vigil_executor.config import ExecutorConfig
from vigil_executor.service import Executor
from vigil_shared.heartbeat import executor_details
from vigil_shared.logs import get_logger
from vigil_shared.process import Process

ROLE = "executor"

log = get_logger("vigil")


async def start(process: Process, config: ExecutorConfig) -> Executor:
    host = config.host_id
    bus = await process.connect(f"vigil-executor-{host}")
    executor = Executor(bus, process.engines[host], config, process.telemetry)
    loop = asyncio.get_running_loop()
    # A hook must not outlive a Vigil asked to stop: killed at the signal, at once.
    process.on_signal(lambda: loop.run_in_executor(None, executor.hooks.stop, executor.engine.api))
    process.closers.append(lambda: asyncio.to_thread(_stop_hooks, executor))
    await process.heartbeat(bus, ROLE, host, executor_details(executor))
    # Last: once it consumes, a plan may run, and the runner makes the next signal graceful
    # right after this returns (a heartbeat awaited after it left a window where a SIGTERM
    # cancelled a plan mid-update: test_executor_sigterm[pulling] under load).
    await executor.start()
    return executor


def _stop_hooks(executor: Executor) -> None:
    killed = executor.hooks.stop(executor.engine.api)
    if killed:
        log.warning("lifecycle hooks killed: vigil is stopping", count=killed)
