"""`vigil status` and `vigil trigger`, their pure parts: liveness, the table, the JSON
document, and which hosts a trigger waits for."""

from __future__ import annotations

import time

import pytest

from vigil.commands.fleet import (
    liveness,
    render_status,
    run_once_lines,
    state,
    status_document,
    targets,
)
from vigil_shared.contracts import ContainerResult, Heartbeat, Report, ReportSummary
from vigil_shared.heartbeat import is_alive, summarize

NOW = 1_700_000_000.0


def beat(role: str, host: str, age: float = 1.0, **extra: object) -> Heartbeat:
    return Heartbeat(
        role=role,
        host=host,
        version="1.2.3",
        pid=42,
        started_at=NOW - 3600,
        at=NOW - age,
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("age", "alive", "text"),
    [
        (0.0, True, "alive"),
        (29.9, True, "alive"),
        (30.0, False, "silent for 30s"),
        (45.0, False, "silent for 45s"),
        (600.0, False, "silent for 10m"),
        (3 * 3600.0, False, "silent for 3h"),
        (3 * 86400.0, False, "silent for 3d"),
    ],
)
def test_liveness(age: float, alive: bool, text: str) -> None:
    b = beat("scanner", "a", age)
    assert is_alive(b, NOW) is alive
    assert liveness(b, NOW) == text


def test_liveness_of_a_missing_service() -> None:
    assert liveness(None, NOW) == "never seen"


FLEET = [
    beat("scanner", "a"),
    beat("executor", "a"),
    beat("scanner", "b", age=120),
    beat("executor", "b", age=120),
    beat("scanner", "c"),
    beat("registry-gateway", "fleet"),
]


@pytest.mark.parametrize(
    ("wanted", "hosts", "missing"),
    [
        ((), ("a", "c"), ()),  # every live scanner; b is silent
        (("c",), ("c",), ()),
        (("c", "a", "c"), ("c", "a"), ()),  # duplicates once, order kept
        (("b",), (), ("b",)),  # silent scanner
        (("a", "zz"), ("a",), ("zz",)),  # unknown host
        (("fleet",), (), ("fleet",)),  # a gateway is not a scanner
    ],
)
def test_which_hosts_a_trigger_waits_for(
    wanted: tuple[str, ...], hosts: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    assert targets(FLEET, wanted, NOW) == (hosts, missing)


def test_no_live_scanner_no_target() -> None:
    assert targets([beat("scanner", "a", age=31)], (), NOW) == ((), ())


def report(*statuses: str, problems: tuple[str, ...] = ()) -> Report:
    return Report(
        scan_id="0123456789abcdef",
        plan_id="p1",
        host="a",
        started_at=NOW - 70,
        finished_at=NOW - 60,
        results=tuple(
            ContainerResult(name=f"c{i}", container_id=str(i), image="x:1", status=s)  # type: ignore[arg-type]
            for i, s in enumerate(statuses)
        ),
        problems=problems,
    )


def test_summarize_counts_and_failure() -> None:
    assert summarize(None) is None
    s = summarize(report("updated", "fresh", "fresh"))
    assert s == ReportSummary(
        scan_id="0123456789abcdef",
        plan_id="p1",
        finished_at=NOW - 60,
        counts={"updated": 1, "fresh": 2},
    )
    failed = summarize(report("failed", problems=("boom",)))
    assert failed is not None and failed.failed and failed.problems == 1


def test_the_table_shows_hosts_then_fleet_services() -> None:
    beats = [
        beat("notifier", "fleet"),
        beat("executor", "b", age=95, last_report=summarize(report("failed"))),
        beat("scanner", "b", age=95),
        beat("registry-gateway", "fleet", age=2),
        beat(
            "scanner",
            "a",
            scans_total=3,
            scans_skipped=1,
            last_scan_id="feedbeef99",
            last_scan_at=NOW,
        ),
        beat("executor", "a", last_report=summarize(report("updated", "fresh", "fresh"))),
    ]
    lines = render_status(beats, NOW).splitlines()
    assert lines[0].split() == [
        "HOST", "SERVICE", "STATE", "VERSION", "ENGINE", "LAST", "HEARTBEAT", "LAST", "CYCLE", "/",
        "SCANS",
    ]  # fmt: skip
    assert [line.split()[:2] for line in lines[1:]] == [
        ["a", "scanner"],
        ["a", "executor"],
        ["b", "scanner"],
        ["b", "executor"],
        ["(fleet)", "notifier"],
        ["(fleet)", "registry-gateway"],
    ]
    a_scanner, a_executor, b_scanner, b_executor = lines[1:5]
    assert " alive " in a_scanner and "1.2.3" in a_scanner and "(1s ago)" in a_scanner
    assert "3 scans, 1 skipped" in a_scanner and "scan feedbeef" in a_scanner
    assert (
        "ok: 1 scanned, 1 fresh" not in a_executor
        and "ok: 3 scanned, 1 updated, 2 fresh (scan 01234567)" in a_executor
    )
    assert "silent for 95s" in b_scanner
    assert "FAILED: 1 scanned, 1 failed" in b_executor
    # columns line up: every row's SERVICE starts where the header's does
    col = lines[0].index("SERVICE")
    assert all(line[col - 2 : col] == "  " and line[col] != " " for line in lines)


def test_a_host_without_executor_heartbeat_says_so() -> None:
    text = render_status([beat("scanner", "solo")], NOW)
    assert "never seen" in text.splitlines()[2]


def test_the_json_document() -> None:
    doc = status_document(FLEET, NOW)
    assert [h["host"] for h in doc["hosts"]] == ["a", "b", "c"]
    a, b, c = doc["hosts"]
    assert a["scanner"]["alive"] and a["executor"]["alive"]
    assert not b["scanner"]["alive"] and b["scanner"]["age_s"] == 120
    assert c["executor"] is None
    assert [f["role"] for f in doc["fleet"]] == ["registry-gateway"]
    assert a["scanner"]["version"] == "1.2.3" and a["scanner"]["pid"] == 42


@pytest.mark.parametrize(
    ("extra", "age", "state_text", "text", "alive"),
    [
        ({}, 1.0, "alive", "alive", True),
        ({}, 40.0, "silent", "silent for 40s", False),
        ({"stopped_at": NOW - 5}, 5.0, "stopped", "stopped 5s ago", False),
        (
            {"stopped_at": NOW - 300, "run_once": True},
            300.0,
            "finished",
            "run-once finished 5m ago",
            False,
        ),
        ({"run_once": True}, 1.0, "alive", "alive", True),  # a run-once still at work
    ],
)
def test_a_process_that_ended_says_so(
    extra: dict[str, object], age: float, state_text: str, text: str, alive: bool
) -> None:
    b = beat("executor", "a", age, **extra)
    assert state(b, NOW) == state_text
    assert liveness(b, NOW) == text
    assert is_alive(b, NOW) is alive


def test_a_finished_run_once_is_not_a_trigger_target() -> None:
    assert targets([beat("scanner", "a", stopped_at=NOW, run_once=True)], (), NOW) == ((), ())


def test_run_once_lines_say_when_it_ended_and_its_last_cycle() -> None:
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(NOW - 10))
    beats = [
        beat("scanner", "a", stopped_at=NOW - 10, run_once=True),
        beat(
            "executor",
            "a",
            stopped_at=NOW - 10,
            run_once=True,
            last_report=summarize(report("updated", "fresh", "fresh")),
        ),
        beat("executor", "b", stopped_at=NOW - 10, run_once=True),
        beat("executor", "c"),  # a daemon: no line
        beat("executor", "d", stopped_at=NOW - 10),  # a daemon stopped: no line
    ]
    assert run_once_lines(beats) == [
        f"a: run-once finished at {at}; last cycle: ok: 3 scanned, 1 updated, 2 fresh "
        "(scan 01234567)",
        f"b: run-once finished at {at}; last cycle: no cycle finished",
    ]
    table = render_status(beats, NOW)
    assert table.endswith("\n".join(["", *run_once_lines(beats)]))
    assert "run-once finished 10s ago" in table.splitlines()[1]
    doc = status_document(beats, NOW)
    assert doc["hosts"][0]["executor"]["state"] == "finished"
    assert doc["hosts"][2]["executor"]["state"] == "alive"


def test_status_names_each_hosts_engine_in_a_mixed_fleet() -> None:
    beats = [
        beat("scanner", "a", engine="Docker 20.10.24 (API 1.41)"),
        beat("executor", "a", engine="Docker 20.10.24 (API 1.41)"),
        beat("scanner", "b", engine="Podman 4.3.1 (API 1.41)"),
        beat("executor", "b"),  # an older executor says nothing of its engine
    ]
    a_scanner, a_executor, b_scanner, b_executor = render_status(beats, NOW).splitlines()[1:5]
    assert "Docker 20.10.24 (API 1.41)" in a_scanner and "Docker 20.10.24" in a_executor
    assert "Podman 4.3.1 (API 1.41)" in b_scanner
    assert b_executor.split()[4] == "-"
    hosts = status_document(beats, NOW)["hosts"]
    assert [h["scanner"]["engine"] for h in hosts] == [
        "Docker 20.10.24 (API 1.41)",
        "Podman 4.3.1 (API 1.41)",
    ]
