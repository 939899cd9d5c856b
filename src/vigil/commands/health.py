"""`vigil --health-check`: is the Vigil running here (this container, this state dir) healthy?

Each service process keeps a health file, `<state dir>/health/<role>.<host>.json`, which its
heartbeat rewrites every few seconds: when the loop last ran (`at`) and when the heartbeat
last reached NATS (`bus_at`). `--health-check` reads the files and exits 0 only when every
service that is still running here beat recently and reached its bus recently. A file left by
a process that is gone (a crash; a clean stop removes its file) is not counted, so a restart
in the same state dir is judged on the new process alone.

The decision is `judge`, a pure function over the records, the time and the live pids.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil_shared.health_record import HealthRecord, read_records

# Two heartbeats may be missed (a slow NATS, a busy loop) before a service is unhealthy.
MISSED_BEATS = 3


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    reasons: tuple[str, ...]  # one line per service: why it is (un)healthy


def _ago(seconds: float) -> str:
    return f"{seconds:.0f}s ago"


def judge(records: Sequence[HealthRecord], now: float, live_pids: Collection[int]) -> Verdict:
    """Healthy when at least one service runs here and each running one is fresh."""
    reasons: list[str] = []
    healthy = True
    running = 0
    for r in sorted(records, key=lambda r: (r.role, r.host)):
        name = f"{r.role} ({r.host})" if r.host else r.role
        if r.pid not in live_pids:
            reasons.append(f"{name}: pid {r.pid} is gone; its file is not counted")
            continue
        running += 1
        limit = MISSED_BEATS * r.interval
        if now - r.at > limit:
            healthy = False
            reasons.append(
                f"{name}: unhealthy: its heartbeat last ran {_ago(now - r.at)} "
                f"(limit {limit:.0f}s): the process is stuck"
            )
        elif r.bus_at is None and now - r.started_at > limit:
            healthy = False
            reasons.append(
                f"{name}: unhealthy: has not reached NATS since it started "
                f"{_ago(now - r.started_at)}"
            )
        elif r.bus_at is not None and now - r.bus_at > limit:
            healthy = False
            reasons.append(f"{name}: unhealthy: last reached NATS {_ago(now - r.bus_at)}")
        else:
            reasons.append(f"{name}: healthy (pid {r.pid})")
    if running == 0:
        healthy = False
        reasons.append("no Vigil service is running here")
    return Verdict(healthy, tuple(reasons))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return pid > 0


def health_check(state_dir: Path) -> int:
    """The command: 0 healthy, 1 not; one line per service (`docker inspect` shows them)."""
    records, problems = read_records(state_dir)
    verdict = judge(records, time.time(), {r.pid for r in records if pid_alive(r.pid)})
    for line in (*problems, *verdict.reasons):
        print(line, file=sys.stdout if verdict.healthy else sys.stderr)
    return 0 if verdict.healthy else 1
