"""The calls of Podman's own API (libpod) that Vigil needs beside its Docker-compatible one.

Health checks: Podman starts a transient systemd timer per container with a healthcheck;
where there is no systemd (a container host without it, a sandbox) no check ever runs and the
container stays `starting`. So while Vigil's health gate waits on a new container on
Podman, it runs the check itself at the check's interval, through Podman's own API (`GET
/libpod/containers/{id}/healthcheck` runs the check and records its result, as the timer
would). Where the timers do run, the container is checked a little more often during the gate.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

DEFAULT_INTERVAL_S = 30.0  # Docker's and Podman's default --health-interval


def check_interval(inspect: dict[str, Any]) -> float:
    """Pure: the container's --health-interval in seconds (nanoseconds in inspect)."""
    interval = ((inspect.get("Config") or {}).get("Healthcheck") or {}).get("Interval") or 0
    return float(interval) / 1e9 if interval else DEFAULT_INTERVAL_S


class PodmanHealthRuns:
    """Runs a container's check every interval, from its start; call tick() while waiting."""

    def __init__(self, api: Any, container_id: str, inspect: dict[str, Any]) -> None:
        self.api = api
        self.container_id = container_id
        self.interval = check_interval(inspect)
        self.next_at = time.monotonic() + self.interval

    def tick(self) -> None:
        if time.monotonic() < self.next_at:
            return
        self.next_at = time.monotonic() + self.interval
        url = self.api._url("/libpod/containers/{0}/healthcheck", self.container_id)
        # The answer is the check's result, read again from inspect by the gate; a failed
        # run (the container stopped meanwhile) is the gate's to see there too.
        self.api._get(url).close()


def image_inspect(api: Any, image_id: str) -> dict[str, Any]:
    """The compatible image inspect, with what Podman's leaves out put back: its Config has no
    Healthcheck (the libpod inspect has it, at the top), so an image's healthcheck would look
    like the container's own and never follow a new build."""
    data: dict[str, Any] = api.inspect_image(image_id)
    own = api._result(api._get(api._url("/libpod/images/{0}/json", image_id)), json=True)
    return with_image_healthcheck(data, own)


def with_image_healthcheck(compat: dict[str, Any], libpod: dict[str, Any]) -> dict[str, Any]:
    """Pure: `compat` with Config.Healthcheck from the libpod inspect, where it has none."""
    healthcheck = libpod.get("Healthcheck")
    config = dict(compat.get("Config") or {})
    if not healthcheck or config.get("Healthcheck"):
        return compat
    return {**compat, "Config": {**config, "Healthcheck": healthcheck}}


def container_inspect(api: Any, container_id: str) -> dict[str, Any]:
    """Podman's own container inspect: it names the container's pod, which the compatible
    inspect leaves out."""
    url = api._url("/libpod/containers/{0}/json", container_id)
    data: dict[str, Any] = api._result(api._get(url), json=True)
    return data


# Static addresses. Podman keeps the addresses a container was given (`--ip`, `--ip6`,
# `--network NAME:ip=...`, or a create call's IPAMConfig) in its own configuration, but neither
# inspect shows them: IPAMConfig is null in the compatible one, and both show only the
# addresses the container has now, given or assigned alike. So Vigil reads what was given from
# the container's CreateCommand (the `podman run`/`podman create` command line that made it),
# and writes what it gave a replacement in that replacement's label STATIC_ADDRESSES_LABEL (a
# container Vigil made has the service's command line as CreateCommand).
STATIC_ADDRESSES_LABEL = "io.vigil.static-addresses"
_NETWORK_FLAGS = ("--network", "--net")
_ADDRESS_FLAGS = {"--ip": "IPv4Address", "--ip6": "IPv6Address"}
_CREATING = (("run",), ("create",), ("container", "run"), ("container", "create"))

StaticAddresses = dict[str, dict[str, str]]  # network -> {"IPv4Address": ..., "IPv6Address": ...}


def _kind(address: str) -> str:
    return "IPv6Address" if ":" in address else "IPv4Address"


def _is_image(token: str, image_name: str) -> bool:
    """Pure: whether a command-line word names the container's image (`ImageName`, which
    Podman normalizes: `web` is `docker.io/library/web:latest`, `localhost/web:latest`)."""
    if not token or token.startswith("-"):
        return False
    candidates = {token, f"{token}:latest"} if ":" not in token.rsplit("/", 1)[-1] else {token}
    return any(image_name == c or image_name.endswith("/" + c) for c in candidates)


def _options(argv: list[str], image_name: str) -> list[tuple[str, str]]:
    """Pure: the (flag, value) pairs of the network flags before the image in `argv`."""
    out: list[tuple[str, str]] = []
    words = iter(argv)
    for word in words:
        if _is_image(word, image_name):
            break
        flag, eq, value = word.partition("=")
        if flag in (*_NETWORK_FLAGS, *_ADDRESS_FLAGS):
            out.append((flag, value if eq else next(words, "")))
    return out


def addresses_given(libpod: dict[str, Any], networks: list[str]) -> StaticAddresses:
    """Pure: the addresses the user gave the container, by network, from Podman's own inspect
    (its label from Vigil, else its CreateCommand); `networks`: the container's networks."""
    config = libpod.get("Config") or {}
    labelled = (config.get("Labels") or {}).get(STATIC_ADDRESSES_LABEL)
    if labelled:
        try:
            data = json.loads(labelled)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return {
                str(net): {str(k): str(v) for k, v in dict(given).items() if v}
                for net, given in data.items()
                if isinstance(given, dict) and net in networks
            }
    argv = [str(word) for word in config.get("CreateCommand") or ()]
    if not argv or Path(argv[0]).name != "podman":
        return {}
    verb = next((c for c in _CREATING if tuple(argv[1 : 1 + len(c)]) == c), None)
    if verb is None:  # the service's own command line: a container made through the API
        return {}
    given: StaticAddresses = {}
    loose: dict[str, str] = {}  # --ip/--ip6: for the only network
    for flag, value in _options(argv[1 + len(verb) :], str(libpod.get("ImageName") or "")):
        if flag in _ADDRESS_FLAGS:
            loose[_ADDRESS_FLAGS[flag]] = value
            continue
        net, _, opts = value.partition(":")
        for opt in opts.split(","):
            key, _, address = opt.partition("=")
            if key in ("ip", "ip6") and address and net in networks:
                given.setdefault(net, {})[_kind(address)] = address
    if loose and len(networks) == 1:
        given.setdefault(networks[0], {}).update({k: v for k, v in loose.items() if v})
    return given


def with_addresses(container: dict[str, Any], given: StaticAddresses) -> dict[str, Any]:
    """Pure: `container` (the compatible inspect) with `given` as its endpoints' IPAMConfig,
    where the inspect has none."""
    settings = dict(container.get("NetworkSettings") or {})
    networks = {name: dict(ep or {}) for name, ep in (settings.get("Networks") or {}).items()}
    for net, addresses in given.items():
        if net in networks and not networks[net].get("IPAMConfig") and addresses:
            networks[net]["IPAMConfig"] = dict(addresses)
    return {**container, "NetworkSettings": {**settings, "Networks": networks}}
