"""run_on_schedule: cycles at the schedule's fire times; stop ends it at once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from vigil_scanner.cron import parse_cron
from vigil_scanner.service import ScannerConfig
from vigil_scanner.ticks import LocalCycles, run_on_schedule


class RecordingScanner:
    def __init__(self) -> None:
        self.config = ScannerConfig(host_id="h1")
        self.started: list[float] = []

    async def scan(self, **_: Any) -> None:
        self.started.append(time.time())


async def test_cycles_start_on_the_fire_times_and_stop_ends_the_loop() -> None:
    scanner = RecordingScanner()
    stop = asyncio.Event()
    loop = asyncio.create_task(
        run_on_schedule(LocalCycles([scanner]), parse_cron("* * * * * *"), stop, zone=UTC)
    )
    deadline = time.monotonic() + 5
    while len(scanner.started) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(loop, timeout=1)
    assert len(scanner.started) >= 2
    for started in scanner.started:
        assert started - int(started) < 0.3  # on the whole second, never before it
    assert scanner.started[1] - scanner.started[0] >= 0.9  # once per fire time


async def test_a_schedule_that_fires_no_more_waits_for_stop() -> None:
    scanner = RecordingScanner()
    stop = asyncio.Event()

    def clock() -> datetime:
        return datetime(2096, 3, 1, tzinfo=UTC)  # no 29 February within five years

    loop = asyncio.create_task(
        run_on_schedule(
            LocalCycles([scanner]),
            parse_cron("0 0 0 29 2 *"),
            stop,
            zone=UTC,
            clock=clock,
        )
    )
    await asyncio.sleep(0.1)
    assert not loop.done()
    stop.set()
    await asyncio.wait_for(loop, timeout=1)
    assert scanner.started == []
