"""What a rollback after a failed health check says: the check's own output, or, when it
printed nothing, its command and exit code (`vigil rollout status` shows it as the reason)."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_executor.replace import unhealthy_reason


@pytest.mark.parametrize(
    ("inspect", "reason"),
    [
        (
            {"State": {"Health": {"Log": [{"ExitCode": 1, "Output": "old\n"},
                                          {"ExitCode": 1, "Output": "db down:\n  refused\n"}]}}},
            "the new container is unhealthy: db down: refused",
        ),
        (
            {"Config": {"Healthcheck": {"Test": ["CMD", "false"]}},
             "State": {"Health": {"Log": [{"ExitCode": 1, "Output": ""}]}}},
            "the new container is unhealthy: its health check `false` exited 1 with no output",
        ),
        (
            {"Config": {"Healthcheck": {"Test": ["CMD-SHELL", "wget -q localhost"]}},
             "State": {"Health": {}}},
            "the new container is unhealthy: its health check `wget -q localhost` failed with "
            "no output",
        ),
    ],
)  # fmt: skip
def test_a_rollback_says_what_the_health_check_said(inspect: dict[str, Any], reason: str) -> None:
    assert unhealthy_reason(inspect) == reason
