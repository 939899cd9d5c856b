"""Decoding at the edge: every kind of bad input becomes a BadMessage naming the problem."""

from __future__ import annotations

import pytest

from vigil_shared.codec import MAX_MESSAGE_BYTES, BadMessage, decode, encode
from vigil_shared.contracts import Plan, Report, ScanCommand, Subjects


def test_round_trip() -> None:
    cmd = ScanCommand(scan_id="s1", hosts=("a",), names=("web",))
    assert decode(encode(cmd), ScanCommand) == cmd


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "Expected `object`"),
        (b'{"scan_id": 3}', "scan_id"),
        (b'{"hosts": []}', "missing required field `scan_id`"),
        (b'{"schema": 7, "scan_id": "x"}', "schema version 7 is not supported"),
        (b"x" * (MAX_MESSAGE_BYTES + 1), "exceeds"),
    ],
)
def test_bad_messages_are_named(data: bytes, needle: str) -> None:
    with pytest.raises(BadMessage) as err:
        decode(data, ScanCommand)
    assert "ScanCommand" in str(err.value)
    assert needle in str(err.value)


def test_report_failed() -> None:
    base = Report(scan_id="s", plan_id="p", host="h", started_at=0, finished_at=1)
    assert not base.failed
    assert Report(
        scan_id="s",
        plan_id="p",
        host="h",
        started_at=0,
        finished_at=1,
        problems=("no container named 'x'",),
    ).failed
    plan = Plan(plan_id="p", scan_id="s", host="h", created_at=0)
    assert plan.actions == () and plan.settled == ()


def test_subjects_refuse_tokens_that_would_break_routing() -> None:
    s = Subjects("vigil")
    assert s.plan("host-1") == "vigil.plan.host-1"
    for bad in ("a.b", "a*", "a b", ">", ""):
        with pytest.raises(ValueError, match="cannot be used in a NATS subject"):
            s.plan(bad)
    with pytest.raises(ValueError):
        Subjects("vi gil")
