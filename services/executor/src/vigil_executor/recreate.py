"""What to create in place of a container: its own settings, on the new image.

Pure: from the old container's inspect data and the inspect data of its old and new images,
the body of the create call and the networks to connect afterwards. Where the old container
only carried its old image's defaults (command, entrypoint, env entries, labels, ports,
volumes, healthcheck, working dir, user), the value is left out so that the new image's
defaults apply; what the user set is kept.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import msgspec

# Network modes in which a container has no endpoints of its own to recreate.
_NO_ENDPOINTS = ("host", "none")
_ANONYMOUS_VOLUME = re.compile(r"^[0-9a-f]{64}$")


class NetworkAttachment(msgspec.Struct, frozen=True, kw_only=True):
    network: str
    endpoint: dict[str, Any]


class CreateSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    body: dict[str, Any]  # Config fields plus HostConfig and NetworkingConfig
    connect_after: tuple[NetworkAttachment, ...] = ()  # networks beyond the first


def container_name(container: dict[str, Any]) -> str:
    return str(container.get("Name") or "").lstrip("/")


def _image_config(image: dict[str, Any] | None) -> dict[str, Any]:
    return dict((image or {}).get("Config") or {})


def _without_defaults(config: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    for key in ("Cmd", "Entrypoint", "Healthcheck", "WorkingDir", "User", "StopSignal"):
        if key in out and out[key] == defaults.get(key):
            out[key] = None if key in ("Cmd", "Entrypoint", "Healthcheck") else ""
    if out.get("StopSignal") == "":
        out.pop("StopSignal")
    image_env = set(defaults.get("Env") or ())
    out["Env"] = [e for e in out.get("Env") or () if e not in image_env]
    image_labels = defaults.get("Labels") or {}
    out["Labels"] = {
        k: v for k, v in (out.get("Labels") or {}).items() if image_labels.get(k, None) != v
    }
    for key in ("ExposedPorts", "Volumes"):
        image_keys = set((defaults.get(key) or {}).keys())
        kept = {k: v for k, v in (out.get(key) or {}).items() if k not in image_keys}
        out[key] = kept or None
    return out


def _endpoint(settings: dict[str, Any], short_id: str, user_network: bool) -> dict[str, Any]:
    endpoint: dict[str, Any] = {}
    aliases = [a for a in settings.get("Aliases") or () if a != short_id]
    if aliases and user_network:
        endpoint["Aliases"] = aliases
    ipam = settings.get("IPAMConfig")
    if ipam:
        endpoint["IPAMConfig"] = ipam
    links = settings.get("Links")
    if links:
        endpoint["Links"] = links
    return endpoint


def build_create_spec(
    container: dict[str, Any],
    old_image: dict[str, Any] | None,
    image: str,
) -> CreateSpec:
    """The create call for `container` on `image` (the tag it follows, now the new build)."""
    config = copy.deepcopy(dict(container.get("Config") or {}))
    host_config = copy.deepcopy(dict(container.get("HostConfig") or {}))
    short_id = str(container.get("Id") or "")[:12]

    # The old image's defaults give way to the new image's; an unknown old image (removed
    # since) means nothing can be told apart, so everything is kept as the user's.
    if old_image is not None:
        config = _without_defaults(config, _image_config(old_image))
    config["Image"] = image
    if config.get("Hostname") == short_id:
        config.pop("Hostname")  # the engine's default; the new container gets its own
    if config.get("Domainname") == "":
        config.pop("Domainname")

    # Anonymous volumes keep their data: they are bound again by name.
    binds = list(host_config.get("Binds") or ())
    bound = {b.split(":")[1] for b in binds if b.count(":") >= 1}
    for mount in container.get("Mounts") or ():
        name = str(mount.get("Name") or "")
        dest = str(mount.get("Destination") or "")
        if (
            mount.get("Type") == "volume"
            and _ANONYMOUS_VOLUME.match(name)
            and dest not in bound
            and not any(m.get("Target") == dest for m in host_config.get("Mounts") or ())
        ):
            binds.append(f"{name}:{dest}")
    if binds:
        host_config["Binds"] = binds

    mode = str(host_config.get("NetworkMode") or "default")
    networks = dict((container.get("NetworkSettings") or {}).get("Networks") or {})
    body: dict[str, Any] = {**config, "HostConfig": host_config}
    connect_after: list[NetworkAttachment] = []
    if mode not in _NO_ENDPOINTS and not mode.startswith("container:") and networks:
        first = mode if mode in networks else ("bridge" if mode == "default" else mode)
        if first not in networks:
            first = next(iter(networks))
        ordered = [first, *[n for n in networks if n != first]]
        for index, net in enumerate(ordered):
            user_network = net not in ("bridge", "default")
            endpoint = _endpoint(networks[net] or {}, short_id, user_network)
            if index == 0:
                body["NetworkingConfig"] = {"EndpointsConfig": {net: endpoint}}
            else:
                connect_after.append(NetworkAttachment(network=net, endpoint=endpoint))
    return CreateSpec(
        name=container_name(container),
        body=body,
        connect_after=tuple(connect_after),
    )
