"""The options of when cycles run: --schedule, --interval and the HTTP API, and their rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil import cli, options
from vigil.options import UsageError


def resolve(
    argv: list[str], env: dict[str, str] | None = None, command: str = options.ALL_IN_ONE
) -> tuple[dict[str, object], list[str]]:
    parsed = cli.build_parser(command).parse_args(argv)
    return options.resolve(command, parsed, env or {})


@pytest.mark.parametrize(
    ("argv", "env", "key", "expected"),
    [
        (["--schedule", "0 0 4 * * *"], {}, "schedule", "0 0 4 * * *"),
        (["-s", "@daily"], {}, "schedule", "@daily"),
        ([], {"WATCHTOWER_SCHEDULE": "*/2 * * * * *"}, "schedule", "*/2 * * * * *"),
        ([], {}, "http_api_port", 8080),
        (["--http-api-port", "9090"], {}, "http_api_port", 9090),
        ([], {"WATCHTOWER_HTTP_API_PORT": "9091"}, "http_api_port", 9091),
        ([], {"WATCHTOWER_HTTP_API_TOKEN": "t"}, "http_api_token", "t"),
        ([], {"WATCHTOWER_HTTP_API_PERIODIC_POLLS": "true"}, "http_api_periodic_polls", True),
        ([], {"VIGIL_HTTP_API_ADDRESS": "127.0.0.1"}, "http_api_address", "127.0.0.1"),
        (
            ["--http-api-update", "--http-api-token", "t"],
            {},
            "http_api_update",
            True,
        ),
        (
            [],
            {"WATCHTOWER_HTTP_API_METRICS": "1", "WATCHTOWER_HTTP_API_TOKEN": "t"},
            "http_api_metrics",
            True,
        ),
    ],
)
def test_flag_and_env(argv: list[str], env: dict[str, str], key: str, expected: object) -> None:
    values, _ = resolve(argv, env)
    assert values[key] == expected


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (
            ["--schedule", "@daily", "--interval", "60"],
            {},
            "--schedule and --interval cannot both be given",
        ),
        (
            ["-s", "@daily", "-i", "60"],
            {},
            "--schedule and --interval cannot both be given",
        ),
        (
            [],
            {"WATCHTOWER_SCHEDULE": "@daily", "WATCHTOWER_POLL_INTERVAL": "60"},
            "WATCHTOWER_SCHEDULE (--schedule) and WATCHTOWER_POLL_INTERVAL (--interval) cannot",
        ),
        (
            ["--interval", "60"],
            {"WATCHTOWER_SCHEDULE": "@daily"},
            "WATCHTOWER_SCHEDULE (--schedule) and --interval cannot",
        ),
        (
            ["--schedule", "0 0 25 * * *"],
            {},
            "--schedule: invalid schedule '0 0 25 * * *': hour 25 in '25' is out of range 0-23",
        ),
        (
            [],
            {"WATCHTOWER_SCHEDULE": "0 0 4 * * * *"},
            "WATCHTOWER_SCHEDULE: invalid schedule '0 0 4 * * * *': it has 7 fields",
        ),
        (
            ["--schedule", "@daily"],
            {"TZ": "Mars/Olympus"},
            "TZ='Mars/Olympus' is not a time zone",
        ),
        (["--http-api-update"], {}, "--http-api-update needs --http-api-token"),
        (
            [],
            {"WATCHTOWER_HTTP_API_UPDATE": "true"},
            "WATCHTOWER_HTTP_API_UPDATE (--http-api-update) needs --http-api-token",
        ),
        (
            ["--http-api-update", "--http-api-metrics"],
            {},
            "--http-api-update and --http-api-metrics needs --http-api-token",
        ),
        (["--http-api-metrics"], {}, "--http-api-metrics needs --http-api-token"),
        (
            ["--http-api-update", "--http-api-token", "t", "--http-api-port", "70000"],
            {},
            "--http-api-port: 70000 is not a port",
        ),
    ],
)
def test_usage_errors(argv: list[str], env: dict[str, str], needle: str) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(argv, env)
    assert needle in str(caught.value)


def test_a_schedule_alone_and_the_default_interval_are_fine() -> None:
    values, warnings = resolve(["--schedule", "0 0 4 * * *"], {"TZ": "Europe/Berlin"})
    assert values["schedule"] == "0 0 4 * * *" and warnings == []
    values, warnings = resolve([])
    assert values["interval"] == 86400 and not values["schedule"] and warnings == []


def test_the_scanner_service_takes_the_same_rules() -> None:
    with pytest.raises(UsageError, match="cannot both be given"):
        resolve(["-s", "@daily", "-i", "5"], command=options.SCANNER)


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["--schedule", "0 30 4 * *"], {}, "has 5 fields: read as watchtower reads it"),
        (
            ["--http-api-update", "--http-api-token", "t", "--schedule", "@daily"],
            {},
            "--schedule is not used: with --http-api-update cycles run only when /v1/update",
        ),
        (
            ["--http-api-update", "--http-api-token", "t"],
            {"WATCHTOWER_POLL_INTERVAL": "30"},
            "WATCHTOWER_POLL_INTERVAL (--interval) is not used",
        ),
        (
            ["--http-api-metrics", "--http-api-token", "t", "--run-once"],
            {},
            "the HTTP API is not served",
        ),
    ],
)
def test_warnings(argv: list[str], env: dict[str, str], needle: str) -> None:
    _, warnings = resolve(argv, env)
    assert any(needle in w for w in warnings), warnings


def test_periodic_polls_keep_the_schedule_quiet() -> None:
    argv = [
        "--http-api-update",
        "--http-api-token",
        "t",
        "--http-api-periodic-polls",
        "-s",
        "@daily",
    ]
    _, warnings = resolve(argv)
    assert warnings == []


def test_cli_exits_2_naming_both(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--schedule", "@daily", "--interval", "60"], env={}) == 2
    err = capsys.readouterr().err
    assert "--schedule" in err and "--interval" in err
    assert cli.main(["--schedule", "0 0 4 * * 8"], env={}) == 2
    assert "day-of-week 8 in '8' is out of range 0-6" in capsys.readouterr().err
    assert cli.main(["--http-api-update"], env={}) == 2
    assert "needs --http-api-token" in capsys.readouterr().err


def test_the_token_may_name_a_file_as_docker_secrets_are_mounted(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-from-file\n")

    def token(value: str) -> object:
        return resolve(["--http-api-token", value], {})[0]["http_api_token"]

    assert token(str(secret)) == "s3cret-from-file"
    assert token("plain-token") == "plain-token"
    assert token("x" * 5000) == "x" * 5000  # no such path
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(UsageError, match=r"--http-api-token: the file .* is empty"):
        token(str(empty))
