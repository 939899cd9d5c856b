"""An in-memory Docker engine (the `vigil_shared.engine_port.Engine` port), as httpx ships
`MockTransport`: for unit tests of the executor's and scanner's decisions without IO.

It keeps what the real engine keeps that the port's callers read back: containers (inspect
data built from the create body, names, states, networks), images (tags, digests), a
registry to pull from, and execs. It answers with the real engine's errors (docker-py's
`NotFound`/`APIError` with the engine's status code and wording), and
tests/integration/test_engine_contract.py runs the same cases against the real engine and
this fake, so it stays true.

What a real engine does on its own is made explicit here: a container "runs" until it is
stopped or killed (exit code 0 on a stop, 128+signal on a kill), a healthcheck's status is
`health` (default "healthy"), an exec runs a tiny shell (`echo`, `exit N`, `true`, `false`,
`;`; anything else is "not found", 127, unless `exec_scripts` says otherwise). Faults are
injected with `fail(method, error, when=...)`, and `lose()` makes the engine unreachable
(every call raises as docker-py does when its socket is gone).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import shlex
import signal as signals
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import requests
import requests.exceptions

from vigil_shared.engine_port import ExecRef

_ids = itertools.count(1)


def _new_id(kind: str) -> str:
    return hashlib.sha256(f"{kind}-{next(_ids)}".encode()).hexdigest()


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = {404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}.get(
        status, ""
    )
    return response


def not_found(explanation: str) -> docker.errors.NotFound:
    return docker.errors.NotFound(
        f"404 Client Error: Not Found ({explanation})", _response(404), explanation
    )


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    return docker.errors.APIError(
        f"{status} Server Error ({explanation})", _response(status), explanation
    )


def _split_tag(reference: str) -> tuple[str, str]:
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        return reference, "latest"
    return name, tag


@dataclass
class _Fault:
    method: str
    error: BaseException
    when: Callable[..., bool]
    times: int  # how many calls it fails; -1: every one


@dataclass
class _Exec:
    id: str
    container: str
    cmd: list[str]
    exit_code: int | None = None
    output: bytes = b""


@dataclass
class FakeApi:
    """The engine's calls (`EngineApi`), in memory."""

    containers_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    images_by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The registry: reference (`repo:tag` or `repo@digest`) -> image id of a pullable image.
    remote: dict[str, str] = field(default_factory=dict)
    remote_images: dict[str, dict[str, Any]] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=lambda: {"bridge": _new_id("net")})
    execs: dict[str, _Exec] = field(default_factory=dict)
    # Healthcheck status by container name (default "healthy" once started).
    health: dict[str, str] = field(default_factory=dict)
    # Shell command -> (exit code, output) for exec commands the tiny shell does not know.
    exec_scripts: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    # What `events` answers: the engine's container events, as it words them, in order.
    event_log: list[dict[str, Any]] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    lost: bool = False

    # ---- test controls -------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: BaseException | None = None,
        *,
        when: Callable[..., bool] = lambda *args, **kwargs: True,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` for which `when(*args, **kwargs)` holds raise
        `error` (default: a 500 from the engine). -1: every such call."""
        self.faults.append(
            _Fault(method, error or api_error(500, f"{method} failed (injected)"), when, times)
        )

    def called(self, method: str) -> list[tuple[Any, ...]]:
        """The arguments of every call of `method`, in order."""
        return [args for name, args in self.calls if name == method]

    def _enter(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self.lost:
            raise requests.exceptions.ConnectionError(
                "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
            )
        self.calls.append((method, args))
        for fault in list(self.faults):
            if fault.method == method and fault.when(*args, **kwargs):
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                raise fault.error

    # ---- lookups -------------------------------------------------------------------------

    def _container(self, ref: str) -> dict[str, Any]:
        for data in self.containers_by_id.values():
            if data["Name"] == f"/{ref}":
                return data
        matches = [d for cid, d in self.containers_by_id.items() if ref and cid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise not_found(f"No such container: {ref}")

    def _image(self, ref: str) -> dict[str, Any]:
        bare = ref.removeprefix("sha256:")
        for image_id, data in self.images_by_id.items():
            if image_id == ref or (len(bare) >= 12 and image_id[7:].startswith(bare)):
                return data
        tagged = ref if "@" in ref or ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"
        for data in self.images_by_id.values():
            if tagged in data["RepoTags"] or tagged in data["RepoDigests"]:
                return data
        raise docker.errors.ImageNotFound(
            f"404 Client Error: Not Found (No such image: {ref})",
            _response(404),
            f"No such image: {ref}",
        )

    def _event(self, data: Mapping[str, Any], action: str, **attributes: str) -> None:
        now = time.time_ns()
        self.event_log.append(
            {
                "status": action,
                "id": data["Id"],
                "from": (data.get("Config") or {}).get("Image"),
                "Type": "container",
                "Action": action,
                "Actor": {
                    "ID": data["Id"],
                    "Attributes": {"name": str(data["Name"]).lstrip("/"), **attributes},
                },
                "time": now // 1_000_000_000,
                "timeNano": now,
            }
        )

    def _untag(self, tag: str) -> None:
        for data in self.images_by_id.values():
            if tag in data["RepoTags"]:
                data["RepoTags"].remove(tag)

    # ---- containers ----------------------------------------------------------------------

    def containers(
        self, all: bool = False, filters: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        self._enter("containers", all=all, filters=filters)
        wanted = dict(filters or {}).get("label")
        found = []
        for data in self.containers_by_id.values():
            if not all and not data["State"]["Running"]:
                continue
            labels = data["Config"].get("Labels") or {}
            if wanted:
                key, eq, value = str(wanted).partition("=")
                if key not in labels or (eq and labels[key] != value):
                    continue
            found.append(
                {
                    "Id": data["Id"],
                    "Names": [data["Name"]],
                    "Image": data["Config"].get("Image"),
                    "ImageID": data["Image"],
                    "Labels": dict(labels),
                    "State": data["State"]["Status"],
                }
            )
        return found

    def inspect_container(self, container: str) -> dict[str, Any]:
        self._enter("inspect_container", container)
        data = self._container(container)
        if data["State"]["Running"] and (data["Config"].get("Healthcheck") or {}).get("Test"):
            name = data["Name"].lstrip("/")
            data["State"]["Health"] = {"Status": self.health.get(name, "healthy"), "Log": []}
        return copy.deepcopy(data)

    def create_container_from_config(
        self, config: Mapping[str, Any], name: str | None = None
    ) -> dict[str, Any]:
        self._enter("create_container_from_config", config, name=name)
        body = copy.deepcopy(dict(config))
        image = self._image(str(body.get("Image") or ""))
        if name is not None:
            for other in self.containers_by_id.values():
                if other["Name"] == f"/{name}":
                    raise api_error(
                        409,
                        f'Conflict. The container name "/{name}" is already in use by '
                        f'container "{other["Id"]}". You have to remove (or rename) that '
                        "container to be able to reuse that name.",
                    )
        host_config = body.pop("HostConfig", None) or {}
        networking = body.pop("NetworkingConfig", None) or {}
        endpoints = dict(networking.get("EndpointsConfig") or {})
        mode = str(host_config.get("NetworkMode") or "default")
        network = "bridge" if mode == "default" else mode
        if not endpoints and not mode.startswith("container:") and mode not in ("host", "none"):
            endpoints = {network: {}}
        for net in endpoints:
            if net not in self.networks:
                raise not_found(f"network {net} not found")
        container_id = _new_id("container")
        image_config = image.get("Config") or {}
        merged = {
            "Image": body.get("Image"),
            "Cmd": body.get("Cmd") or image_config.get("Cmd"),
            "Entrypoint": body.get("Entrypoint") or image_config.get("Entrypoint"),
            "Env": [*(image_config.get("Env") or ()), *(body.get("Env") or ())],
            "Labels": {**(image_config.get("Labels") or {}), **(body.get("Labels") or {})},
            "Healthcheck": body.get("Healthcheck") or image_config.get("Healthcheck"),
            "Hostname": body.get("Hostname") or container_id[:12],
        }
        merged.update({k: v for k, v in body.items() if k not in merged})
        self.containers_by_id[container_id] = {
            "Id": container_id,
            "Name": f"/{name or container_id[:12]}",
            "Image": image["Id"],
            "Created": "2026-01-01T00:00:00Z",
            "Config": merged,
            "HostConfig": {"NetworkMode": mode, **host_config},
            "State": {"Status": "created", "Running": False, "ExitCode": 0},
            "Mounts": [],
            "NetworkSettings": {
                "Networks": {
                    net: {**dict(settings or {}), "NetworkID": self.networks[net]}
                    for net, settings in endpoints.items()
                }
            },
        }
        self._event(self.containers_by_id[container_id], "create")
        return {"Id": container_id, "Warnings": []}

    def rename(self, container: str, name: str) -> None:
        self._enter("rename", container, name)
        data = self._container(container)
        for other in self.containers_by_id.values():
            if other["Name"] == f"/{name}" and other is not data:
                raise api_error(
                    409,
                    f'Error when allocating new name: Conflict. The container name "/{name}" '
                    f'is already in use by container "{other["Id"]}". You have to remove (or '
                    "rename) that container to be able to reuse that name.",
                )
        old_name = data["Name"]
        data["Name"] = f"/{name}"
        self._event(data, "rename", oldName=old_name)

    def start(self, container: str) -> None:
        self._enter("start", container)
        data = self._container(container)
        for net in data["NetworkSettings"]["Networks"]:
            if net not in self.networks:
                raise not_found(f"network {net} not found")
        if not data["State"]["Running"]:
            data["State"].update(Status="running", Running=True, ExitCode=0)
            self._event(data, "start")

    def _exit(self, data: dict[str, Any], code: int) -> None:
        data["State"].update(Status="exited", Running=False, ExitCode=code)
        data["State"].pop("Health", None)
        self._event(data, "die", exitCode=str(code))
        if (data.get("HostConfig") or {}).get("AutoRemove"):
            self.containers_by_id.pop(data["Id"], None)
            self._event(data, "destroy")

    def _stop_signal(self, data: Mapping[str, Any]) -> int:
        name = str((data.get("Config") or {}).get("StopSignal") or "SIGTERM")
        return (
            int(name)
            if name.isdigit()
            else int(signals.Signals[f"SIG{name.upper().removeprefix('SIG')}"])
        )

    def stop(self, container: str, timeout: int | None = None) -> None:
        self._enter("stop", container, timeout=timeout)
        data = self._container(container)
        if data["State"]["Running"]:
            self._event(data, "kill", signal=str(self._stop_signal(data)))
            self._exit(data, 0)
            self._event(data, "stop")

    def restart(self, container: str, timeout: int = 10) -> None:
        self._enter("restart", container, timeout=timeout)
        data = self._container(container)
        if data["State"]["Running"]:
            self._event(data, "kill", signal=str(self._stop_signal(data)))
            self._event(data, "die", exitCode="0")
            self._event(data, "stop")
        data["State"].update(Status="running", Running=True, ExitCode=0)
        self._event(data, "start")
        self._event(data, "restart")

    def kill(self, container: str, signal: str | int | None = None) -> None:
        self._enter("kill", container, signal=signal)
        data = self._container(container)
        if not data["State"]["Running"]:
            raise api_error(409, f"Cannot kill container: {container}: Container "
                            f"{data['Id']} is not running")  # fmt: skip
        number = (
            signal
            if isinstance(signal, int)
            else int(signals.Signals[f"SIG{str(signal or 'KILL').upper().removeprefix('SIG')}"])
        )
        self._event(data, "kill", signal=str(number))
        self._exit(data, 128 + number)

    def wait(self, container: str, timeout: float | None = None) -> dict[str, Any]:
        self._enter("wait", container, timeout=timeout)
        data = self._container(container)
        if data["State"]["Running"]:
            # A real wait would block until the timeout: as docker-py does, raise its error.
            raise requests.exceptions.ReadTimeout(f"wait for {container} timed out")
        return {"StatusCode": data["State"]["ExitCode"], "Error": None}

    def remove_container(
        self, container: str, v: bool = False, link: bool = False, force: bool = False
    ) -> None:
        self._enter("remove_container", container, v=v, force=force)
        data = self._container(container)
        if data["State"]["Running"] and not force:
            raise api_error(
                409,
                f"You cannot remove a running container {data['Id']}. Stop the container "
                "before attempting removal or force remove",
            )
        if data["State"]["Running"]:
            self._event(data, "kill", signal="9")
            self._exit(data, 137)
        if self.containers_by_id.pop(data["Id"], None) is not None:
            self._event(data, "destroy")

    # ---- images --------------------------------------------------------------------------

    def images(self, name: str | None = None) -> list[dict[str, Any]]:
        self._enter("images", name=name)
        return [
            {"Id": d["Id"], "RepoTags": list(d["RepoTags"]), "RepoDigests": list(d["RepoDigests"])}
            for d in self.images_by_id.values()
        ]

    def inspect_image(self, image: str) -> dict[str, Any]:
        self._enter("inspect_image", image)
        return copy.deepcopy(self._image(image))

    def remove_image(self, image: str, force: bool = False, noprune: bool = False) -> None:
        self._enter("remove_image", image, force=force)
        data = self._image(image)
        by_tag = image in data["RepoTags"] or f"{image}:latest" in data["RepoTags"]
        if by_tag and len(data["RepoTags"]) > 1:
            self._untag(image if image in data["RepoTags"] else f"{image}:latest")
            return
        users = [c for c in self.containers_by_id.values() if c["Image"] == data["Id"]]
        if users and not force:
            what = f"image {image}" if by_tag else f"image {data['Id'][7:19]}"
            raise api_error(
                409,
                f'conflict: unable to remove repository reference "{image}" (must force) - '
                f"container {users[0]['Id'][:12]} is using its referenced image "
                f"{data['Id'][7:19]}"
                if by_tag
                else f"conflict: unable to delete {what} (cannot be forced) - image is being "
                f"used by running container {users[0]['Id'][:12]}",
            )
        if not by_tag and len(data["RepoTags"]) > 1 and not force:
            raise api_error(
                409,
                f"conflict: unable to delete {data['Id'][7:19]} (must be forced) - image is "
                "referenced in multiple repositories",
            )
        self.images_by_id.pop(data["Id"])

    def pull(
        self,
        repository: str,
        tag: str | None = None,
        stream: bool = False,
        auth_config: Mapping[str, str] | None = None,
        decode: bool = False,
    ) -> Iterable[Any]:
        self._enter("pull", repository, tag=tag, auth_config=auth_config)
        reference = f"{repository}:{tag}" if tag else repository
        if "@" not in reference and ":" not in reference.rsplit("/", 1)[-1]:
            reference += ":latest"
        image_id = self.remote.get(reference)
        if image_id is None:
            raise not_found(
                f"manifest for {reference} not found: manifest unknown: manifest unknown"
            )
        image = self.images_by_id.setdefault(image_id, copy.deepcopy(self.remote_images[image_id]))
        name = reference.split("@", 1)[0] if "@" in reference else _split_tag(reference)[0]
        digest = next(d for d in self.remote_images[image_id]["RepoDigests"] if d.startswith(name))
        if digest not in image["RepoDigests"]:
            image["RepoDigests"].append(digest)
        if "@" not in reference:
            self._untag(reference)
            image["RepoTags"].append(reference)
        return iter([{"status": f"Pulling from {name}"}, {"status": f"Digest: {digest}"}])

    def tag(self, image: str, repository: str, tag: str | None = None, force: bool = False) -> bool:
        self._enter("tag", image, repository, tag=tag, force=force)
        data = self._image(image)
        name = f"{repository}:{tag or 'latest'}"
        self._untag(name)
        data["RepoTags"].append(name)
        return True

    # ---- exec ----------------------------------------------------------------------------

    def exec_create(
        self,
        container: str,
        cmd: str | Sequence[str],
        stdout: bool = True,
        stderr: bool = True,
    ) -> dict[str, Any]:
        self._enter("exec_create", container, cmd)
        data = self._container(container)
        if not data["State"]["Running"]:
            raise api_error(409, f"Container {data['Id']} is not running")
        exec_id = _new_id("exec")[:64]
        self.execs[exec_id] = _Exec(
            exec_id, data["Id"], shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        )
        return {"Id": exec_id}

    def _exec(self, exec_id: ExecRef) -> _Exec:
        key = str(exec_id.get("Id")) if isinstance(exec_id, Mapping) else str(exec_id)
        if key not in self.execs:
            raise not_found(f"No such exec instance: {key}")
        return self.execs[key]

    def exec_start(self, exec_id: ExecRef, stream: bool = False, demux: bool = False) -> bytes:
        self._enter("exec_start", exec_id)
        run = self._exec(exec_id)
        script = (
            run.cmd[2] if run.cmd[:2] in (["sh", "-c"], ["/bin/sh", "-c"]) else shlex.join(run.cmd)
        )
        run.exit_code, run.output = self.exec_scripts.get(script) or _tiny_shell(script)
        return run.output

    def exec_inspect(self, exec_id: ExecRef) -> dict[str, Any]:
        self._enter("exec_inspect", exec_id)
        run = self._exec(exec_id)
        return {
            "ID": run.id,
            "Running": False,
            "ExitCode": run.exit_code,
            "Pid": 0,
            "ContainerID": run.container,
        }

    # ---- the engine itself ---------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        """A Docker engine's `/version` answer (what vigil_shared.engine_kind reads)."""
        self._enter("version")
        return {
            "Version": "20.10.24+dfsg1",
            "ApiVersion": "1.41",
            "Components": [{"Name": "Engine", "Version": "20.10.24+dfsg1"}],
            "Platform": {"Name": ""},
        }

    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        filters: Mapping[str, Any] | None = None,
        decode: bool | None = None,
    ) -> Iterable[Any]:
        """The events between `since` and `until` (the real engine's stream with `until` ends
        there); filtered by container (id or name), event (action) and type, as the engine
        does. Decoded as `decode=True` gives them; the port's callers ask no other way."""
        self._enter("events", since=since, until=until, filters=filters)
        wanted = {k: v if isinstance(v, list | tuple) else [v] for k, v in (filters or {}).items()}
        found = []
        for event in self.event_log:
            at = event["timeNano"] / 1e9
            if (since is not None and at < since) or (until is not None and at > until):
                continue
            refs = [event["id"], event["Actor"]["Attributes"]["name"]]
            containers = [str(c) for c in wanted.get("container", ())]
            if containers and not any(
                r == c or (len(c) >= 12 and r.startswith(c)) for r in refs for c in containers
            ):
                continue
            if "event" in wanted and event["Action"] not in wanted["event"]:
                continue
            if "type" in wanted and event["Type"] not in wanted["type"]:
                continue
            found.append(copy.deepcopy(event))
        return iter(found)

    # ---- networks ------------------------------------------------------------------------

    def connect_container_to_network(
        self,
        container: str,
        net_id: str,
        ipv4_address: str | None = None,
        ipv6_address: str | None = None,
        aliases: Sequence[str] | None = None,
        links: Sequence[tuple[str, str]] | None = None,
        link_local_ips: Sequence[str] | None = None,
        driver_opt: Mapping[str, str] | None = None,
    ) -> None:
        self._enter("connect_container_to_network", container, net_id, aliases=aliases)
        data = self._container(container)
        name = next((n for n, i in self.networks.items() if net_id in (n, i)), None)
        networks = data["NetworkSettings"]["Networks"]
        if name is None:
            if data["State"]["Running"]:
                raise not_found(f"network {net_id} not found")
            # As the engine: a stopped container takes any name; its start fails on it.
            networks[net_id] = {"NetworkID": "", "Aliases": list(aliases or ())}
            return
        if name in networks:
            raise api_error(
                403 if data["State"]["Running"] else 409,
                f"endpoint with name {data['Name'].lstrip('/')} already exists in network {name}",
            )
        ipam = {"IPv4Address": ipv4_address, "IPv6Address": ipv6_address}
        networks[name] = {
            "NetworkID": self.networks[name],
            "Aliases": [*(aliases or ()), data["Id"][:12]]
            if data["State"]["Running"]
            else list(aliases or ()),
            "IPAMConfig": {k: v for k, v in ipam.items() if v} or None,
            "Links": [f"{n}:{a}" for n, a in links or ()] or None,
        }


def _tiny_shell(script: str) -> tuple[int, bytes]:
    """`echo`, `exit N`, `true`, `false` and `;`: the shell of the hooks the tests run."""
    output = b""
    code = 0
    for command in script.split(";"):
        words = shlex.split(command)
        if not words:
            continue
        if words[0] == "echo":
            output += (" ".join(words[1:]) + "\n").encode()
            code = 0
        elif words[0] == "exit":
            return int(words[1]) if len(words) > 1 else code, output
        elif words[0] in ("true", "false"):
            code = 0 if words[0] == "true" else 1
        else:
            output += f"sh: {words[0]}: not found\n".encode()
            code = 127
    return code, output


class FakeEngine:
    """The `Engine` port: `.api` and `.ping()`, with helpers to set up what a test needs."""

    def __init__(self) -> None:
        self.api = FakeApi()

    def ping(self) -> bool:
        self.api._enter("ping")
        return True

    def lose(self) -> None:
        """The engine goes away (dockerd stopped, the host died): every call fails."""
        self.api.lost = True

    def come_back(self) -> None:
        self.api.lost = False

    # ---- set-up --------------------------------------------------------------------------

    def _make_image(self, marker: str, config: Mapping[str, Any] | None) -> dict[str, Any]:
        image_id = "sha256:" + hashlib.sha256(f"image-{marker}-{next(_ids)}".encode()).hexdigest()
        return {
            "Id": image_id,
            "RepoTags": [],
            "RepoDigests": [],
            "Config": {
                "Cmd": ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 2147483647 & wait"],
                "Env": [f"VIGIL_TEST_MARKER={marker}"],
                "Labels": {"vigil.test.marker": marker},
                **dict(config or {}),
            },
        }

    def build(self, tag: str, marker: str = "v1", config: Mapping[str, Any] | None = None) -> str:
        """A local image tagged `tag` (as `docker build -t`); its id."""
        image = self._make_image(marker, config)
        self.api._untag(tag)
        image["RepoTags"].append(tag)
        self.api.images_by_id[image["Id"]] = image
        return str(image["Id"])

    def publish(
        self, tag: str, marker: str = "v2", config: Mapping[str, Any] | None = None
    ) -> tuple[str, str]:
        """An image the registry has under `tag` (and by digest), not pulled yet: (its id,
        its digest)."""
        image = self._make_image(marker, config)
        repo = _split_tag(tag)[0]
        digest = "sha256:" + hashlib.sha256(image["Id"].encode()).hexdigest()
        image["RepoDigests"] = [f"{repo}@{digest}"]
        self.api.remote_images[image["Id"]] = image
        self.api.remote[tag] = image["Id"]
        self.api.remote[f"{repo}@{digest}"] = image["Id"]
        return str(image["Id"]), digest

    def push(self, tag: str) -> str:
        """The local image `tag` pushed: the registry has it under `tag`; its digest."""
        image = self.api._image(tag)
        repo = _split_tag(tag)[0]
        digest = "sha256:" + hashlib.sha256(image["Id"].encode()).hexdigest()
        entry = f"{repo}@{digest}"
        if entry not in image["RepoDigests"]:
            image["RepoDigests"].append(entry)
        self.api.remote_images[image["Id"]] = copy.deepcopy(image)
        self.api.remote[tag] = image["Id"]
        self.api.remote[entry] = image["Id"]
        return digest

    def add_network(self, name: str) -> str:
        self.api.networks[name] = _new_id("net")
        return self.api.networks[name]

    def run(self, image: str, name: str, *, start: bool = True, **body: Any) -> str:
        """A container as `docker run -d --name NAME [...] IMAGE` makes it; its id. `body`:
        more of the create body (Labels, HostConfig, Healthcheck, ...)."""
        created = self.api.create_container_from_config({"Image": image, **body}, name=name)
        if start:
            self.api.start(created["Id"])
        self.api.calls.clear()
        return str(created["Id"])

    def names(self) -> dict[str, bool]:
        """Every container's name and whether it runs."""
        return {
            d["Name"].lstrip("/"): bool(d["State"]["Running"])
            for d in self.api.containers_by_id.values()
        }
