"""The order of an update on one host: who stops first, who starts first, who is left alone.

Pure. Dependencies come from links, the `com.centurylinklabs.watchtower.depends-on` label
(comma-separated names) and shared namespaces (`container:<name or id>` as network, IPC or
PID mode; watchtower reads only the network mode). A
container that depends on an updated one is restarted after it even when its own image is
current. Containers in a dependency cycle are reported and left alone, and so is anything
that would have to move with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from vigil_executor.ties import namespace_refs
from vigil_shared import labels


class Node(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    id: str
    depends_on: tuple[str, ...] = ()  # names (or ids) of the containers it needs
    running: bool = True


class UpdateOrder(msgspec.Struct, frozen=True, kw_only=True):
    stop: tuple[str, ...]  # dependents before what they depend on
    # `stop` in waves: none in a wave depends on another of it, so a wave's containers are
    # stopped at once (two that each take their stop timeout cost one timeout, not two).
    stop_waves: tuple[tuple[str, ...], ...] = ()
    start: tuple[str, ...]  # what is depended on first
    restart_only: tuple[str, ...]  # current image, restarted because a dependency moves
    cycles: tuple[tuple[str, ...], ...] = ()  # each cycle's members: left alone
    blocked: tuple[str, ...] = ()  # stale, but tied to a cycle: left alone


def node_from_inspect(data: Mapping[str, Any]) -> Node:
    """A Node from `docker inspect` data."""
    config = data.get("Config") or {}
    host = data.get("HostConfig") or {}
    deps: list[str] = []
    for link in host.get("Links") or ():
        # `/db:/web/db`: the container `db`, under the alias `db` in `/web`.
        deps.append(str(link).split(":", 1)[0].lstrip("/"))
    label = ((config.get("Labels") or {}).get(labels.DEPENDS_ON)) or ""
    deps.extend(part.strip().lstrip("/") for part in label.split(",") if part.strip())
    # `--network|--ipc|--pid container:X`: X must be up before it (the engine holds X by id).
    deps.extend(namespace_refs(host))
    name = str(data.get("Name") or "").lstrip("/")
    return Node(
        name=name,
        id=str(data.get("Id") or ""),
        depends_on=tuple(dict.fromkeys(d for d in deps if d and d != name)),
        running=bool((data.get("State") or {}).get("Running")),
    )


def _resolve(nodes: Iterable[Node]) -> dict[str, set[str]]:
    """Dependencies by name, with ids (full or short, as network_mode may hold) resolved and
    containers that do not exist on this host dropped."""
    nodes = list(nodes)
    by_name = {n.name: n for n in nodes}

    def name_of(ref: str) -> str | None:
        if ref in by_name:
            return ref
        return next((n.name for n in nodes if len(ref) >= 12 and n.id.startswith(ref)), None)

    return {
        n.name: {d for d in (name_of(ref) for ref in n.depends_on) if d and d != n.name}
        for n in nodes
    }


def _cycles(graph: Mapping[str, set[str]]) -> list[tuple[str, ...]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[tuple[str, ...]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    found.append(tuple(sorted(members)))
    return found


def plan_order(
    nodes: Iterable[Node], stale: Iterable[str], allowed: Iterable[str] | None = None
) -> UpdateOrder:
    """What moves, and in which order, when the containers named in `stale` are updated.

    `allowed`: the containers the cycle may touch (those selected); dependents outside it are
    left alone, as watchtower leaves containers it does not watch."""
    allowed_set = set(allowed) if allowed is not None else None
    nodes = list(nodes)
    running = {n.name for n in nodes if n.running}
    graph = _resolve(nodes)
    dependents: dict[str, set[str]] = {name: set() for name in graph}
    for name, deps in graph.items():
        for dep in deps:
            dependents[dep].add(name)
    cycles = _cycles(graph)
    in_cycle = {m for cycle in cycles for m in cycle}

    stale_set = {s for s in stale if s in graph}
    # Everything that moves with the stale containers: their running dependents, transitively.
    moving: set[str] = set()
    frontier = list(stale_set)
    while frontier:
        name = frontier.pop()
        if name in moving:
            continue
        moving.add(name)
        frontier.extend(
            d
            for d in dependents[name]
            if d in running and d not in moving and (allowed_set is None or d in allowed_set)
        )
    # A cycle cannot be ordered: its members stay as they are, and so does whatever depends
    # on them (it would have to be restarted after them).
    tied: set[str] = set()
    frontier = [m for m in in_cycle if m in moving]
    while frontier:
        name = frontier.pop()
        if name in tied:
            continue
        tied.add(name)
        frontier.extend(d for d in dependents[name] if d in moving)
    movable = moving - tied

    start: list[str] = []
    ranks: list[tuple[str, ...]] = []
    remaining = set(movable)
    while remaining:  # Kahn's algorithm; names sorted within a rank, for a stable order
        ready = sorted(n for n in remaining if not (graph[n] & remaining))
        start.extend(ready)
        ranks.append(tuple(ready))
        remaining -= set(ready)
    return UpdateOrder(
        stop=tuple(reversed(start)),
        # A rank's dependents are all in later ranks: the last rank stops first.
        stop_waves=tuple(tuple(reversed(rank)) for rank in reversed(ranks)),
        start=tuple(start),
        restart_only=tuple(n for n in start if n not in stale_set),
        cycles=tuple(sorted(c for c in cycles if set(c) & moving)),
        blocked=tuple(sorted(tied & stale_set)),
    )
