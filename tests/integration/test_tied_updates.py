"""Containers tied to an updated one by something the engine stores by id or by name: a shared
namespace (`container:X` network, IPC or PID mode), a legacy link (`--link X:alias`), or a
container of their own that the engine removes when it stops (`--rm`). After the cycle every
container runs, tied to the new X, and the report says what happened to each."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from tests.integration.test_ordered_updates import Host, by_name, execute
from tests.support.images import build_test_image, push_image
from tests.support.registry_fixtures import RegistryServer
from vigil_executor.recovery import recover
from vigil_shared import labels
from vigil_shared.bus import Bus
from vigil_shared.contracts.journal import REPLACES_LABEL, aside_name

pytestmark = pytest.mark.integration

NAMESPACES = {"network": "net", "ipc": "ipc", "pid": "pid"}


@pytest.fixture
def host(docker_client: Any, registry: RegistryServer, names: Callable[[str], str]) -> Host:
    return Host(docker_client, registry, names)


def inspect(client: Any, name: str) -> dict[str, Any]:
    data: dict[str, Any] = client.api.inspect_container(name)
    return data


def exec_out(client: Any, name: str, *cmd: str) -> str:
    result = client.containers.get(name).exec_run(list(cmd))
    assert result.exit_code == 0, result.output
    return str(result.output.decode().strip())


def namespace(client: Any, name: str, kind: str) -> str:
    """The namespace `kind` (net, ipc, pid) a container's processes are in."""
    return exec_out(client, name, "readlink", f"/proc/1/ns/{kind}")


def ours(client: Any, name: str) -> list[str]:
    """Every container whose name starts with `name`: nothing may be left aside."""
    own = (  # a linked container is also listed as `/dependent/alias`
        next(n.lstrip("/") for n in c["Names"] if "/" not in n.lstrip("/"))
        for c in client.api.containers(all=True)
    )
    return sorted(n for n in own if n.startswith(name))


def running_on(client: Any, name: str, image_id: str) -> dict[str, Any]:
    data = inspect(client, name)
    assert data["State"]["Running"], (name, data["State"])
    assert data["Image"] == image_id, name
    return data


# --- shared namespaces -------------------------------------------------------------------


@pytest.mark.parametrize("dependent_stale", [True, False], ids=["both-stale", "provider-stale"])
@pytest.mark.parametrize(
    ("modes", "by"),
    [
        (("network",), "name"),
        (("ipc",), "id"),
        (("pid",), "name"),
        (("network", "ipc", "pid"), "id"),
    ],
    ids=["network-by-name", "ipc-by-id", "pid-by-name", "all-by-id"],
)
async def test_a_container_sharing_a_namespace_joins_the_new_provider(
    bus: Bus,
    host: Host,
    docker_client: Any,
    modes: tuple[str, ...],
    by: str,
    dependent_stale: bool,
) -> None:
    x = host.run("x", stale=True, ipc_mode="shareable")
    x_old = inspect(docker_client, x)
    ref = f"container:{x if by == 'name' else x_old['Id']}"
    d = host.run("d", stale=dependent_stale, **{f"{m}_mode": ref for m in modes})
    d_old = inspect(docker_client, d)
    for mode in modes:  # the engine keeps the other container by id, however it was named
        assert d_old["HostConfig"][f"{mode.capitalize()}Mode"] == f"container:{x_old['Id']}"
    host.publish_new_build()
    stale = ["x", "d"] if dependent_stale else ["x"]
    report = await execute(bus, docker_client, host.plan(stale, [] if dependent_stale else ["d"]))

    results = by_name(report)
    assert results[x].status == "updated", results[x].error
    x_new = running_on(docker_client, x, results[x].new_image_id)
    d_image = results[x].new_image_id if dependent_stale else d_old["Image"]
    d_new = running_on(docker_client, d, d_image)
    assert d_new["Id"] != d_old["Id"]  # recreated: a stopped container cannot change its mode
    for mode in modes:
        assert d_new["HostConfig"][f"{mode.capitalize()}Mode"] == f"container:{x_new['Id']}"
        kind = NAMESPACES[mode]
        assert namespace(docker_client, d, kind) == namespace(docker_client, x, kind), mode
    if "network" in modes:
        assert "eth0" in exec_out(docker_client, d, "cat", "/proc/net/dev")
    if dependent_stale:
        assert results[d].status == "updated", results[d].error
    else:
        assert results[d].status == "fresh", results[d].error
        assert any(f"recreated on its own image to join the new {x}" in n for n in results[d].notes)
    assert ours(docker_client, x) == [x]
    assert ours(docker_client, d) == [d]


@pytest.mark.parametrize("engine_kind", ["podman"], indirect=True)
async def test_a_container_sharing_every_namespace_joins_the_new_provider_on_podman(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    """The one Podman row of the above (all three namespaces, by id, the provider stale):
    Podman refuses to remove the old provider while the dependent made to share its
    namespaces exists, and the old one must go once that dependent has followed."""
    await test_a_container_sharing_a_namespace_joins_the_new_provider(
        bus, host, docker_client, ("network", "ipc", "pid"), "id", dependent_stale=False
    )


async def test_shared_namespaces_with_rolling_restart(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    x = host.run("x", stale=True, ipc_mode="shareable")
    ref = f"container:{inspect(docker_client, x)['Id']}"
    d = host.run("d", stale=False, network_mode=ref, ipc_mode=ref, pid_mode=ref)
    d_old = inspect(docker_client, d)
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["x"], ["d"]), rolling_restart=True)

    results = by_name(report)
    assert results[x].status == "updated", results[x].error
    assert results[d].status == "fresh", results[d].error
    x_new = running_on(docker_client, x, results[x].new_image_id)
    d_new = running_on(docker_client, d, d_old["Image"])
    for key, kind in (("NetworkMode", "net"), ("IpcMode", "ipc"), ("PidMode", "pid")):
        assert d_new["HostConfig"][key] == f"container:{x_new['Id']}"
        assert namespace(docker_client, d, kind) == namespace(docker_client, x, kind)
    assert ours(docker_client, d) == [d]


@pytest.mark.both_engines
async def test_shared_namespaces_order_the_update(bus: Bus, host: Host, docker_client: Any) -> None:
    """IPC and PID modes are dependencies too: the provider is replaced first, whichever
    name sorts first."""
    x = host.run("zz-x", stale=True, ipc_mode="shareable")
    d = host.run("aa-d", stale=True, ipc_mode=f"container:{x}", pid_mode=f"container:{x}")
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["zz-x", "aa-d"], []))
    results = by_name(report)
    assert [r.status for r in (results[x], results[d])] == ["updated", "updated"], report
    x_new = inspect(docker_client, x)
    assert inspect(docker_client, d)["HostConfig"]["PidMode"] == f"container:{x_new['Id']}"


@pytest.mark.parametrize("tie", ["network", "link"])
async def test_a_dependent_whose_new_image_fails_runs_again_in_the_new_provider(
    bus: Bus,
    host: Host,
    docker_client: Any,
    names: Callable[[str], str],
    registry: RegistryServer,
    tie: str,
) -> None:
    """The old dependent cannot simply start again (it names the old provider, now gone):
    the rollback creates it again from its own settings, on its old image, tied to the new
    provider (its namespace, its link)."""
    x = host.run("x", stale=True)
    host.publish_new_build()
    broken = f"{registry.host}/{names('broken')}:latest"
    build_test_image(docker_client, broken, marker="b1")
    push_image(docker_client, broken)
    d = names("d")
    tied = {"network_mode": f"container:{x}"} if tie == "network" else {"links": {x: "alias"}}
    docker_client.containers.run(broken, name=d, detach=True, **tied)
    host.containers["d"] = d
    d_old = inspect(docker_client, d)
    build_test_image(docker_client, broken, marker="b2", extra='ENTRYPOINT ["/no/such/binary"]\n')
    push_image(docker_client, broken)
    docker_client.api.remove_image(broken)
    plan = host.plan(["x", "d"], [])
    actions = tuple(
        msgspec.structs.replace(a, image=broken) if a.container_name == d else a
        for a in plan.actions
    )
    plan = msgspec.structs.replace(plan, actions=actions)
    report = await execute(bus, docker_client, plan)

    results = by_name(report)
    assert results[x].status == "updated", results[x].error
    assert results[d].status == "rolled_back", results[d].error
    x_new = inspect(docker_client, x)
    d_new = running_on(docker_client, d, d_old["Image"])
    assert d_new["Config"]["Image"] == broken
    if tie == "network":
        assert d_new["HostConfig"]["NetworkMode"] == f"container:{x_new['Id']}"
        assert namespace(docker_client, d, "net") == namespace(docker_client, x, "net")
    else:
        assert d_new["HostConfig"]["Links"] == [f"/{x}:/{d}/alias"]
        address = x_new["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        assert alias_address(docker_client, d, "alias") == address
    assert any("created again" in n for n in results[d].notes), results[d].notes
    assert ours(docker_client, d) == [d]


# --- legacy links ------------------------------------------------------------------------


def alias_address(client: Any, name: str, alias: str) -> str:
    hosts = exec_out(client, name, "cat", "/etc/hosts")
    found = re.search(rf"^(\S+)\s.*\b{re.escape(alias)}\b", hosts, re.MULTILINE)
    assert found, hosts
    return found.group(1)


@pytest.mark.parametrize("rolling", [False, True], ids=["all-at-once", "rolling"])
@pytest.mark.parametrize("dependent_stale", [True, False], ids=["both-stale", "provider-stale"])
async def test_a_legacy_link_follows_the_updated_provider(
    bus: Bus, host: Host, docker_client: Any, dependent_stale: bool, rolling: bool
) -> None:
    prov = host.run("prov", stale=True)
    dep = host.run("dep", stale=dependent_stale, links={prov: "alias"})
    dep_old = inspect(docker_client, dep)
    assert dep_old["HostConfig"]["Links"] == [f"/{prov}:/{dep}/alias"]
    host.publish_new_build()
    stale = ["prov", "dep"] if dependent_stale else ["prov"]
    plan = host.plan(stale, [] if dependent_stale else ["dep"])
    report = await execute(bus, docker_client, plan, rolling_restart=rolling)

    results = by_name(report)
    assert results[prov].status == "updated", results[prov].error
    prov_new = running_on(docker_client, prov, results[prov].new_image_id)
    dep_new = running_on(
        docker_client, dep, results[prov].new_image_id if dependent_stale else dep_old["Image"]
    )
    assert dep_new["HostConfig"]["Links"] == [f"/{prov}:/{dep}/alias"]
    address = prov_new["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert alias_address(docker_client, dep, "alias") == address
    if dependent_stale:
        assert results[dep].status == "updated", results[dep].error
    else:
        assert results[dep].status == "fresh", results[dep].error
        assert any(
            f"recreated on its own image to join the new {prov}" in n for n in results[dep].notes
        )
    assert ours(docker_client, prov) == [prov]
    assert ours(docker_client, dep) == [dep]


async def test_a_legacy_link_survives_the_providers_rollback(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    prov = host.run("prov", stale=True)
    prov_old = inspect(docker_client, prov)
    dep = host.run("dep", stale=False, links={prov: "alias"})
    dep_old = inspect(docker_client, dep)
    build_test_image(docker_client, host.stale_tag, marker="broken",
                     extra='ENTRYPOINT ["/no/such/binary"]\n')  # fmt: skip
    push_image(docker_client, host.stale_tag)
    docker_client.api.remove_image(host.stale_tag)
    report = await execute(bus, docker_client, host.plan(["prov"], ["dep"]))

    results = by_name(report)
    assert results[prov].status == "rolled_back", results[prov].error
    running_on(docker_client, prov, prov_old["Image"])
    assert inspect(docker_client, prov)["Id"] == prov_old["Id"]
    dep_new = running_on(docker_client, dep, dep_old["Image"])
    assert dep_new["HostConfig"]["Links"] == [f"/{prov}:/{dep}/alias"]
    address = inspect(docker_client, prov)["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert alias_address(docker_client, dep, "alias") == address
    assert results[dep].status == "fresh", results[dep].error
    assert ours(docker_client, prov) == [prov]


async def test_a_link_follows_an_auto_removed_provider_created_again_by_its_rollback(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    """An `--rm` provider whose new build fails is created again (a new id) on its old image:
    its linked dependent follows that one."""
    prov = host.run("prov", stale=True, auto_remove=True)
    prov_old = inspect(docker_client, prov)
    dep = host.run("dep", stale=False, links={prov: "alias"})
    dep_old = inspect(docker_client, dep)
    build_test_image(docker_client, host.stale_tag, marker="broken",
                     extra='ENTRYPOINT ["/no/such/binary"]\n')  # fmt: skip
    push_image(docker_client, host.stale_tag)
    docker_client.api.remove_image(host.stale_tag)
    report = await execute(bus, docker_client, host.plan(["prov"], ["dep"]))

    results = by_name(report)
    assert results[prov].status == "rolled_back", results[prov].error
    prov_new = running_on(docker_client, prov, prov_old["Image"])
    assert prov_new["Id"] != prov_old["Id"] and prov_new["HostConfig"]["AutoRemove"] is True
    dep_new = running_on(docker_client, dep, dep_old["Image"])
    assert dep_new["HostConfig"]["Links"] == [f"/{prov}:/{dep}/alias"]
    address = prov_new["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert alias_address(docker_client, dep, "alias") == address
    assert results[dep].status == "fresh", results[dep].error
    assert any(f"to join the new {prov} by its link" in n for n in results[dep].notes)
    assert ours(docker_client, prov) == [prov]
    assert ours(docker_client, dep) == [dep]


# --- --rm containers ---------------------------------------------------------------------


@pytest.mark.parametrize("rolling", [False, True], ids=["all-at-once", "rolling"])
async def test_auto_removed_containers_stale_with_others_are_replaced(
    bus: Bus, host: Host, docker_client: Any, rolling: bool
) -> None:
    db = host.run("db", stale=True, auto_remove=True)
    api = host.run("api", stale=True, depends="db")
    web = host.run("web", stale=True, auto_remove=True, depends="api")
    olds = {n: inspect(docker_client, n) for n in (db, api, web)}
    host.publish_new_build()
    report = await execute(
        bus, docker_client, host.plan(["db", "api", "web"], []), rolling_restart=rolling
    )

    results = by_name(report)
    for name, old in olds.items():
        assert results[name].status == "updated", (name, results[name].error)
        new = running_on(docker_client, name, results[name].new_image_id)
        assert new["Id"] != old["Id"]
        assert new["HostConfig"]["AutoRemove"] is old["HostConfig"]["AutoRemove"]
        assert new["Config"]["Labels"].get(labels.DEPENDS_ON) == old["Config"]["Labels"].get(
            labels.DEPENDS_ON
        )
        assert ours(docker_client, name) == [name]


@pytest.mark.parametrize("rolling", [False, True], ids=["all-at-once", "rolling"])
@pytest.mark.parametrize("tie", ["depends-on", "network"])
async def test_an_auto_removed_dependent_is_never_lost(
    bus: Bus, host: Host, docker_client: Any, tie: str, rolling: bool
) -> None:
    x = host.run("x", stale=True)
    if tie == "network":
        d = host.run("d", stale=False, auto_remove=True, network_mode=f"container:{x}")
    else:
        d = host.run("d", stale=False, auto_remove=True, depends="x")
    d_old = inspect(docker_client, d)
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["x"], ["d"]), rolling_restart=rolling)

    results = by_name(report)
    assert results[x].status == "updated", results[x].error
    x_new = running_on(docker_client, x, results[x].new_image_id)
    d_new = running_on(docker_client, d, d_old["Image"])
    assert d_new["HostConfig"]["AutoRemove"] is True
    assert results[d].status == "fresh", results[d].error
    if tie == "network":
        assert d_new["HostConfig"]["NetworkMode"] == f"container:{x_new['Id']}"
        assert namespace(docker_client, d, "net") == namespace(docker_client, x, "net")
    else:
        assert d_new["Id"] == d_old["Id"]  # restarted, not recreated
        assert d_new["State"]["StartedAt"] != d_old["State"]["StartedAt"]
        assert any("restarted after" in n for n in results[d].notes)
    assert ours(docker_client, d) == [d]


# --- dependents that are not updated themselves ------------------------------------------


async def test_a_dependent_that_is_not_updated_itself_is_started_again(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    """A dependent whose own update is skipped (monitor-only) was stopped with the others:
    it runs again afterwards."""
    x = host.run("x", stale=True)
    d = host.run("d", stale=True, depends="x", labels={labels.MONITOR_ONLY: "true"})
    d_old = inspect(docker_client, d)
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["x", "d"], []))

    results = by_name(report)
    assert results[x].status == "updated", results[x].error
    assert results[d].status == "skipped" and "monitor only" in results[d].error
    d_new = running_on(docker_client, d, d_old["Image"])
    assert d_new["Id"] == d_old["Id"]


# --- after an executor died between a provider and its dependents --------------------------


def replace_by_hand(client: Any, name: str, image: str, **kw: Any) -> str:
    """What an executor that died right after replacing `name` left: a new container under
    the name, labelled with the old one's id, and the old one gone. The new container's id."""
    old_id = inspect(client, name)["Id"]
    client.api.stop(old_id, timeout=5)
    client.api.rename(old_id, aside_name(name, old_id))
    new = client.api.create_container(
        image,
        name=name,
        labels={REPLACES_LABEL: old_id},
        host_config=client.api.create_host_config(**kw),
    )
    client.api.start(new["Id"])
    client.api.remove_container(old_id, force=True)
    return str(new["Id"])


async def test_a_plan_delivered_again_ties_a_dependent_to_the_earlier_replacement(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    x = host.run("x", stale=True)
    d = host.run("d", stale=True, network_mode=f"container:{x}")
    host.publish_new_build()
    x_new = replace_by_hand(docker_client, x, host.current_tag)
    report = await execute(bus, docker_client, host.plan(["d"], []))

    result = by_name(report)[d]
    assert result.status == "updated", result.error
    d_new = running_on(docker_client, d, result.new_image_id)
    assert d_new["HostConfig"]["NetworkMode"] == f"container:{x_new}"
    assert namespace(docker_client, d, "net") == namespace(docker_client, x, "net")
    assert ours(docker_client, d) == [d]


def test_recovery_rolls_a_tied_dependent_back_into_the_new_provider(
    host: Host, docker_client: Any
) -> None:
    """The executor died after replacing X and creating D's replacement: the rollback cannot
    start the old D (it names the old X, gone); it creates it again in the new X."""
    x = host.run("x", stale=True)
    d = host.run("d", stale=False, network_mode=f"container:{x}")
    d_old = inspect(docker_client, d)
    docker_client.api.stop(d, timeout=5)
    x_new = replace_by_hand(docker_client, x, host.current_tag)
    docker_client.api.rename(d_old["Id"], aside_name(d, d_old["Id"]))
    docker_client.api.create_container(
        host.current_tag,
        name=d,
        labels={REPLACES_LABEL: d_old["Id"]},
        host_config=docker_client.api.create_host_config(network_mode=f"container:{x_new}"),
    )  # never started

    done = recover(docker_client, {}, remove_volumes=False)

    assert any(line.startswith(f"{d}: roll back:") for line in done), done
    d_new = running_on(docker_client, d, d_old["Image"])
    assert d_new["HostConfig"]["NetworkMode"] == f"container:{x_new}"
    assert d_new["Config"]["Image"] == d_old["Config"]["Image"]
    assert namespace(docker_client, d, "net") == namespace(docker_client, x, "net")
    assert ours(docker_client, d) == [d]


async def test_a_stopped_container_tied_to_the_provider_is_recreated_and_stays_stopped(
    bus: Bus, host: Host, docker_client: Any
) -> None:
    """Stopped (and in the cycle, as with --include-stopped), it is not started; but it is
    created again in the new provider, so that its next start works."""
    x = host.run("x", stale=True)
    d = host.run("d", stale=False, network_mode=f"container:{x}")
    docker_client.api.stop(d, timeout=5)
    d_old = inspect(docker_client, d)
    host.publish_new_build()
    report = await execute(bus, docker_client, host.plan(["x"], ["d"]))

    results = by_name(report)
    assert results[x].status == "updated", results[x].error
    assert results[d].status == "fresh", results[d].error
    assert any("stays stopped" in n for n in results[d].notes), results[d].notes
    d_new = inspect(docker_client, d)
    assert not d_new["State"]["Running"]
    assert d_new["Image"] == d_old["Image"]
    assert d_new["HostConfig"]["NetworkMode"] == f"container:{inspect(docker_client, x)['Id']}"
    docker_client.api.start(d)
    assert namespace(docker_client, d, "net") == namespace(docker_client, x, "net")
    assert ours(docker_client, d) == [d]
