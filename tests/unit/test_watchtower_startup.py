"""Watchtower's start-up notification in its words (pure): the filter's description, the
first check's wait, the lines in order, and what the all-in-one knows of itself."""

from __future__ import annotations

import time
from typing import Any

import pytest

from vigil import options
from vigil.cli import build_parser
from vigil.startup_facts import startup_facts
from vigil_notifier.policy import Policy, startup_message
from vigil_notifier.startup import (
    StartupFacts,
    duration_words,
    filter_description,
    go_time,
    startup_lines,
)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({}, "Checking all containers (except explicitly disabled with label)"),
        ({"names": ("web",)}, 'Only checking containers which name matches "web"'),
        ({"names": ("allinone", "ddns-go")},
         'Only checking containers which name matches "allinone" or "ddns-go"'),
        ({"disable_names": ("db", "cache")},
         'Only checking containers not named one of "db" or "cache"'),
        ({"enable_label": True}, "Only checking containers using enable label"),
        ({"scope": "prod"}, 'Only checking containers in scope "prod"'),
        ({"names": ("web",), "enable_label": True, "scope": "prod"},
         'Only checking containers which name matches "web", using enable label, in scope "prod"'),
        # watchtower's own words for scope "none", its stray quote trimmed as it trims it
        ({"scope": "none"}, "Only checking containers without a scope,"),
    ],
)  # fmt: skip
def test_the_filters_description(kw: dict[str, Any], words: str) -> None:
    assert filter_description(**kw) == words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (9.7, "9 seconds"),
        (60, "1 minute"),
        (61, "1 minute, 1 second"),
        (3600, "1 hour"),
        (3660, "1 hour, 1 minute"),
        (3601, "1 hour, 1 second"),
        (432580, "120 hours, 9 minutes, 40 seconds"),
        (-5, "0 seconds"),
    ],
)
def test_the_first_checks_wait_in_watchtowers_words(seconds: float, words: str) -> None:
    assert duration_words(seconds) == words


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("facts", "services", "tail"),
    [
        (StartupFacts(version="0.1.0", schedule="first_run", first_run_at=NOW + 86399),
         ("smtp", "slack"),
         ["Using notifications: smtp, slack",
          f"Scheduling first run: {go_time(NOW + 86399)}",
          "Note that the first check will be performed in 23 hours, 59 minutes, 59 seconds"]),
        (StartupFacts(version="0.1.0", schedule="run_once"), (),
         ["Using no notifications", "Running a one time update."]),
        (StartupFacts(version="0.1.0", schedule="none", http_api_port="8080"), ("generic",),
         ["Using notifications: generic", "Periodic runs are not enabled.",
          "The HTTP API is enabled at :8080."]),
        # A fleet's notifier knows no schedule: it names none.
        (StartupFacts(version="0.1.0"), ("ntfy",), ["Using notifications: ntfy"]),
    ],
)  # fmt: skip
def test_the_lines_in_watchtowers_order(
    facts: StartupFacts, services: tuple[str, ...], tail: list[str]
) -> None:
    assert startup_lines(facts, services, NOW) == ["Watchtower 0.1.0", *tail]


def test_the_filter_line_comes_after_the_notifications() -> None:
    facts = StartupFacts(version="1", filtering=filter_description(), schedule="run_once")
    assert startup_lines(facts, ("smtp",), NOW)[1:3] == [
        "Using notifications: smtp",
        "Checking all containers (except explicitly disabled with label)",
    ]


def test_in_watchtowers_format_each_line_is_an_entry_and_in_vigils_one_line() -> None:
    facts = StartupFacts(version="0.1.0", schedule="run_once")
    message = startup_message(Policy(), "nas", ["smtp"], facts, NOW)
    assert message is not None
    assert [e.text for e in message.events] == [
        "Watchtower 0.1.0",
        "Using notifications: smtp",
        "Running a one time update.",
    ]
    assert message.body == "\n".join(e.text for e in message.events)
    vigil = startup_message(Policy(style="vigil"), "nas", ["smtp"], facts, NOW)
    assert vigil is not None and vigil.body.startswith("Vigil's notifier started on nas")
    assert startup_message(Policy(level="error"), "nas", ["smtp"], facts, NOW) is None


def _values(command: str, *argv: str) -> dict[str, Any]:
    """The values as `vigil` has them (cli.main adds the container names)."""
    parsed = build_parser(command).parse_args(list(argv))
    values = options.resolve(command, parsed, {})[0]
    values["names"] = tuple(getattr(parsed, "names", ()) or ())
    return values


def test_the_all_in_one_says_its_schedule_and_selection() -> None:
    now = time.time()
    facts = startup_facts(
        _values(options.ALL_IN_ONE, "--interval", "300", "--label-enable", "web"),
        {},
        options.ALL_IN_ONE,
        now,
    )
    assert (facts.schedule, facts.first_run_at) == ("first_run", now + 300)
    assert (
        facts.filtering == 'Only checking containers which name matches "web", using enable label'
    )
    assert facts.version
    once = startup_facts(_values(options.ALL_IN_ONE, "--run-once"), {}, options.ALL_IN_ONE, now)
    assert once.schedule == "run_once"
    api = startup_facts(
        _values(options.ALL_IN_ONE, "--http-api-update", "--http-api-token", "t"),
        {},
        options.ALL_IN_ONE,
        now,
    )
    assert (api.schedule, api.http_api_port) == ("none", "8080")
    cron = startup_facts(
        _values(options.ALL_IN_ONE, "--schedule", "0 0 4 * * *"),
        {"TZ": "UTC"},
        options.ALL_IN_ONE,
        now,
    )
    assert cron.schedule == "first_run" and cron.first_run_at > now
    assert time.gmtime(cron.first_run_at)[3:6] == (4, 0, 0)


def test_a_fleets_notifier_names_no_schedule() -> None:
    facts = startup_facts(_values(options.NOTIFIER), {}, options.NOTIFIER, time.time())
    assert (facts.schedule, facts.filtering) == ("", "")
