"""--rollout-retention: which rollouts the coordinator prunes from the bucket (pure, by a
table), and the option as the other durations read it."""

from __future__ import annotations

from typing import Any

import pytest

from vigil import options
from vigil.cli import build_parser
from vigil_coordinator.decisions import prunable
from vigil_shared.contracts import HostProgress, Rollout

DAY = 86400.0
NOW = 100 * DAY


def rollout(state: str, updated_days_ago: float, *statuses: str) -> Rollout:
    hosts = {f"h{i}": HostProgress(status=s) for i, s in enumerate(statuses or ("updated",))}  # type: ignore[arg-type]
    return Rollout(
        rollout_id="r1",
        image="reg:5000/app:latest",
        digest="sha256:" + "b" * 64,
        created_at=NOW - 40 * DAY,
        state=state,  # type: ignore[arg-type]
        hosts=hosts,
        updated_at=NOW - updated_days_ago * DAY,
    )


@pytest.mark.parametrize(
    ("r", "retention_s", "pruned"),
    [
        # Finished and older than the retention: pruned; younger: kept.
        (rollout("done", 31), 30 * DAY, True),
        (rollout("done", 30), 30 * DAY, True),  # exactly as old as the retention
        (rollout("done", 29.9), 30 * DAY, False),
        (rollout("aborted", 31, "reverted", "reverted"), 30 * DAY, True),
        (rollout("aborted", 31, "revert_failed"), 30 * DAY, True),
        # An abort whose host is still going back is not finished.
        (rollout("aborted", 31, "reverted", "reverting"), 30 * DAY, False),
        # Not finished: never pruned, however old.
        (rollout("awaiting_approval", 300, "pending"), 30 * DAY, False),
        (rollout("running", 300, "go"), 30 * DAY, False),
        (rollout("halted", 300, "failed"), 30 * DAY, False),
        # 0 keeps every rollout.
        (rollout("done", 3000), 0.0, False),
        # A short retention (seconds).
        (rollout("done", 2 / DAY), 1.0, True),
    ],
)  # fmt: skip
def test_which_rollouts_are_pruned(r: Rollout, retention_s: float, pruned: bool) -> None:
    assert prunable(r, NOW, retention_s) is pruned


def test_a_rollout_without_updated_at_counts_from_its_creation() -> None:
    r = Rollout(
        rollout_id="r1", image="a:1", digest="sha256:" + "b" * 64, created_at=NOW - 31 * DAY,
        state="done",
    )  # fmt: skip
    assert prunable(r, NOW, 30 * DAY)


def _values(command: str, *argv: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    parsed = build_parser(command).parse_args(list(argv))
    return options.resolve(command, parsed, env or {})[0]


@pytest.mark.parametrize(
    ("argv", "env", "seconds"),
    [
        ((), {}, 30 * DAY),
        (("--rollout-retention", "720h"), {}, 30 * DAY),
        (("--rollout-retention", "90s"), {}, 90.0),
        ((), {"VIGIL_ROLLOUT_RETENTION": "1h30m"}, 5400.0),
        (("--rollout-retention", "0"), {}, 0.0),
    ],
)
def test_the_option_reads_durations(
    argv: tuple[str, ...], env: dict[str, str], seconds: float
) -> None:
    for command in (options.ALL_IN_ONE, options.COORDINATOR):
        assert _values(command, *argv, env=env)["rollout_retention"] == seconds


def test_a_bad_retention_is_a_usage_error_naming_the_option() -> None:
    with pytest.raises(options.UsageError, match=r"--rollout-retention.*'a month'"):
        _values(options.COORDINATOR, "--rollout-retention", "a month")
