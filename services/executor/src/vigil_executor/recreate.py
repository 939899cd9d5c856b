"""What to create in place of a container: its own settings, on the new image.

Pure: from the old container's inspect data and the inspect data of its old and new images,
the body of the create call and the networks to connect afterwards. Where the old container
only carried its old image's defaults (command, entrypoint, env entries, labels, ports,
volumes, healthcheck, working dir, user), the value is left out so that the new image's
defaults apply; what the user set is kept.

Inspect data is not quite what `docker run` sent, and some of it the engine refuses when it is
passed back, so a few fields are turned back into what the user gave:

- anonymous volumes keep their data and stay anonymous where the engine allows it: those
  declared (`-v /path`, an image's VOLUME) are taken over with `--volumes-from` the old
  container, so that `docker rm -v` of the new one removes them, as it would have removed the
  old one's (a volume named in a bind or a mount never is). Those of a bind or a mount
  without source (`--mount type=volume,target=/path`) are bound again by name: the engine
  holds no reference to such a volume when it comes with `--volumes-from` (`docker volume
  prune` would remove it while in use). So are all of a `--rm` container (a replacement that
  fails to start is removed by the engine with its anonymous volumes, and the old container
  is gone already) and of one with a `--mount type=tmpfs` (which the engine refuses to
  copy). Those that come with the user's own `--volumes-from` are left to it;
- legacy links read `/db:/web/alias` and are given back as `db:alias`;
- in `container:` network mode the hostname, domain name and exposed ports are the engine's
  (copied from the other container and the image), and the engine refuses them on create;
- endpoints keep their aliases (less the short id the engine adds), static addresses
  (`IPAMConfig`: IPv4, IPv6, link-local), links and driver options; a network listed twice
  (once under the id or short id given as network mode, once under its name) is joined once.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

import msgspec

from vigil_executor.engine_forms import for_engine
from vigil_executor.podman_api import STATIC_ADDRESSES_LABEL
from vigil_shared.contracts.journal import HOST_LABEL, REPLACES_LABEL
from vigil_shared.engine_kind import EngineKind

# Network modes in which a container has no endpoints of its own to recreate.
_NO_ENDPOINTS = ("host", "none")
_ANONYMOUS_VOLUME = re.compile(r"^[0-9a-f]{64}$")
# On a new container that took over anonymous volumes: the old container's id, the entry of
# HostConfig.VolumesFrom that Vigil added. That container is removed afterwards, so the next
# update leaves the entry out.
VOLUMES_FROM_LABEL = "io.vigil.volumes-from"
UPDATE_MARKS = frozenset({REPLACES_LABEL, HOST_LABEL, VOLUMES_FROM_LABEL, STATIC_ADDRESSES_LABEL})
# What becomes of the old container's anonymous volumes: taken over (the default), bound by
# name (for an old container that the engine has removed already), or fresh
# (`--remove-volumes`).
AnonymousVolumes = Literal["take_over", "by_name", "fresh"]


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
    ipam = {k: v for k, v in (settings.get("IPAMConfig") or {}).items() if v}
    if ipam:
        endpoint["IPAMConfig"] = ipam
    links = settings.get("Links")
    if links:
        endpoint["Links"] = list(links)
    driver_opts = settings.get("DriverOpts")
    if driver_opts:
        endpoint["DriverOpts"] = dict(driver_opts)
    return endpoint


def _link(link: str) -> str:
    """`/db:/web/alias` (as inspect shows a legacy link) -> `db:alias` (as it was given)."""
    name, sep, alias = link.partition(":")
    if not name.startswith("/"):
        return link
    name = name[1:]
    alias = alias.rsplit("/", 1)[-1] if sep else ""
    return f"{name}:{alias or name}"


def _anonymous(mount: dict[str, Any]) -> str:
    """The name of an anonymous volume mounted by `mount` (container `Mounts`), else ""."""
    name = str(mount.get("Name") or "")
    if mount.get("Type") == "volume" and _ANONYMOUS_VOLUME.match(name):
        return name
    return ""


def _keep_anonymous_volumes(
    container: dict[str, Any], declared: set[str], host_config: dict[str, Any], take_over: bool
) -> bool:
    """Keep the container's anonymous volumes, and their data, in its replacement; whether
    the old container was added to --volumes-from.

    `declared`: the destinations in the old Config.Volumes (the user's and the image's).
    `take_over`: the declared ones come with `--volumes-from` the old container (anonymous
    still); else they are bound by name."""
    mounted = {
        str(m.get("Destination") or ""): name
        for m in container.get("Mounts") or ()
        if (name := _anonymous(m))
    }
    host_mounts = [dict(m) for m in host_config.get("Mounts") or ()]
    for mount in host_mounts:
        target = str(mount.get("Target") or "")
        if mount.get("Type") == "volume" and not mount.get("Source") and target in mounted:
            mount["Source"] = mounted[target]  # `--mount type=volume,target=...`
    if host_mounts:
        host_config["Mounts"] = host_mounts

    # A bind with no source (`/data`, as an API client may send `-v /data`) is the anonymous
    # volume itself: it names the old volume now, or the engine would mount /data twice.
    binds = [
        f"{mounted[b]}:{b}" if ":" not in b and b in mounted else b
        for b in host_config.get("Binds") or ()
    ]
    bound = {b.split(":")[1] for b in binds if b.count(":") >= 1}
    targets = {str(m.get("Target") or "") for m in host_mounts}
    from_others = bool(host_config.get("VolumesFrom"))
    rest: list[str] = []
    for dest, name in mounted.items():
        if dest in bound or dest in targets:
            continue
        if from_others and dest not in declared:
            continue  # it comes with --volumes-from, which brings it again
        rest.append(f"{name}:{dest}")
    taken = take_over and bool(rest) and _can_take_over(container)
    if taken:
        # First, so that the user's own --volumes-from wins where both mount one path; binds
        # and mounts win over both, so the by-name ones above replace what it brings.
        host_config["VolumesFrom"] = [str(container["Id"]), *(host_config.get("VolumesFrom") or ())]
        rest = []
    binds.extend(rest)
    if binds:
        host_config["Binds"] = binds
    return taken


def _fresh_anonymous_binds(container: dict[str, Any], host_config: dict[str, Any]) -> None:
    """`--remove-volumes`: a bind that names one of the old container's anonymous volumes
    becomes a fresh anonymous volume at its destination. Podman reports every anonymous
    volume so in Binds (`<64 hex>:/data:rw,rprivate,...`), as does an earlier update that
    bound one by name; kept, it would give the old data to the new container."""
    anonymous = {name for m in container.get("Mounts") or () if (name := _anonymous(m))}
    binds = []
    for bind in host_config.get("Binds") or ():
        source, _, rest = str(bind).partition(":")
        if source in anonymous:
            dest, _, options = rest.partition(":")
            bind = f"{dest}:ro" if "ro" in options.split(",") else dest
        binds.append(bind)
    if binds:
        host_config["Binds"] = binds


def _can_take_over(container: dict[str, Any]) -> bool:
    """Whether the replacement may hold the anonymous volumes as anonymous ones.

    Not with `--rm`: a replacement that fails to start is removed by the engine with its
    anonymous volumes, and the old container is gone already (--rm), so the data would go
    too. Not with a `--mount type=tmpfs`: engine 20.10 refuses `--volumes-from` such a
    container ("no such volume")."""
    if (container.get("HostConfig") or {}).get("AutoRemove"):
        return False
    return all(m.get("Type") in ("bind", "volume") for m in container.get("Mounts") or ())


def _without_our_volumes_from(container: dict[str, Any], host_config: dict[str, Any]) -> None:
    """Leave out the --volumes-from that an earlier update added (its container is gone)."""
    ours = ((container.get("Config") or {}).get("Labels") or {}).get(VOLUMES_FROM_LABEL)
    entries = host_config.get("VolumesFrom")
    if ours and entries:
        kept = [e for e in entries if str(e).split(":", 1)[0] != ours]
        host_config["VolumesFrom"] = kept or None


def _network_order(mode: str, networks: dict[str, Any]) -> list[str]:
    """The network the container is created on (its network mode's) first, then the others;
    each network once, however many names inspect lists it under."""
    if mode in networks:
        first = mode
    elif mode in ("default", "bridge") and "bridge" in networks:
        first = "bridge"
    else:  # a network mode given as a network's id or short id
        by_id = [
            n for n, s in networks.items() if str((s or {}).get("NetworkID", "")).startswith(mode)
        ]
        first = by_id[0] if by_id else next(iter(networks))
    ordered: list[str] = []
    seen: set[str] = set()
    for net in [first, *networks]:
        network_id = str((networks[net] or {}).get("NetworkID") or "") or net
        if net in ordered or network_id in seen:
            continue
        ordered.append(net)
        seen.add(network_id)
    return ordered


def build_create_spec(
    container: dict[str, Any],
    old_image: dict[str, Any] | None,
    image: str,
    *,
    anonymous_volumes: AnonymousVolumes = "take_over",
    engine: EngineKind = "docker",
) -> CreateSpec:
    """The create call for `container` on `image` (the tag it follows, now the new build).

    `anonymous_volumes`: "take_over" (the old container must still exist when the new one is
    created), "by_name" (it does not), "fresh" (`--remove-volumes`: the new container gets
    fresh ones). `engine`: the kind of engine the container is on (and created on), whose
    inspect forms are turned into its create forms (engine_forms.py)."""
    config = copy.deepcopy(dict(container.get("Config") or {}))
    host_config = copy.deepcopy(dict(container.get("HostConfig") or {}))
    short_id = str(container.get("Id") or "")[:12]
    mode = str(host_config.get("NetworkMode") or "default")
    declared = set((config.get("Volumes") or {}).keys())

    # The old image's defaults give way to the new image's; an unknown old image (removed
    # since) means nothing can be told apart, so everything is kept as the user's.
    if old_image is not None:
        config = _without_defaults(config, _image_config(old_image))
    config["Image"] = image
    # Vigil's own marks describe one update (which container this one replaced): never
    # carried over to the next. The user's io.vigil.* settings (policy, min-age, window) are.
    if config.get("Labels"):
        config["Labels"] = {k: v for k, v in config["Labels"].items() if k not in UPDATE_MARKS}
    if config.get("Hostname") == short_id:
        config.pop("Hostname")  # the engine's default; the new container gets its own
    if config.get("Domainname") == "":
        config.pop("Domainname")
    if mode.startswith("container:"):
        # The other container's names and the image's ports: the engine's, and refused.
        for key in ("Hostname", "Domainname", "ExposedPorts"):
            config.pop(key, None)

    _without_our_volumes_from(container, host_config)
    if anonymous_volumes == "fresh":
        _fresh_anonymous_binds(container, host_config)
    else:
        take_over = anonymous_volumes == "take_over"
        if _keep_anonymous_volumes(container, declared, host_config, take_over):
            config["Labels"] = {**(config.get("Labels") or {}), VOLUMES_FROM_LABEL: container["Id"]}
    if host_config.get("Links"):
        host_config["Links"] = [_link(str(link)) for link in host_config["Links"]]

    networks = dict((container.get("NetworkSettings") or {}).get("Networks") or {})
    body: dict[str, Any] = {**config, "HostConfig": host_config}
    connect_after: list[NetworkAttachment] = []
    if mode not in _NO_ENDPOINTS and not mode.startswith("container:") and networks:
        ordered = _network_order(mode, networks)
        for index, net in enumerate(ordered):
            user_network = net not in ("bridge", "default")
            endpoint = _endpoint(networks[net] or {}, short_id, user_network)
            if index == 0:
                body["NetworkingConfig"] = {"EndpointsConfig": {net: endpoint}}
            else:
                connect_after.append(NetworkAttachment(network=net, endpoint=endpoint))
    return CreateSpec(
        name=container_name(container),
        body=for_engine(body, engine, short_id),
        connect_after=tuple(connect_after),
    )
