"""What ties a container to one an update replaces, and its settings tied to the new one
(tables)."""

from __future__ import annotations

from typing import Any

import pytest

from vigil_executor.ties import Moved, namespace_refs, retarget

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
            {"IpcMode": f"container:{OLD[:12]}", "PidMode": "container:app"},
            {"IpcMode": f"container:{NEW}", "PidMode": f"container:{NEW}"},
            ("the new app's IPC namespace", "the new app's PID namespace"),
            id="ipc-by-short-id-pid-by-name",
        ),
        pytest.param(
            {"Links": [f"/app-vigil-old-{OLD[:12]}:/side/db", "/other:/side/other"]},
            {"Links": ["/app:/side/db", "/other:/side/other"]},
            ("the new app by its link",),
            id="link-renamed-aside-by-the-engine",
        ),
        pytest.param(
            {"Links": ["/app:/side/app"]},
            {"Links": ["/app:/side/app"]},
            ("the new app by its link",),
            id="link-by-its-own-name",
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
