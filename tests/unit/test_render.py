"""The report a person reads at the end of a cycle."""

from __future__ import annotations

from vigil_notifier.render import render_report, summary_line
from vigil_shared.contracts import ContainerResult, Report


def test_report_lists_every_container_with_its_outcome() -> None:
    report = Report(
        scan_id="abcdef1234",
        plan_id="p",
        host="h1",
        started_at=100.0,
        finished_at=103.5,
        results=(
            ContainerResult(name="db", container_id="1", image="r/db:1", status="fresh"),
            ContainerResult(
                name="web",
                container_id="2",
                image="r/web:1",
                status="updated",
                old_image_id="sha256:" + "a" * 64,
                new_image_id="sha256:" + "b" * 64,
                duration_s=2.25,
            ),
            ContainerResult(
                name="api",
                container_id="3",
                image="r/api:1",
                status="check_failed",
                error="registry r unreachable",
            ),
        ),
        problems=("no container named 'ghost' on host h1",),
    )
    text = render_report(report)
    lines = text.splitlines()
    assert lines[0].startswith("Vigil report for host h1")
    assert "3 scanned, 1 updated, 1 check failed, 1 up to date" in lines[1]
    assert "updated       web (r/web:1) aaaaaaaaaaaa -> bbbbbbbbbbbb in 2.2s" in text
    assert "CHECK FAILED  api (r/api:1): registry r unreachable" in text
    assert "PROBLEM       no container named 'ghost' on host h1" in text
    assert lines.index(next(x for x in lines if "web" in x)) < lines.index(
        next(x for x in lines if "db (" in x)
    )


def test_summary_of_an_empty_cycle() -> None:
    assert (
        summary_line(Report(scan_id="s", plan_id="p", host="h", started_at=0, finished_at=0))
        == "0 scanned"
    )
