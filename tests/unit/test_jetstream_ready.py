"""Which JetStream errors at start-up mean "not ready yet, wait" (pure)."""

from __future__ import annotations

import itertools

import nats.errors
import nats.js.errors
import pytest

from vigil_shared.jetstream_ready import ReplicasShort, delays, not_ready_yet


@pytest.mark.parametrize(
    ("exc", "size", "wait"),
    [
        (nats.errors.TimeoutError(), 3, True),  # no meta leader: nobody answers
        (nats.errors.NoRespondersError(), 3, True),
        (nats.js.errors.ServiceUnavailableError(code=503, err_code=10008), 3, True),
        (nats.js.errors.APIError(code=500, err_code=10009), 3, True),
        (ReplicasShort("3 replicas", 3), 3, True),  # peers not joined yet
        (ReplicasShort("5 replicas", 5), 3, False),  # never: the cluster has 3
        (ReplicasShort("3 replicas", 3), 1, False),  # a single server
        (nats.js.errors.BadRequestError(code=400, err_code=10058), 3, False),
        (ValueError("bad"), 3, False),
    ],
)
def test_not_ready_yet(exc: BaseException, size: int, wait: bool) -> None:
    assert not_ready_yet(exc, size) is wait


def test_delays_double_up_to_a_bound() -> None:
    assert list(itertools.islice(delays(), 6)) == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
