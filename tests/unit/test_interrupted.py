"""What a report cut short by a stop of Vigil says, and until when recovery waits for a stop
the engine carries out (tables)."""

from __future__ import annotations

import pytest

from vigil_executor.recovery import STOP_MARGIN_S, engine_stopping, stop_deadline, stop_may_go_on
from vigil_executor.service import interrupted_summary
from vigil_shared.contracts import ContainerResult
from vigil_shared.contracts.journal import JournalEntry


def result(name: str, status: str) -> ContainerResult:
    return ContainerResult(name=name, container_id="c", image="app", status=status)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statuses", "left", "expected"),
    [
        (["updated", "skipped", "skipped"], ["b", "c"], "interrupted: 1 updated, 2 left"),
        (["skipped"], ["a"], "interrupted: 0 updated, 1 left"),
        (["updated", "fresh", "skipped"], ["c", "c"], "interrupted: 1 updated, 1 left"),
    ],
)
def test_interrupted_summary(statuses: list[str], left: list[str], expected: str) -> None:
    results = [result(n, s) for n, s in zip("abc", statuses, strict=False)]
    text = interrupted_summary("vigil stopped by SIGTERM", results, left)
    assert text == f"{expected} for the next cycle (vigil stopped by SIGTERM)"


def test_a_stop_is_waited_for_up_to_its_timeout_and_a_margin() -> None:
    entry = JournalEntry(
        host="h", plan_id="p", name="web", old_id="o" * 64, image="app", step="stopping",
        was_running=True, at=1000.0,
    )  # fmt: skip
    assert stop_deadline(entry, 10) == 1010.0 + STOP_MARGIN_S


@pytest.mark.parametrize(
    ("state", "stopping", "may_go_on"),
    [
        # Docker: running until the container exits; no state says a stop is under way.
        ({"Status": "running", "Running": True}, False, True),
        ({"Status": "exited", "Running": False}, False, False),
        # Podman 4.3 during a stop: `stopping`, and not Running (seen through its compatible
        # API: it logs no kill event for a stop, and refuses a start until the exit).
        ({"Status": "stopping", "Running": False}, True, True),
        ({"Status": "exited", "Running": False, "ExitCode": 137}, False, False),
        ({}, False, False),
    ],
)
def test_a_stop_under_way_is_read_from_either_engines_state(
    state: dict[str, object], stopping: bool, may_go_on: bool
) -> None:
    assert engine_stopping(state) is stopping
    assert stop_may_go_on(state) is may_go_on
