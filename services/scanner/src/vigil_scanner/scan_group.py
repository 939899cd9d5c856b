"""Scanners that scale out: replicas of a group share their hosts through a JetStream work
queue, so that each host is scanned exactly once per tick by one live replica.

At every tick (and for every `vigil.cmd.scan`), each replica offers one `ScanWork` per host it
serves under the message id `{group}.{host}.{key}`; JetStream's duplicate window stores one.
Each host has one durable consumer shared by the replicas, with one item in flight at a time:
the replica that fetches it scans, and acknowledges when the plan is published. A replica
that dies mid-scan never acknowledges; after `ack_wait` the item goes to another replica.
NATS does the coordinating; Vigil keeps no lock or leader of its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from vigil_scanner.service import Scanner
from vigil_scanner.ticks import tick_cycle_key
from vigil_shared.bus import Bus
from vigil_shared.contracts import ScanCommand, ScanWork
from vigil_shared.imageref import InvalidImageRef
from vigil_shared.logs import get_logger

log = get_logger("vigil.scanner.group")

# Replicas' clocks and start-up may spread one tick's offers over a few seconds; two minutes
# covers that with room, and is far shorter than any sensible interval.
DUPLICATE_WINDOW_S = 120.0
# The key of a cycle asked for by `vigil.cmd.scan` starts so; a tick's is its index or time.
COMMAND_KEY = "cmd-"
_TICK_IDS = uuid.UUID("6f1c2b0e-5d4a-4e8f-9a51-3c7d2e9b8a10")


def tick_scan_id(group: str, host: str, key: str) -> str:
    """The scan id of a tick's cycle: the same on every replica, so the audit stream shows
    one cycle per host and tick however many replicas offered it."""
    return uuid.uuid5(_TICK_IDS, f"{group}/{host}/{key}").hex


def ack_wait_for(interval: float) -> float:
    """How long an item may go unacknowledged before another replica gets it: well inside
    one tick, so a dead replica's host is scanned within the same tick; the live replica
    keeps its item with in-progress acks however long the scan takes."""
    return min(30.0, max(2.0, interval / 4))


class ScanGroup:
    def __init__(
        self, bus: Bus, group: str, scanners: Sequence[Scanner], *, ack_wait: float
    ) -> None:
        self.bus = bus
        self.group = group
        self.scanners = {s.config.host_id: s for s in scanners}
        self.label = ",".join(self.scanners)
        self.ack_wait = ack_wait
        self.offered = 0  # items this replica stored first
        self.duplicates = 0  # items another replica had stored already

    def scheduled(self, at: float) -> None:
        for scanner in self.scanners.values():
            scanner.next_cycle_at = at

    async def start(self) -> None:
        subjects = self.bus.subjects
        await self.bus.ensure_work_stream(DUPLICATE_WINDOW_S)
        for host in self.scanners:
            await self.bus.consume(
                subjects.work_scan(self.group, host),
                f"scan-{self.group}-{host}",
                ScanWork,
                self._on_work,
                ack_wait=self.ack_wait,
                max_ack_pending=1,  # one cycle of a host at a time, fleet-wide
                deliver_new=False,  # an item waiting from before this replica started is due
                stream=subjects.work_stream_name,
            )
        await self.bus.subscribe(subjects.cmd_scan, ScanCommand, self._on_command)
        log.info("scanner group joined", group=self.group, hosts=self.label)

    async def tick(self, key: str) -> None:
        await self.offer(key, tuple(self.scanners))

    async def offer(
        self,
        key: str,
        hosts: Sequence[str],
        *,
        scan_id: str = "",
        names: tuple[str, ...] = (),
        images: tuple[str, ...] = (),
    ) -> None:
        for host in hosts:
            work = ScanWork(
                group=self.group,
                host=host,
                key=key,
                scan_id=scan_id or tick_scan_id(self.group, host, key),
                names=names,
                images=images,
                offered_at=time.time(),
            )
            try:
                stored = await self.bus.publish_event(
                    self.bus.subjects.work_scan(self.group, host),
                    work,
                    msg_id=f"{self.group}.{host}.{key}",
                )
            except Exception as exc:  # one host's offer failing must not stop the others
                log.error("cycle not offered", group=self.group, host=host, error=str(exc))
                continue
            if stored:
                self.offered += 1
            else:
                self.duplicates += 1

    async def _on_command(self, cmd: ScanCommand, headers: dict[str, str]) -> None:
        hosts = [h for h in self.scanners if not cmd.hosts or h in cmd.hosts]
        if hosts:
            await self.offer(
                f"{COMMAND_KEY}{cmd.scan_id}",
                hosts,
                scan_id=cmd.scan_id,
                names=cmd.names,
                images=cmd.images,
            )

    async def _on_work(self, work: ScanWork, headers: dict[str, str]) -> None:
        scanner = self.scanners.get(work.host)
        if scanner is None:  # the subject names a host this replica serves; be safe anyway
            raise RuntimeError(f"host {work.host!r} is not served by this replica")
        log.info("cycle taken", group=self.group, host=work.host, key=work.key)
        # wait: the consumer already holds one item per host; an HTTP API cycle running
        # here only delays this one.
        # The registry answers it gets are those made for its command, or for its tick.
        explicit = work.key.startswith(COMMAND_KEY)
        try:
            await scanner.scan(
                scan_id=work.scan_id,
                names=work.names,
                images=work.images,
                wait=True,
                cycle_key=work.scan_id if explicit else tick_cycle_key(work.key),
            )
        except InvalidImageRef as exc:  # acknowledged: it would fail the same way again
            log.warning("cycle dropped", group=self.group, host=work.host, error=str(exc))
