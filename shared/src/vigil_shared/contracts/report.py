"""`{prefix}.report.{host}`: how a cycle on a host ended (JetStream)."""

from __future__ import annotations

from typing import Literal

import msgspec

from vigil_shared.contracts.base import Message

# rate_limited: the registry refused the check with 429; not a failure, the next cycle retries.
# held: a newer image is there but is not applied now on purpose: a policy keeps the container
# on its own for now (the image is younger than the minimum age, or the maintenance window is
# closed; until `held_until`), or a rollout makes it wait (a later wave, an approval, a halted
# rollout). `error` says which. Not a failure, and not up to date: a later cycle updates it.
# unverified: a newer build is there but it does not carry the signature the verification
# policy asks for (docs/trust.md); `error` names the reason. The container keeps its build:
# never pulled, never "up to date", not a failure of the container.
ResultStatus = Literal[
    "updated",
    "fresh",
    "skipped",
    "failed",
    "check_failed",
    "rolled_back",
    "rate_limited",
    "held",
    "unverified",
]
FAILED_STATUSES: frozenset[str] = frozenset({"failed", "check_failed", "rolled_back"})


class ContainerResult(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    container_id: str
    image: str
    status: ResultStatus
    old_image_id: str = ""
    new_image_id: str = ""
    new_container_id: str = ""
    remote_digest: str = ""
    error: str = ""
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()  # e.g. settings this engine could not carry over
    # A semver policy moved the container to another tag: the one it ran before (`image` is
    # the new one).
    previous_image: str = ""
    held_until: float = 0.0  # held: when the hold ends (Unix seconds)


class Report(Message, frozen=True, kw_only=True):
    scan_id: str
    plan_id: str
    host: str
    started_at: float
    finished_at: float
    results: tuple[ContainerResult, ...] = ()
    # Failures of the cycle on this host that belong to no container: the engine could not
    # be reached, a container named on the command line does not exist, ...
    problems: tuple[str, ...] = ()

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.results if r.status in statuses)

    @property
    def failed(self) -> bool:
        return bool(self.problems) or self.count(*FAILED_STATUSES) > 0
