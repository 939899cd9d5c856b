"""What ties a container to another one that an update replaces, and how to tie it to the
replacement instead.

Pure. A container run with `--network|--ipc|--pid container:X` holds X by id (the engine
stores the id, however X was named), and a legacy link (`--link X:alias`) holds X by name,
which the engine rewrites when X is renamed (to `X-vigil-old-ID` while X is replaced). Neither
can change on an existing container, and once the old X is gone the tied container cannot
start: it must be created again, tied to the new X.

Only what names the gone container is retied: its id, or the name the engine gave the link
when it was renamed aside. A namespace or a link naming X by its name finds the new X when
the container starts, and needs nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from vigil_shared.contracts.journal import REPLACES_LABEL, parse_aside

# HostConfig fields that may hold `container:<id or name>`.
NAMESPACE_MODES = {"NetworkMode": "network", "IpcMode": "IPC", "PidMode": "PID"}


class Moved(msgspec.Struct, frozen=True, kw_only=True):
    """A container that this cycle replaced by a new one under the same name."""

    name: str
    old_id: str
    new_id: str


def namespace_refs(host_config: Mapping[str, Any]) -> list[str]:
    """The containers (id or name) whose namespaces this one joins."""
    refs = []
    for key in NAMESPACE_MODES:
        mode = str(host_config.get(key) or "")
        if mode.startswith("container:"):
            refs.append(mode.removeprefix("container:").lstrip("/"))
    return refs


def _matches(ref: str, moved: Moved) -> bool:
    return len(ref) >= 12 and moved.old_id.startswith(ref)


def _aside_of(link_target: str, moved: Moved) -> bool:
    """Whether a link's target is `moved`'s old container under its aside name (with a host
    tag or, as marks were written before, without)."""
    aside = parse_aside(link_target)
    return aside is not None and aside.name == moved.name and moved.old_id.startswith(aside.short)


def replaced(containers: Iterable[Mapping[str, Any]]) -> list[Moved]:
    """The containers Vigil created in place of one that is gone (their label says which),
    as the engine shows them: what still names the old one must follow them, even when the
    replacement was made by an executor that died before it got to the dependents."""
    containers = list(containers)
    ids = {str(c.get("Id") or "") for c in containers}
    found = []
    for c in containers:
        old_id = str(((c.get("Config") or {}).get("Labels") or {}).get(REPLACES_LABEL) or "")
        if old_id and old_id not in ids:
            name = str(c.get("Name") or "").lstrip("/")
            found.append(Moved(name=name, old_id=old_id, new_id=str(c.get("Id"))))
    return found


def retarget(
    container: Mapping[str, Any], moved: Iterable[Moved]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """`container`'s inspect data tied to the new containers of `moved` instead of the old
    ones, and what was retied (one phrase each, for the report); no phrases when nothing
    ties it to a moved container."""
    moved = list(moved)
    data = copy.deepcopy(dict(container))
    host = data.setdefault("HostConfig", {}) or {}
    data["HostConfig"] = host
    ties: list[str] = []
    for key, what in NAMESPACE_MODES.items():
        mode = str(host.get(key) or "")
        if not mode.startswith("container:"):
            continue
        ref = mode.removeprefix("container:").lstrip("/")
        found = next((m for m in moved if _matches(ref, m)), None)
        if found is not None:
            host[key] = f"container:{found.new_id}"
            ties.append(f"the new {found.name}'s {what} namespace")
    links = []
    for link in host.get("Links") or ():
        # `/X:/dependent/alias`, X possibly renamed aside by the engine meanwhile.
        target, sep, rest = str(link).partition(":")
        found = next((m for m in moved if _aside_of(target, m)), None)
        if found is not None:
            link = f"/{found.name}{sep}{rest}"
            ties.append(f"the new {found.name} by its link")
        links.append(link)
    if links:
        host["Links"] = links
    return data, tuple(dict.fromkeys(ties))
