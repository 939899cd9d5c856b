"""The chaos soak's oracle, by a table: what it calls a violation and what it lets pass."""

from __future__ import annotations

import pytest

from tests.support.chaos_oracle import (
    Audit,
    Result,
    Seen,
    Tag,
    check_container,
    check_round,
    duplicate_updates,
    left_aside,
    unreported,
)

OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64
TAG = Tag(current=NEW, previous=OLD)


def seen(image: str = NEW, *, running: bool = True, count: int = 1, ran: bool = True) -> Seen:
    return Seen(name="web", count=count, running=running, image_id=image, ran_before=ran)


def res(status: str, new: str = NEW, error: str = "") -> Result:
    return Result(plan_id="p", name="web", status=status, old_image_id=OLD, new_image_id=new,
                  error=error)  # fmt: skip


CONTAINER_CASES = [
    # (what, seen, tag, latest report, violations expected)
    ("updated and running", seen(), TAG, res("updated"), 0),
    ("fresh on the tag's build", seen(), TAG, res("fresh"), 0),
    ("gone", seen(count=0), TAG, res("updated"), 1),
    ("two under one name", seen(count=2), TAG, None, 1),
    ("left Created after running", seen(running=False), TAG, res("updated"), 2),
    ("never ran, still not running", seen(running=False, ran=False), TAG, None, 0),
    ("previous build, report says rolled back", seen(OLD), TAG, res("rolled_back"), 0),
    ("previous build, check failed", seen(OLD), TAG, res("check_failed"), 0),
    ("previous build, no report", seen(OLD), TAG, None, 1),
    ("previous build, report says fresh", seen(OLD), TAG, res("fresh", new=""), 1),
    ("previous build, report says updated", seen(OLD), TAG, res("updated"), 2),
    ("previous build of an unhealthy push", seen(OLD), Tag(NEW, OLD, unhealthy=True), None, 0),
    ("an unknown build", seen("sha256:" + "c" * 64), TAG, res("fresh"), 1),
]


@pytest.mark.parametrize(
    ("what", "container", "tag", "latest", "expected"),
    CONTAINER_CASES,
    ids=[c[0] for c in CONTAINER_CASES],
)
def test_check_container(
    what: str, container: Seen, tag: Tag, latest: Result | None, expected: int
) -> None:
    assert len(check_container(container, tag, latest)) == expected, what


def test_one_updated_per_transition() -> None:
    assert duplicate_updates([res("updated"), res("fresh")]) == []
    assert duplicate_updates([res("updated"), res("updated")]) == [
        "web: 2 times updated aaaaaaaaaaaa -> bbbbbbbbbbbb"
    ]
    # Back and forth is two transitions, each once.
    back = Result(plan_id="q", name="web", status="updated", old_image_id=NEW, new_image_id=OLD)
    assert duplicate_updates([res("updated"), back]) == []


def test_nothing_renamed_aside_and_every_plan_reported() -> None:
    assert left_aside(["web", "web-vigil-old-1a2b"]) == ["left behind: web-vigil-old-1a2b"]
    assert unreported(["p1", "p2"], ["p1"]) == ["plan p2 has no report"]
    assert unreported(["p1"], ["p1", "p0"]) == []


def test_check_round_uses_the_latest_line_of_each_container() -> None:
    audit = Audit(plans=("p",), reported=("p",), results=(res("rolled_back"), res("updated")),
                  all_names=("web",))  # fmt: skip
    assert check_round([seen()], {"web": TAG}, audit) == []
    assert check_round([seen(OLD)], {"web": TAG}, audit) != []


def test_a_host_the_trigger_called_silent_may_stay_behind_but_not_lie() -> None:
    """The scan command lost (SIGKILLed scanner, NATS restarted): `vigil trigger` says the
    host sent no report, which is true; its containers staying on the previous build is no
    violation then, but a report that disagrees with the engine still is."""
    name = "chaos-a/web"
    behind = Seen(name=name, count=1, running=True, image_id=OLD, ran_before=True)
    quiet = Audit(all_names=(name,), silent=("chaos-a",))
    assert check_round([behind], {name: TAG}, quiet) == []
    assert check_round([behind], {name: TAG}, Audit(all_names=(name,), silent=("chaos-b",)))
    down = Seen(name=name, count=1, running=False, image_id=OLD, ran_before=True)
    assert check_round([down], {name: TAG}, quiet) == [
        f"{name}: ran before the round, not running now"
    ]
    lied = Result(plan_id="p", name=name, status="updated", old_image_id=OLD, new_image_id=NEW)
    assert check_round([behind], {name: TAG}, Audit(results=(lied,), silent=("chaos-a",)))
