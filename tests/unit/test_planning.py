"""The plan a scan makes from the containers and the gateway's answers."""

from __future__ import annotations

import msgspec
import pytest

from vigil_scanner.planning import build_plan, checks_for
from vigil_shared.contracts import CheckReply, ContainerInfo, ImageStatus

OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64


def c(name: str, image: str, digests: tuple[str, ...] = ()) -> ContainerInfo:
    return ContainerInfo(
        id=f"id-{name}", name=name, image=image, image_id=f"img-{name}", repo_digests=digests
    )


def plan_for(
    containers: list[ContainerInfo], statuses: list[ImageStatus] | None, check_error: str = ""
) -> dict[str, str]:
    checklist = checks_for(containers)
    reply = CheckReply(scan_id="s", results=tuple(statuses)) if statuses is not None else None
    plan = build_plan(
        plan_id="p",
        scan_id="s",
        host="h",
        now=1.0,
        containers=containers,
        checklist=checklist,
        reply=reply,
        check_error=check_error,
    )
    out = {a.container_name: "update" for a in plan.actions}
    out.update({r.name: r.status for r in plan.settled})
    assert len(out) == len(containers), "every container is accounted for exactly once"
    return out


def test_one_check_per_distinct_image_with_all_local_digests() -> None:
    containers = [
        c("a", "reg:5000/app:1", (f"reg:5000/app@{OLD}",)),
        c("b", "reg:5000/app:1", (f"reg:5000/app@{NEW}",)),
        c("d", "reg:5000/db:2"),
        c("e", "sha256:" + "c" * 64),
        c("f", "Not A Valid::Ref"),
    ]
    checklist = checks_for(containers)
    assert [(x.image, x.local_digests) for x in checklist.checks] == [
        ("reg:5000/app:1", (f"reg:5000/app@{OLD}", f"reg:5000/app@{NEW}")),
        ("reg:5000/db:2", ()),
    ]
    assert {r.name: r.status for r in checklist.unusable} == {"e": "skipped", "f": "check_failed"}
    assert "Not A Valid::Ref" in next(r.error for r in checklist.unusable if r.name == "f")


def test_a_container_run_from_a_short_image_id_is_skipped_not_checked() -> None:
    short = ContainerInfo(id="x", name="x", image="aaaaaaaaaaaa", image_id=OLD)
    named = ContainerInfo(id="y", name="y", image="aaaa-app", image_id=OLD)
    checklist = checks_for([short, named])
    assert [r.name for r in checklist.unusable] == ["x"]
    assert checklist.unusable[0].status == "skipped"
    assert [x.image for x in checklist.checks] == ["aaaa-app"]


@pytest.mark.parametrize(
    ("engine", "pod", "labels", "reason"),
    [
        ("podman", "f" * 64, {}, "in Podman pod ffffffffffff"),
        ("podman", "", {"PODMAN_SYSTEMD_UNIT": "web.service"}, "systemd unit web.service"),
        ("podman", "", {"io.containers.autoupdate": "registry"}, "podman auto-update updates"),
        ("podman", "", {"team": "core"}, ""),
        # Podman's labels mean nothing to Docker: such a container is updated there.
        ("docker", "", {"io.containers.autoupdate": "registry"}, ""),
        ("", "", {"PODMAN_SYSTEMD_UNIT": "web.service"}, ""),
    ],
)
def test_a_container_podman_manages_is_skipped_with_its_reason_and_never_planned(
    engine: str, pod: str, labels: dict[str, str], reason: str
) -> None:
    stale = ContainerInfo(
        id="x", name="x", image="r/app:1", image_id="img", repo_digests=(f"r/app@{OLD}",),
        labels=labels, engine=engine, pod=pod,
    )  # fmt: skip
    checklist = checks_for([stale])
    statuses = [ImageStatus(image="r/app:1", outcome="stale", remote_digest=NEW)]
    plan = build_plan(
        plan_id="p", scan_id="s", host="h", now=1.0, containers=[stale], checklist=checklist,
        reply=CheckReply(scan_id="s", results=tuple(statuses)),
    )  # fmt: skip
    if not reason:
        assert [a.container_name for a in plan.actions] == ["x"]
        return
    assert plan.actions == () and checklist.checks == ()  # not even asked about
    [result] = plan.settled
    assert result.status == "skipped"
    assert result.error.startswith("not updated: ") and reason in result.error, result.error


def test_decisions_table() -> None:
    containers = [
        c("stale", "r/app:1", (f"r/app@{OLD}",)),
        c("current", "r/web:1", (f"r/web@{NEW}",)),
        c("pinned", f"r/db@{OLD}"),
        c("broken", "r/gone:1"),
        c("unanswered", "r/other:1"),
        c("stale-but-own-image-new", "r/app:1", (f"r/app@{NEW}",)),
        c("limited", "r/busy:1", (f"r/busy@{OLD}",)),
        c("no-digest", "r/nohead:1", (f"r/nohead@{OLD}",)),
    ]
    statuses = [
        ImageStatus(image="r/app:1", outcome="stale", remote_digest=NEW),
        ImageStatus(image="r/web:1", outcome="current", remote_digest=NEW),
        ImageStatus(image=f"r/db@{OLD}", outcome="pinned"),
        ImageStatus(image="r/gone:1", outcome="error", error="manifest unknown"),
        ImageStatus(image="r/busy:1", outcome="rate_limited", error="HTTP 429"),
        ImageStatus(image="r/nohead:1", outcome="unverified", error="HTTP 500"),
    ]
    assert plan_for(containers, statuses) == {
        "stale": "update",
        "current": "fresh",
        "pinned": "fresh",
        "broken": "check_failed",
        "unanswered": "check_failed",
        "stale-but-own-image-new": "fresh",
        "limited": "rate_limited",  # reported as such, never as stale
        "no-digest": "update",  # the executor pulls the tag and compares image ids
    }


def test_gateway_unreachable_fails_every_check_with_the_reason() -> None:
    containers = [c("a", "r/app:1")]
    checklist = checks_for(containers)
    plan = build_plan(
        plan_id="p",
        scan_id="s",
        host="h",
        now=1.0,
        containers=containers,
        checklist=checklist,
        reply=None,
        check_error="no service answers",
    )
    assert [(r.status, r.error) for r in plan.settled] == [("check_failed", "no service answers")]
    assert plan.actions == ()


def test_the_action_carries_the_resolved_digest() -> None:
    containers = [c("a", "r/app:1", (f"r/app@{OLD}",))]
    plan = build_plan(
        plan_id="p",
        scan_id="s",
        host="h",
        now=1.0,
        containers=containers,
        checklist=checks_for(containers),
        reply=CheckReply(
            scan_id="s", results=(ImageStatus(image="r/app:1", outcome="stale", remote_digest=NEW),)
        ),
    )
    (action,) = plan.actions
    assert (action.container_id, action.image, action.remote_digest, action.old_image_id) == (
        "id-a",
        "r/app:1",
        NEW,
        "img-a",
    )


def test_no_pull_compares_with_the_image_the_tag_names_on_the_host() -> None:
    moved = ContainerInfo(id="a", name="moved", image="r/app:1", image_id="old", tag_image_id="new")
    same = ContainerInfo(id="b", name="same", image="r/app:1", image_id="new", tag_image_id="new")
    gone = ContainerInfo(id="c", name="gone", image="r/x:1", image_id="old", tag_image_id="")
    checked = c("checked", "r/web:1", (f"r/web@{OLD}",))
    containers = [moved, same, gone, checked]
    local_only = frozenset({"a", "b", "c"})
    checklist = checks_for(containers, local_only)
    assert [x.image for x in checklist.checks] == ["r/web:1"]  # only it asks the registry
    reply = CheckReply(
        scan_id="s", results=(ImageStatus(image="r/web:1", outcome="current", remote_digest=OLD),)
    )
    plan = build_plan(
        plan_id="p",
        scan_id="s",
        host="h",
        now=1.0,
        containers=containers,
        checklist=checklist,
        reply=reply,
        local_only=local_only,
    )
    assert [(a.container_name, a.remote_digest) for a in plan.actions] == [("moved", None)]
    assert {r.name: r.status for r in plan.settled} == {
        "same": "fresh",
        "gone": "fresh",
        "checked": "fresh",
    }


@pytest.mark.parametrize(
    ("label", "flag", "precedence", "expected"),
    [
        ("", False, False, False),
        ("", True, False, True),
        ("true", False, False, True),
        ("false", True, False, True),  # without precedence the flag stands
        ("false", True, True, False),
        ("TRUE", False, True, True),
    ],
)
def test_flag_with_label(label: str, flag: bool, precedence: bool, expected: bool) -> None:
    from vigil_shared import labels

    given = {labels.NO_PULL: label} if label else {}
    assert labels.flag_with_label(given, labels.NO_PULL, flag, precedence) is expected


OTHER = "sha256:" + "c" * 64


@pytest.mark.parametrize(
    ("own_digests", "outcome", "expected"),
    [
        # The gateway judged the reference by every local digest of its containers: a
        # container is judged by its own image's digests, whatever the pooled outcome.
        ((f"r/app@{OLD}",), "current", "update"),  # its neighbour runs the new build
        ((f"r/app@{NEW}",), "current", "fresh"),
        ((f"r/app@{OLD}",), "stale", "update"),
        ((f"r/app@{NEW}",), "stale", "fresh"),
        ((), "current", "update"),  # never pulled from the registry: no digest to match
        ((f"r/app@{OLD}", f"r/app@{NEW}"), "current", "fresh"),
        # Only this repository's digests count: the same build in another registry does not.
        ((f"other.example/app@{NEW}",), "current", "update"),
        ((f"other.example/app@{NEW}",), "stale", "update"),
        ((f"docker.io/r/app@{NEW}",), "current", "fresh"),  # r/app is docker.io/r/app
        ((f"r/app@{OTHER}",), "current", "update"),
    ],
)
def test_each_container_is_judged_by_its_own_image(
    own_digests: tuple[str, ...], outcome: str, expected: str
) -> None:
    containers = [c("x", "r/app:1", own_digests)]
    statuses = [ImageStatus(image="r/app:1", outcome=outcome, remote_digest=NEW)]  # type: ignore[arg-type]
    assert plan_for(containers, statuses) == {"x": expected}


def test_a_stale_container_beside_one_on_the_new_build_of_its_tag_is_updated() -> None:
    old = c("old", "reg:5000/app:1", (f"reg:5000/app@{OLD}",))
    new = c("new", "reg:5000/app:1", (f"reg:5000/app@{NEW}",))
    checklist = checks_for([old, new])
    assert [x.image for x in checklist.checks] == ["reg:5000/app:1"]  # one check for both
    # What the gateway answers for the pooled digests: one of them is the remote one.
    statuses = [ImageStatus(image="reg:5000/app:1", outcome="current", remote_digest=NEW)]
    plan = build_plan(
        plan_id="p",
        scan_id="s",
        host="h",
        now=1.0,
        containers=[old, new],
        checklist=checklist,
        reply=CheckReply(scan_id="s", results=tuple(statuses)),
    )
    assert [(a.container_name, a.remote_digest) for a in plan.actions] == [("old", NEW)]
    assert [(r.name, r.status) for r in plan.settled] == [("new", "fresh")]


def test_an_untrusted_build_is_never_planned_and_the_container_is_reported_unverified() -> None:
    """The gateway's `untrusted` (docs/trust.md): no action, the reason and the refused
    digest in the result; never `fresh`, never a failure."""
    containers = [c("a", "r/app:1", (f"r/app@{OLD}",)), c("b", "r/app:2", (f"r/app@{OLD}",))]
    reply = CheckReply(
        scan_id="s",
        results=(
            ImageStatus(
                image="r/app:1", outcome="untrusted", remote_digest=NEW, error="no signature"
            ),
            ImageStatus(image="r/app:2", outcome="stale", remote_digest=NEW),
        ),
    )
    plan = build_plan(
        plan_id="p",
        scan_id="s",
        host="h",
        now=1.0,
        containers=containers,
        checklist=checks_for(containers),
        reply=reply,
    )
    assert [a.container_name for a in plan.actions] == ["b"]
    (refused,) = plan.settled
    assert (refused.name, refused.status, refused.error, refused.remote_digest) == (
        "a",
        "unverified",
        "no signature",
        NEW,
    )


def test_a_verify_label_makes_a_check_of_its_own_and_its_answer_judges_its_container() -> None:
    plain = c("a", "r/app:1", (f"r/app@{OLD}",))
    labelled = msgspec.structs.replace(
        c("b", "r/app:1", (f"r/app@{OLD}",)), labels={"io.vigil.verify": "none"}
    )
    checklist = checks_for([plain, labelled])
    assert sorted((k.image, k.verify) for k in checklist.checks) == [
        ("r/app:1", ""),
        ("r/app:1", "none"),
    ]
    reply = CheckReply(
        scan_id="s",
        results=(
            ImageStatus(image="r/app:1", outcome="untrusted", remote_digest=NEW, error="no sig"),
            ImageStatus(image="r/app:1", outcome="stale", remote_digest=NEW, verify="none"),
        ),
    )
    plan = build_plan(
        plan_id="p",
        scan_id="s",
        host="h",
        now=1.0,
        containers=[plain, labelled],
        checklist=checklist,
        reply=reply,
    )
    assert [a.container_name for a in plan.actions] == ["b"]
    assert [(r.name, r.status) for r in plan.settled] == [("a", "unverified")]


def test_podman_containers_send_their_image_ids_and_docker_ones_do_not() -> None:
    """Only a Podman host keeps another manifest digest for a build it pushed; a Docker
    host's check costs no manifest read at the gateway."""
    pods = [
        msgspec.structs.replace(c(n, "reg:5000/app:1", (f"reg:5000/app@{OLD}",)), engine="podman")
        for n in ("p1", "p2")
    ]
    docker = msgspec.structs.replace(c("d", "reg:5000/db:1"), engine="docker")
    checks = {x.image: x.local_image_ids for x in checks_for([*pods, docker]).checks}
    assert checks == {"reg:5000/app:1": ("img-p1", "img-p2"), "reg:5000/db:1": ()}


@pytest.mark.parametrize(
    ("image_id", "outcome", "remote_image_id", "expected"),
    [
        # The gateway read the registry build's image id: a container with it runs the build,
        # whatever digests its image records (a Podman push keeps its own).
        ("img-x", "current", "img-x", "fresh"),
        ("img-x", "stale", "img-x", "fresh"),
        ("img-y", "current", "img-x", "update"),  # its neighbour runs the build
        ("img-y", "stale", "img-x", "update"),
        ("img-x", "stale", "", "update"),  # not read: judged by digests only, as before
    ],
)
def test_a_container_with_the_registry_builds_image_id_is_on_it(
    image_id: str, outcome: str, remote_image_id: str, expected: str
) -> None:
    container = ContainerInfo(
        id="x", name="x", image="r/app:1", image_id=image_id, repo_digests=(f"r/app@{OLD}",)
    )
    status = ImageStatus(
        image="r/app:1",
        outcome=outcome,  # type: ignore[arg-type]
        remote_digest=NEW,
        remote_image_id=remote_image_id,
    )
    assert plan_for([container], [status]) == {"x": expected}
