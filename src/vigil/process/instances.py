"""One Vigil per scope on an engine: at start-up the newest stops the older ones.

watchtower's CheckForMultipleWatchtowerInstances: the containers labelled
`com.centurylinklabs.watchtower=true` (exactly "true") in this instance's scope are sorted by
creation time; every one but the newest is stopped (its stop signal, then up to 10 minutes)
and removed, and with --cleanup its image is removed too (a failure there is a warning: another
scope may use it). No --scope means the containers without a scope label (or with an empty
one); --scope S means those whose scope label is S ("none" also takes those without one).
Skipped with --run-once, as watchtower does.

Vigil leaves alone a container that its own self-update renamed aside (`NAME-vigil-old-ID`):
the executor's journalled hand-over removes it once the new instance is healthy.
"""

from __future__ import annotations

import re

import msgspec

from vigil_executor.stopping import stop_container, stop_signal
from vigil_shared import labels
from vigil_shared.contracts.journal import ASIDE_MARKER
from vigil_shared.engine_port import Engine
from vigil_shared.logs import get_logger

log = get_logger("vigil.process.instances")

STOP_TIMEOUT_S = 600  # watchtower's 10 minutes for a previous instance to stop
_CREATED = re.compile(r"^(?P<base>[^.Z+]+)(?:\.(?P<frac>\d+))?(?P<zone>.*)$")


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    created: str  # Docker's RFC 3339 time, nanoseconds when the engine gives them
    image_id: str = ""
    labels: dict[str, str] = {}


class InstanceError(RuntimeError):
    """Older instances that could not be stopped (the message names them)."""


def in_scope(container_labels: dict[str, str], scope: str) -> bool:
    """Pure: is this Vigil (or watchtower) container in `scope`?"""
    theirs = container_labels.get(labels.SCOPE) or ""
    if not scope:
        return theirs == ""
    return (theirs or "none") == scope


def _created_key(instance: Instance) -> tuple[str, int, str]:
    # Sort by the time itself: RFC 3339 with trimmed nanoseconds does not sort as text.
    found = _CREATED.match(instance.created)
    if not found:
        return (instance.created, 0, instance.id)
    nanos = int((found.group("frac") or "0").ljust(9, "0")[:9])
    return (found.group("base"), nanos, instance.id)


def older_instances(instances: tuple[Instance, ...], scope: str) -> tuple[Instance, ...]:
    """Pure: the instances of `scope` to stop, oldest first: all but the newest."""
    mine = sorted(
        (
            i
            for i in instances
            if labels.is_self(i.labels) and in_scope(i.labels, scope) and ASIDE_MARKER not in i.name
        ),
        key=_created_key,
    )
    return tuple(mine[:-1])


def _wanted_state(state: str, include_stopped: bool, include_restarting: bool) -> bool:
    # The containers watchtower's ListContainers sees.
    if state == "running":
        return True
    if state == "restarting":
        return include_restarting
    return include_stopped and state in ("created", "exited")


def list_instances(
    client: Engine, *, include_stopped: bool, include_restarting: bool
) -> tuple[Instance, ...]:
    """The containers labelled as Vigil itself on this engine (blocking: call in a thread)."""
    api = client.api
    found: list[Instance] = []
    for summary in api.containers(all=True, filters={"label": f"{labels.SELF}=true"}):
        if not _wanted_state(str(summary.get("State", "")), include_stopped, include_restarting):
            continue
        try:
            data = api.inspect_container(summary["Id"])
        except Exception as exc:  # gone between listing and inspect
            if getattr(exc, "status_code", None) == 404:
                continue
            raise
        found.append(
            Instance(
                id=data["Id"],
                name=str(data.get("Name", "")).lstrip("/"),
                created=str(data.get("Created", "")),
                image_id=str(data.get("Image", "")),
                labels=dict((data.get("Config") or {}).get("Labels") or {}),
            )
        )
    return tuple(found)


def stop_older_instances(
    client: Engine,
    scope: str,
    *,
    cleanup: bool,
    remove_volumes: bool = False,
    include_stopped: bool = False,
    include_restarting: bool = False,
    timeout: int = STOP_TIMEOUT_S,
) -> tuple[str, ...]:
    """Stop and remove the older instances of `scope` (blocking: call in a thread); returns
    their names. Raises InstanceError naming those that could not be stopped."""
    api = client.api
    instances = list_instances(
        client, include_stopped=include_stopped, include_restarting=include_restarting
    )
    older = older_instances(instances, scope)
    if older:
        log.info(
            "found older Vigil instances in this scope: stopping them",
            scope=scope or "(none)",
            count=len(older),
        )
    stopped: list[str] = []
    failed: list[str] = []
    for instance in older:
        try:
            stop_container(api, instance.id, timeout=timeout, signal=stop_signal(instance.labels))
            api.remove_container(instance.id, v=remove_volumes, force=True)
        except Exception as exc:
            if getattr(exc, "status_code", None) == 404:
                continue  # it went away by itself
            log.error(
                "could not stop an older Vigil instance", container=instance.name, error=str(exc)
            )
            failed.append(f"{instance.name}: {exc}")
            continue
        stopped.append(instance.name)
        log.info(
            "stopped an older Vigil instance", container=instance.name, scope=scope or "(none)"
        )
        if cleanup and instance.image_id:
            try:
                api.remove_image(instance.image_id)
            except Exception as exc:
                log.warning(
                    "could not remove the older instance's image (another scope may use it)",
                    image=instance.image_id,
                    error=str(exc),
                )
    if failed:
        raise InstanceError(
            f"{len(failed)} older Vigil instance(s) in this scope could not be stopped: "
            + "; ".join(failed)
        )
    return tuple(stopped)
