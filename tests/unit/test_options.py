"""watchtower's flags and WATCHTOWER_* variables mean the same to vigil."""

from __future__ import annotations

import re
from typing import Any

import pytest

from vigil import cli, options, options_doc
from vigil.options import UsageError, parse_duration


def resolve(
    argv: list[str], env: dict[str, str] | None = None, command: str = options.ALL_IN_ONE
) -> tuple[dict[str, object], list[str]]:
    parsed = cli.build_parser(command).parse_args(argv)
    values, warnings = options.resolve(command, parsed, env or {})
    return values, warnings


@pytest.mark.parametrize(
    ("argv", "env", "key", "expected"),
    [
        ([], {}, "interval", 86400),
        (["--interval", "30"], {}, "interval", 30),
        (["-i", "30"], {}, "interval", 30),
        ([], {"WATCHTOWER_POLL_INTERVAL": "45"}, "interval", 45),
        (["-i", "5"], {"WATCHTOWER_POLL_INTERVAL": "45"}, "interval", 5),  # flag wins
        ([], {}, "cleanup", False),
        (["--cleanup"], {}, "cleanup", True),
        (["-c"], {}, "cleanup", True),
        ([], {"WATCHTOWER_CLEANUP": "true"}, "cleanup", True),
        ([], {"WATCHTOWER_CLEANUP": "false"}, "cleanup", False),
        ([], {"WATCHTOWER_RUN_ONCE": "1"}, "run_once", True),
        (["-R"], {}, "run_once", True),
        ([], {}, "stop_timeout", 10.0),
        (["--stop-timeout", "1m30s"], {}, "stop_timeout", 90.0),
        ([], {"WATCHTOWER_TIMEOUT": "30s"}, "stop_timeout", 30.0),
        (["-t", "5"], {}, "stop_timeout", 5.0),
        ([], {"DOCKER_HOST": "tcp://e:2375"}, "docker_host", "tcp://e:2375"),
        (
            ["-H", "unix:///x.sock"],
            {"DOCKER_HOST": "tcp://e:2375"},
            "docker_host",
            "unix:///x.sock",
        ),
        (["--docker-host", "unix:///y.sock"], {}, "docker_host", "unix:///y.sock"),
        ([], {"WATCHTOWER_DISABLE_CONTAINERS": "a, b c"}, "disable_containers", ("a", "b", "c")),
        (["-x", "a,b", "-x", "c"], {}, "disable_containers", ("a", "b", "c")),
        ([], {"WATCHTOWER_SCOPE": "blue"}, "scope", "blue"),
        ([], {"VIGIL_HOST_ID": "h1"}, "host_id", "h1"),
        ([], {"VIGIL_NATS_URL": "nats://x:4222"}, "nats_url", "nats://x:4222"),
        ([], {"WATCHTOWER_LABEL_ENABLE": "true"}, "label_enable", True),
        ([], {"WATCHTOWER_INCLUDE_STOPPED": "true"}, "include_stopped", True),
    ],
)
def test_flag_and_env(argv: list[str], env: dict[str, str], key: str, expected: object) -> None:
    values, _ = resolve(argv, env)
    assert values[key] == expected


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["--stop-timeout", "soon"], {}, "--stop-timeout: 'soon' is not a duration"),
        ([], {"WATCHTOWER_CLEANUP": "maybe"}, "WATCHTOWER_CLEANUP: 'maybe' is not a boolean"),
        ([], {"WATCHTOWER_POLL_INTERVAL": "often"}, "WATCHTOWER_POLL_INTERVAL"),
        (["--log-level", "loud"], {}, "is not one of"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_option(
    argv: list[str], env: dict[str, str], needle: str
) -> None:
    with pytest.raises(UsageError, match=needle):
        resolve(argv, env)


def test_porcelain_and_legacy_notifications_are_options_not_warnings() -> None:
    values, warnings = resolve(
        ["--porcelain", "v1", "--notifications", "email,slack msteams"],
        {"WATCHTOWER_NOTIFICATION_EMAIL_TO": "a@b", "WATCHTOWER_NOTIFICATION_GOTIFY_URL": "u"},
    )
    assert warnings == []
    assert values["porcelain"] == "v1"
    assert values["notifications"] == ("email", "slack", "msteams")
    assert values["notification_email_to"] == "a@b"
    assert values["notification_gotify_url"] == "u"
    assert values["notification_email_server_port"] == 25
    assert values["notification_slack_identifier"] == "watchtower"
    assert values["notification_report_format"] == "watchtower"
    _, quiet = resolve(["--cleanup", "--tlsverify"])
    assert quiet == []  # --tlsverify is acted on now (TLS to tcp:// engines)


def test_no_option_or_doc_speaks_of_work_not_done_yet() -> None:
    text = options_doc.render() + "\n".join(o.help for o in options.OPTIONS)
    for word in ("pending", "not acted on", r"issue\b", "#7"):  # "issuer" is OIDC's word
        assert not re.search(word, text.lower()), word


@pytest.mark.parametrize("value", ["v2", "V1", "json"])
def test_an_unknown_porcelain_version_is_bad_usage_naming_it(value: str) -> None:
    with pytest.raises(UsageError, match=f"--porcelain: '{value}'"):
        resolve(["--porcelain", value])
    with pytest.raises(UsageError, match=f"WATCHTOWER_PORCELAIN: '{value}'"):
        resolve([], {"WATCHTOWER_PORCELAIN": value})


def test_every_watchtower_flag_of_the_reference_is_accepted() -> None:
    flags = {f for o in options.OPTIONS for f in o.flags}
    for flag in [
        "--host",
        "-H",
        "--tlsverify",
        "--api-version",
        "--interval",
        "--schedule",
        "--stop-timeout",
        "--run-once",
        "--cleanup",
        "--remove-volumes",
        "--no-pull",
        "--no-restart",
        "--no-startup-message",
        "--monitor-only",
        "--label-enable",
        "--disable-containers",
        "--label-take-precedence",
        "--scope",
        "--include-stopped",
        "--revive-stopped",
        "--include-restarting",
        "--enable-lifecycle-hooks",
        "--rolling-restart",
        "--warn-on-head-failure",
        "--health-check",
        "--registry-ca",
        "--registry-ca-validate",
        "--http-api-update",
        "--http-api-token",
        "--http-api-periodic-polls",
        "--http-api-metrics",
        "--log-level",
        "--log-format",
        "--debug",
        "--trace",
        "--no-color",
        "--porcelain",
        "--notification-url",
        "--notifications",
        "--notifications-level",
        "--notifications-delay",
        "--notifications-hostname",
        "--notification-template",
        "--notification-report",
        "--notification-title-tag",
        "--notification-skip-title",
        "--notification-log-stdout",
    ]:
        assert flag in flags, flag


@pytest.mark.parametrize(
    ("text", "seconds"), [("10", 10), ("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--x") == seconds


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--no-such-flag"], env={}) == 2
    assert "vigil has no option --no-such-flag" in capsys.readouterr().err
    assert cli.main(["scanner"], env={}) == 2  # no --nats-url for a single service
    assert "needs --nats-url" in capsys.readouterr().err


def test_help_lists_commands_and_env(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"], env={}) == 0
    out = capsys.readouterr().out
    assert "vigil registry-gateway" in out and "WATCHTOWER_POLL_INTERVAL" in out
    for command in options.SERVICES:
        assert cli.main([command, "--help"], env={}) == 0
        assert f"vigil {command}" in capsys.readouterr().out


def test_docs_options_md_is_current() -> None:
    from pathlib import Path

    from vigil.options_doc import render

    doc = Path(__file__).parents[2] / "docs" / "options.md"
    assert doc.read_text() == render(), (
        "run: .venv/bin/python -m vigil.options_doc > docs/options.md"
    )


def test_audit_retention_is_resolved_as_a_duration_by_flag_and_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import vigil.main

    captured: dict[str, Any] = {}

    async def fake_run(command: str, values: dict[str, Any], warnings: list[str], env: Any) -> int:
        captured.update(values)
        return 0

    monkeypatch.setattr(vigil.main, "run", fake_run)
    url = ["executor", "--nats-url", "nats://127.0.0.1:1"]
    assert cli.main([*url, "--audit-retention", "1h"], env={}) == 0
    assert captured["audit_retention"] == 3600.0
    assert cli.main(url, env={"VIGIL_AUDIT_RETENTION": "2h"}) == 0
    assert captured["audit_retention"] == 7200.0
