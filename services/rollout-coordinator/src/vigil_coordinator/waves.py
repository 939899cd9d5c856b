"""Which host is in which wave of a rollout. Pure.

Hosts are ordered by a hash of rollout id and host id: stable for one rollout (a restart of
the coordinator gives the same waves), and a different order for the next rollout, so the same
host is not always the canary.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

from vigil_coordinator.spec import RolloutPolicy


def host_order(rollout_id: str, hosts: Iterable[str]) -> list[str]:
    def key(host: str) -> tuple[str, str]:
        return hashlib.sha256(f"{rollout_id}/{host}".encode()).hexdigest(), host

    return sorted(set(hosts), key=key)


def assign_waves(
    rollout_id: str, hosts: Iterable[str], policy: RolloutPolicy
) -> tuple[tuple[str, ...], ...]:
    """The waves, first to last: the canaries (the --canary-host hosts of the rollout, else
    the first `canary` hosts in order), then waves of `wave_percent` of the other hosts
    (rounded up, at least one host each). A wave is never empty."""
    order = host_order(rollout_id, hosts)
    if policy.canary_hosts:
        canaries = [h for h in order if h in policy.canary_hosts]
    else:
        canaries = order[: policy.canary]
    rest = [h for h in order if h not in canaries]
    waves: list[tuple[str, ...]] = [tuple(canaries)] if canaries else []
    if rest:
        size = max(1, math.ceil(len(rest) * policy.wave_percent / 100))
        waves.extend(tuple(rest[i : i + size]) for i in range(0, len(rest), size))
    return tuple(waves)


def late_wave(waves: tuple[tuple[str, ...], ...], host: str, policy: RolloutPolicy) -> int:
    """The wave of a host that joins a rollout after it was made (its inventory came later
    than the rollout): a named canary joins the canaries; any other host the last wave, or
    a wave of its own after the canaries when there is no other."""
    if policy.canary_hosts and host in policy.canary_hosts:
        return 0
    if not waves:
        return 0
    only_canaries = len(waves) == 1 and (bool(policy.canary_hosts) or policy.canary > 0)
    return 1 if only_canaries else len(waves) - 1
