"""Rollouts: one build (image reference + digest) rolled out over the fleet in waves.

Subjects (contracts/subjects.py): `{prefix}.gate.update` (request/reply, queue group:
scanner -> rollout-coordinator), `{prefix}.cmd.rollout` (request/reply: CLI, HTTP API ->
rollout-coordinator), `{prefix}.rollout.{id}` (JetStream, the audit stream: every step of a
rollout). The state of every rollout is a `Rollout` in the `{STREAM}_ROLLOUTS` bucket.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from vigil_shared.contracts.base import Message

ROLLOUT_BUCKET = "ROLLOUTS"  # Bus.key_value(ROLLOUT_BUCKET) -> `{STREAM}_ROLLOUTS`
# The scan id of the plan (and so of the report) that puts a host back on its old build after
# `vigil rollout abort`: this prefix and the rollout's id.
REVERT_SCAN_PREFIX = "rollback-"


def revert_of(scan_id: str) -> str:
    """The rollout a plan or report with this scan id reverts; "" for any other cycle."""
    return (
        scan_id.removeprefix(REVERT_SCAN_PREFIX) if scan_id.startswith(REVERT_SCAN_PREFIX) else ""
    )


Decision = Literal["go", "wait", "hold"]
RolloutState = Literal["awaiting_approval", "running", "halted", "aborted", "done"]
# pending: not yet told to go; go: told to go, no report yet; updated: on the build;
# failed: its update failed or was rolled back; reverting / reverted / revert_failed: after
# an abort, the plan that puts it back on the old build, and how it ended; gone: a cycle the
# coordinator asked for found no container of the image there any more (done, nothing to do).
HostStatus = Literal[
    "pending", "go", "updated", "gone", "failed", "reverting", "reverted", "revert_failed"
]
Step = Literal[
    "created",
    "awaiting_approval",
    "approved",
    "wave_started",
    "wave_done",
    "halted",
    "resumed",
    "aborted",
    "reverted",
    "done",
    "pruned",  # a finished rollout older than --rollout-retention, removed from the bucket
]
CommandAction = Literal["resume", "abort", "approve", "list"]


class GateItem(msgspec.Struct, frozen=True, kw_only=True):
    """One container a scanner would update to `digest`."""

    image: str  # the reference the container follows, e.g. registry:5000/app:latest
    digest: str  # the build the gateway resolved
    container_name: str
    container_id: str
    old_image_id: str
    old_digests: tuple[str, ...] = ()  # the container's image's repo digests (to go back)


class GateRequest(Message, frozen=True, kw_only=True):
    scan_id: str
    host: str
    items: tuple[GateItem, ...]


class GateVerdict(msgspec.Struct, frozen=True, kw_only=True):
    image: str
    digest: str
    container_name: str
    decision: Decision
    rollout_id: str = ""
    reason: str = ""  # for wait and hold: what it waits for, said in the report


class GateReply(Message, frozen=True, kw_only=True):
    verdicts: tuple[GateVerdict, ...] = ()


class HostContainer(msgspec.Struct, frozen=True, kw_only=True):
    """A container of a host in a rollout: enough to put it back on the old build."""

    name: str
    container_id: str = ""  # the one running now (the new one once updated)
    old_image_id: str = ""
    old_digest: str = ""
    new_image_id: str = ""


class HostProgress(msgspec.Struct, frozen=True, kw_only=True):
    status: HostStatus = "pending"
    wave: int = 0
    containers: tuple[HostContainer, ...] = ()
    error: str = ""
    revert_plan_id: str = ""
    at: float = 0.0  # when the status last changed
    # The cycle given "go" and when: until its report, another cycle of this host waits, or
    # the container would be updated twice (and again after a halt its first update caused).
    go_scan_id: str = ""
    go_at: float = 0.0


class Rollout(Message, frozen=True, kw_only=True):
    rollout_id: str
    image: str
    digest: str
    created_at: float
    state: RolloutState = "running"
    waves: tuple[tuple[str, ...], ...] = ()  # host ids, wave by wave (0: the canaries)
    wave: int = 0  # the wave now allowed to update
    wave_finished_at: float = 0.0  # when every host of `wave` was updated: the soak starts
    soak_s: float = 0.0
    hosts: dict[str, HostProgress] = {}
    reason: str = ""  # why it is halted or aborted
    updated_at: float = 0.0
    scans: tuple[str, ...] = ()  # the latest cycles the coordinator asked of its hosts


class RolloutEvent(Message, frozen=True, kw_only=True):
    """A step of a rollout, in the audit stream on `{prefix}.rollout.{id}`."""

    rollout_id: str
    step: Step
    image: str
    digest: str
    at: float
    wave: int = 0
    hosts: tuple[str, ...] = ()
    detail: str = ""


class RolloutCommand(Message, frozen=True, kw_only=True):
    action: CommandAction
    rollout_id: str = ""
    by: str = ""  # who asked (for the audit stream)


class RolloutCommandReply(Message, frozen=True, kw_only=True):
    ok: bool
    error: str = ""
    rollouts: tuple[Rollout, ...] = ()
