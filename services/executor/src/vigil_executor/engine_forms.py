"""Inspect data turned into what the engine's create call accepts, where Podman differs.

Podman serves Docker's API, but its container inspect is written from its own model, and a few
fields come back in forms its own create refuses or reads differently. Pure: from the create
body that recreate.py built out of the inspect data, the body for the engine it goes to.

- ulimits: inspect says `RLIMIT_NOFILE`, create wants `nofile` ("invalid ulimit type:
  RLIMIT_NOFILE"); Docker reports and takes `nofile`, so this one is turned back on both;
- the environment: Podman adds `HOSTNAME=<short id>` (the old container's, which would name
  the new one wrongly), `container=podman` and `TERM=xterm` to every container; they are its
  own defaults and come again by themselves;
- `HostConfig.Runtime` reads `oci` (Podman's name for its configured runtime, which create
  does not know);
- the network mode `bridge` of a container on Podman's default network, whose endpoint is
  listed as `podman`: create is given back `bridge` with no endpoint config of its own, so the
  new container joins the default network as the old one did;
- namespace modes Podman reports that `docker run` never gave: `private` (PID, UTS, cgroup)
  and `shareable` (IPC) are its defaults, left out;
- the stop signal as a number (`15`): Podman's default, left out; another number is given
  back as its name;
- devices: Podman reports no cgroup permissions (`CgroupPermissions: ""`, whatever `--device`
  said) and its create refuses that ("invalid device mode: "): they are given as `rwm`,
  `--device`'s default (a narrower one given at `podman run` is not in the inspect to carry).
"""

from __future__ import annotations

import copy
import signal
from typing import Any

from vigil_shared.engine_kind import EngineKind

# The environment entries Podman gives every container by itself.
_PODMAN_ENV = frozenset({"container=podman", "TERM=xterm"})
# Modes Podman reports for namespaces a container did not share: its defaults.
_PODMAN_DEFAULT_MODES = {
    "PidMode": ("private", ""),
    "UTSMode": ("private", ""),
    "CgroupnsMode": ("private", ""),
    "IpcMode": ("shareable", "private", ""),
}


def ulimit_name(name: str) -> str:
    """`RLIMIT_NOFILE` (Podman's inspect) -> `nofile` (what both engines' create takes)."""
    lowered = name.strip().lower()
    return lowered.removeprefix("rlimit_")


def _ulimits(host_config: dict[str, Any]) -> None:
    ulimits = host_config.get("Ulimits")
    if ulimits:
        host_config["Ulimits"] = [
            {**u, "Name": ulimit_name(str(u.get("Name") or ""))} for u in ulimits
        ]


def _signal_name(value: str) -> str:
    if value.isdigit():
        try:
            return signal.Signals(int(value)).name
        except ValueError:
            return value
    return value


def for_engine(body: dict[str, Any], kind: EngineKind, short_id: str = "") -> dict[str, Any]:
    """The create body for an engine of `kind`; `short_id`: the old container's short id
    (Podman names the container's hostname after it in the environment)."""
    out = copy.deepcopy(body)
    host_config = out.setdefault("HostConfig", {})
    _ulimits(host_config)
    if kind != "podman":
        return out

    own = {f"HOSTNAME={short_id}"} if short_id else set()
    if out.get("Env") is not None:
        out["Env"] = [e for e in out["Env"] if e not in _PODMAN_ENV and e not in own]
    if host_config.get("Runtime") == "oci":
        host_config.pop("Runtime")
    for key, defaults in _PODMAN_DEFAULT_MODES.items():
        if host_config.get(key) in defaults:
            host_config.pop(key, None)
    if host_config.get("Devices"):
        host_config["Devices"] = [
            {**d, "CgroupPermissions": d.get("CgroupPermissions") or "rwm"}
            for d in host_config["Devices"]
        ]
    stop_signal = str(out.get("StopSignal") or "")
    if stop_signal == str(int(signal.SIGTERM)):
        out.pop("StopSignal")
    elif stop_signal:
        out["StopSignal"] = _signal_name(stop_signal)
    return out
