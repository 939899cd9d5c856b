"""Container selection as watchtower's pkg/filters does it. Each case names the test of
watchtower's pkg/filters/filters_test.go it mirrors. Container names are given as Vigil holds
them (without Docker's leading slash); watchtower compares against `/NAME`."""

from __future__ import annotations

import pytest

from vigil_scanner.selection import Selection, name_matches, select
from vigil_shared.contracts import ContainerInfo

E = "com.centurylinklabs.watchtower.enable"
S = "com.centurylinklabs.watchtower.scope"


def c(name: str, **given: str) -> ContainerInfo:
    return ContainerInfo(id=name, name=name, image="app:1", image_id="i", labels=dict(given))


# (mirrors, name argument, container name, selected)
NAME_CASES = [
    ("TestFilterByNames", "test", "test", True),
    ("TestFilterByNames", "test", "NoTest", False),
    ("TestFilterByNames (leading slash in the argument)", "/container1", "container1", True),
    ("TestFilterByNames (leading slash in the argument)", "/container2", "container2", True),
    ("TestFilterByNames (leading slash in the argument)", "/container1", "container4", False),
    ("TestFilterByNamesRegex", "ba(b|ll)oon", "balloon", True),
    ("TestFilterByNamesRegex", "ba(b|ll)oon", "spoon", False),
    ("TestFilterByNamesRegex", "ba(b|ll)oon", "baboonious", False),
    # FilterByNames's bounds, start <= 1 and end >= len(/NAME)-1: not anchored at either end
    # by one character, so a name also selects the same name with one more character.
    ("FilterByNames bounds", "web", "web1", True),
    ("FilterByNames bounds", "web", "web12", False),
    ("FilterByNames bounds", "web", "aweb", False),
    ("FilterByNames bounds", "eb", "web", False),
    ("FilterByNames bounds", "web-.*", "web-frontend", True),
    ("FilterByNames bounds", "^/web$", "web", True),
    ("FilterByNames bounds", "^web$", "web", False),  # ^ is before the slash
    ("FilterByNames bounds", ".*", "anything", True),
    ("FilterByNames: not a regular expression, equality only", "web[", "web[", True),
    ("FilterByNames: not a regular expression, equality only", "web[", "web", False),
]


@pytest.mark.parametrize(
    ("mirrors", "argument", "name", "selected"),
    NAME_CASES,
    ids=[f"{m}: {a} ~ {n}" for m, a, n, _ in NAME_CASES],
)
def test_names(mirrors: str, argument: str, name: str, selected: bool) -> None:
    assert name_matches(argument, name) is selected
    chosen = select((c(name),), Selection(names=(argument,))).containers
    assert bool(chosen) is selected


def test_build_filter() -> None:
    # TestBuildFilter: names test, valid; an explicit enable=false loses even when named.
    sel = Selection(names=("test", "valid"))
    inventory = (c("Invalid"), c("test"), c("Invalid", **{E: "true"}), c("test", **{E: "true"}))
    assert [x.name for x in select(inventory, sel).containers] == ["test", "test"]
    assert select((c("test", **{E: "false"}),), sel).containers == ()


def test_build_filter_enable_label() -> None:
    # TestBuildFilterEnableLabel
    sel = Selection(names=("test",), label_enable=True)
    assert select((c("test"),), sel).containers == ()
    assert select((c("Invalid", **{E: "true"}),), sel).containers == ()
    assert [x.name for x in select((c("test", **{E: "true"}),), sel).containers] == ["test"]
    assert select((c("test", **{E: "false"}),), sel).containers == ()


@pytest.mark.parametrize(
    ("name", "enabled", "selected"),
    [
        ("Another", None, True),
        ("AnotherOne", "true", True),
        ("test", None, True),
        ("excluded", "true", False),
        ("excludedAsSubstring", "true", True),  # disable names are exact, never patterns
        ("notfound", "true", False),
        ("other", "false", False),
    ],
)
def test_build_filter_disable_container(name: str, enabled: str | None, selected: bool) -> None:
    # TestBuildFilterDisableContainer
    given = {} if enabled is None else {E: enabled}
    sel = Selection(disabled=("excluded", "notfound"))
    assert bool(select((c(name, **given),), sel).containers) is selected


def test_disable_names_with_the_leading_slash() -> None:
    # FilterByDisableNames compares with the name and with the name without its slash.
    assert select((c("excluded"),), Selection(disabled=("/excluded",))).containers == ()
    assert select((c("excluded"),), Selection(disabled=("excl.*",))).containers != ()


@pytest.mark.parametrize(
    ("scope_label", "selected"),
    [("testscope", True), ("nottestscope", False), (None, False)],
)
def test_filter_by_scope(scope_label: str | None, selected: bool) -> None:
    # TestFilterByScope
    given = {} if scope_label is None else {S: scope_label}
    assert bool(select((c("x", **given),), Selection(scope="testscope")).containers) is selected


@pytest.mark.parametrize(
    ("scope_label", "selected"),
    [("anyscope", False), (None, True), ("", True), ("none", True)],
)
def test_filter_by_none_scope(scope_label: str | None, selected: bool) -> None:
    # TestFilterByNoneScope and TestBuildFilterNoneScope
    given = {} if scope_label is None else {S: scope_label}
    assert bool(select((c("x", **given),), Selection(scope="none")).containers) is selected


def test_filter_by_disabled_label() -> None:
    # TestFilterByDisabledLabel: enabled=true kept, false dropped, unset kept.
    inventory = (c("on", **{E: "true"}), c("off", **{E: "false"}), c("unset"))
    assert [x.name for x in select(inventory, Selection()).containers] == ["on", "unset"]


def test_a_pattern_that_selects_nothing_is_reported_as_missing() -> None:
    inventory = (c("web1"), c("web2"), c("db"))
    result = select(inventory, Selection(names=("web.", "cache", "db")))
    assert [x.name for x in result.containers] == ["web1", "web2", "db"]
    assert result.missing_names == ("cache",)
