"""The subjects of DESIGN.md, under a configurable prefix (default `vigil`)."""

from __future__ import annotations

import re

import msgspec

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def check_token(kind: str, value: str) -> str:
    """A subject token may not hold dots, wildcards or spaces; say which value is wrong."""
    if not _TOKEN.match(value):
        raise ValueError(
            f"{kind} {value!r} cannot be used in a NATS subject: "
            "use letters, digits, '-' and '_' only"
        )
    return value


class Subjects(msgspec.Struct, frozen=True):
    prefix: str = "vigil"

    def __post_init__(self) -> None:
        for part in self.prefix.split("."):
            check_token("subject prefix", part)

    # core publish: CLI, HTTP API -> scanners
    @property
    def cmd_scan(self) -> str:
        return f"{self.prefix}.cmd.scan"

    # request/reply, queue group: scanner -> gateway
    @property
    def registry_check(self) -> str:
        return f"{self.prefix}.registry.check"

    # request/reply, queue group: executor -> gateway
    @property
    def pull_auth(self) -> str:
        return f"{self.prefix}.registry.pull-auth"

    # request/reply, queue group: scanner -> rollout-coordinator (may a host update now?)
    @property
    def update_gate(self) -> str:
        return f"{self.prefix}.gate.update"

    # request/reply, queue group: CLI, HTTP API -> rollout-coordinator
    @property
    def rollout_command(self) -> str:
        return f"{self.prefix}.cmd.rollout"

    # JetStream (the audit stream): rollout-coordinator -> anyone
    def rollout(self, rollout_id: str) -> str:
        return f"{self.prefix}.rollout.{check_token('rollout id', rollout_id)}"

    @property
    def all_rollouts(self) -> str:
        return f"{self.prefix}.rollout.*"

    # JetStream: scanner -> anyone (audit)
    def inventory(self, host: str) -> str:
        return f"{self.prefix}.inventory.{check_token('host id', host)}"

    # JetStream, durable consumer per host: scanner -> executor
    def plan(self, host: str) -> str:
        return f"{self.prefix}.plan.{check_token('host id', host)}"

    # JetStream: executor -> anyone
    def progress(self, host: str) -> str:
        return f"{self.prefix}.progress.{check_token('host id', host)}"

    # JetStream: executor, scanner -> notifier, anyone
    def report(self, host: str) -> str:
        return f"{self.prefix}.report.{check_token('host id', host)}"

    @property
    def all_reports(self) -> str:
        return f"{self.prefix}.report.*"

    # JetStream work queue, one durable consumer per host: scanner replicas of a group
    def work_scan(self, group: str, host: str) -> str:
        group = check_token("scanner group", group)
        return f"{self.prefix}.work.scan.{group}.{check_token('host id', host)}"

    @property
    def work_stream_name(self) -> str:
        """The scanner groups' work queue: an item is gone once a replica acknowledged it."""
        return f"{self.stream_name}_WORK"

    @property
    def work_stream_subjects(self) -> list[str]:
        return [f"{self.prefix}.work.scan.*.*"]

    @property
    def stream_name(self) -> str:
        """One stream holds inventory, plans, progress, reports and rollout steps: it is the
        audit log."""
        return self.prefix.replace(".", "_").upper()

    @property
    def stream_subjects(self) -> list[str]:
        return [
            f"{self.prefix}.{kind}.*"
            for kind in ("inventory", "plan", "progress", "report", "rollout")
        ]
