"""Update order on one host: dependencies, restarts of dependents, cycles (tables)."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_executor.order import Node, node_from_inspect, plan_order
from vigil_shared import labels


def n(name: str, *deps: str, running: bool = True) -> Node:
    return Node(name=name, id=f"{name:0<64}", depends_on=deps, running=running)


CHAIN = [n("db"), n("api", "db"), n("web", "api")]
DIAMOND = [n("base"), n("left", "base"), n("right", "base"), n("top", "left", "right")]


@pytest.mark.parametrize(
    ("nodes", "stale", "start", "restart_only"),
    [
        pytest.param(CHAIN, ["db"], ["db", "api", "web"], ["api", "web"], id="chain-root"),
        pytest.param(CHAIN, ["api"], ["api", "web"], ["web"], id="chain-middle"),
        pytest.param(CHAIN, ["web"], ["web"], [], id="chain-leaf"),
        pytest.param(CHAIN, ["web", "db"], ["db", "api", "web"], ["api"], id="chain-two"),
        pytest.param(
            DIAMOND,
            ["base"],
            ["base", "left", "right", "top"],
            ["left", "right", "top"],
            id="diamond",
        ),
        pytest.param(DIAMOND, ["left"], ["left", "top"], ["top"], id="diamond-side"),
        pytest.param([n("a"), n("b"), n("c")], ["c", "a"], ["a", "c"], [], id="independent-sorted"),
        pytest.param(
            [n("db"), n("api", "db", running=False), n("web", "api")],
            ["db"],
            ["db"],
            [],
            id="stopped-dependent-stays-stopped",
        ),
        pytest.param([n("db"), n("api", "ghost")], ["api"], ["api"], [], id="unknown-dependency"),
        pytest.param([n("db")], ["nobody"], [], [], id="unknown-stale-name"),
    ],
)
def test_order(
    nodes: list[Node], stale: list[str], start: list[str], restart_only: list[str]
) -> None:
    order = plan_order(nodes, stale)
    assert list(order.start) == start
    assert list(order.stop) == list(reversed(start))
    assert list(order.restart_only) == restart_only
    assert order.cycles == ()


@pytest.mark.parametrize(
    ("nodes", "stale", "waves"),
    [
        pytest.param(CHAIN, ["db"], [["web"], ["api"], ["db"]], id="chain: one at a time"),
        pytest.param(
            DIAMOND, ["base"], [["top"], ["right", "left"], ["base"]], id="diamond: sides at once"
        ),
        pytest.param([n("a"), n("b"), n("c")], ["c", "a"], [["c", "a"]], id="independent: at once"),
        pytest.param(
            [*CHAIN, n("cache")], ["db", "cache"], [["web"], ["api"], ["db", "cache"]], id="mixed"
        ),
        pytest.param([n("db")], ["nobody"], [], id="nothing"),
    ],
)
def test_stop_waves_stop_at_once_what_does_not_depend_on_each_other(
    nodes: list[Node], stale: list[str], waves: list[list[str]]
) -> None:
    order = plan_order(nodes, stale)
    assert [list(w) for w in order.stop_waves] == waves
    # The waves are the stop order, cut where a container waits for one before it.
    assert [m for w in order.stop_waves for m in w] == list(order.stop)


def test_a_cycle_is_left_alone_with_what_depends_on_it() -> None:
    nodes = [n("x", "y"), n("y", "x"), n("z", "x"), n("free")]
    order = plan_order(nodes, ["x", "free"])
    assert order.cycles == (("x", "y"),)
    assert order.blocked == ("x",)
    assert order.start == ("free",)  # z would have to restart after x: it stays too


def test_a_cycle_elsewhere_does_not_block_others() -> None:
    nodes = [n("x", "y"), n("y", "x"), n("app")]
    order = plan_order(nodes, ["app"])
    assert order.start == ("app",)
    assert order.cycles == ()


def test_a_self_reference_is_not_a_cycle() -> None:
    assert plan_order([n("a", "a")], ["a"]).start == ("a",)


def inspect(name: str, **host: Any) -> dict[str, Any]:
    labels_ = host.pop("labels", {})
    return {
        "Name": f"/{name}",
        "Id": f"{name:0<64}",
        "Config": {"Labels": labels_},
        "HostConfig": host,
        "State": {"Running": True},
    }


@pytest.mark.parametrize(
    ("data", "deps"),
    [
        (inspect("web", Links=["/db:/web/db", "/cache:/web/redis"]), ("db", "cache")),
        (inspect("web", labels={labels.DEPENDS_ON: "db, /cache ,,api"}), ("db", "cache", "api")),
        (inspect("sidecar", NetworkMode="container:vpn"), ("vpn",)),
        (inspect("sidecar", NetworkMode="container:" + "f" * 64), ("f" * 64,)),
        (inspect("web", NetworkMode="bridge"), ()),
        (
            inspect("side", IpcMode="container:app", PidMode="container:" + "e" * 64),
            ("app", "e" * 64),
        ),
        (inspect("side", NetworkMode="container:app", IpcMode="container:app"), ("app",)),
        (inspect("web", IpcMode="shareable", PidMode="host"), ()),
        (inspect("web", Links=["/db:/web/db"], labels={labels.DEPENDS_ON: "db"}), ("db",)),
    ],
)
def test_dependencies_from_inspect(data: dict[str, Any], deps: tuple[str, ...]) -> None:
    assert node_from_inspect(data).depends_on == deps


def test_network_container_by_id_is_resolved() -> None:
    vpn = n("vpn")
    sidecar = Node(name="sidecar", id="s" * 64, depends_on=(vpn.id[:12],))
    assert plan_order([vpn, sidecar], ["vpn"]).start == ("vpn", "sidecar")


def test_dependents_outside_the_selection_are_left_alone() -> None:
    order = plan_order(CHAIN, ["db"], allowed=["db", "web"])
    assert order.start == ("db",)  # api is not selected; web depends on api, not on db
    order = plan_order(DIAMOND, ["base"], allowed=["base", "left", "top"])
    assert order.start == ("base", "left", "top")
