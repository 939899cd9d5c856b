"""The Docker engine as the scanner and executor use it: a port, so that a fake can stand in.

These are exactly the calls they make (docker-py's low-level `APIClient` under `client.api`,
and `client.ping()`); `connect_engine` gives the real adapter, tests/support/fake_engine.py
an in-memory one, and tests/integration/test_engine_contract.py runs the same cases against
both so that the fake stays true.

Errors are part of the contract: a call on a container, image or exec that does not exist
raises docker-py's `NotFound` (`status_code` 404); one the engine refuses for the state of
things (a name taken, an image in use) its `APIError` with the engine's `status_code` (409
for a conflict) and `explanation` (the engine's message). Callers read only those two
attributes (and "No such container" in the text), never the exception's class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

# An exec as `exec_create` gives it ({"Id": ...}) or its id.
ExecRef = str | Mapping[str, Any]


class EngineApi(Protocol):
    """The engine's API calls (docker-py's `APIClient` signatures, as far as they are used)."""

    # ---- containers --------------------------------------------------------------------
    def containers(
        self, all: bool = False, filters: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def inspect_container(self, container: str) -> dict[str, Any]: ...

    def create_container_from_config(
        self, config: Mapping[str, Any], name: str | None = None
    ) -> dict[str, Any]: ...

    def rename(self, container: str, name: str) -> None: ...

    def start(self, container: str) -> None: ...

    def stop(self, container: str, timeout: int | None = None) -> None: ...

    def restart(self, container: str, timeout: int = 10) -> None: ...

    def kill(self, container: str, signal: str | int | None = None) -> None: ...

    def wait(self, container: str, timeout: float | None = None) -> dict[str, Any]: ...

    def remove_container(
        self, container: str, v: bool = False, link: bool = False, force: bool = False
    ) -> None: ...

    # ---- images ------------------------------------------------------------------------
    def inspect_image(self, image: str) -> dict[str, Any]: ...

    def remove_image(self, image: str, force: bool = False, noprune: bool = False) -> None: ...

    def pull(
        self,
        repository: str,
        tag: str | None = None,
        stream: bool = False,
        auth_config: Mapping[str, str] | None = None,
        decode: bool = False,
    ) -> Iterable[Any]: ...

    def tag(
        self, image: str, repository: str, tag: str | None = None, force: bool = False
    ) -> bool: ...

    # ---- exec (lifecycle hooks) ---------------------------------------------------------
    def exec_create(
        self, container: str, cmd: str | Sequence[str], stdout: bool = True, stderr: bool = True
    ) -> dict[str, Any]: ...

    def exec_start(
        self, exec_id: ExecRef, stream: bool = False, demux: bool = False
    ) -> bytes | None: ...

    def exec_inspect(self, exec_id: ExecRef) -> dict[str, Any]: ...

    # ---- the engine itself -------------------------------------------------------------
    def version(self) -> dict[str, Any]: ...

    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        filters: Mapping[str, Any] | None = None,
        decode: bool | None = None,
    ) -> Iterable[Any]: ...

    # ---- networks ----------------------------------------------------------------------
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
    ) -> None: ...


class Engine(Protocol):
    """One engine: what `connect_engine` returns (a docker.DockerClient), as used."""

    @property
    def api(self) -> EngineApi: ...

    def ping(self) -> bool: ...
