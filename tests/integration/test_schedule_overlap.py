"""A cycle never overlaps the previous one: with the real scanner, bus and engine, a cycle
that outlasts the schedule's period makes the next fire time skipped and counted."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC
from typing import Any

import pytest

from vigil_scanner.cron import parse_cron
from vigil_scanner.selection import Selection
from vigil_scanner.service import Scanner, ScannerConfig
from vigil_scanner.ticks import LocalCycles, run_on_schedule
from vigil_shared.bus import Bus
from vigil_shared.telemetry import Telemetry

pytestmark = pytest.mark.integration


class SlowListing:
    """The real engine, with a slow container listing (latency injected, nothing faked)."""

    def __init__(self, client: Any, delay: float) -> None:
        self._client = client
        self.api: Any = _SlowApi(client.api, delay)

    def ping(self) -> bool:
        return bool(self._client.ping())


class _SlowApi:
    def __init__(self, api: Any, delay: float) -> None:
        self._api = api
        self._delay = delay
        self._lock = threading.Lock()
        self.listings: list[tuple[float, float]] = []  # (start, end) of each listing

    def containers(self, **kwargs: Any) -> Any:
        start = time.monotonic()
        time.sleep(self._delay)
        found = self._api.containers(**kwargs)
        with self._lock:
            self.listings.append((start, time.monotonic()))
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


async def test_a_long_cycle_makes_the_next_fire_time_skipped_and_counted(
    bus: Bus, docker_client: Any
) -> None:
    engine = SlowListing(docker_client, delay=1.3)
    config = ScannerConfig(host_id="it", selection=Selection(names=("vigil-test-nobody",)))
    scanner = Scanner(bus, engine, config, Telemetry.disabled())
    stop = asyncio.Event()
    loop = asyncio.create_task(
        run_on_schedule(LocalCycles([scanner]), parse_cron("* * * * * *"), stop, zone=UTC)
    )
    deadline = time.monotonic() + 15
    while (scanner.scans_total < 2 or scanner.scans_skipped < 1) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(loop, timeout=5)
    assert scanner.scans_total >= 2
    assert scanner.scans_skipped >= 1
    listings = sorted(engine.api.listings)
    for (_, end), (start, _) in itertools.pairwise(listings):
        assert start >= end  # one cycle at a time
