"""Boolean labels read as watchtower reads them: Go's strconv.ParseBool, and a value that is
not a boolean counts as not set. The cases mirror watchtower's pkg/container/container_test.go
("Enabled", "checking if its a watchtower instance", "checking no-pull label",
"checking monitor-only label")."""

from __future__ import annotations

import pytest

from vigil_scanner.selection import Selection, select
from vigil_shared import labels
from vigil_shared.contracts import ContainerInfo

PARSE_BOOL_TRUE = ["1", "t", "T", "TRUE", "true", "True"]
PARSE_BOOL_FALSE = ["0", "f", "F", "FALSE", "false", "False"]
NOT_BOOLEANS = ["falsy", "yes?", "yes", "no", "on", "off", "", " true", "tRuE", "maybe", "2"]


@pytest.mark.parametrize("text", PARSE_BOOL_TRUE)
def test_parse_bool_true(text: str) -> None:
    assert labels.bool_label({labels.ENABLE: text}, labels.ENABLE) is True


@pytest.mark.parametrize("text", PARSE_BOOL_FALSE)
def test_parse_bool_false(text: str) -> None:
    assert labels.bool_label({labels.ENABLE: text}, labels.ENABLE) is False


@pytest.mark.parametrize("text", NOT_BOOLEANS)
def test_a_value_that_is_not_a_boolean_is_not_set(text: str) -> None:
    # container_test.go: "should return false, false if present but not parsable .Enabled()"
    assert labels.bool_label({labels.ENABLE: text}, labels.ENABLE) is None
    assert labels.unparsable_bool_labels({labels.ENABLE: text}) == (f"{labels.ENABLE}={text!r}",)


def test_missing_label_is_not_set() -> None:
    # container_test.go: "should return false, false if not present on calls to .Enabled()"
    assert labels.bool_label({"lol": "false"}, labels.ENABLE) is None
    assert labels.unparsable_bool_labels({"lol": "false"}) == ()


# container_test.go, "checking if its a watchtower instance": ContainsWatchtowerLabel compares
# with "true" exactly.
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({labels.SELF: "true"}, True),
        ({labels.SELF: "false"}, False),
        ({"funny.label": "false"}, False),
        ({}, False),
        ({labels.SELF: "True"}, False),
        ({labels.SELF: "1"}, False),
    ],
)
def test_is_watchtower(given: dict[str, str], expected: bool) -> None:
    assert labels.is_self(given) is expected


# container_test.go, "checking no-pull label" (and monitor-only, which watchtower resolves with
# the same getContainerOrGlobalBool): (label, --no-pull, --label-take-precedence, expected).
SWITCH_CASES = [
    ("true", False, False, True),
    ("false", False, False, False),
    ("maybe", False, False, False),  # "no-pull label is set to an invalid value"
    (None, False, False, False),  # "no-pull label is unset"
    ("true", True, False, True),
    ("false", True, False, True),  # without precedence the flag stands
    ("true", True, True, True),
    ("false", True, True, False),  # label-take-precedence: the label wins
    # Beyond watchtower's cases, the same rule for what ParseBool refuses:
    ("yes?", True, True, True),  # not a boolean: the flag stands, even with precedence
    ("falsy", True, True, True),
    ("yes", False, False, False),
    ("TRUE", False, True, True),
    ("F", True, True, False),
]


@pytest.mark.parametrize("label", [labels.NO_PULL, labels.MONITOR_ONLY])
@pytest.mark.parametrize(("value", "flag", "precedence", "expected"), SWITCH_CASES)
def test_flag_with_label(
    label: str, value: str | None, flag: bool, precedence: bool, expected: bool
) -> None:
    given = {} if value is None else {label: value}
    assert labels.flag_with_label(given, label, flag, precedence) is expected


def _container(name: str, **given: str) -> ContainerInfo:
    return ContainerInfo(id=name, name=name, image="app:1", image_id="sha256:x", labels=dict(given))


# filters.go FilterByDisabledLabel / FilterByEnableLabel over Enabled(): a label that is not a
# boolean neither opts the container out nor, under --label-enable, in.
@pytest.mark.parametrize(
    ("value", "label_enable", "selected"),
    [
        ("true", False, True),
        ("false", False, False),
        ("falsy", False, True),  # not a boolean: not an opt-out
        ("yes", False, True),
        ("", False, True),
        ("true", True, True),
        ("T", True, True),
        ("false", True, False),
        ("falsy", True, False),  # not a boolean: not set, so not enabled either
        ("yes", True, False),
    ],
)
def test_enable_label_in_selection(value: str, label_enable: bool, selected: bool) -> None:
    container = _container("web", **{labels.ENABLE: value})
    chosen = select((container,), Selection(label_enable=label_enable)).containers
    assert (chosen == (container,)) is selected
