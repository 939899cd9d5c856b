"""What a report cut short by a stop of Vigil says, and until when recovery waits for a stop
the engine carries out (tables)."""

from __future__ import annotations

import pytest

from vigil_executor.recovery import STOP_MARGIN_S, stop_deadline
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
