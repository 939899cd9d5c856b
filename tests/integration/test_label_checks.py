"""Labels checked by the executor on the real engine, registry and NATS: a bad stop signal is
refused before anything is pulled or stopped, a depends-on label naming no container is
warned about, and the rest of the cycle goes on."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.test_ordered_updates import Host, by_name, execute
from tests.support.registry_fixtures import RegistryServer
from vigil_shared import labels
from vigil_shared.bus import Bus
from vigil_shared.contracts import Plan

pytestmark = pytest.mark.integration


@pytest.fixture
def host(docker_client: Any, registry: RegistryServer, names: Callable[[str], str]) -> Host:
    return Host(docker_client, registry, names)


def merged(*plans: Plan) -> Plan:
    return Plan(
        plan_id=uuid.uuid4().hex,
        scan_id=uuid.uuid4().hex,
        host="h1",
        created_at=time.time(),
        actions=tuple(a for p in plans for a in p.actions),
        settled=tuple(r for p in plans for r in p.settled),
    )


def on_host(client: Any, image: str) -> bool:
    try:
        client.api.inspect_image(image)
    except Exception:
        return False
    return True


async def test_a_bad_stop_signal_is_refused_before_the_pull(
    bus: Bus,
    host: Host,
    docker_client: Any,
    registry: RegistryServer,
    names: Callable[[str], str],
) -> None:
    other = Host(docker_client, registry, names)  # its own repository: its own pull
    bad = other.run("bad", stale=True, labels={labels.STOP_SIGNAL: "SIGFOO"})
    good = host.run("good", stale=True)
    bad_before = docker_client.api.inspect_container(bad)
    other.publish_new_build()
    host.publish_new_build()

    report = await execute(
        bus, docker_client, merged(other.plan(["bad"], []), host.plan(["good"], []))
    )

    results = by_name(report)
    assert results[bad].status == "failed"
    assert labels.STOP_SIGNAL in results[bad].error and "SIGFOO" in results[bad].error
    assert results[good].status == "updated", results[good].error  # the cycle went on
    assert not on_host(docker_client, other.stale_tag)  # nothing pulled for it
    after = docker_client.api.inspect_container(bad)
    assert after["Id"] == bad_before["Id"]  # neither stopped nor recreated
    assert after["State"]["Running"]
    assert after["State"]["StartedAt"] == bad_before["State"]["StartedAt"]


async def test_a_depends_on_label_naming_no_container_is_warned_about(
    bus: Bus, host: Host, docker_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    db = host.run("db", stale=False)
    missing = host.names("nosuch")
    web = host.run("web", stale=True, labels={labels.DEPENDS_ON: f"{db},{missing}"})
    api = host.run("api", stale=False, labels={labels.DEPENDS_ON: missing})
    host.publish_new_build()

    report = await execute(bus, docker_client, host.plan(["web"], ["db", "api"]))

    results = by_name(report)
    assert results[web].status == "updated", results[web].error  # the update goes on
    for name in (web, api):
        notes = [n for n in results[name].notes if labels.DEPENDS_ON in n]
        assert len(notes) == 1 and missing in notes[0] and db not in notes[0], results[name].notes
        assert any(
            "depends-on names no container" in r.getMessage()
            and getattr(r, "fields", {}).get("container") == name
            and getattr(r, "fields", {}).get("missing") == missing
            for r in caplog.records
        )
    assert not any(labels.DEPENDS_ON in n for n in results[db].notes)


async def test_the_depends_on_warning_comes_when_nothing_is_stale_too(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    missing = host.names("nosuch")
    web = host.run("web", stale=False, labels={labels.DEPENDS_ON: missing})

    report = await execute(bus, docker_client, host.plan([], ["web"]))

    (note,) = by_name(report)[web].notes
    assert labels.DEPENDS_ON in note and missing in note
