"""Two executors on one engine (watchtower scopes: two Vigils on one Docker host): an executor
that starts again recovers only what its own host journalled, and leaves alone an update that
the other host's executor has in progress. A real engine and NATS; the interrupted update is
made by hand, exactly as the executor leaves it (old container renamed aside, journal entry).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from tests.support.images import build_test_image
from vigil_executor.replace import replace_container
from vigil_executor.service import Executor, ExecutorConfig
from vigil_shared.bus import Bus
from vigil_shared.contracts.journal import JournalEntry, aside_name, journal_key
from vigil_shared.telemetry import Telemetry

pytestmark = pytest.mark.integration


def interrupted(client: Any, tag: str, name: str, host: str = "") -> str:
    """A container stopped and renamed aside, as at the 'creating' step of an update (the
    aside name marked with `host`; "": as marks were before they carried a host)."""
    old = client.containers.run(tag, name=name, detach=True)
    old.stop(timeout=1)
    client.api.rename(old.id, aside_name(name, old.id, host))
    return str(old.id)


@pytest.mark.both_engines
async def test_an_executor_leaves_the_other_hosts_update_alone_and_recovers_its_own(
    bus: Bus, docker_client: Any, names: Callable[[str], str]
) -> None:
    tag = f"{names('app')}:1"
    build_test_image(docker_client, tag)
    journal = await bus.key_value("JOURNAL")
    ids = {}
    for host in ("scope-a", "scope-b"):
        name = names(host)
        # Unmarked (as before marks carried a host): the other host's journal is what tells.
        ids[host] = (name, interrupted(docker_client, tag, name))
        entry = JournalEntry(
            host=host, plan_id="p", name=name, old_id=ids[host][1], image=tag,
            step="creating", was_running=True,
        )  # fmt: skip
        await journal.put(journal_key(host, ids[host][1]), msgspec.json.encode(entry))

    executor = Executor(bus, docker_client, ExecutorConfig(host_id="scope-a"), Telemetry.disabled())
    await executor.start()  # recovers at start, as after a restart

    name_a, old_a = ids["scope-a"]
    name_b, old_b = ids["scope-b"]
    # Its own: rolled back, running again under its name.
    assert docker_client.api.inspect_container(name_a)["Id"] == old_a
    assert docker_client.api.inspect_container(name_a)["State"]["Running"]
    # The other host's: untouched, still aside, and said so.
    aside_b = docker_client.api.inspect_container(aside_name(name_b, old_b))
    assert aside_b["Id"] == old_b and not aside_b["State"]["Running"]
    # What it says of the other host's update (of this test's containers: another test's
    # update in flight on the engine is left alone too).
    again = [line for line in await executor.recover() if line.startswith((name_a, name_b))]
    assert again == [f"{name_b}: left alone: the executor of host scope-b is replacing it"]
    keys = set(await journal.keys())
    assert journal_key("scope-b", old_b) in keys and journal_key("scope-a", old_a) not in keys

    # The other host's executor, when it starts, recovers its own.
    other = Executor(bus, docker_client, ExecutorConfig(host_id="scope-b"), Telemetry.disabled())
    await other.start()
    assert docker_client.api.inspect_container(name_b)["Id"] == old_b
    assert docker_client.api.inspect_container(name_b)["State"]["Running"]


class Died(BaseException):
    """An executor's death at a step: nothing after it runs, no rollback (a BaseException, so
    replace_container's own error handling does not catch it)."""


def died_at(client: Any, tag: str, name: str, step: str, host: str) -> str:
    """A container whose replacement by the executor of `host` died at `step`, as a SIGKILL
    there leaves it: the marks are the ones Vigil writes, no journal entry is left."""
    old = client.containers.run(tag, name=name, detach=True)

    def journal(at: str, new_id: str) -> None:
        if at == step:
            raise Died(at)

    with pytest.raises(Died):
        replace_container(client, old.id, tag, stop_timeout=1, journal=journal, host=host)
    return str(old.id)


async def test_marks_of_another_host_are_left_alone_and_its_own_lost_journal_recovered(
    bus: Bus, docker_client: Any, names: Callable[[str], str]
) -> None:
    """Another Vigil on this engine (its own NATS: its journal is not seen here), or a run
    that died long ago: its interrupted replacements carry its host id and are not ours to
    undo. This host's own, whose journal entries were lost, are still recovered."""
    tag = f"{names('app')}:1"
    build_test_image(docker_client, tag)
    cases = {}
    for host in ("vigil-a", "vigil-b"):
        for step in ("creating", "starting"):  # aside only; aside and a new one not started
            name = names(f"{host}-{step}")
            cases[(host, step)] = (name, died_at(docker_client, tag, name, step, host))
    old_format = names("unmarked")  # a mark written before marks carried a host
    old_format_id = interrupted(docker_client, tag, old_format)

    mine = Executor(bus, docker_client, ExecutorConfig(host_id="vigil-a"), Telemetry.disabled())
    await mine.start()

    for step in ("creating", "starting"):
        name, old_id = cases[("vigil-a", step)]
        now = docker_client.api.inspect_container(name)
        assert now["Id"] == old_id and now["State"]["Running"], f"{name} not rolled back"
        name, old_id = cases[("vigil-b", step)]
        aside = docker_client.api.inspect_container(aside_name(name, old_id, "vigil-b"))
        assert aside["Id"] == old_id and not aside["State"]["Running"]
        if step == "starting":  # the other host's new container is left as it was too
            assert docker_client.api.inspect_container(name)["Id"] != old_id
    unmarked = docker_client.api.inspect_container(old_format)
    assert unmarked["Id"] == old_format_id and unmarked["State"]["Running"]
    ours = [n for n, _ in cases.values()] + [old_format]
    # Only this test's lines: another test's update in flight on the engine is left alone too.
    said = [line for line in await mine.recover() if line.startswith(tuple(ours))]
    left = [aside_name(*cases[("vigil-b", step)], "vigil-b") for step in ("creating", "starting")]
    assert sorted(said) == sorted(f"{n}: left alone: marked by host vigil-b" for n in left)

    # The other host's executor, journal lost too, recovers its own from its marks.
    other = Executor(bus, docker_client, ExecutorConfig(host_id="vigil-b"), Telemetry.disabled())
    await other.start()
    listed = [str(c["Names"][0]) for c in docker_client.api.containers(all=True)]
    for step in ("creating", "starting"):
        name, old_id = cases[("vigil-b", step)]
        now = docker_client.api.inspect_container(name)
        assert now["Id"] == old_id and now["State"]["Running"], f"{name} not rolled back"
        assert not [n for n in listed if n.lstrip("/").startswith(f"{name}-vigil-old-")]
