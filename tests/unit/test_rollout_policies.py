"""Update policies, minimum age and maintenance windows in the scanner's plan, the options
that set them (exit 2 for a bad one) and the `held` status in reports, by tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigil import cli, options
from vigil.options import UsageError
from vigil_notifier.policy import events_of
from vigil_notifier.render import render_report
from vigil_notifier.watchtower import state_of
from vigil_scanner.planning import build_plan, checks_for
from vigil_scanner.policy import LabelProblem, PolicyDefaults, parse_age, policy_for
from vigil_scanner.windows import parse_window
from vigil_shared.contracts import CheckReply, ContainerInfo, ContainerResult, ImageStatus, Report
from vigil_shared.semver import UpdatePolicy, parse_policy

NEW = "sha256:" + "b" * 64
OLD = "sha256:" + "a" * 64
# Monday 7 December 2026, 12:00 UTC.
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC).timestamp()
HOUR = 3600.0
NO_FLAGS = PolicyDefaults()


@pytest.mark.parametrize(
    ("labels", "defaults", "update", "min_age", "window"),
    [
        ({}, PolicyDefaults(), "digest", 0.0, None),
        ({"io.vigil.policy": "semver:^1.2"}, PolicyDefaults(), "semver:^1.2", 0.0, None),
        (
            {},
            PolicyDefaults(update=parse_policy("minor"), min_age_s=60),
            "minor",
            60.0,
            None,
        ),
        # Labels win over the host's flags.
        (
            {
                "io.vigil.policy": "digest",
                "io.vigil.min-age": "7d",
                "io.vigil.window": "Sat 01:00-02:00",
            },
            PolicyDefaults(
                update=parse_policy("patch"),
                min_age_s=60,
                window=parse_window("Mon 01:00-02:00"),
            ),
            "digest",
            7 * 86400.0,
            "Sat 01:00-02:00",
        ),
        # An empty window label lifts the host's window for this container.
        (
            {"io.vigil.window": ""},
            PolicyDefaults(window=parse_window("Mon 01:00-02:00")),
            "digest",
            0.0,
            None,
        ),
    ],
)
def test_labels_over_flags(
    labels: dict[str, str],
    defaults: PolicyDefaults,
    update: str,
    min_age: float,
    window: str | None,
) -> None:
    p = policy_for(labels, defaults)
    assert p.update.text == update
    assert p.min_age_s == min_age
    assert (p.window.text if p.window else None) == window


@pytest.mark.parametrize(
    ("labels", "error"),
    [
        (
            {"io.vigil.policy": "newest"},
            "label io.vigil.policy='newest': 'newest' is not an update policy",
        ),
        ({"io.vigil.min-age": "a day"}, "label io.vigil.min-age='a day': 'a day' is not an age"),
        ({"io.vigil.window": "nights"}, "label io.vigil.window='nights': window 'nights'"),
        (
            {"io.vigil.policy": "semver:>=2,<1"},
            "label io.vigil.policy='semver:>=2,<1': range '>=2,<1' can never match",
        ),
    ],
)
def test_bad_labels_name_label_and_value(labels: dict[str, str], error: str) -> None:
    with pytest.raises(LabelProblem, match=error.replace("(", r"\(")):
        policy_for(labels, PolicyDefaults())


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("24h", 86400.0),
        ("7d", 604800.0),
        ("1h30m", 5400.0),
        ("90s", 90.0),
        ("3600", 3600.0),
        ("0", 0.0),
    ],
)
def test_ages(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


def container(name: str, image: str = "reg:5000/app:1.2.3", **labels: str) -> ContainerInfo:
    return ContainerInfo(
        id=f"id-{name}", name=name, image=image, image_id=f"img-{name}", labels=labels
    )


def plan(
    containers: list[ContainerInfo],
    statuses: list[ImageStatus],
    defaults: PolicyDefaults = NO_FLAGS,
    now: float = NOW,
) -> tuple[dict[str, str], dict[str, object]]:
    policies: dict[str, object] = {}
    for c in containers:
        try:
            policies[c.id] = policy_for(c.labels, defaults)
        except LabelProblem as exc:
            policies[c.id] = str(exc)
    checklist = checks_for(containers, policies=policies)  # type: ignore[arg-type]
    p = build_plan(
        plan_id="p",
        scan_id="s",
        host="h",
        now=now,
        containers=containers,
        checklist=checklist,
        reply=CheckReply(scan_id="s", results=tuple(statuses)),
        policies=policies,  # type: ignore[arg-type]
    )
    out: dict[str, str] = {a.container_name: "update" for a in p.actions}
    out.update({r.name: r.status for r in p.settled})
    detail: dict[str, object] = {a.container_name: a for a in p.actions}
    detail.update({r.name: r for r in p.settled})
    return out, detail


def stale(image: str = "reg:5000/app:1.2.3", policy: str = "", **kw: object) -> ImageStatus:
    return ImageStatus(image=image, outcome="stale", remote_digest=NEW, policy=policy, **kw)  # type: ignore[arg-type]


def test_checks_are_per_image_and_policy_and_ask_for_age_when_needed() -> None:
    containers = [
        container("a"),
        container("b", **{"io.vigil.policy": "semver:^1.2", "io.vigil.min-age": "1h"}),
        container("c", **{"io.vigil.policy": "semver:^1.2"}),
        container("d", **{"io.vigil.policy": "bad"}),
    ]
    policies = {
        c.id: (policy_for(c.labels, PolicyDefaults()) if c.name != "d" else "bad label")
        for c in containers
    }
    checklist = checks_for(containers, policies=policies)
    assert [(x.image, x.policy, x.age) for x in checklist.checks] == [
        ("reg:5000/app:1.2.3", "", False),
        ("reg:5000/app:1.2.3", "semver:^1.2", True),
    ]
    assert [(r.name, r.status, r.error) for r in checklist.unusable] == [
        ("d", "failed", "bad label")
    ]


def test_a_semver_target_becomes_the_actions_image() -> None:
    containers = [container("web", **{"io.vigil.policy": "semver:^1.2"})]
    out, detail = plan(containers, [stale(policy="semver:^1.2", target="reg:5000/app:1.4.0")])
    assert out == {"web": "update"}
    action = detail["web"]
    assert action.image == "reg:5000/app:1.4.0"  # type: ignore[attr-defined]
    assert action.previous_image == "reg:5000/app:1.2.3"  # type: ignore[attr-defined]
    assert action.remote_digest == NEW  # type: ignore[attr-defined]


def test_a_range_that_can_never_match_fails_that_container_with_its_reason() -> None:
    containers = [container("never", **{"io.vigil.policy": "semver:>=2,<1"}), container("ok")]
    out, detail = plan(containers, [stale()])
    assert out == {"never": "failed", "ok": "update"}
    assert "can never match" in detail["never"].error  # type: ignore[attr-defined]


def test_a_bad_label_fails_that_container_and_the_others_go_on() -> None:
    containers = [container("bad", **{"io.vigil.window": "Mon 9-5"}), container("ok")]
    out, detail = plan(containers, [stale()])
    assert out == {"bad": "failed", "ok": "update"}
    assert "label io.vigil.window='Mon 9-5'" in detail["bad"].error  # type: ignore[attr-defined]


WINDOW = {"io.vigil.window": "Mon-Fri 02:00-04:00"}


@pytest.mark.parametrize(
    ("labels", "status", "now", "result", "reason", "until"),
    [
        # Minimum age, by the image config's created time.
        (
            {"io.vigil.min-age": "24h"},
            stale(created=NOW - HOUR),
            NOW,
            "held",
            "held by policy (until 2026-12-08 11:00 UTC): the new image is younger than the "
            "minimum age 1d",
            NOW + 23 * HOUR,
        ),
        ({"io.vigil.min-age": "24h"}, stale(created=NOW - 25 * HOUR), NOW, "update", "", 0.0),
        # No created time: first sighting by the gateway counts.
        (
            {"io.vigil.min-age": "2h"},
            stale(first_seen=NOW - HOUR),
            NOW,
            "held",
            "held by policy (until 2026-12-07 13:00 UTC): the new image is younger than the "
            "minimum age 2h",
            NOW + HOUR,
        ),
        ({"io.vigil.min-age": "2h"}, stale(first_seen=NOW - 3 * HOUR), NOW, "update", "", 0.0),
        # The created time wins over a later first sighting.
        (
            {"io.vigil.min-age": "2h"},
            stale(created=NOW - 3 * HOUR, first_seen=NOW - 60),
            NOW,
            "update",
            "",
            0.0,
        ),
        # No digest, so no age: held rather than updated blind.
        (
            {"io.vigil.min-age": "2h"},
            ImageStatus(image="reg:5000/app:1.2.3", outcome="unverified"),
            NOW,
            "held",
            "held by policy: the age of the new image cannot be told",
            0.0,
        ),
        # Maintenance windows.
        (
            WINDOW,
            stale(),
            NOW,
            "held",
            "held: outside the maintenance window 'Mon-Fri 02:00-04:00' (next opens at 2026-12-08 "
            "02:00 UTC)",
            datetime(2026, 12, 8, 2, tzinfo=UTC).timestamp(),
        ),
        (WINDOW, stale(), datetime(2026, 12, 8, 2, 30, tzinfo=UTC).timestamp(), "update", "", 0.0),
        # Held for age inside the window; a fresh container is fresh whatever its window.
        (
            {**WINDOW, "io.vigil.min-age": "1h"},
            stale(created=NOW - 60),
            datetime(2026, 12, 8, 2, 30, tzinfo=UTC).timestamp(),
            "update",
            "",
            0.0,
        ),
        (
            WINDOW,
            ImageStatus(image="reg:5000/app:1.2.3", outcome="current", remote_digest=OLD),
            NOW,
            "fresh",
            "",
            0.0,
        ),
        # A semver target names the tag it holds.
        (
            {"io.vigil.policy": "semver:^1.2", "io.vigil.min-age": "1d"},
            stale(policy="semver:^1.2", target="reg:5000/app:1.4.0", created=NOW - HOUR),
            NOW,
            "held",
            "held by policy (until 2026-12-08 11:00 UTC): reg:5000/app:1.4.0 is younger than the "
            "minimum age 1d",
            NOW + 23 * HOUR,
        ),
    ],
)
def test_holds(
    labels: dict[str, str], status: ImageStatus, now: float, result: str, reason: str, until: float
) -> None:
    c = ContainerInfo(
        id="id-web",
        name="web",
        image="reg:5000/app:1.2.3",
        image_id="img",
        labels=labels,
        repo_digests=(f"reg:5000/app@{OLD}",),
    )
    out, detail = plan([c], [status], now=now)
    assert out == {"web": result}
    if result == "held":
        held = detail["web"]
        assert isinstance(held, ContainerResult)
        assert held.error.startswith(reason)
        assert held.held_until == until


def test_the_hosts_window_holds_when_no_label_says_otherwise() -> None:
    defaults = PolicyDefaults(window=parse_window("Sat 00:00-06:00"))
    out, _ = plan(
        [container("a"), container("b", **{"io.vigil.window": "Mon 11:00-13:00"})],
        [stale()],
        defaults,
    )
    assert out == {"a": "held", "b": "update"}


def report(*results: ContainerResult) -> Report:
    return Report(
        scan_id="s" * 8,
        plan_id="p",
        host="h1",
        started_at=NOW,
        finished_at=NOW + 2,
        results=results,
    )


HELD = ContainerResult(
    name="db",
    container_id="c2",
    image="reg/db:1",
    status="held",
    old_image_id="sha256:" + "1" * 64,
    error="held by policy (until 2026-12-08 11:00 UTC): the new image is younger "
    "than the minimum age 1d",
)
MOVED = ContainerResult(
    name="web",
    container_id="c1",
    image="reg/app:1.4.0",
    previous_image="reg/app:1.2.3",
    status="updated",
    old_image_id="sha256:" + "1" * 64,
    new_image_id="sha256:" + "2" * 64,
    duration_s=1.5,
)


def test_console_report_shows_held_and_the_tag_change() -> None:
    text = render_report(report(MOVED, HELD))
    assert "2 scanned, 1 updated, 1 held" in text
    assert "updated       web (reg/app:1.2.3 -> reg/app:1.4.0) 111111111111 -> 222222222222" in text
    assert f"held          db (reg/db:1): {HELD.error}" in text
    assert "up to date" not in text


def test_notification_events_and_watchtower_state_of_held() -> None:
    events = {e.name: e for e in events_of(report(MOVED, HELD))}
    assert events["db"].level == "info"
    assert events["db"].text == f"Held db (reg/db:1): {HELD.error}"
    assert events["web"].text.startswith("Updated web (reg/app:1.2.3 -> reg/app:1.4.0)")
    assert state_of(HELD) == "Skipped"  # watchtower's format has no held


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["--policy", "newest"], {}, "--policy: 'newest' is not an update policy"),
        (["--policy", "semver:^1.x.y"], {}, "--policy: range '^1.x.y'"),
        ([], {"VIGIL_POLICY": "semver:"}, "VIGIL_POLICY (--policy): the range is empty"),
        (["--min-age", "1 day"], {}, "--min-age: '1 day' is not an age"),
        ([], {"VIGIL_MIN_AGE": "-1h"}, "VIGIL_MIN_AGE (--min-age): '-1h' is not an age"),
        (["--window", "weekends"], {}, "--window: window 'weekends': 'weekends' is not a span"),
        ([], {"VIGIL_WINDOW": "Mon 02:00-02:00"}, "VIGIL_WINDOW (--window): window"),
        (["--window", "Mon 02:00-04:00"], {"TZ": "Mars/Olympus"}, "--window is read in TZ"),
    ],
)
def test_bad_flags_are_refused_naming_flag_and_value(
    argv: list[str], env: dict[str, str], needle: str
) -> None:
    parsed = cli.build_parser(options.ALL_IN_ONE).parse_args(argv)
    with pytest.raises(UsageError) as caught:
        options.resolve(options.ALL_IN_ONE, parsed, env)
    assert needle in str(caught.value)


def test_bad_policy_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--policy", "newest"], env={}) == 2
    assert "--policy: 'newest' is not an update policy" in capsys.readouterr().err


def test_good_flags_make_the_scanners_defaults() -> None:
    parsed = cli.build_parser(options.ALL_IN_ONE).parse_args(
        ["--policy", "semver:>=1.2,<2", "--min-age", "24h", "--window", "Mon-Fri 02:00-04:00"]
    )
    values, _ = options.resolve(options.ALL_IN_ONE, parsed, {})
    defaults = options.policy_defaults(values)
    assert defaults.update == UpdatePolicy(kind="semver", range=">=1.2,<2")
    assert defaults.min_age_s == 86400.0
    assert defaults.window is not None and defaults.window.text == "Mon-Fri 02:00-04:00"
