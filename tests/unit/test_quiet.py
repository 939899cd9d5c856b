"""Which audit messages are quiet (kept for --audit-quiet-retention, not the whole
--audit-retention): a cycle that changed nothing is not kept for 30 days at 10,000 hosts."""

from __future__ import annotations

import msgspec
import pytest

from vigil.process.bus_options import bus_config
from vigil_shared.contracts import (
    ContainerResult,
    Inventory,
    Plan,
    ProgressEvent,
    Report,
    UpdateAction,
)
from vigil_shared.quiet import is_quiet, quiet_ttl


def _result(status: str) -> ContainerResult:
    return ContainerResult(name="web", container_id="c1", image="r/app:1", status=status)  # type: ignore[arg-type]


def _report(*statuses: str, problems: tuple[str, ...] = ()) -> Report:
    return Report(
        scan_id="s",
        plan_id="p",
        host="h",
        started_at=0,
        finished_at=1,
        results=tuple(_result(s) for s in statuses),
        problems=problems,
    )


ACTION = UpdateAction(container_id="c1", container_name="web", image="r/app:1", old_image_id="i")
PLAN = Plan(plan_id="p", scan_id="s", host="h", created_at=0)


@pytest.mark.parametrize(
    ("message", "quiet"),
    [
        (Inventory(scan_id="s", host="h", taken_at=0), True),
        (PLAN, True),  # no actions: its settled rows and problems are in its report
        (msgspec.structs.replace(PLAN, settled=(_result("fresh"),)), True),
        (msgspec.structs.replace(PLAN, problems=("cannot list",)), True),
        (msgspec.structs.replace(PLAN, actions=(ACTION,)), False),
        (_report(), True),
        (_report("fresh", "skipped", "fresh"), True),
        (_report("fresh", "updated"), False),
        (_report("failed"), False),
        (_report("check_failed"), False),
        (_report("rolled_back"), False),
        (_report("held"), False),
        (_report("fresh", problems=("the engine went away",)), False),
        (
            ProgressEvent(
                plan_id="p", scan_id="s", host="h", container="web", phase="pulling", at=0
            ),
            False,
        ),
    ],
)
def test_a_cycle_that_changed_nothing_is_quiet(message: msgspec.Struct, quiet: bool) -> None:
    assert is_quiet(message) is quiet
    assert quiet_ttl(message, 86400.0) == (86400 if quiet else None)


def test_no_quiet_retention_keeps_every_message_for_the_streams_retention() -> None:
    assert quiet_ttl(PLAN, 0) is None
    assert quiet_ttl(PLAN, 0.4) == 1  # whole seconds, at least one


@pytest.mark.parametrize(
    ("given", "values", "kept"),
    [
        (86400.0, {"interval": 300}, 86400.0),  # a 5-minute fleet: the day given
        (86400.0, {}, 172800.0),  # the default daily interval: two days, not one
        (86400.0, {"interval": 86400}, 172800.0),
        (3600.0, {"interval": 7200}, 14400.0),
        (86400.0, {"schedule": "0 0 4 * * *"}, 172800.0),  # daily at 04:00
        (86400.0, {"schedule": "@every 5m"}, 86400.0),
        (86400.0, {"schedule": "0 0 4 * * 1"}, 14 * 86400.0),  # weekly
        (0.0, {"interval": 86400}, 0.0),  # 0: as long as the others, as given
    ],
)
def test_quiet_messages_outlive_two_of_the_hosts_cycles(
    given: float, values: dict[str, object], kept: float
) -> None:
    config = bus_config({"audit_quiet_retention": given, **values}, embedded=True)
    assert config.audit_quiet_retention == kept
