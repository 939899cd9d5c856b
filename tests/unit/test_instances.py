"""Which older Vigils a starting one stops: watchtower's CheckForMultipleWatchtowerInstances
(internal/actions/check.go) over a table of instances."""

from __future__ import annotations

import pytest

from vigil.process.instances import Instance, in_scope, older_instances

SELF = "com.centurylinklabs.watchtower"
SCOPE = "com.centurylinklabs.watchtower.scope"


def i(name: str, created: str, **given: str) -> Instance:
    return Instance(id=name, name=name, created=created, labels={SELF: "true", **given})


@pytest.mark.parametrize(
    ("given", "scope", "expected"),
    [
        ({}, "", True),  # no scope: only those without a scope label
        ({SCOPE: ""}, "", True),
        ({SCOPE: "blue"}, "", False),
        ({SCOPE: "blue"}, "blue", True),
        ({SCOPE: "green"}, "blue", False),
        ({}, "blue", False),
        ({}, "none", True),  # as FilterByScope: no scope label is the scope "none"
        ({SCOPE: "none"}, "none", True),
    ],
)
def test_in_scope(given: dict[str, str], scope: str, expected: bool) -> None:
    assert in_scope(given, scope) is expected


def test_all_but_the_newest_are_stopped_oldest_first() -> None:
    instances = (
        i("b", "2026-12-03T10:00:02.5Z"),
        i("c", "2026-12-03T10:00:02.123456789Z"),
        i("a", "2026-12-03T10:00:01Z"),
    )
    # 02.123456789 is earlier than 02.5, though not as text.
    assert [x.name for x in older_instances(instances, "")] == ["a", "c"]


def test_one_instance_stops_nothing() -> None:
    assert older_instances((i("a", "2026-12-03T10:00:01Z"),), "") == ()
    assert older_instances((), "blue") == ()


def test_other_scopes_and_other_containers_are_left_alone() -> None:
    instances = (
        i("old-blue", "2026-12-03T10:00:01Z", **{SCOPE: "blue"}),
        i("new-blue", "2026-12-03T10:00:03Z", **{SCOPE: "blue"}),
        i("green", "2026-12-03T10:00:00Z", **{SCOPE: "green"}),
        i("unscoped", "2026-12-03T10:00:00Z"),
        Instance(id="x", name="not-vigil", created="2026-12-03T09:00:00Z", labels={}),
        # ContainsWatchtowerLabel wants "true" exactly.
        Instance(id="y", name="True", created="2026-12-03T09:00:00Z", labels={SELF: "True"}),
    )
    assert [x.name for x in older_instances(instances, "blue")] == ["old-blue"]
    assert [x.name for x in older_instances(instances, "green")] == []
    assert [x.name for x in older_instances(instances, "")] == []


def test_an_instance_renamed_aside_by_a_self_update_is_left_to_the_executor() -> None:
    instances = (
        i("vigil-vigil-old-0123456789ab", "2026-12-03T10:00:01Z"),
        i("vigil", "2026-12-03T10:00:03Z"),
    )
    assert older_instances(instances, "") == ()
