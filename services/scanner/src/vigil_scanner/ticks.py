"""When periodic cycles start: every --interval, or at each fire time of --schedule.

The loops only say "tick" (with a key naming it); what a tick does is the `Ticker`'s: scan
this process's hosts at once (`LocalCycles`), or offer each host's cycle to a scanner group
(`vigil_scanner.scan_group.ScanGroup`), where every replica names the same tick by the same
key, so the work queue keeps one cycle per host and tick.

A tick's key is also its cycles' cycle key (`tick_cycle_key`): the gateway answers a cycle
only with registry requests made for its key, so no answer of an earlier tick decides a
later one, while every host on one tick shares one request per image. A key names one tick
and never another: an aligned interval's names the interval and the tick's index on the
epoch's grid (every replica and host on that interval alike), a schedule's the fire time
(every host on a schedule firing then alike), and an interval counted from the start (each
process its own phase, so no tick of another process is the same one) is unique.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import Any, Protocol

from vigil_scanner.cron import CronSchedule, describe_next, next_fire
from vigil_shared.logs import get_logger

log = get_logger("vigil.scanner")


class Ticker(Protocol):
    label: str  # the hosts, for logs

    async def tick(self, key: str) -> None: ...


class LocalCycles:
    """A tick scans each host of this process now, in the background: a slow cycle must not
    delay the next tick, which then finds it running and is skipped and counted
    (`Scanner.scan`)."""

    def __init__(self, scanners: Sequence[Any]) -> None:
        self.scanners = tuple(scanners)
        self.label = ",".join(s.config.host_id for s in self.scanners)
        self._running: set[asyncio.Task[Any]] = set()

    async def tick(self, key: str) -> None:
        for scanner in self.scanners:
            task = asyncio.create_task(scanner.scan(cycle_key=tick_cycle_key(key)))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def cancel(self) -> None:
        for task in self._running:
            task.cancel()

    def scheduled(self, at: float) -> None:
        for scanner in self.scanners:
            scanner.next_cycle_at = at


def _announce(ticker: Ticker, at: float) -> None:
    """Tell the ticker's scanners when the next tick is due: their heartbeats say it, and the
    dashboard's rows ("updated at the next cycle 12:05")."""
    scheduled = getattr(ticker, "scheduled", None)
    if scheduled is not None:
        scheduled(at)


def tick_cycle_key(key: str) -> str:
    """The cycle key of a tick's cycles (CheckRequest.cycle_key); a trigger's is its scan id,
    which has no colon."""
    return f"tick:{key}"


def interval_key(now: float, interval: float) -> tuple[str, float]:
    """The tick `now` falls in, counted from the epoch, and when the next one starts: every
    replica of a group, whenever it started, names a tick alike (with the interval: ticks
    of two intervals are never one)."""
    index = int(now // interval)
    return f"{index + 1}@{interval:g}s", (index + 1) * interval


def local_key(interval: float) -> str:
    """The key of a tick counted from this process's start: no other tick's."""
    return f"{uuid.uuid4().hex[:16]}@{interval:g}s"


async def run_on_interval(
    ticker: Ticker,
    interval: float,
    stop: asyncio.Event,
    *,
    aligned: bool = False,
    clock: Callable[[], float] = time.time,
) -> None:
    """A tick every `interval` seconds until `stop`. The first comes one interval after start
    (as watchtower does); `aligned` puts ticks on whole multiples of the interval since the
    epoch instead (the first within one interval), so that replicas tick together."""
    wait = interval
    key, due = "", 0.0
    if aligned:
        key, due = interval_key(clock(), interval)
        wait = max(0.0, due - clock())
    log.info("first cycle scheduled", host=ticker.label, in_s=round(wait, 3))
    while True:
        _announce(ticker, clock() + wait)
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
            return
        except TimeoutError:
            pass
        if aligned:
            await ticker.tick(key)
            # From the tick just served, not from the clock alone: a timer that woke a
            # little early must not name the same tick twice.
            key, due = interval_key(max(clock(), due) + 0.001, interval)
            wait = max(0.0, due - clock())
        else:
            await ticker.tick(local_key(interval))


def _wall_clock(zone: tzinfo) -> Callable[[], datetime]:
    return lambda: datetime.now(zone)


async def run_on_schedule(
    ticker: Ticker,
    schedule: CronSchedule,
    stop: asyncio.Event,
    *,
    zone: tzinfo,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """A tick at every fire time of `schedule`, read on the wall clock of `zone`; the key is
    the fire time, so replicas name it alike."""
    now = clock or _wall_clock(zone)
    log.info(
        "cycles scheduled",
        host=ticker.label,
        schedule=schedule.text,
        next=describe_next(schedule, now(), zone),
    )
    last = now()
    while True:
        due = next_fire(schedule, max(now(), last), zone)
        if due is None:
            log.error("the schedule fires no more", host=ticker.label, schedule=schedule.text)
            await stop.wait()
            return
        _announce(ticker, due.timestamp())
        # Sleep in short steps so that a change of the wall clock (NTP, suspend) is seen;
        # asyncio's timers run on the monotonic clock and may wake a little early.
        while (left := (due - now()).total_seconds()) > 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(left, 60.0))
                return
            except TimeoutError:
                pass
        if stop.is_set():
            return
        last = due
        await ticker.tick(due.isoformat())
