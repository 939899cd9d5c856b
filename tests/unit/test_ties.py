"""What ties a container to one an update replaces, and its settings tied to the new one
(tables)."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_executor.ties import Moved, namespace_refs, replaced, retarget

OLD, NEW = "a" * 64, "b" * 64
APP = Moved(name="app", old_id=OLD, new_id=NEW)


def container(**host: Any) -> dict[str, Any]:
    return {"Name": "/side", "Id": "c" * 64, "HostConfig": host}


@pytest.mark.parametrize(
    ("host", "want", "ties"),
    [
        pytest.param(
            {"NetworkMode": f"container:{OLD}"},
            {"NetworkMode": f"container:{NEW}"},
            ("the new app's network namespace",),
            id="network-by-id",
        ),
        pytest.param(
            {"IpcMode": f"container:{OLD[:12]}", "PidMode": f"container:{OLD}"},
            {"IpcMode": f"container:{NEW}", "PidMode": f"container:{NEW}"},
            ("the new app's IPC namespace", "the new app's PID namespace"),
            id="ipc-by-short-id-pid-by-id",
        ),
        pytest.param(
            {"Links": [f"/app-vigil-old-{OLD[:12]}:/side/db", "/other:/side/other"]},
            {"Links": ["/app:/side/db", "/other:/side/other"]},
            ("the new app by its link",),
            id="link-renamed-aside-by-the-engine",
        ),
        pytest.param(
            {"Links": ["/app:/side/app"], "NetworkMode": "container:app"},
            None,
            (),
            id="by-name-finds-the-new-one-at-start",
        ),
        pytest.param(
            {"NetworkMode": "container:" + "d" * 64, "Links": ["/other:/side/o"]},
            {"NetworkMode": "container:" + "d" * 64, "Links": ["/other:/side/o"]},
            (),
            id="tied-to-containers-that-did-not-move",
        ),
        pytest.param({"NetworkMode": "bridge", "IpcMode": "shareable"}, None, (), id="untied"),
        pytest.param({"NetworkMode": "container:ap"}, None, (), id="a-short-ref-is-no-id"),
    ],
)
def test_retarget(host: dict[str, Any], want: dict[str, Any] | None, ties: tuple[str, ...]) -> None:
    data = container(**host)
    retied, found = retarget(data, [APP])
    assert found == ties
    assert retied["HostConfig"] == (want if want is not None else host)
    assert data == container(**host)  # the inspect data itself is left as it was


def test_namespace_refs() -> None:
    host = {"NetworkMode": "container:/vpn", "IpcMode": "private", "PidMode": "container:x"}
    assert namespace_refs(host) == ["vpn", "x"]


def test_replaced_names_what_vigil_created_in_place_of_a_gone_container() -> None:
    def c(name: str, id_: str, replaces: str = "") -> dict[str, Any]:
        labels = {"io.vigil.replaces": replaces} if replaces else {}
        return {"Name": f"/{name}", "Id": id_, "Config": {"Labels": labels}}

    containers = [
        c("app", NEW, replaces=OLD),  # the old one is gone
        c("web", "e" * 64, replaces="f" * 64),
        c("web-vigil-old-ffffffffffff", "f" * 64),  # still there: its update is under way
        c("db", "1" * 64),
    ]
    assert replaced(containers) == [APP]
