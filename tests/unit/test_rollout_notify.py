"""Which rollout steps are notified, and what they say: a table, no IO."""

from __future__ import annotations

import pytest

from vigil_notifier.policy import Policy
from vigil_notifier.rollouts import rollout_message
from vigil_shared.contracts import RolloutEvent

DIGEST = "sha256:" + "b" * 64
BUILD = "Rollout r1 of reg/app:1 @ bbbbbbbbbbbb"
HALTED = (
    f"{BUILD} halted in wave 2: the update failed on a: web; no further host updates until "
    "vigil rollout resume r1 (or abort)"
)


def step(name: str, detail: str = "", wave: int = 0) -> RolloutEvent:
    return RolloutEvent(
        rollout_id="r1",
        step=name,  # type: ignore[arg-type]
        image="reg/app:1",
        digest=DIGEST,
        at=0,
        wave=wave,
        detail=detail,
    )


@pytest.mark.parametrize(
    ("name", "detail", "level", "kind", "text"),
    [
        ("awaiting_approval", "", "info", "info", f"{BUILD} waits for approval: vigil approve r1"),
        ("halted", "the update failed on a: web", "info", "failure", HALTED),
        ("halted", "x", "error", "failure", "halted in wave 2"),
        ("aborted", "aborted by me", "info", "warning", f"{BUILD} aborted: aborted by me"),
        ("done", "", "info", "info", f"{BUILD} is done"),
        ("done", "", "warn", None, ""),  # below the level
        ("wave_started", "", "debug", None, ""),  # never a notification of its own
        ("created", "", "debug", None, ""),
    ],
)  # fmt: skip
def test_rollout_steps_that_are_notified(
    name: str, detail: str, level: str, kind: str | None, text: str
) -> None:
    message = rollout_message(step(name, detail, wave=1), Policy(level=level))  # type: ignore[arg-type]
    if kind is None:
        assert message is None
        return
    assert message is not None
    assert message.kind == kind
    assert text in message.body
