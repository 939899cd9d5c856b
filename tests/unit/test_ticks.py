"""Ticks: keys every replica of a scanner group computes alike, and the aligned interval loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from vigil_scanner.scan_group import ack_wait_for, tick_scan_id
from vigil_scanner.ticks import interval_key, local_key, run_on_interval, tick_cycle_key


@pytest.mark.parametrize(
    ("now", "interval", "key", "due"),
    [
        (0.0, 10.0, "1@10s", 10.0),
        (9.999, 10.0, "1@10s", 10.0),
        (10.0, 10.0, "2@10s", 20.0),
        (1_764_619_205.5, 300.0, "5882065@300s", 1_764_619_500.0),
        (61.0, 60.0, "2@60s", 120.0),
        (0.75, 0.5, "2@0.5s", 1.0),
    ],
)
def test_interval_key_names_the_next_tick_and_when_it_starts(
    now: float, interval: float, key: str, due: float
) -> None:
    assert interval_key(now, interval) == (key, due)


def test_replicas_started_at_different_times_name_the_same_tick() -> None:
    # Two replicas, one started 0.1 s into the tick and one 8 s into it.
    assert interval_key(100.1, 10.0) == interval_key(108.0, 10.0)


def test_two_intervals_never_name_one_tick_alike() -> None:
    # Index 2 of a 10 s interval and of a 60 s one: other moments, other cycles.
    assert interval_key(15.0, 10.0)[0] != interval_key(65.0, 60.0)[0]


def test_ticks_counted_from_the_start_never_share_a_key() -> None:
    keys = {local_key(30.0) for _ in range(1000)}
    assert len(keys) == 1000 and all(k.endswith("@30s") for k in keys)


@pytest.mark.parametrize(
    ("key", "cycle_key"),
    [
        ("5882065@300s", "tick:5882065@300s"),
        ("2026-12-07T04:00:00+00:00", "tick:2026-12-07T04:00:00+00:00"),
    ],
)
def test_a_ticks_cycle_key_is_never_a_scan_id(key: str, cycle_key: str) -> None:
    assert tick_cycle_key(key) == cycle_key


def test_a_tick_scan_id_is_the_same_everywhere_and_differs_by_host_and_tick() -> None:
    a = tick_scan_id("g", "h1", "7")
    assert a == tick_scan_id("g", "h1", "7")
    assert len({a, tick_scan_id("g", "h2", "7"), tick_scan_id("g", "h1", "8")}) == 3
    assert len(a) == 32 and int(a, 16) >= 0


@pytest.mark.parametrize(
    ("interval", "ack_wait"), [(1, 2.0), (8, 2.0), (20, 5.0), (300, 30.0), (86400, 30.0)]
)
def test_ack_wait_stays_well_inside_one_tick(interval: float, ack_wait: float) -> None:
    assert ack_wait_for(interval) == ack_wait


class Recorder:
    label = "h1"

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def tick(self, key: str) -> None:
        self.keys.append(key)


async def test_aligned_ticks_fall_on_multiples_of_the_interval() -> None:
    loop = asyncio.get_running_loop()
    offset = 1_000_000.0 - loop.time()  # a wall clock that starts 0.05 s before a boundary
    interval = 0.2
    start = 1_000_000.0 - 0.05

    def clock() -> float:
        return loop.time() + offset - (1_000_000.0 - start)

    recorder = Recorder()
    stop = asyncio.Event()
    task = asyncio.create_task(run_on_interval(recorder, interval, stop, aligned=True, clock=clock))
    await asyncio.sleep(0.02)
    assert recorder.keys == []
    await asyncio.sleep(0.1)  # past the boundary 0.05 s after start
    assert recorder.keys == [f"{int(1_000_000.0 / interval)}@0.2s"]
    while len(recorder.keys) < 3:
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 1)
    first = int(recorder.keys[0].split("@")[0])
    assert recorder.keys[:3] == [f"{first + n}@0.2s" for n in range(3)]  # none twice


class Announced(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.due: list[float] = []

    def scheduled(self, at: float) -> None:
        self.due.append(at)


async def test_the_ticker_is_told_when_each_tick_is_due() -> None:
    """Scanners' heartbeats say when their next cycle starts (the dashboard's rows show it)."""
    recorder = Announced()
    stop = asyncio.Event()
    before = time.time()
    task = asyncio.create_task(run_on_interval(recorder, 0.2, stop))
    while len(recorder.keys) < 1:
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 1)
    assert len(recorder.due) >= 2
    assert before + 0.2 <= recorder.due[0] <= time.time()  # one interval after the start
    assert recorder.due[1] >= recorder.due[0]
