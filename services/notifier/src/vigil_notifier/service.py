"""The notifier: consumes every host's reports and tells people.

For now it writes each report to its output stream; notification URLs come with their own
issue. It uses a durable consumer, so a notifier that was down gets the reports it missed.
"""

from __future__ import annotations

import asyncio
import collections
import sys
from typing import TextIO

from vigil_notifier.render import render_report
from vigil_shared.bus import Bus
from vigil_shared.contracts import Report
from vigil_shared.logs import get_logger

log = get_logger("vigil.notifier")

RECENT_SCANS = 256


class Notifier:
    def __init__(self, bus: Bus, out: TextIO | None = None, durable: str = "notifier") -> None:
        self.bus = bus
        self.out = out or sys.stdout
        self.durable = durable
        # Which scans' reports were written (the last few, bounded) and who waits for one:
        # lets --run-once exit only after the user has seen its report.
        self._recent: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._waiters: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        await self.bus.consume(
            self.bus.subjects.all_reports,
            self.durable,
            Report,
            self._on_report,
            max_ack_pending=64,
        )

    async def _on_report(self, report: Report, headers: dict[str, str]) -> None:
        self.out.write(render_report(report) + "\n")
        self.out.flush()
        log.info("report delivered", host=report.host, scan_id=report.scan_id, failed=report.failed)
        self._recent[report.scan_id] = None
        while len(self._recent) > RECENT_SCANS:
            self._recent.popitem(last=False)
        if waiter := self._waiters.get(report.scan_id):
            waiter.set()

    async def delivered(self, scan_id: str, timeout: float) -> bool:
        """Wait until the report of `scan_id` has been written; False after `timeout`."""
        if scan_id in self._recent:
            return True
        waiter = self._waiters.setdefault(scan_id, asyncio.Event())
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            self._waiters.pop(scan_id, None)
        return True
