"""Numeric options outside what they can mean are refused (exit 2), naming option and value."""

from __future__ import annotations

import pytest

from vigil import cli, options
from vigil.options import NUMBER_RULES, NumberRule, UsageError, number_problem


def resolve(
    argv: list[str], env: dict[str, str] | None = None, command: str = options.ALL_IN_ONE
) -> dict[str, object]:
    parsed = cli.build_parser(command).parse_args(argv)
    values, _ = options.resolve(command, parsed, env or {})
    return values


@pytest.mark.parametrize(
    ("argv", "env", "needle"),
    [
        (["--interval", "0"], {}, "--interval: 0 is not allowed; it must be at least 1"),
        (["--interval=-5"], {}, "--interval: -5 is not allowed; it must be at least 1"),
        (["-i", "-1"], {}, "--interval: -1 is not allowed"),
        (
            [],
            {"WATCHTOWER_POLL_INTERVAL": "0"},
            "WATCHTOWER_POLL_INTERVAL (--interval): 0 is not allowed",
        ),
        (
            [],
            {"WATCHTOWER_POLL_INTERVAL": "-30"},
            "WATCHTOWER_POLL_INTERVAL (--interval): -30 is not allowed",
        ),
        ([], {"WATCHTOWER_TIMEOUT": "-5s"}, "WATCHTOWER_TIMEOUT: '-5s' is negative"),
        (["--health-timeout", "0"], {}, "--health-timeout: 0 is not allowed; it must be more"),
        (["--plan-ack-wait", "0s"], {}, "--plan-ack-wait: 0 is not allowed"),
        (["--audit-retention", "0"], {}, "--audit-retention: 0 is not allowed"),
        (["--metrics-port", "0"], {}, "--metrics-port: 0 is not allowed; it must be from 1 to"),
        (["--metrics-port", "70000"], {}, "--metrics-port: 70000 is not allowed"),
        (["--http-api-port", "0"], {}, "--http-api-port: 0 is not a port"),
        ([], {"WATCHTOWER_HTTP_API_PORT": "65536"}, "WATCHTOWER_HTTP_API_PORT: 65536 is not"),
        (["--notifications-delay=-1"], {}, "--notifications-delay: -1 is not allowed"),
    ],
)
def test_bad_numbers_are_refused_naming_option_and_value(
    argv: list[str], env: dict[str, str], needle: str
) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(argv, env)
    assert needle in str(caught.value)


@pytest.mark.parametrize(
    ("argv", "env", "key", "expected"),
    [
        (["--interval", "1"], {}, "interval", 1),
        ([], {"WATCHTOWER_POLL_INTERVAL": "300"}, "interval", 300),
        ([], {}, "interval", 86400),
        (["--stop-timeout", "0"], {}, "stop_timeout", 0.0),  # kill at once, as watchtower
        (["--digest-cache-ttl", "0"], {}, "digest_cache_ttl", 0.0),  # no reuse
        (["--health-timeout", "500ms"], {}, "health_timeout", 0.5),
        (["--metrics-port", "9100"], {}, "metrics_port", 9100),
        (["--notifications-delay", "0"], {}, "notifications_delay", 0),
    ],
)
def test_good_numbers_pass(
    argv: list[str], env: dict[str, str], key: str, expected: object
) -> None:
    assert resolve(argv, env)[key] == expected


@pytest.mark.parametrize(
    ("value", "rule", "problem"),
    [
        (1, NumberRule(1, "x"), None),
        (0, NumberRule(1, "x"), "must be at least 1 (x)"),
        (0, NumberRule(0, "x"), None),
        (0, NumberRule(0, "x", low_inclusive=False), "must be more than 0 (x)"),
        (0.001, NumberRule(0, "x", low_inclusive=False), None),
        (65535, NumberRule(1, "p", high=65535), None),
        (65536, NumberRule(1, "p", high=65535), "must be from 1 to 65535 (p)"),
        (-1, NumberRule(1, "p", high=65535), "must be from 1 to 65535 (p)"),
    ],
)
def test_number_problem(value: float, rule: NumberRule, problem: str | None) -> None:
    assert number_problem(value, rule) == problem


def test_every_rule_names_an_option() -> None:
    dests = {o.dest for o in options.OPTIONS}
    assert set(NUMBER_RULES) <= dests


def test_trigger_timeout_zero_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["trigger", "--timeout", "0"], env={}) == 2
    assert "--timeout: 0 is not allowed" in capsys.readouterr().err


def test_interval_zero_exits_2_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["--interval", "0"], env={}) == 2
    assert "--interval: 0 is not allowed" in capsys.readouterr().err
