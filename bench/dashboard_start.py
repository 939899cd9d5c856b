"""The dashboard's start on a large audit stream: until every host's containers show.

A real NATS holds `cycles` quiet cycles of `hosts` hosts x 50 containers (inventory, plan,
report: the fleet-cycle bench's sizes). The real Dashboard is started on it, twice per
round: reading each subject's latest message (what it does past REPLAY_ALL_UP_TO messages,
vigil_shared/audit.py) and replaying the stream from its start (what it did before). Each
start is timed until its view holds every host's inventory and latest report (every
container has its state). Target (issue 21): within 10 s at 10,000 hosts.
Run with `python -m bench --only dashboard-start [--start-hosts N --start-cycles N]
[--start-side latest]` (10,000 hosts: `--start-hosts 10000 --start-cycles 1 --start-side
latest`, ~1 GB of stream). A start that does not get every host within `GIVE_UP_S` says what
its view holds and counts as that long (messages lost on the way never come).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from vigil.dashboard import service as dashboard_service
from vigil.dashboard.service import Dashboard, DashboardConfig
from vigil.process.embedded_nats import EmbeddedNats
from vigil_shared.bus import Bus, BusConfig
from vigil_shared.codec import encode
from vigil_shared.contracts import ContainerInfo, ContainerResult, Inventory, Plan, Report

PER_HOST = 50
GIVE_UP_S = 300.0
SIDES = {"latest": "latest per subject", "replay": "replay from the start (before)"}
REG = "127.0.0.1:5000"


def _cycle(h: int) -> list[tuple[str, bytes]]:
    host = f"h{h:05d}"
    infos, results = [], []
    for n in range(PER_HOST):
        i = (h * 7 + n) % 50
        image, image_id = f"{REG}/fleet/app{i}:latest", f"sha256:{i:064x}"
        cid = f"{h:032x}{n:032x}"
        infos.append(
            ContainerInfo(
                id=cid,
                name=f"h{h}-c{n}",
                image=image,
                image_id=image_id,
                repo_digests=(f"{REG}/fleet/app{i}@sha256:{i + 1:064x}",),
            )
        )
        results.append(
            ContainerResult(
                name=f"h{h}-c{n}",
                container_id=cid,
                image=image,
                status="fresh",
                old_image_id=image_id,
                remote_digest=f"sha256:{i + 1:064x}",
            )
        )
    scan, plan_id, now = uuid.uuid4().hex, uuid.uuid4().hex, time.time()
    inventory = Inventory(scan_id=scan, host=host, taken_at=now, containers=tuple(infos))
    plan = Plan(plan_id=plan_id, scan_id=scan, host=host, created_at=now, settled=tuple(results))
    report = Report(
        scan_id=scan,
        plan_id=plan_id,
        host=host,
        started_at=now,
        finished_at=now,
        results=tuple(results),
    )
    return [
        (f"vigil.inventory.{host}", encode(inventory)),
        (f"vigil.plan.{host}", encode(plan)),
        (f"vigil.report.{host}", encode(report)),
    ]


async def _fill(bus: Bus, hosts: int, cycles: int) -> None:
    for _ in range(cycles):
        for start in range(0, hosts, 100):
            batch = [m for h in range(start, min(hosts, start + 100)) for m in _cycle(h)]
            await asyncio.gather(*(bus.js.publish(s, d, timeout=60) for s, d in batch))


async def _start(bus: Bus, hosts: int, replay_all_up_to: int) -> float:
    dashboard_service.REPLAY_ALL_UP_TO = replay_all_up_to  # type: ignore[attr-defined]
    gc.collect()  # the last start's dashboard is garbage now: not this start's to collect
    started = time.monotonic()
    dashboard = Dashboard(bus, DashboardConfig(port=0, check_interval=0))
    await dashboard.start()
    try:
        view = dashboard.view
        last = (await bus.js.stream_info(bus.subjects.stream_name)).state.last_seq
        # every host's latest report is in, and the view is current (the stream's last read)
        while len(view.inventories) < hosts or len(view.results) < hosts * PER_HOST:
            if view.last_seq >= last and time.monotonic() - started > GIVE_UP_S:
                print(
                    f"  gave up: the view holds {len(view.inventories)} of {hosts} inventories "
                    f"and {len(view.results)} of {hosts * PER_HOST} results at the stream's end"
                )
                break
            await asyncio.sleep(0.02)
        while view.last_seq < last:
            await asyncio.sleep(0.02)
        return time.monotonic() - started
    finally:
        await dashboard.close()


async def _run(hosts: int, cycles: int, rounds: int, sides: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory(prefix="vigil-bench-dstart-") as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats")
        nats.start()
        bus = await Bus.connect(BusConfig(url=nats.url, prefix="vigil"), name="bench")
        try:
            await bus.ensure_streams()
            filled = time.monotonic()
            await _fill(bus, hosts, cycles)
            state = (await bus.js.stream_info(bus.subjects.stream_name)).state
            print(
                f"dashboard start: {hosts} hosts x {PER_HOST} containers, {cycles} cycles: "
                f"{state.messages} messages, {state.bytes:,} bytes in the stream "
                f"(filled in {time.monotonic() - filled:.1f} s)"
            )
            thresholds = {"latest": 0, "replay": 10**12}
            times: dict[str, list[float]] = {SIDES[side]: [] for side in sides}
            for n in range(rounds):
                for key in sides:
                    side = SIDES[key]
                    took = await _start(bus, hosts, thresholds[key])
                    times[side].append(took)
                    print(f"  round {n + 1}, {side}: {took:.2f} s to every host's state")
            for side, figures in times.items():
                print(f"median over {rounds} rounds, {side}: {statistics.median(figures):.2f} s")
        finally:
            await bus.close()
            nats.stop()


def run_dashboard_start(
    *, hosts: int = 500, cycles: int = 4, rounds: int = 3, sides: tuple[str, ...] = tuple(SIDES)
) -> None:
    asyncio.run(_run(hosts, cycles, rounds, sides))
