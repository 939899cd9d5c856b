"""The option table: every section's options, in the order of `vigil --help` and
docs/options.md."""

from __future__ import annotations

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

OPTIONS: tuple[Option, ...] = (
    *bus.OPTIONS,
    *rollouts.OPTIONS,
    *schedule.OPTIONS,
    *selection.OPTIONS,
    *updating.OPTIONS,
    *policies.OPTIONS,
    *registries.OPTIONS,
    *http_api.OPTIONS,
    *dashboard.OPTIONS,
    *logs.OPTIONS,
    *notifications.OPTIONS,
    *legacy_notifications.OPTIONS,
)
