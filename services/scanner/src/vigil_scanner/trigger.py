"""Cycles asked for through the HTTP API: queued, merged, run on this host, and answered
with the host's report.

A request that comes while a cycle runs waits for it; every request that waited meanwhile is
then served by one next cycle: every selected container if any of them named no image, else
the images they named together. So ten CI pipelines that push at once cost one or two
cycles, and a request never misses an image pushed while the previous cycle ran.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import msgspec

from vigil_scanner.service import Scanner
from vigil_shared.contracts import Report
from vigil_shared.logs import get_logger

log = get_logger("vigil.scanner.api")


class CycleOutcome(msgspec.Struct, frozen=True, kw_only=True):
    scan_id: str
    host: str
    images: tuple[str, ...] = ()  # what the cycle was limited to; empty: every container
    report: Report | None = None  # None: the executor did not report within the wait


class Busy(RuntimeError):
    """Too many requests wait already."""


def merge_targets(requests: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """The images one cycle serves for requests that waited together: none (every container)
    when any request named none, else all they named, in the order first named."""
    if any(not images for images in requests):
        return ()
    return tuple(dict.fromkeys(image for images in requests for image in images))


class UpdateTrigger:
    def __init__(
        self, scanner: Scanner, *, report_timeout: float = 600.0, max_waiting: int = 32
    ) -> None:
        self.scanner = scanner
        self.report_timeout = report_timeout
        self.max_waiting = max_waiting
        self._waiting: list[tuple[tuple[str, ...], asyncio.Future[CycleOutcome]]] = []
        self._reports: dict[str, asyncio.Future[Report]] = {}
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        bus = self.scanner.bus
        await bus.subscribe(
            bus.subjects.report(self.scanner.config.host_id), Report, self._on_report
        )

    async def _on_report(self, report: Report, headers: dict[str, str]) -> None:
        waiter = self._reports.get(report.scan_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(report)

    async def request(self, images: tuple[str, ...] = ()) -> CycleOutcome:
        """Run a cycle (limited to `images`) and return how it ended; raises Busy."""
        if len(self._waiting) >= self.max_waiting:
            raise Busy(f"{len(self._waiting)} requests are waiting for a cycle already")
        outcome: asyncio.Future[CycleOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((images, outcome))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await outcome

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            images = merge_targets([wanted for wanted, _ in batch])
            try:
                result = await self._cycle(images)
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                log.error("cycle asked through the HTTP API failed", error=str(exc))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(result)

    async def _cycle(self, images: tuple[str, ...]) -> CycleOutcome:
        scan_id = uuid.uuid4().hex
        host = self.scanner.config.host_id
        reported: asyncio.Future[Report] = asyncio.get_running_loop().create_future()
        self._reports[scan_id] = reported  # before the scan: the report cannot be missed
        try:
            # An explicit cycle: a push just before the request must be seen.
            plan = await self.scanner.scan(
                scan_id=scan_id, images=images, wait=True, cycle_key=scan_id
            )
            report: Report | None = None
            if plan is not None:
                try:
                    report = await asyncio.wait_for(reported, timeout=self.report_timeout)
                except TimeoutError:
                    log.warning(
                        "no report from the executor in time",
                        host=host,
                        scan_id=scan_id,
                        waited_s=self.report_timeout,
                    )
            return CycleOutcome(scan_id=scan_id, host=host, images=images, report=report)
        finally:
            self._reports.pop(scan_id, None)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        for _, future in self._waiting:
            future.cancel()
        self._waiting = []
