"""Which audit messages are quiet: a cycle that changed nothing says so again every interval.

At 10,000 hosts every 5 minutes, a quiet cycle's inventory, plan and report (66 KB for 50
containers) kept for the 30-day audit retention would be 5.5 TB (docs/performance.md). A
quiet message is stored with a per-message TTL (`--audit-quiet-retention`, default a day):
the latest of each host is there for the dashboard, `vigil containers` and the
coordinator, and the stream keeps for its whole retention only what changed something.
"""

from __future__ import annotations

import msgspec

from vigil_shared.contracts import Inventory, Plan, Report

# A result that says the container was left as it was, as every cycle before.
QUIET_STATUSES = frozenset({"fresh", "skipped"})


def is_quiet(message: msgspec.Struct) -> bool:
    """Pure: an inventory (the latest per host is what is read); a plan with no actions (its
    settled rows and problems are in its report too); a report of only fresh or skipped
    containers and no problem. Progress and rollout steps, and anything else, are change."""
    if isinstance(message, Inventory):
        return True
    if isinstance(message, Plan):
        return not message.actions
    if isinstance(message, Report):
        return not message.problems and all(r.status in QUIET_STATUSES for r in message.results)
    return False


def quiet_ttl(message: msgspec.Struct, quiet_retention: float) -> int | None:
    """Pure: the TTL (whole seconds) to store `message` with; None: the stream's retention.
    A `quiet_retention` of 0 keeps quiet messages as long as the others."""
    if quiet_retention <= 0 or not is_quiet(message):
        return None
    return max(1, int(quiet_retention))


QUIET_CYCLES_KEPT = 2  # a host's latest quiet messages outlive the gap to its next cycle


def quiet_retention_for(given: float, cycle_s: float) -> float:
    """Pure: how long quiet messages are kept when the scan cycle comes every `cycle_s`: at
    least two cycles, so a host's latest inventory and report never expire before its next
    cycle replaces them (a daily interval, watchtower's default, with a 1-day retention
    would leave a host with no report for the last moments of each day). 0 stays 0."""
    if given <= 0:
        return 0.0
    return max(given, QUIET_CYCLES_KEPT * cycle_s)
