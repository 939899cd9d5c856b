"""Labels checked before an update: the stop signal the engine must know, depends-on names
that must be containers on the host (pure)."""

from __future__ import annotations

import pytest

from vigil_executor.dependency_labels import missing_dependencies, missing_note
from vigil_executor.stopping import stop_signal_problem, valid_signal
from vigil_shared import labels


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        # As the engine (20.10) answers `docker kill -s VALUE`.
        ("SIGTERM", True),
        ("SIGHUP", True),
        ("sigwinch", True),
        ("WINCH", True),
        ("SIGCLD", True),
        ("RTMIN+3", True),
        ("SIGRTMIN+15", True),
        ("RTMAX-2", True),
        ("28", True),
        ("64", True),
        ("SIGFOO", False),
        ("FOO", False),
        ("SIGUNUSED", False),
        ("RTMIN+16", False),
        ("0", False),
        ("65", False),
        ("-9", False),
        ("SIG", False),
        ("SIG TERM", False),
    ],
)
def test_valid_signal(value: str, valid: bool) -> None:
    assert valid_signal(value) is valid


@pytest.mark.parametrize(
    ("container_labels", "expected"),
    [
        ({}, ""),
        ({labels.STOP_SIGNAL: " "}, ""),
        ({labels.STOP_SIGNAL: "SIGINT"}, ""),
        ({labels.STOP_SIGNAL: " SIGHUP "}, ""),
        (
            {labels.STOP_SIGNAL: "SIGFOO"},
            f"the label {labels.STOP_SIGNAL}='SIGFOO' is not a signal the engine knows "
            "(e.g. SIGTERM, SIGHUP, SIGINT, or a number 1-64): fix or remove it",
        ),
    ],
)
def test_stop_signal_problem_names_label_and_value(
    container_labels: dict[str, str], expected: str
) -> None:
    assert stop_signal_problem(container_labels) == expected


NAMES = {"db", "cache", "web"}
IDS = ["0123456789ab" + "c" * 52, "fedcba987654" + "0" * 52]


@pytest.mark.parametrize(
    ("label", "missing"),
    [
        (None, ()),
        ("", ()),
        ("db", ()),
        ("db, /cache ,,", ()),
        ("dbx", ("dbx",)),
        ("db,nosuch,/gone,nosuch", ("nosuch", "gone")),
        ("0123456789ab", ()),  # a short id
        (IDS[1], ()),  # a full id
        ("0123456789a", ("0123456789a",)),  # too short to be read as an id
        ("0123456789ff", ("0123456789ff",)),
    ],
)
def test_missing_dependencies(label: str | None, missing: tuple[str, ...]) -> None:
    container_labels = {} if label is None else {labels.DEPENDS_ON: label}
    assert missing_dependencies(container_labels, NAMES, IDS) == missing


def test_missing_note_names_the_label_and_containers() -> None:
    assert missing_note(("nosuch",)) == (
        f"the {labels.DEPENDS_ON} label names nosuch, which is no container on this host: "
        "that dependency is ignored"
    )
    assert "names a, b, which are no container" in missing_note(("a", "b"))
