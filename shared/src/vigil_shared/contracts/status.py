"""The `{STREAM}_STATUS` key-value bucket: one heartbeat per service process.

Keys are `{role}.{host}` (`fleet` for the fleet-wide services); every service writes its own
every few seconds, and `vigil status` / `vigil trigger` read them to know who is alive.
"""

from __future__ import annotations

import msgspec

from vigil_shared.contracts.base import Message

STATUS_BUCKET = "STATUS"  # Bus.key_value(STATUS_BUCKET) -> `{STREAM}_STATUS`
FLEET = "fleet"  # the host part of the key of a fleet-wide service (gateway, notifier)


class ReportSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The executor's last cycle, in brief."""

    scan_id: str
    plan_id: str
    finished_at: float
    counts: dict[str, int] = {}  # container results by status
    problems: int = 0
    failed: bool = False


class Heartbeat(Message, frozen=True, kw_only=True):
    role: str  # scanner, executor, registry-gateway, notifier
    host: str  # the host id, or "fleet"
    version: str
    pid: int
    started_at: float
    at: float  # when this heartbeat was written
    # scanner
    last_scan_id: str = ""
    last_scan_at: float = 0.0
    scans_total: int = 0
    scans_skipped: int = 0
    next_cycle_at: float = 0.0  # when its next periodic cycle starts (0: none scheduled)
    # executor
    last_report: ReportSummary | None = None
    # The last heartbeat of a process that ended cleanly says when (0: still running, or it
    # died without a word); `run_once` marks a `vigil --run-once`, whose end is the plan.
    stopped_at: float = 0.0
    run_once: bool = False
    # scanner and executor: the engine they serve, as its /version names it ("Podman 4.3.1
    # (API 1.41)"); a fleet may mix Docker and Podman hosts. Empty: not known (older process).
    engine: str = ""


def status_key(role: str, host: str) -> str:
    return f"{role}.{host or FLEET}"
