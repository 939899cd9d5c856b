"""Watchtower's start-up notification, in its words (pure), for users whose filters match on
it: its version, the notifications in use, which containers it checks, and when the first
check runs.

Watchtower (containrrr/watchtower `cmd/root.go` writeStartupMessage, `pkg/filters`
BuildFilter) sends these log lines as one notification at start:

    Watchtower 1.7.1
    Using notifications: smtp, generic
    Checking all containers (except explicitly disabled with label)
    Scheduling first run: 2026-12-07 12:00:00 +0000 UTC
    Note that the first check will be performed in 23 hours, 59 minutes, 59 seconds

(or `Running a one time update.`, or `Periodic runs are not enabled.`; then `The HTTP API
is enabled at :8080.` with --http-api-update). The version is Vigil's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec

Schedule = str  # "first_run" (first_run_at is when), "run_once", "none", "" (not known here)


class StartupFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the process that runs the notifier knows of itself at start (the all-in-one
    knows its schedule; a fleet's `vigil notifier` does not: it names no schedule)."""

    version: str = ""
    filtering: str = ""  # filter_description(...); "" leaves the line out
    schedule: Schedule = ""
    first_run_at: float = 0.0  # Unix seconds, for schedule "first_run"
    http_api_port: str = ""  # with --http-api-update: the port; "" without


def filter_description(
    names: Sequence[str] = (),
    disable_names: Sequence[str] = (),
    enable_label: bool = False,
    scope: str = "",
) -> str:
    """Watchtower's words for which containers it checks (BuildFilter's description)."""
    parts = ""
    if names:
        parts += 'which name matches "' + '" or "'.join(names) + '", '
    if disable_names:
        parts += 'not named one of "' + '" or "'.join(disable_names) + '", '
    if enable_label:
        parts += "using enable label, "
    if scope == "none":
        parts += 'without a scope, "'
    elif scope:
        parts += f'in scope "{scope}", '
    if not parts:
        return "Checking all containers (except explicitly disabled with label)"
    return ("Only checking containers " + parts)[:-2]


def duration_words(seconds: float) -> str:
    """Go's duration as watchtower's formatDuration says it: `1 hour, 2 minutes, 3 seconds`,
    leaving out the zero parts (`0 seconds` when all are)."""
    total = max(0, int(seconds))
    hours, minutes, secs = total // 3600, total % 3600 // 60, total % 60

    def unit(n: int, name: str) -> str:
        return f"1 {name}" if n == 1 else f"{n} {name}s"

    parts = [unit(n, name) for n, name in ((hours, "hour"), (minutes, "minute")) if n]
    if secs or not parts:
        parts.append(unit(secs, "second"))
    return ", ".join(parts)


def go_time(at: float) -> str:
    """Go's `2006-01-02 15:04:05 -0700 MST`, in this machine's time zone."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(at))


def startup_lines(facts: StartupFacts, services: Sequence[str], now: float) -> list[str]:
    """The lines of watchtower's start-up notification, in its order."""
    lines = [f"Watchtower {facts.version}".rstrip()]
    lines.append(
        "Using notifications: " + ", ".join(services) if services else "Using no notifications"
    )
    if facts.filtering:
        lines.append(facts.filtering)
    if facts.schedule == "first_run" and facts.first_run_at:
        lines.append("Scheduling first run: " + go_time(facts.first_run_at))
        lines.append(
            "Note that the first check will be performed in "
            + duration_words(facts.first_run_at - now)
        )
    elif facts.schedule == "run_once":
        lines.append("Running a one time update.")
    elif facts.schedule == "none":
        lines.append("Periodic runs are not enabled.")
    if facts.http_api_port:
        lines.append(f"The HTTP API is enabled at :{facts.http_api_port}.")
    return lines
