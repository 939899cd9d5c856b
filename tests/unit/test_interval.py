"""The periodic schedule: first cycle one interval after start, stop ends it at once."""

from __future__ import annotations

import asyncio
from typing import Any

from vigil_scanner.service import ScannerConfig
from vigil_scanner.ticks import LocalCycles, run_on_interval


class CountingScanner:
    def __init__(self) -> None:
        self.config = ScannerConfig(host_id="h1")
        self.scans = 0

    async def scan(self, **_: Any) -> None:
        self.scans += 1


async def test_first_cycle_waits_one_interval_and_stop_ends_the_loop() -> None:
    scanner = CountingScanner()
    stop = asyncio.Event()
    loop_task = asyncio.create_task(run_on_interval(LocalCycles([scanner]), 0.3, stop))
    await asyncio.sleep(0.1)
    assert scanner.scans == 0  # watchtower's behaviour: nothing at start
    for _ in range(100):
        if scanner.scans:
            break
        await asyncio.sleep(0.05)
    assert scanner.scans >= 1
    stop.set()
    await asyncio.wait_for(loop_task, timeout=1)
    done: Any = loop_task.result()
    assert done is None
