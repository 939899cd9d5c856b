"""Fleet summaries: the reports of one scan from several hosts, gathered into one message.

A scan started for the whole fleet (`vigil.cmd.scan`) has one scan_id on every host. The first
report of a scan opens a batch; the batch closes when every expected host has reported, or
when the window has passed, and its reports go out as one summary. A report that arrives after
its batch closed opens a new one (a late host gets its own message, never none).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Iterable

from vigil_shared.contracts import Report

Close = Callable[[list[Report]], Awaitable[None]]


def complete(hosts: Iterable[str], expected: Collection[str]) -> bool:
    """Whether a batch holding reports of `hosts` needs to wait no longer (pure)."""
    return bool(expected) and set(expected) <= set(hosts)


class _Batch:
    def __init__(self) -> None:
        self.reports: dict[str, Report] = {}
        self.full = asyncio.Event()


class FleetCollector:
    def __init__(self, window_s: float, expected: Collection[str], on_close: Close) -> None:
        self.window_s = window_s
        self.expected = frozenset(expected)
        self.on_close = on_close
        self._batches: dict[str, _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, report: Report) -> None:
        batch = self._batches.get(report.scan_id)
        if batch is None:
            batch = self._batches[report.scan_id] = _Batch()
            task = asyncio.create_task(self._close_later(report.scan_id, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        batch.reports[report.host] = report  # a redelivered report replaces its first copy
        if complete(batch.reports, self.expected):
            batch.full.set()

    def pending(self, scan_id: str) -> bool:
        return scan_id in self._batches

    async def _close_later(self, scan_id: str, batch: _Batch) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(batch.full.wait(), self.window_s)
        if self._batches.get(scan_id) is batch:
            del self._batches[scan_id]
        await self.on_close(sorted(batch.reports.values(), key=lambda r: r.host))

    async def close(self) -> None:
        """Send what was gathered so far, at once."""
        for batch in list(self._batches.values()):
            batch.full.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
