"""What a cycle's report becomes as notifications: levels, titles, bodies."""

from __future__ import annotations

import pytest

from vigil_notifier.policy import (
    Level,
    Policy,
    events_of,
    messages_for,
    parse_level,
    startup_message,
    title_for,
)
from vigil_shared.contracts import ContainerResult, Report


def result(name: str, status: str, **kw: object) -> ContainerResult:
    return ContainerResult(name=name, container_id=name, image=f"r/{name}:1", status=status, **kw)  # type: ignore[arg-type]


def report(host: str = "h1", *results: ContainerResult, problems: tuple[str, ...] = ()) -> Report:
    return Report(
        scan_id="scan-1",
        plan_id="p",
        host=host,
        started_at=100.0,
        finished_at=104.0,
        results=results,
        problems=problems,
    )


UPDATED = result(
    "web",
    "updated",
    old_image_id="sha256:" + "a" * 64,
    new_image_id="sha256:" + "b" * 64,
    duration_s=2.5,
)
FRESH = result("db", "fresh")
SKIPPED = result("cache", "skipped", error="monitor-only")
NEWER = "sha256:" + "c" * 64
# --monitor-only: the executor found the container stale and left it (with the digest).
MONITORED = result(
    "cache",
    "skipped",
    remote_digest=NEWER,
    error=f"monitor only: a newer image is available ({NEWER})",
)
# --no-restart: the new image is pulled, the container not recreated.
PULLED_ONLY = result("cache", "skipped", remote_digest=NEWER, new_image_id="sha256:" + "d" * 64)
FAILED = result("api", "failed", error="pull denied")
CHECK_FAILED = result("auth", "check_failed", error="registry unreachable")
ROLLED_BACK = result("queue", "rolled_back", error="unhealthy")
RATE_LIMITED = result("proxy", "rate_limited")
NOTED = result("web2", "updated", notes=("healthcheck not carried over",))
UNVERIFIED = result("pay", "unverified", error="no signature for sha256:aaaa")

QUIET = report("h1", FRESH, SKIPPED)
WITH_UPDATE = report("h1", UPDATED, FRESH)
WITH_WARNING = report("h1", RATE_LIMITED, FRESH)
WITH_FAILURE = report("h1", FAILED, FRESH)
WITH_PROBLEM = report("h1", problems=("cannot reach the Docker engine",))


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("", "info"),
        ("info", "info"),
        ("INFO", "info"),
        ("warning", "warn"),
        ("warn", "warn"),
        ("error", "error"),
        ("panic", "panic"),
        ("fatal", "fatal"),
        ("debug", "debug"),
        ("trace", "trace"),
    ],
)
def test_parse_level(text: str, level: Level) -> None:
    assert parse_level(text) == level


def test_an_unknown_level_names_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="panic, fatal, error, warn, info, debug, trace"):
        parse_level("loud")


# Which cycles notify at which level: (report, level) -> notifies?
LEVEL_RULE = [
    (QUIET, "trace", True),
    (QUIET, "debug", True),
    (QUIET, "info", False),
    (WITH_UPDATE, "info", True),
    (WITH_UPDATE, "warn", False),
    (WITH_WARNING, "warn", True),
    (WITH_WARNING, "error", False),
    (WITH_FAILURE, "info", True),
    (WITH_FAILURE, "error", True),
    (WITH_FAILURE, "fatal", False),
    (WITH_PROBLEM, "fatal", True),
    (WITH_PROBLEM, "panic", False),
    (report("h1", NOTED), "warn", True),
    (report("h1", CHECK_FAILED), "error", True),
    (report("h1", ROLLED_BACK), "error", True),
    # A newer image that was not applied is news at the default level, not below it.
    (report("h1", MONITORED, FRESH), "info", True),
    (report("h1", MONITORED, FRESH), "warn", False),
    (report("h1", PULLED_ONLY), "info", True),
]


@pytest.mark.parametrize(("rep", "level", "notifies"), LEVEL_RULE)
def test_the_level_decides_which_cycles_notify(rep: Report, level: Level, notifies: bool) -> None:
    assert bool(messages_for([rep], Policy(level=level))) is notifies


@pytest.mark.parametrize(
    ("policy", "hosts", "title"),
    [
        (Policy(), ["h1"], "Watchtower updates on h1"),
        (Policy(title_tag="prod"), ["h1"], "[prod] Watchtower updates on h1"),
        (Policy(hostname="nas"), ["h1"], "Watchtower updates on nas"),
        (Policy(title_tag="prod", hostname="nas"), ["h1"], "[prod] Watchtower updates on nas"),
        (Policy(skip_title=True, title_tag="prod"), ["h1"], ""),
        (Policy(), ["h1", "h2"], "Watchtower updates on h1, h2"),
        (Policy(), ["a", "b", "c", "d"], "Watchtower updates on 4 hosts"),
        (Policy(hostname="fleet"), ["a", "b"], "Watchtower updates on fleet"),
        # --notification-report-format vigil keeps Vigil's own titles
        (Policy(style="vigil"), ["h1"], "Vigil updates on h1"),
        (Policy(style="vigil", title_tag="prod"), ["h1"], "[prod] Vigil updates on h1"),
    ],
)
def test_titles(policy: Policy, hosts: list[str], title: str) -> None:
    assert title_for(policy, hosts) == title


@pytest.mark.parametrize(
    ("res", "level", "text"),
    [
        (UPDATED, "info", "Updated web (r/web:1): aaaaaaaaaaaa -> bbbbbbbbbbbb in 2.5s"),
        (FRESH, "debug", "db (r/db:1) is up to date"),
        (SKIPPED, "debug", "Skipped cache (r/cache:1): monitor-only"),
        (
            MONITORED,
            "info",
            f"Found a newer image for cache (r/cache:1): monitor only: a newer image is "
            f"available ({NEWER})",
        ),
        (PULLED_ONLY, "info", "Found a newer image for cache (r/cache:1)"),
        (FAILED, "error", "Failed to update api (r/api:1): pull denied"),
        (CHECK_FAILED, "error", "Could not check auth (r/auth:1): registry unreachable"),
        (ROLLED_BACK, "error", "Rolled back queue (r/queue:1): unhealthy"),
        (RATE_LIMITED, "warn", "Rate limited checking proxy (r/proxy:1); checked again next cycle"),
        (
            UNVERIFIED,
            "warn",
            "Refused an unsigned or untrusted build for pay (r/pay:1): no signature for "
            "sha256:aaaa",
        ),
    ],
)
def test_event_lines(res: ContainerResult, level: str, text: str) -> None:
    (event,) = events_of(report("h1", res))
    assert (event.level, event.text) == (level, text)


def test_one_message_per_cycle_with_the_kept_events_as_lines() -> None:
    rep = report("h1", UPDATED, FRESH, FAILED, NOTED, problems=("engine slow",))
    (message,) = messages_for([rep], Policy())
    assert message.title == "Watchtower updates on h1"
    assert message.kind == "failure"
    assert message.body.splitlines() == [
        "engine slow",
        "Updated web (r/web:1): aaaaaaaaaaaa -> bbbbbbbbbbbb in 2.5s",
        "Failed to update api (r/api:1): pull denied",
        "Updated web2 (r/web2:1)",
        "web2: healthcheck not carried over",
    ]
    assert message.scan_id == "scan-1"


def test_the_report_option_sends_the_whole_report() -> None:
    (message,) = messages_for([WITH_UPDATE], Policy(report=True))
    assert message.body.startswith("Vigil report for host h1")
    assert "up to date" in message.body  # the fresh container too
    assert message.kind == "success"


def test_per_container_sends_one_message_per_event() -> None:
    messages = messages_for([report("h1", UPDATED, FAILED, FRESH)], Policy(per_container=True))
    assert [m.body for m in messages] == [
        "Updated web (r/web:1): aaaaaaaaaaaa -> bbbbbbbbbbbb in 2.5s",
        "Failed to update api (r/api:1): pull denied",
    ]
    assert [m.kind for m in messages] == ["success", "failure"]


def test_a_fleet_summary_is_one_message_for_all_hosts() -> None:
    reports = [report("h1", UPDATED), report("h2", FAILED), report("h3", FRESH)]
    (message,) = messages_for(reports, Policy())
    assert message.title == "Watchtower updates on h1, h2, h3"
    assert message.hosts == ("h1", "h2", "h3")
    assert message.body.splitlines() == [
        "h1: Updated web (r/web:1): aaaaaaaaaaaa -> bbbbbbbbbbbb in 2.5s",
        "h2: Failed to update api (r/api:1): pull denied",
    ]
    (full,) = messages_for(reports, Policy(report=True))
    assert full.body.startswith("Fleet summary of 3 hosts\n\nVigil report for host h1")
    assert "Vigil report for host h3" in full.body


def test_the_startup_message_is_an_info_event() -> None:
    message = startup_message(Policy(title_tag="t"), "nas", ["smtp", "generic"])
    assert message is not None
    assert message.title == "[t] Watchtower updates on nas"
    assert "smtp, generic" in message.body
    assert startup_message(Policy(level="error"), "nas", ["smtp"]) is None
    assert startup_message(Policy(level="debug"), "nas", ["smtp"]) is not None
