"""The scanner's hand-off under rollout control: which updates are asked about, and what a
verdict does to the plan. Pure, no bus."""

from __future__ import annotations

import pytest

from vigil_scanner.rollout_gate import apply_verdicts, gate_items
from vigil_shared.contracts import ContainerInfo, ContainerResult, GateVerdict, Plan, UpdateAction

NEW = "sha256:" + "b" * 64
FRESH = ContainerResult(name="db", container_id="c3", image="db:1", status="fresh")


def plan() -> Plan:
    return Plan(
        plan_id="p",
        scan_id="s",
        host="h",
        created_at=0,
        actions=(
            UpdateAction(
                container_id="c1", container_name="web", image="r/web:1", old_image_id="i1",
                remote_digest=NEW,
            ),
            # No digest (--no-pull, or a registry that gives none): cannot be pinned.
            UpdateAction(
                container_id="c2", container_name="job", image="r/job:1", old_image_id="i2"
            ),
        ),
        settled=(FRESH,),
    )  # fmt: skip


def test_only_updates_pinned_to_a_build_are_asked_about_with_their_old_digests() -> None:
    containers = [
        ContainerInfo(
            id="c1", name="web", image="r/web:1", image_id="i1", repo_digests=("r/web@sha256:a",)
        ),
        ContainerInfo(id="c2", name="job", image="r/job:1", image_id="i2"),
    ]  # fmt: skip
    (item,) = gate_items(plan(), containers)
    assert (item.image, item.digest, item.container_name) == ("r/web:1", NEW, "web")
    assert item.old_digests == ("r/web@sha256:a",)


def verdict(decision: str, reason: str = "") -> GateVerdict:
    return GateVerdict(
        image="r/web:1", digest=NEW, container_name="web", decision=decision,  # type: ignore[arg-type]
        rollout_id="r1", reason=reason,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("decision", "reason", "actions", "held"),
    [
        ("go", "", ["web", "job"], []),
        ("wait", "waiting for wave 2 of rollout r1", ["job"], ["waiting for wave 2 of rollout r1"]),
        ("hold", "rollout r1 waits for approval", ["job"], ["rollout r1 waits for approval"]),
    ],
)
def test_an_update_that_may_not_go_now_is_held_saying_what_it_waits_for(
    decision: str, reason: str, actions: list[str], held: list[str]
) -> None:
    gated = apply_verdicts(plan(), [verdict(decision, reason)])
    assert [a.container_name for a in gated.actions] == actions
    assert gated.settled[0] == FRESH
    got = [r for r in gated.settled if r.status == "held"]
    assert [r.error for r in got] == held
    for r in got:
        assert (r.name, r.container_id, r.remote_digest, r.old_image_id) == ("web", "c1", NEW, "i1")


@pytest.mark.parametrize(
    "reason",
    ["waiting for wave 2 of rollout r1", "rollout r1 waits for approval: vigil approve r1"],
)
def test_a_held_update_is_notified_saying_what_it_waits_for(reason: str) -> None:
    """In Vigil's report format (no Go template): the event's own text."""
    from vigil_notifier.policy import Policy, messages_for, render_body
    from vigil_shared.contracts import Report

    held = apply_verdicts(plan(), [verdict("hold", reason)]).settled[-1]
    report = Report(
        scan_id="s", plan_id="p", host="h", started_at=0, finished_at=1, results=(held,)
    )
    (message,) = messages_for([report], Policy())  # at the default level, info
    body, errors = render_body(message, [report], Policy(), None, (), 0.0)
    assert not errors
    assert f"Held web (r/web:1): {reason}" in body
