"""Heartbeats: each service process says, every few seconds, that it is alive and how it is.

The runner starts one `HeartbeatTask` per service it runs and cancels it on shutdown. The
task writes a `Heartbeat` into the `{STREAM}_STATUS` bucket under `{role}.{host}`; what a
service adds (its last scan, its last report) comes from a `details` callable that reads the
service's public attributes, so the services themselves know nothing of heartbeats. With a
`health_file`, each beat also rewrites this process's health record there, which
`vigil --health-check` (a container's HEALTHCHECK) reads. Their readers (`vigil status`, the
dashboard, the rollout-coordinator) use `read_heartbeats` and `is_alive`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec
import nats.js.errors

from vigil_shared.bus import Bus
from vigil_shared.codec import BadMessage, decode
from vigil_shared.contracts import (
    FLEET,
    STATUS_BUCKET,
    Heartbeat,
    Report,
    ReportSummary,
    status_key,
)
from vigil_shared.engine_kind import known_identity
from vigil_shared.failover import through_failover
from vigil_shared.health_record import HealthRecord, remove_record, write_record
from vigil_shared.kv_listing import kv_entries
from vigil_shared.logs import get_logger

INTERVAL_S = 10.0
LAST_BEAT_TIMEOUT_S = 2.0  # a stopping process does not wait long for a NATS that is gone
LIVE_S = 30.0  # a heartbeat younger than this: the service is alive (it writes one every 10 s)

log = get_logger("vigil.heartbeat")
reader_log = get_logger("vigil.fleet")

Details = Callable[[], dict[str, Any]]


def vigil_version() -> str:
    try:
        return metadata.version("vigil")
    except metadata.PackageNotFoundError:
        return "dev"


def summarize(report: Report | None) -> ReportSummary | None:
    if report is None:
        return None
    counts: dict[str, int] = {}
    for result in report.results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return ReportSummary(
        scan_id=report.scan_id,
        plan_id=report.plan_id,
        finished_at=report.finished_at,
        counts=counts,
        problems=len(report.problems),
        failed=report.failed,
    )


def engine_named(service: Any) -> str:
    """The engine a scanner or executor serves, as connect_engine found it (no engine call)."""
    identity = known_identity(getattr(getattr(service, "engine", None), "api", None))
    return identity.describe() if identity else ""


def scanner_details(scanner: Any) -> Details:
    return lambda: {
        "last_scan_id": scanner.last_scan_id,
        "last_scan_at": scanner.last_scan_at,
        "scans_total": scanner.scans_total,
        "scans_skipped": scanner.scans_skipped,
        "engine": engine_named(scanner),
        "next_cycle_at": scanner.next_cycle_at,
    }


def executor_details(executor: Any) -> Details:
    return lambda: {
        "last_report": summarize(executor.last_report),
        "engine": engine_named(executor),
    }


class HeartbeatTask:
    """Write `role`'s heartbeat at start and every `interval` seconds until stopped."""

    def __init__(
        self,
        bus: Bus,
        role: str,
        host: str = "",
        details: Details | None = None,
        *,
        interval: float = INTERVAL_S,
        health_file: Path | None = None,
        run_once: bool = False,
    ) -> None:
        self.bus = bus
        self.role = role
        self.host = host
        self.key = status_key(role, host)
        self.details = details or dict
        self.interval = interval
        self.started_at = time.time()
        self.version = vigil_version()
        self.health_file = health_file
        self.run_once = run_once
        self.bus_at: float | None = None  # when a heartbeat last reached NATS
        self._health_warned = False
        self._task: asyncio.Task[None] | None = None
        self._kv: Any = None

    def heartbeat(self, stopped_at: float = 0.0) -> Heartbeat:
        return Heartbeat(
            role=self.role,
            host=self.host or FLEET,
            version=self.version,
            pid=os.getpid(),
            started_at=self.started_at,
            at=time.time(),
            stopped_at=stopped_at,
            run_once=self.run_once,
            **self.details(),
        )

    async def beat(self, stopped_at: float = 0.0) -> None:
        if self._kv is None:
            self._kv = await self.bus.key_value(STATUS_BUCKET)
        await self._kv.put(self.key, msgspec.json.encode(self.heartbeat(stopped_at)))

    async def start(self) -> None:
        """The first heartbeat is written before this returns; the rest in the background."""
        await self._safe_beat()
        self._task = asyncio.create_task(self._loop(), name=f"heartbeat-{self.key}")

    async def _safe_beat(self) -> None:
        try:
            await self.beat()
            self.bus_at = time.time()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a missed heartbeat is logged; the service goes on
            log.warning("heartbeat not written", key=self.key, error=str(exc) or type(exc).__name__)
        self._write_health()

    def _write_health(self) -> None:
        if self.health_file is None:
            return
        record = HealthRecord(
            role=self.role,
            host=self.host,
            pid=os.getpid(),
            started_at=self.started_at,
            at=time.time(),
            bus_at=self.bus_at,
            interval=self.interval,
        )
        try:
            write_record(self.health_file, record)
        except OSError as exc:
            if not self._health_warned:  # once: a read-only state dir is not news every beat
                self._health_warned = True
                log.warning("health file not written", path=str(self.health_file), error=str(exc))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._safe_beat()

    async def stop(self) -> None:
        """Stop beating, and write a last heartbeat that says the process ended (with its last
        cycle): `vigil status` then shows a finished run-once or a stopped service as such,
        not as one gone silent."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await asyncio.wait_for(self.beat(stopped_at=time.time()), LAST_BEAT_TIMEOUT_S)
        except Exception as exc:  # the bus may be gone already (a timeout is one too)
            log.warning(
                "last heartbeat not written", key=self.key, error=str(exc) or type(exc).__name__
            )
        if self.health_file is not None:
            remove_record(self.health_file)  # stopped cleanly: nothing here to judge


def is_alive(beat: Heartbeat, now: float, live_s: float = LIVE_S) -> bool:
    return not beat.stopped_at and now - beat.at < live_s


async def read_heartbeats(bus: Bus) -> list[Heartbeat]:
    """Every heartbeat in the STATUS bucket; none when the bucket does not exist (a reader
    does not create it). Read again while a NATS node's failover holds it up."""
    bucket = f"{bus.subjects.stream_name}_{STATUS_BUCKET}"
    try:
        entries = await through_failover(lambda: kv_entries(bus.js, bucket), "read the heartbeats")
    except nats.js.errors.BucketNotFoundError:
        return []
    beats = []
    for key, value in entries.items():
        try:
            beats.append(decode(value, Heartbeat))
        except BadMessage as exc:
            reader_log.warning("unreadable heartbeat ignored", key=key, error=str(exc))
    return beats
