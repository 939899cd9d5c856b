"""The option table: every section's options, in the order of `vigil --help` and
docs/options.md. Each section is one topic of `vigil help TOPIC` and one heading of the help."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.options import (
    bus,
    dashboard,
    http_api,
    legacy_notifications,
    logs,
    notifications,
    policies,
    registries,
    rollouts,
    schedule,
    selection,
    updating,
)
from vigil.options.model import Option


@dataclass(frozen=True)
class Section:
    topic: str  # the word of `vigil help TOPIC`
    title: str  # the heading of its options in --help
    options: tuple[Option, ...]


SECTIONS: tuple[Section, ...] = (
    Section("bus", "the bus and the host", bus.OPTIONS),
    Section("rollouts", "rollouts over the fleet", rollouts.OPTIONS),
    Section("schedule", "when cycles run", schedule.OPTIONS),
    Section("selection", "which containers", selection.OPTIONS),
    Section("updating", "how a container is updated", updating.OPTIONS),
    Section("policies", "rollout policies", policies.OPTIONS),
    Section("registries", "looking up and pulling images", registries.OPTIONS),
    Section("http-api", "watchtower's HTTP API", http_api.OPTIONS),
    Section("dashboard", "the dashboard", dashboard.OPTIONS),
    Section("logging", "what Vigil logs, and how", logs.OPTIONS),
    Section("notifications", "where reports are sent", notifications.OPTIONS),
    Section(
        "legacy-notifications",
        "the legacy --notifications TYPE, converted to URLs",
        legacy_notifications.OPTIONS,
    ),
)
TOPICS: tuple[str, ...] = tuple(s.topic for s in SECTIONS)

OPTIONS: tuple[Option, ...] = tuple(o for s in SECTIONS for o in s.options)


def section_of(opt: Option) -> Section:
    """The section (the help topic) an option is listed under."""
    for section in SECTIONS:
        if any(o is opt for o in section.options):
            return section
    raise LookupError(f"{opt.flags[0]} is in no section of the option table")
