"""Summaries add up: every status a result has is counted, wherever a cycle is summed up
(`vigil events` and the dashboard's audit stream, the notifications, `vigil status`)."""

from __future__ import annotations

import re
import typing

import msgspec
import pytest

from vigil.commands.fleet import _counts
from vigil_notifier.render import render_report, summary_line
from vigil_shared.audit import AuditEvent, describe
from vigil_shared.contracts import ContainerResult, Report
from vigil_shared.contracts.report import ResultStatus
from vigil_shared.contracts.status import ReportSummary
from vigil_shared.summary import ORDER, summary

STATUSES: tuple[str, ...] = typing.get_args(ResultStatus)


def report(*statuses: str) -> Report:
    results = tuple(
        msgspec.convert(
            {"name": f"c{i}", "container_id": f"id{i}", "image": "app", "status": s},
            ContainerResult,
        )
        if s in STATUSES
        else msgspec.structs.replace(
            ContainerResult(name=f"c{i}", container_id=f"id{i}", image="app", status="fresh"),
            status=s,  # a status added after this build
        )
        for i, s in enumerate(statuses)
    )
    return Report(
        scan_id="0123456789", plan_id="p", host="h1", started_at=0, finished_at=1, results=results
    )


def audit_line(r: Report) -> str:
    return describe(
        AuditEvent(seq=1, subject="vigil.report.h1", kind="report", host="h1", at=1, message=r)
    )


def adds_up(line: str) -> bool:
    scanned = int(re.search(r"(\d+) scanned", line).group(1))  # type: ignore[union-attr]
    rest = re.findall(r", (\d+) [a-z ]+", line.split("scanned", 1)[1])
    return scanned == sum(map(int, rest))


def test_every_status_of_a_result_has_its_place() -> None:
    assert set(STATUSES) <= set(ORDER)


@pytest.mark.parametrize(
    ("statuses", "line"),
    [
        (("fresh",) * 5 + ("held",), "6 scanned, 1 held, 5 fresh"),
        (
            ("held", "check_failed", "rolled_back", "skipped", "fresh"),
            "5 scanned, 1 rolled back, 1 check failed, 1 held, 1 skipped, 1 fresh",
        ),
        (("rate_limited", "updated"), "2 scanned, 1 updated, 1 rate limited"),
        (("unverified", "fresh"), "2 scanned, 1 unverified, 1 fresh"),
        (("a_new_status", "fresh"), "2 scanned, 1 fresh, 1 a new status"),
        ((), "0 scanned"),
    ],
)
def test_vigil_events_and_the_dashboards_stream_count_every_status(
    statuses: tuple[str, ...], line: str
) -> None:
    assert audit_line(report(*statuses)).endswith(f" {line} (scan 01234567)")


@pytest.mark.parametrize(
    ("statuses", "line"),
    [
        (("fresh",) * 5 + ("held",), "6 scanned, 1 held, 5 up to date"),
        (
            ("held", "check_failed", "rolled_back", "skipped"),
            "4 scanned, 1 rolled back, 1 check failed, 1 held, 1 skipped",
        ),
        (("unverified", "fresh"), "2 scanned, 1 unverified, 1 up to date"),
    ],
)
def test_notifications_count_every_status(statuses: tuple[str, ...], line: str) -> None:
    r = report(*statuses)
    assert summary_line(r) == line
    assert f"  {line}\n" in render_report(r) + "\n"


def test_vigil_status_counts_every_status() -> None:
    last = ReportSummary(scan_id="s", plan_id="p", finished_at=1, counts={"fresh": 5, "held": 1})
    assert _counts(last) == "6 scanned, 1 held, 5 fresh"


@pytest.mark.parametrize("n", range(len(STATUSES) + 1))
def test_the_counts_always_add_up(n: int) -> None:
    statuses = STATUSES[:n] + STATUSES[: n // 2]
    for line in (audit_line(report(*statuses)), summary_line(report(*statuses))):
        assert adds_up(line), line
    assert adds_up(summary({s: statuses.count(s) for s in statuses}))
