"""`{prefix}.inventory.{host}`: what runs on a host (JetStream, for audit and planning)."""

from __future__ import annotations

import msgspec

from vigil_shared.contracts.base import Message


class ContainerInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    image: str  # the reference the container was created from (Config.Image)
    image_id: str
    repo_digests: tuple[str, ...] = ()  # of the container's image, as the engine records them
    state: str = "running"  # running, exited, created, restarting, paused, dead
    labels: dict[str, str] = {}
    created: str = ""
    # The image the container's tag names on this host now (--no-pull compares with it);
    # empty when the tag is not on the host.
    tag_image_id: str = ""
    # The engine it runs on ("docker", "podman"; "" from an older scanner), and on Podman the
    # pod it is in ("": none), which decide whether Vigil may recreate it (podman_refusals).
    engine: str = ""
    pod: str = ""


class Inventory(Message, frozen=True, kw_only=True):
    scan_id: str
    host: str
    taken_at: float
    containers: tuple[ContainerInfo, ...] = ()
