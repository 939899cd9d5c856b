"""What an executor that starts again does with the updates it left unfinished.

An executor can die at any step of a replacement (SIGKILL, power loss, OOM). At start it
looks at two sources, because either may be short of the truth: the journal (written before
each step; JetStream may lose its last writes in a power loss) and the engine itself (the
old container renamed `NAME-vigil-old-SHORTID`, the new one labelled with the id of the
container it replaces). The decision is a pure function; `recover` is its adapter.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import msgspec

from vigil_executor.replace import has_healthcheck, restore_tied
from vigil_executor.ties import Moved, namespace_refs, replaced, retarget
from vigil_shared.codec import BadMessage, decode
from vigil_shared.contracts.journal import (
    HOST_LABEL,
    REPLACES_LABEL,
    JournalEntry,
    aside_name,
    host_tag,
    parse_aside,
)
from vigil_shared.engine_port import Engine, EngineApi
from vigil_shared.logs import get_logger

log = get_logger("vigil.executor")

FINISHED = "the update had finished"

Action = Literal["finish", "roll_back", "start_old", "start_new", "leave", "nothing"]


class Recovery(msgspec.Struct, frozen=True, kw_only=True):
    action: Action
    name: str
    old_id: str = ""  # the old container (aside or under its name), if it exists
    new_id: str = ""  # the container Vigil created, if it exists
    start: bool = True  # whether the restored old container is started
    reason: str = ""


def _state(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (data or {}).get("State") or {}


def _healthy_or_no_check(data: Mapping[str, Any]) -> bool:
    if not has_healthcheck(dict(data)):
        return True
    return (_state(data).get("Health") or {}).get("Status") == "healthy"


def decide(
    name: str,
    entry: JournalEntry | None,
    aside: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
    old_under_name: bool,
) -> Recovery:
    """Pure: finish or roll back one interrupted replacement of the container `name`.

    `aside`: the renamed old container's inspect data; `current`: the container now named
    `name`; `old_under_name`: whether `current` is the old container itself (never renamed).
    """
    was_running = entry.was_running if entry is not None else True
    if entry is not None and entry.step == "done":
        # Finished, only not reported: at most the old container is left to remove.
        if aside is not None and current is not None and not old_under_name:
            labels = (current.get("Config") or {}).get("Labels") or {}
            if labels.get(REPLACES_LABEL) == str(aside.get("Id")):
                return Recovery(
                    action="finish", name=name, old_id=str(aside.get("Id")),
                    new_id=str(current.get("Id")), reason="the old container is removed",
                )  # fmt: skip
        return Recovery(action="nothing", name=name, reason=FINISHED)
    ours = (
        current is not None
        and not old_under_name
        and ((current.get("Config") or {}).get("Labels") or {}).get(REPLACES_LABEL)
    )
    if aside is not None:
        aside_id = str(aside.get("Id"))
        if current is None:
            return Recovery(
                action="roll_back", name=name, old_id=aside_id, start=was_running,
                reason="the new container was never created",
            )  # fmt: skip
        if ours != aside_id:
            return Recovery(
                action="leave", name=name, old_id=aside_id,
                reason=f"a container named {name} that Vigil did not create exists; the old "
                f"container is kept as {aside.get('Name', '').lstrip('/')}",
            )  # fmt: skip
        new_id = str(current.get("Id"))
        if _state(current).get("Running") and _healthy_or_no_check(current):
            return Recovery(
                action="finish", name=name, old_id=aside_id, new_id=new_id,
                reason="the new container runs: the old one is removed",
            )  # fmt: skip
        if not was_running and not _state(current).get("Running"):
            return Recovery(
                action="finish", name=name, old_id=aside_id, new_id=new_id,
                reason="the container was stopped before its update: it stays stopped",
            )  # fmt: skip
        return Recovery(
            action="roll_back", name=name, old_id=aside_id, new_id=new_id, start=was_running,
            reason="the new container was not running and healthy: the old one is restored",
        )  # fmt: skip
    # No renamed old container.
    if current is not None and old_under_name:
        if was_running and not _state(current).get("Running"):
            return Recovery(
                action="start_old", name=name, old_id=str(current.get("Id")),
                reason="stopped for an update that never went further: started again",
            )  # fmt: skip
        return Recovery(action="nothing", name=name, reason="the container is as it was")
    if current is not None and ours:
        if was_running and not _state(current).get("Running"):
            # The old one is gone (removed by --rm, or the update was finishing): the new
            # container is the only copy left.
            return Recovery(
                action="start_new", name=name, new_id=str(current.get("Id")),
                reason="the old container is gone: the new one is started",
            )  # fmt: skip
        return Recovery(action="nothing", name=name, reason=FINISHED)
    return Recovery(action="nothing", name=name, reason="nothing left to recover")


def _base_name(full_name: str) -> str:
    aside = parse_aside(full_name)
    return aside.name if aside else full_name


def _tied_to(data: Mapping[str, Any], by_name: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The names (aside marker dropped) of the containers whose namespace `data` joins or
    that it links to."""
    host = data.get("HostConfig") or {}
    refs = namespace_refs(host)
    refs += [str(link).partition(":")[0].lstrip("/") for link in host.get("Links") or ()]
    found: set[str] = set()
    for ref in refs:
        for full_name, other in by_name.items():
            if full_name == ref or (len(ref) >= 12 and str(other.get("Id")).startswith(ref)):
                found.add(_base_name(full_name))
    return found


def recovery_order(names: Iterable[str], by_name: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Pure: the cases to recover, each after the containers it is tied to (a shared
    namespace, a link): a container joining the network of one still stopped, renamed aside
    or not yet replaced cannot start, and can only be retied once that one is settled. By
    name otherwise; a cycle is left in name order."""
    pending = sorted(set(names))
    needs: dict[str, set[str]] = {}
    for name in pending:
        tied: set[str] = set()
        for full_name, data in by_name.items():
            if _base_name(full_name) == name:
                tied |= _tied_to(data, by_name)
        needs[name] = (tied & set(pending)) - {name}
    order: list[str] = []
    while pending:
        ready = [n for n in pending if not needs[n] - set(order)] or pending[:1]
        order.append(ready[0])
        pending.remove(ready[0])
    return order


def parse_entries(raw: Iterable[tuple[str, bytes]]) -> dict[str, JournalEntry]:
    found: dict[str, JournalEntry] = {}
    for key, value in raw:
        try:
            found[key] = decode(value, JournalEntry)
        except BadMessage as exc:
            log.warning("unreadable journal entry skipped", key=key, error=str(exc))
    return found


def owned_elsewhere(
    entry: JournalEntry | None,
    aside: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
    others: Mapping[str, str],
) -> str:
    """Pure: the host whose executor journals this replacement, when it is not ours (two
    executors on one engine, e.g. watchtower scopes), else "". `others` maps the short id of
    each old container in another host's journal to that host."""
    if entry is not None:
        return ""
    shorts = []
    if aside is not None:
        parsed = parse_aside(str(aside.get("Name") or ""))
        if parsed:
            shorts.append(parsed.short)
    replaces = ((current or {}).get("Config") or {}).get("Labels") or {}
    if replaces.get(REPLACES_LABEL):
        shorts.append(str(replaces[REPLACES_LABEL])[:12])
    return next((others[s] for s in shorts if s in others), "")


def marked_elsewhere(
    host: str,
    entry: JournalEntry | None,
    aside: Mapping[str, Any] | None,
    current: Mapping[str, Any] | None,
) -> str:
    """Pure: the host id (or its tag, from an aside name) of another Vigil whose marks an
    interrupted replacement carries, when this host's journal does not name it, else "".
    Another install sharing the engine, with its own NATS, or a run that died long ago: not
    ours to finish or roll back. A mark without a host (written before marks carried one) is
    taken as ours, as it always was; so is every mark when `host` is "" (no host known)."""
    if entry is not None or not host:
        return ""
    if aside is not None:
        parsed = parse_aside(str(aside.get("Name") or ""))
        if parsed and parsed.host_tag and parsed.host_tag != host_tag(host):
            return parsed.host_tag
    labels = ((current or {}).get("Config") or {}).get("Labels") or {}
    replaces = str(labels.get(REPLACES_LABEL) or "")
    marked = str(labels.get(HOST_LABEL) or "")
    pairs = aside is None or replaces == str(aside.get("Id"))
    if replaces and pairs and marked and marked != host:
        return marked
    return ""


def has_cases(entries: Mapping[str, JournalEntry], names: Iterable[str]) -> bool:
    """Pure: whether recovery has anything to look at: a journalled update, or a container
    renamed aside (engine names, "/"-prefixed). Without either, no container is inspected:
    every start of an executor would otherwise inspect each container of its engine."""
    return bool(entries) or any(parse_aside(str(name)) for name in names)


# Beyond the stop timeout, how long a stop the engine began may still take (the kill, the
# exit, the engine's own bookkeeping) before recovery stops waiting for it.
STOP_MARGIN_S = 15.0


def stop_deadline(entry: JournalEntry, stop_timeout: float) -> float:
    """Pure: until when (Unix seconds) a stop journalled by `entry` may still be under way."""
    return entry.at + stop_timeout + STOP_MARGIN_S


def engine_stopping(state: Mapping[str, Any]) -> bool:
    """Pure: whether the engine's inspect `State` says it is carrying out a stop. Podman's
    does (`stopping`, with `Running` false, from just before its stop signal until the
    container exits; it logs no `kill` event for a stop, and refuses to start the container
    until then: "must be in Created or Stopped state"); Docker has no such state."""
    return state.get("Status") == "stopping"


def stop_may_go_on(state: Mapping[str, Any]) -> bool:
    """Pure: whether a stop the engine began may still be under way: Docker's container
    runs until it exits, Podman's is `stopping`."""
    return bool(state.get("Running")) or engine_stopping(state)


def _signalled_since(api: EngineApi, container_id: str, since: float) -> bool:
    """Whether the engine has signalled the container (a `kill` event: docker stop's signal,
    or the stop-signal label's) since `since`."""
    events = api.events(
        since=since, until=time.time(), filters={"container": container_id, "event": "kill"},
        decode=True,
    )  # fmt: skip
    return any(True for _ in events)


def await_stops(
    api: EngineApi, entries: Mapping[str, JournalEntry], stop_timeout: float
) -> list[str]:
    """Wait for every stop that a dead executor asked of the engine and that the engine is
    still carrying out. The engine goes on with a stop when its client is gone, and kills the
    container at the stop timeout: recovery must decide on what the engine will show once
    that stop is over, or it would find the container running, leave it, and see it stopped
    for good a moment later. Returns one line per stop waited for."""
    waited: list[str] = []
    for entry in entries.values():
        if entry.step != "stopping" or entry.at <= 0:  # no time: no event to look for
            continue
        try:
            state = _state(api.inspect_container(entry.old_id))
            # Podman's state says so; Docker's container runs, and its kill event says so.
            if not engine_stopping(state) and (
                not state.get("Running") or not _signalled_since(api, entry.old_id, entry.at - 1)
            ):
                continue
        except Exception:  # gone, or the engine cannot tell: nothing to wait for
            continue
        deadline = stop_deadline(entry, stop_timeout)
        log.info("waiting for a stop the engine is carrying out", container=entry.name)
        while time.time() < deadline:
            try:
                if not stop_may_go_on(_state(api.inspect_container(entry.old_id))):
                    break
            except Exception:  # removed (--rm): the stop is over
                break
            time.sleep(0.2)
        waited.append(entry.name)
    return waited


def recover(
    client: Engine,
    entries: Mapping[str, JournalEntry],
    remove_volumes: bool,
    others: Mapping[str, str] | None = None,
    stop_timeout: float = 10.0,
    finished: dict[str, str] | None = None,
    host: str = "",
) -> list[str]:
    """Finish or roll back every interrupted replacement on this engine (blocking: run in a
    thread), except those another host's executor journals (`others`, see owned_elsewhere):
    that one is alive, or will recover them itself. A stop the engine still carries out is
    waited for first (`stop_timeout`: the executor's). Returns what was done, one line each;
    `finished` gets the journal key and new container id of each update found finished (its
    report is still to be published by the plan delivered again). `host`: this executor's
    host id; a replacement its journal does not name is recovered only when its marks carry
    this host's id, or no host at all (see marked_elsewhere)."""
    api = client.api
    await_stops(api, entries, stop_timeout)
    listed = api.containers(all=True)
    if not has_cases(entries, (n for c in listed for n in c.get("Names") or ())):
        return []
    by_name: dict[str, dict[str, Any]] = {}
    for c in listed:
        try:
            data: dict[str, Any] = api.inspect_container(c["Id"])
        except Exception:
            continue
        by_name[str(data.get("Name") or "").lstrip("/")] = data
    moved = replaced(by_name.values())
    cases: dict[str, tuple[JournalEntry | None, dict[str, Any] | None]] = {}
    for journalled in entries.values():
        cases[journalled.name] = (journalled, None)
    foreign: dict[str, str] = {}  # an aside of another host's, by its own name
    for full_name, data in by_name.items():
        parsed = parse_aside(full_name)
        if not parsed:
            continue
        entry = cases.get(parsed.name, (None, None))[0]
        # An entry of that name for another old container does not make this aside ours.
        names_it = entry if entry is not None and entry.old_id.startswith(parsed.short) else None
        owner = marked_elsewhere(host, names_it, data, None)
        if owner:
            foreign[full_name] = owner
            continue
        cases[parsed.name] = (entry, data)
    done: list[str] = [
        f"{full_name}: left alone: marked by host {owner}" for full_name, owner in foreign.items()
    ]
    key_of = {e.name: k for k, e in entries.items()}
    for name in recovery_order(cases, by_name):
        entry, aside = cases[name]
        current = by_name.get(name)
        old_under_name = (
            current is not None and entry is not None and str(current.get("Id")) == entry.old_id
        )
        owner = owned_elsewhere(entry, aside, current, others or {})
        if owner:
            done.append(f"{name}: left alone: the executor of host {owner} is replacing it")
            continue
        marked = marked_elsewhere(host, entry, aside, current)
        if marked:
            done.append(f"{name}: left alone: marked by host {marked}")
            continue
        decision = decide(name, entry, aside, current, old_under_name)
        ended = decision.action == "finish" or decision.reason == FINISHED
        if ended and entry is not None and finished is not None and current is not None:
            finished[key_of[name]] = str(current.get("Id"))
        if decision.action == "nothing":
            continue
        try:
            _carry_out(api, decision, remove_volumes, moved, host)
            if decision.action == "finish" and decision.new_id:
                # The old one is gone now: what is tied to it (recovered next) follows the
                # new one.
                moved.append(Moved(name=name, old_id=decision.old_id, new_id=decision.new_id))
            done.append(f"{name}: {decision.action.replace('_', ' ')}: {decision.reason}")
        except Exception as exc:
            reason = getattr(exc, "explanation", None) or exc
            done.append(f"{name}: {decision.action.replace('_', ' ')} failed: {reason}")
    return done


def _carry_out(
    api: EngineApi, decision: Recovery, remove_volumes: bool, moved: list[Moved], host: str
) -> None:
    if decision.action == "finish":
        api.remove_container(decision.old_id, v=remove_volumes, force=True)
    elif decision.action == "roll_back":
        if decision.new_id:
            api.remove_container(decision.new_id, force=True)
        if not _restored_tied(api, decision, moved, host, aside=True):
            api.rename(decision.old_id, decision.name)
            if decision.start:
                api.start(decision.old_id)
    elif decision.action == "start_old":
        if not _restored_tied(api, decision, moved, host, aside=False):
            api.start(decision.old_id)
    elif decision.action == "start_new":
        api.start(decision.new_id)


def _restored_tied(
    api: EngineApi, decision: Recovery, moved: list[Moved], host: str, *, aside: bool
) -> bool:
    """An old container that names a container replaced meanwhile (its shared namespace's
    or its link's, now gone) cannot start again as it is: it is created again from its own
    settings, tied to the replacement, on its old image (replace.restore_tied). Whether it
    was; raises when that failed."""
    old = api.inspect_container(decision.old_id)
    source, ties = retarget(old, moved)
    if not ties:
        return False
    if not aside:  # its name must be free for the copy; the old one stays until it is there
        api.rename(decision.old_id, aside_name(decision.name, decision.old_id, host))
    image = str((old.get("Config") or {}).get("Image") or old.get("Image"))
    outcome = restore_tied(
        api,
        source,
        decision.name,
        "",
        image,
        ties,
        decision.start,
        "an interrupted update",
        lambda phase, message: None,
        host,
    )
    if outcome.status == "failed":
        raise RuntimeError(outcome.error)
    return True
