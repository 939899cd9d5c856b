"""Where a replay of the audit stream starts: a reader of a large fleet's stream (the
dashboard) starts from each subject's latest message, not from a month of cycles."""

from __future__ import annotations

import pytest
from nats.js.api import DeliverPolicy

from vigil_shared.audit import replay_start


@pytest.mark.parametrize(
    ("messages", "since", "replay_all_up_to", "policy"),
    [
        (10, None, None, DeliverPolicy.ALL),  # `vigil events`: everything, in order
        (10_000_000, None, None, DeliverPolicy.ALL),
        (20_000, None, 20_000, DeliverPolicy.ALL),  # a small stream: its whole history
        (20_001, None, 20_000, DeliverPolicy.LAST_PER_SUBJECT),  # a fleet's: the latest
        (10_000_000, 1.0, 20_000, DeliverPolicy.BY_START_TIME),  # asked from a time
        (0, None, 20_000, DeliverPolicy.ALL),
    ],
)
def test_a_large_stream_is_read_from_each_subjects_latest(
    messages: int, since: float | None, replay_all_up_to: int | None, policy: DeliverPolicy
) -> None:
    assert replay_start(messages, since=since, replay_all_up_to=replay_all_up_to) == policy
