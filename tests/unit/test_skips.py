"""Skipped builds (vigil skip, the dashboard's Skip): which updates a skip holds (pure), the
bucket's keys, and how the dashboard's rows show a skip and a row action."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from vigil.commands.skip import parse_target
from vigil.dashboard.routes import route
from vigil.dashboard.view import Asked, Checked, FleetView, action_note, container_rows, skip_holds
from vigil_scanner.api_routes import decide
from vigil_scanner.skips import apply_skips, skip_applies, skip_reason
from vigil_shared.audit import AuditEvent
from vigil_shared.contracts import (
    ContainerInfo,
    ContainerResult,
    ImageStatus,
    Inventory,
    Plan,
    ProgressEvent,
    Report,
    Skip,
    UpdateAction,
    skip_host_prefix,
    skip_key,
)

IMAGE = "127.0.0.1:5000/app:latest"
OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64
NEWER = "sha256:" + "3" * 64
NOW = 1_000_000.0


def skip(**kw: Any) -> Skip:
    fields: dict[str, Any] = {"host": "h1", "name": "web", "image": IMAGE, "created_at": NOW}
    return Skip(**{**fields, **kw})


@pytest.mark.parametrize(
    ("the_skip", "remote", "held"),
    [
        # A build skipped: that build is held, a newer one goes.
        (skip(digest=NEW), NEW, True),
        (skip(digest=NEW), NEWER, False),
        # An update without a digest cannot be told from the skipped build: held.
        (skip(digest=NEW), "", True),
        # A duration: every build until it ends, none after.
        (skip(digest=NEW, until=NOW + 60), NEWER, True),
        (skip(digest=NEW, until=NOW - 1), NEW, False),
        (skip(until=NOW + 60), "", True),
    ],
)
def test_which_update_a_skip_holds(the_skip: Skip, remote: str, held: bool) -> None:
    assert skip_applies(the_skip, remote, NOW) is held


def action(name: str, digest: str | None) -> UpdateAction:
    return UpdateAction(
        container_id=f"id-{name}",
        container_name=name,
        image=IMAGE,
        old_image_id="sha256:" + "a" * 64,
        remote_digest=digest,
    )


def test_a_skipped_update_leaves_the_plan_as_held_with_the_reason() -> None:
    plan = Plan(
        plan_id="p",
        scan_id="s",
        host="h1",
        created_at=NOW,
        actions=(action("web", NEW), action("db", NEW)),
    )
    skips = {"web": skip(digest=NEW, by="ann", reason="breaks login")}
    out = apply_skips(plan, skips, NOW)
    assert [a.container_name for a in out.actions] == ["db"]
    [held] = out.settled
    assert (held.name, held.status, held.remote_digest) == ("web", "held", NEW)
    assert held.error == (
        "held: build 222222222222 skipped by ann until a newer one appears: breaks login"
    )
    # A newer build than the skipped one: the update goes.
    assert apply_skips(plan, {"web": skip(digest=OLD)}, NOW) == plan


def test_a_duration_skip_says_when_it_ends() -> None:
    s = skip(until=1_700_000_000.0)
    assert skip_reason(s) == "held: skipped until 2023-11-14 22:13 UTC"
    plan = Plan(plan_id="p", scan_id="s", host="h1", created_at=0, actions=(action("web", NEW),))
    [held] = apply_skips(plan, {"web": s}, 1_600_000_000.0).settled
    assert held.held_until == 1_700_000_000.0


def test_the_keys_of_the_bucket() -> None:
    """Valid KV keys for names with dots, one host's keys under one prefix."""
    key = skip_key("host.one", "my.app_1")
    assert key.startswith(skip_host_prefix("host.one"))
    assert key.count(".") == 1
    assert all(ch.isalnum() or ch in "-_=." for ch in key)
    assert skip_key("a", "bc") != skip_key("ab", "c")


@pytest.mark.parametrize(
    ("text", "ok"),
    [("h1/web", ("h1", "web")), ("web", None), ("/web", None), ("h1/", None), ("a/b/c", None)],
)
def test_the_container_of_vigil_skip(text: str, ok: tuple[str, str] | None) -> None:
    if ok is None:
        with pytest.raises(ValueError, match="is not HOST/NAME"):
            parse_target(text)
    else:
        assert parse_target(text) == ok


@pytest.mark.parametrize(
    ("method", "target", "auth", "expected"),
    [
        ("POST", "/api/containers/h1/web/update", "Bearer t", ("container_command", 200)),
        ("POST", "/api/containers/h1/web/skip?for=1d", "Bearer t", ("container_command", 200)),
        ("POST", "/api/containers/h1/web/update", None, ("none", 401)),
        ("GET", "/api/containers/h1/web/check", "Bearer t", ("none", 405)),
        ("POST", "/api/containers/h1/web/explode", "Bearer t", ("none", 404)),
        ("POST", "/api/containers/h1/%2E%2E/update", "Bearer t", ("none", 400)),
        ("GET", "/api/containers", None, ("containers", 200)),
    ],
)
def test_the_container_routes(
    method: str, target: str, auth: str | None, expected: tuple[str, int]
) -> None:
    decision = route(method, target, token="t", authorization=auth)
    assert (decision.endpoint, decision.status) == expected


def test_a_container_route_names_the_container_and_the_skip() -> None:
    d = route(
        "POST", "/api/containers/h1/web/skip?for=1d&reason=bad", token="t", authorization="Bearer t"
    )
    assert (d.host, d.container, d.container_action, d.skip_for, d.reason) == (
        "h1",
        "web",
        "skip",
        "1d",
        "bad",
    )


def test_the_scanner_api_takes_one_container() -> None:
    d = decide(
        "POST", "/v1/containers/web/skip?for=2h", is_authorized=True, update=True, metrics=False
    )
    assert (d.endpoint, d.container, d.action, d.skip_for) == ("container", "web", "skip", "2h")
    assert (
        decide(
            "POST", "/v1/containers/web/update", is_authorized=True, update=False, metrics=False
        ).status
        == 404
    )
    assert (
        decide(
            "GET", "/v1/containers/web/check", is_authorized=True, update=True, metrics=False
        ).status
        == 405
    )
    assert (
        decide(
            "POST", "/v1/containers/web/check", is_authorized=False, update=True, metrics=False
        ).status
        == 401
    )


INFO = ContainerInfo(
    id="c1",
    name="web",
    image=IMAGE,
    image_id="sha256:" + "a" * 64,
    repo_digests=(f"127.0.0.1:5000/app@{OLD}",),
)


def event(seq: int, message: Any, kind: str) -> AuditEvent:
    return AuditEvent(
        seq=seq, subject=f"vigil.{kind}.h1", kind=kind, host="h1", at=float(seq), message=message
    )


@pytest.mark.parametrize(
    ("the_skip", "newest", "held"),
    [
        (skip(digest=NEW), NEW, True),
        (skip(digest=NEW), None, True),  # no newer build known: the skip stands
        (skip(digest=NEW), NEWER, False),  # a newer build than the skipped one
        (skip(until=NOW + 5), NEWER, True),
        (skip(until=NOW - 5), NEW, False),
        (None, NEW, False),
    ],
)
def test_whether_a_row_is_held_by_a_skip(
    the_skip: Skip | None, newest: str | None, held: bool
) -> None:
    check = ImageStatus(image=IMAGE, outcome="stale", remote_digest=newest) if newest else None
    assert skip_holds(the_skip, INFO, check, NOW) is held


def test_a_skipped_row_is_held_and_offers_to_stop() -> None:
    view = FleetView()
    view.apply(
        event(1, Inventory(scan_id="s", host="h1", taken_at=1, containers=(INFO,)), "inventory")
    )
    stale = ImageStatus(image=IMAGE, outcome="stale", remote_digest=NEW)
    checks = {"h1": {IMAGE: Checked(status=stale, seq=1)}}
    [row] = container_rows(view, checks)
    assert (row.state, row.skipped) == ("stale", False)
    the_skip = skip(digest=NEW, until=NOW + 3600, reason="bad build")
    [row] = container_rows(view, checks, {("h1", "web"): the_skip}, NOW)
    assert (row.state, row.skipped, row.held_until) == ("held", True, NOW + 3600)
    assert row.detail == skip_reason(the_skip)
    assert (row.next, row.next_at) == ("skipped until", NOW + 3600)


def test_the_row_follows_its_update_from_asked_to_result() -> None:
    view = FleetView()
    view.asked[("h1", "web")] = Asked(kind="update", at=1, scan_id="abcdef0123")
    assert action_note(view, "h1", "web") == "update asked (cycle abcdef01)"
    view.apply(
        event(
            2,
            ProgressEvent(
                plan_id="p", scan_id="abcdef0123", host="h1", container="web", phase="pulling", at=2
            ),
            "progress",
        )
    )
    assert action_note(view, "h1", "web") == "update: pulling"
    done = ContainerResult(name="web", container_id="c1", image=IMAGE, status="updated")
    view.apply(
        event(
            3,
            Report(
                scan_id="abcdef0123",
                plan_id="p",
                host="h1",
                started_at=2,
                finished_at=3,
                results=(done,),
            ),
            "report",
        )
    )
    assert action_note(view, "h1", "web") == "update: updated"
    view.asked[("h1", "web")] = Asked(kind="check", at=4, note="checked: up to date", seq=3)
    assert action_note(view, "h1", "web") == "checked: up to date"
    # A report after the check says more than it did: the note goes.
    later = msgspec.structs.replace(done, status="fresh")
    report = Report(scan_id="s4", plan_id="p4", host="h1", started_at=4, finished_at=5)
    view.apply(event(4, msgspec.structs.replace(report, results=(later,)), "report"))
    assert action_note(view, "h1", "web") == ""
    assert action_note(view, "h1", "db") == ""
