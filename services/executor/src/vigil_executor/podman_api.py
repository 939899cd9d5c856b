"""The calls of Podman's own API (libpod) that Vigil needs beside its Docker-compatible one.

Health checks: Podman starts a transient systemd timer per container with a healthcheck;
where there is no systemd (a container host without it, a sandbox) no check ever runs and the
container stays `starting`. So while Vigil's health gate waits on a new container on
Podman, it runs the check itself at the check's interval, through Podman's own API (`GET
/libpod/containers/{id}/healthcheck` runs the check and records its result, as the timer
would). Where the timers do run, the container is checked a little more often during the gate.
"""

from __future__ import annotations

import time
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
