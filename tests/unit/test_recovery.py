"""What an executor that starts again does with an interrupted replacement (table)."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_executor.recovery import (
    decide,
    has_cases,
    marked_elsewhere,
    owned_elsewhere,
    recovery_order,
)
from vigil_shared.contracts.journal import (
    ASIDE_MARKER,
    HOST_LABEL,
    REPLACES_LABEL,
    Aside,
    JournalEntry,
    aside_name,
    host_tag,
    parse_aside,
)

OLD, NEW = "o" * 64, "n" * 64


def container(
    cid: str, *, running: bool, replaces: str = "", health: str = "", check: bool = False
) -> dict[str, Any]:
    labels = {REPLACES_LABEL: replaces} if replaces else {}
    config: dict[str, Any] = {"Labels": labels}
    if check:
        config["Healthcheck"] = {"Test": ["CMD", "true"]}
    state: dict[str, Any] = {"Running": running}
    if health:
        state["Health"] = {"Status": health}
    return {"Id": cid, "Name": "/x", "Config": config, "State": state}


def entry(step: str, was_running: bool = True) -> JournalEntry:
    return JournalEntry(
        host="h", plan_id="p", name="web", old_id=OLD, image="app", step=step,  # type: ignore[arg-type]
        was_running=was_running,
    )  # fmt: skip


ASIDE = container(OLD, running=False)


@pytest.mark.parametrize(
    ("journal", "aside", "current", "old_under_name", "action", "start"),
    [
        # The old container renamed aside, no new one yet: it gets its name back, started.
        (entry("creating"), ASIDE, None, False, "roll_back", True),
        (None, ASIDE, None, False, "roll_back", True),  # the journal lost the entry
        (entry("creating", was_running=False), ASIDE, None, False, "roll_back", False),
        # A new one exists but does not run, or is not healthy yet: back to the old one.
        (entry("starting"), ASIDE, container(NEW, running=False, replaces=OLD), False,
         "roll_back", True),
        (entry("starting"), ASIDE,
         container(NEW, running=True, replaces=OLD, check=True, health="starting"), False,
         "roll_back", True),
        # The new one runs (and is healthy where it has a check): finish.
        (entry("removing-old"), ASIDE, container(NEW, running=True, replaces=OLD), False,
         "finish", True),
        (None, ASIDE, container(NEW, running=True, replaces=OLD, check=True, health="healthy"),
         False, "finish", True),
        # Someone else's container holds the name: nothing is touched.
        (entry("creating"), ASIDE, container(NEW, running=True), False, "leave", True),
        # Stopped for an update that never went further.
        (entry("stopping"), None, container(OLD, running=False), True, "start_old", True),
        (entry("stopping", was_running=False), None, container(OLD, running=False), True,
         "nothing", True),
        (entry("stopping"), None, container(OLD, running=True), True, "nothing", True),
        # The old one is gone (--rm) and the new one never started: it is the only copy.
        (entry("stopping"), None, container(NEW, running=False, replaces=OLD), False,
         "start_new", True),
        (entry("removing-old"), None, container(NEW, running=True, replaces=OLD), False,
         "nothing", True),
        # Finished, its report not out yet: only an old container left aside is removed;
        # a new one that stopped since is not started again (whoever stopped it meant it).
        (entry("done"), ASIDE, container(NEW, running=True, replaces=OLD), False, "finish",
         True),
        (entry("done"), None, container(NEW, running=False, replaces=OLD), False, "nothing",
         True),
    ],
)  # fmt: skip
def test_decide(
    journal: JournalEntry | None,
    aside: dict[str, Any] | None,
    current: dict[str, Any] | None,
    old_under_name: bool,
    action: str,
    start: bool,
) -> None:
    decision = decide("web", journal, aside, current, old_under_name)
    assert decision.action == action, decision.reason
    if action == "roll_back":
        assert decision.start is start
        assert decision.old_id == OLD
    if action in ("roll_back", "finish") and current is not None:
        assert decision.new_id == NEW


def aside(cid: str, name: str = "web") -> dict[str, Any]:
    return {**container(cid, running=False), "Name": f"/{name}-vigil-old-{cid[:12]}"}


# Aside names carry the old id in hex.
HEX_OLD, HEX_NEW = "ab" * 32, "cd" * 32
OTHERS = {HEX_OLD[:12]: "scope-b"}

OWNED_ELSEWHERE = [
    ("another host journals the aside", None, aside(HEX_OLD), None, OTHERS, "scope-b"),
    (
        "another host journals what the new container replaces",
        None,
        None,
        container(NEW, running=False, replaces=HEX_OLD),
        OTHERS,
        "scope-b",
    ),
    ("ours in the journal: ours", entry("creating"), aside(HEX_OLD), None, OTHERS, ""),
    ("nobody journals it: ours (a lost journal)", None, aside(HEX_OLD), None, {}, ""),
    ("another host journals another container", None, aside(HEX_NEW), None, OTHERS, ""),
]


@pytest.mark.parametrize(
    ("case", "journalled", "aside_data", "current", "others", "owner"),
    OWNED_ELSEWHERE,
    ids=[c[0] for c in OWNED_ELSEWHERE],
)
def test_owned_elsewhere(
    case: str,
    journalled: JournalEntry | None,
    aside_data: dict[str, Any] | None,
    current: dict[str, Any] | None,
    others: dict[str, str],
    owner: str,
) -> None:
    assert owned_elsewhere(journalled, aside_data, current, others) == owner


@pytest.mark.parametrize(
    ("journalled", "names", "expected"),
    [
        (False, [], False),
        (False, ["/web", "/db", "/web-old"], False),  # nothing to recover: nothing inspected
        (False, ["/web", f"/web{ASIDE_MARKER}0123456789ab"], True),  # renamed aside, no journal
        (False, [f"/app/web{ASIDE_MARKER}0123456789ab"], True),  # a link's name: looked at too
        (True, ["/web"], True),  # journalled, whatever the engine shows
        (True, [], True),
    ],
)
def test_recovery_inspects_only_when_something_may_need_it(
    journalled: bool, names: list[str], expected: bool
) -> None:
    entries = {"web": entry("stopped")} if journalled else {}
    assert has_cases(entries, names) is expected


def _tied(cid: str, name: str, network: str = "", links: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "Id": cid,
        "Name": f"/{name}",
        "HostConfig": {"NetworkMode": network or "bridge", "Links": list(links) or None},
    }


WEB_OLD = "a" * 64
WEB_NEW = "b" * 64


@pytest.mark.parametrize(
    ("containers", "expected"),
    [
        # side joins web's network (by id): web first, though side sorts first (chaos seed 7).
        ([_tied(WEB_OLD, "web"), _tied("c" * 64, "side", f"container:{WEB_OLD}")],
         ["web", "side"]),
        # web renamed aside, its replacement under the name: side still follows web.
        ([_tied(WEB_OLD, f"web{ASIDE_MARKER}{WEB_OLD[:12]}"), _tied(WEB_NEW, "web"),
          _tied("c" * 64, "side", f"container:{WEB_OLD}")], ["web", "side"]),
        # by name, and through a legacy link to the aside name
        ([_tied("d" * 64, "db"), _tied("c" * 64, "api", "container:db")], ["db", "api"]),
        ([_tied(WEB_OLD, f"web{ASIDE_MARKER}{WEB_OLD[:12]}"),
          _tied("c" * 64, "a", links=(f"/web{ASIDE_MARKER}{WEB_OLD[:12]}:/a/w",))],
         ["web", "a"]),
        # untied: by name
        ([_tied("c" * 64, "b"), _tied("d" * 64, "a")], ["a", "b"]),
        # a cycle cannot be ordered: name order, nothing lost
        ([_tied("c" * 64, "a", "container:b"), _tied("d" * 64, "b", "container:a")],
         ["a", "b"]),
    ],
)  # fmt: skip
def test_recovery_order_puts_a_container_after_what_it_is_tied_to(
    containers: list[dict[str, Any]], expected: list[str]
) -> None:
    by_name = {c["Name"].lstrip("/"): c for c in containers}
    names = {n.split(ASIDE_MARKER)[0] for n in by_name}
    assert recovery_order(names, by_name) == expected


def _marked(aside_host: str | None, label_host: str | None) -> tuple[Any, Any]:
    """An aside (named with `aside_host`'s tag; None: no aside) and the new container that
    replaces it (labelled with `label_host`; None: none)."""
    old = "ab" * 32  # a hex id, as an aside name holds
    aside = None
    if aside_host is not None:
        aside = {**container(old, running=False), "Name": "/" + aside_name("web", old, aside_host)}
    current = None
    if label_host is not None:
        current = container(NEW, running=False, replaces=old)
        if label_host:
            current["Config"]["Labels"][HOST_LABEL] = label_host
    return aside, current


@pytest.mark.parametrize(
    ("host", "journalled", "aside_host", "label_host", "owner"),
    [
        ("a", False, "b", None, "b"),  # another host's aside: not ours
        ("a", False, "b", "b", "b"),
        ("a", False, "a", "a", ""),  # ours, journal lost: recovered
        ("a", False, "a", None, ""),
        ("a", False, "", None, ""),  # a mark from before marks carried a host: ours
        ("a", False, "", "", ""),
        ("a", True, "b", "b", ""),  # our journal names it: ours whatever the marks say
        ("", False, "b", "b", ""),  # no host known: as before
        ("a", False, None, "b", "b"),  # a new container of another host's
        ("a b", False, "a b", "a b", ""),  # a host id a name cannot hold: its tag
        ("a b", False, "a c", None, host_tag("a c")),
    ],
)
def test_marks_of_another_host(
    host: str, journalled: bool, aside_host: str | None, label_host: str | None, owner: str
) -> None:
    aside, current = _marked(aside_host, label_host)
    assert (
        marked_elsewhere(host, entry("creating") if journalled else None, aside, current) == owner
    )


@pytest.mark.parametrize(
    ("full_name", "parsed"),
    [
        ("/web-vigil-old-0123456789ab", Aside("web", "0123456789ab", "")),
        ("web-vigil-old-0123456789ab.h-1.lan", Aside("web", "0123456789ab", "h-1.lan")),
        ("a-b-vigil-old-0123456789ab.x", Aside("a-b", "0123456789ab", "x")),
        ("web", None),
        ("web-vigil-old-0123", None),
    ],
)
def test_aside_names(full_name: str, parsed: Aside | None) -> None:
    assert parse_aside(full_name) == parsed
    if parsed is not None:
        assert aside_name(parsed.name, parsed.short, parsed.host_tag) == full_name.lstrip("/")
