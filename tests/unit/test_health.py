"""`vigil --health-check`, its pure part: is what runs here fresh? And the files it reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from vigil.commands.health import health_check, judge
from vigil_shared.health_record import (
    HealthRecord,
    health_path,
    read_records,
    remove_record,
    write_record,
)

NOW = 1_700_000_000.0
PID = 4242


def rec(
    role: str = "scanner",
    *,
    age: float = 1.0,
    bus_age: float | None = 1.0,
    up: float = 3600.0,
    pid: int = PID,
    host: str = "h1",
) -> HealthRecord:
    return HealthRecord(
        role=role,
        host=host,
        pid=pid,
        started_at=NOW - up,
        at=NOW - age,
        bus_at=None if bus_age is None else NOW - bus_age,
        interval=10.0,
    )


@pytest.mark.parametrize(
    ("records", "live", "healthy", "says"),
    [
        ([], {PID}, False, "no Vigil service is running here"),
        ([rec()], {PID}, True, "scanner (h1): healthy (pid 4242)"),
        # Two beats missed is still fine; the third is not.
        ([rec(age=30.0, bus_age=30.0)], {PID}, True, "healthy"),
        ([rec(age=31.0, bus_age=1.0)], {PID}, False, "heartbeat last ran 31s ago"),
        # The loop runs but NATS has not answered: the service cannot do its job.
        ([rec(bus_age=45.0)], {PID}, False, "last reached NATS 45s ago"),
        ([rec(bus_age=None, up=5.0)], {PID}, True, "healthy"),
        ([rec(bus_age=None, up=60.0)], {PID}, False, "has not reached NATS since it started"),
        # A file left by a process that is gone does not count, either way.
        ([rec(age=900.0, pid=7)], {PID}, False, "no Vigil service is running here"),
        ([rec(age=900.0, pid=7), rec("executor")], {PID}, True, "pid 7 is gone"),
        # The all-in-one: four services in one process; one of them stuck is enough.
        (
            [rec("scanner"), rec("executor"), rec("notifier", host=""), rec("registry-gateway")],
            {PID},
            True,
            "notifier: healthy",
        ),
        ([rec("scanner"), rec("executor", age=60.0)], {PID}, False, "executor (h1): unhealthy"),
    ],
)
def test_judge(records: list[HealthRecord], live: set[int], healthy: bool, says: str) -> None:
    verdict = judge(records, NOW, live)
    assert verdict.healthy is healthy
    assert any(says in line for line in verdict.reasons), verdict.reasons


def test_records_round_trip_and_a_clean_stop_removes_its_file(tmp_path: Path) -> None:
    path = health_path(tmp_path, "executor", "h1")
    assert path == tmp_path / "health" / "executor.h1.json"
    write_record(path, rec("executor"))
    (tmp_path / "health" / "garbage.json").write_text("{not json")
    records, problems = read_records(tmp_path)
    assert records == [rec("executor")]
    assert problems and "garbage.json: unreadable" in problems[0]
    remove_record(path)
    assert read_records(tmp_path)[0] == []


def test_health_check_of_this_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert health_check(tmp_path) == 1
    assert "no Vigil service is running here" in capsys.readouterr().err
    now = time.time()
    record = HealthRecord(
        role="scanner", host="h1", pid=os.getpid(), started_at=now, at=now, bus_at=now
    )
    write_record(health_path(tmp_path, "scanner", "h1"), record)
    assert health_check(tmp_path) == 0
    assert "scanner (h1): healthy" in capsys.readouterr().out
