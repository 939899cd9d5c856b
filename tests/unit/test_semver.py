"""Semver tags, ranges and the tag a policy picks (vigil_shared.semver), by tables."""

from __future__ import annotations

import pytest

from vigil_shared.semver import (
    PolicyError,
    UpdatePolicy,
    parse_policy,
    parse_range,
    parse_version,
    pick_tag,
)


@pytest.mark.parametrize(
    ("tag", "parsed"),
    [
        ("1.2.3", (1, 2, 3, ())),
        ("v1.2.3", (1, 2, 3, ())),
        ("V10.0.1", (10, 0, 1, ())),
        ("1.2.3-rc.1", (1, 2, 3, ("rc", "1"))),
        ("1.2.3+build.5", (1, 2, 3, ())),
        ("1.2.3-alpine", (1, 2, 3, ("alpine",))),
        ("latest", None),
        ("1.4", None),  # a moving alias, not a version
        ("1", None),
        ("01.2.3", None),
        ("1.2.3-rc.01", None),
        ("1.2.3.4", None),
        ("", None),
    ],
)
def test_versions_in_tags(tag: str, parsed: tuple[object, ...] | None) -> None:
    v = parse_version(tag)
    assert (None if v is None else (v.major, v.minor, v.patch, v.prerelease)) == parsed


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1.2.3-rc.1", "1.2.3"),
        ("1.2.3-alpha", "1.2.3-alpha.1"),
        ("1.2.3-alpha.1", "1.2.3-alpha.beta"),
        ("1.2.3-rc.2", "1.2.3-rc.10"),  # numeric identifiers compare as numbers
        ("1.2.9", "1.2.10"),
        ("1.9.0", "1.10.0"),
    ],
)
def test_precedence(a: str, b: str) -> None:
    va, vb = parse_version(a), parse_version(b)
    assert va is not None and vb is not None
    assert va.key() < vb.key()


RANGES: list[tuple[str, list[str], list[str]]] = [
    # range, allowed, refused
    ("^1.2", ["1.2.0", "1.2.3", "1.9.9"], ["1.1.9", "2.0.0", "2.0.0-rc.1", "1.5.0-rc.1"]),
    ("^1.2.3", ["1.2.3", "1.4.0"], ["1.2.2", "2.0.0"]),
    ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]),
    ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
    ("^1", ["1.0.0", "1.99.0"], ["2.0.0", "0.9.0"]),
    ("~1.2.3", ["1.2.3", "1.2.9"], ["1.3.0", "1.2.2"]),
    ("~1.2", ["1.2.0", "1.2.9"], ["1.3.0"]),
    ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
    (">=1.2,<2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0"]),
    (">= 1.2, < 2", ["1.5.0"], ["2.1.0"]),
    (">=1.2 <2", ["1.5.0"], ["2.0.0"]),
    (">1.2", ["1.3.0"], ["1.2.9"]),  # >1.2 is past every 1.2.x
    (">1.2.3", ["1.2.4"], ["1.2.3"]),
    ("<=1.2", ["1.2.9"], ["1.3.0"]),
    ("1.2.x", ["1.2.0", "1.2.7"], ["1.3.0"]),
    ("1.2", ["1.2.5"], ["1.3.0"]),
    ("=1.2.3", ["1.2.3"], ["1.2.4"]),
    ("*", ["0.0.1", "9.9.9"], ["1.0.0-rc.1"]),
    # A range naming a prerelease allows prereleases of that version only.
    (">=1.5.0-rc.1,<2", ["1.5.0-rc.2", "1.5.0", "1.6.0"], ["1.6.0-rc.1", "1.5.0-beta"]),
]


@pytest.mark.parametrize(("text", "allowed", "refused"), RANGES)
def test_ranges(text: str, allowed: list[str], refused: list[str]) -> None:
    r = parse_range(text)
    for tag in allowed:
        v = parse_version(tag)
        assert v is not None and r.allows(v), f"{text} must allow {tag}"
    for tag in refused:
        v = parse_version(tag)
        assert v is not None and not r.allows(v), f"{text} must refuse {tag}"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "the range is empty"),
        ("^1.2.3.4", "'1.2.3.4' is not a version"),
        ("banana", "'banana' is not a version"),
        (">=1.2,<two", "'two' is not a version"),
        ("~>1.2", "is not a version"),
        # Ranges no version can be inside: refused, not a container held for ever.
        (">=2,<1", "range '>=2,<1' can never match"),
        (">=2 <2", "can never match"),
        (">1.2.3,<=1.2.3", "can never match"),
        ("=1.2.3,>1.2.3", "can never match"),
        ("1.2.3,1.2.4", "can never match"),
        ("^2,<2", "can never match"),
    ],
)
def test_bad_ranges_say_what_is_wrong(text: str, error: str) -> None:
    with pytest.raises(PolicyError, match=error):
        parse_range(text)


@pytest.mark.parametrize("text", [">=1.2.3,<=1.2.3", ">=1,<1.0.1", "=1.2.3,>=1.2.3", ">=2", "<1"])
def test_narrow_ranges_that_can_match_are_taken(text: str) -> None:
    assert parse_range(text).text == text


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("digest", UpdatePolicy()),
        ("", UpdatePolicy()),
        ("DIGEST", UpdatePolicy()),
        ("semver:^1.2", UpdatePolicy(kind="semver", range="^1.2")),
        ("semver: >=1.2,<2 ", UpdatePolicy(kind="semver", range=">=1.2,<2")),
        ("minor", UpdatePolicy(kind="semver", relative="minor")),
        ("patch", UpdatePolicy(kind="semver", relative="patch")),
        ("semver:minor", UpdatePolicy(kind="semver", relative="minor")),
    ],
)
def test_policies(text: str, policy: UpdatePolicy) -> None:
    assert parse_policy(text) == policy


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("latest", "'latest' is not an update policy"),
        ("semver", "'semver' is not an update policy"),
        ("semver:", "the range is empty"),
        ("semver:^x", "'x' is not a version"),
        ("semver:>=2,<1", "range '>=2,<1' can never match"),
    ],
)
def test_bad_policies(text: str, error: str) -> None:
    with pytest.raises(PolicyError, match=error):
        parse_policy(text)


TAGS = [
    "latest",
    "1.2",
    "1.2.3",
    "1.2.4",
    "1.3.0",
    "1.4.0",
    "1.5.0-rc.1",
    "2.0.0",
    "v1.4.1",
    "nightly-2026",
    "1.4.0-alpine",
]


@pytest.mark.parametrize(
    ("policy", "current", "tags", "picked"),
    [
        ("semver:^1.2", "1.2.3", TAGS, "v1.4.1"),  # a v prefix counts as the version
        ("semver:~1.2.3", "1.2.3", TAGS, "1.2.4"),
        ("semver:>=1.2,<2", "1.2.3", TAGS, "v1.4.1"),
        ("semver:>=1.2,<1.4", "1.2.3", TAGS, "1.3.0"),
        ("minor", "1.2.3", TAGS, "v1.4.1"),
        ("patch", "1.2.3", TAGS, "1.2.4"),
        ("patch", "1.2.4", TAGS, ""),  # nothing newer within 1.2
        ("semver:^1.2", "2.0.0", TAGS, ""),  # never back: only newer than the current tag
        ("semver:>=1.5.0-rc.1,<2", "1.4.0", TAGS, "1.5.0-rc.1"),
        ("semver:^2", "1.2.3", TAGS, "2.0.0"),  # a range may move the major
        ("semver:^1.2", "v1.2.3", ["1.4.0", "v1.4.0"], "v1.4.0"),  # same version: keep style
        ("semver:^1.2", "1.2.3", ["1.4.0", "v1.4.0"], "1.4.0"),
        ("semver:^1.2", "1.2.3", [], ""),
    ],
)
def test_pick_tag(policy: str, current: str, tags: list[str], picked: str) -> None:
    choice = pick_tag(parse_policy(policy), current, tags)
    assert choice.error == ""
    assert choice.tag == picked


def test_pick_tag_refuses_a_current_tag_that_is_no_version() -> None:
    choice = pick_tag(parse_policy("semver:^1.2"), "latest", TAGS)
    assert choice.tag == ""
    assert "the tag 'latest' is not a semantic version" in choice.error
