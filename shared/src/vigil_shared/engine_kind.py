"""Which engine answers at an address: Docker or Podman (its Docker-compatible API).

Told from the engine's `/version` answer, which both give without a version prefix: Podman
names itself in `Components` ("Podman Engine") and, on Debian's 4.3, in `Platform.Name`
only with the distribution (`linux/amd64/debian-12`); Docker names "Engine" and "Docker
Engine - Community" or an empty platform. Pure, so the rule is a table test.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from vigil_shared.engine_port import Engine, EngineApi

EngineKind = Literal["docker", "podman"]


class EngineIdentity(msgspec.Struct, frozen=True, kw_only=True):
    kind: EngineKind = "docker"
    version: str = ""  # the engine's own version: Docker's 20.10.24, Podman's 4.3.1
    api_version: str = ""  # the Docker API version it speaks (Podman's compatible API too)

    def describe(self) -> str:
        """`Podman 4.3.1 (API 1.41)`, as the log and `vigil status` show it."""
        name = "Podman" if self.kind == "podman" else "Docker"
        version = f" {self.version}" if self.version else ""
        api = f" (API {self.api_version})" if self.api_version else ""
        return f"{name}{version}{api}"


def identify_engine(version_answer: dict[str, Any]) -> EngineIdentity:
    """The engine behind a `/version` answer (a dict as the engine sent it)."""
    components = [c for c in version_answer.get("Components") or () if isinstance(c, dict)]
    platform = str((version_answer.get("Platform") or {}).get("Name") or "")
    podman = next((c for c in components if "podman" in str(c.get("Name", "")).lower()), None)
    kind: EngineKind = "podman" if podman or "podman" in platform.lower() else "docker"
    version = str((podman or {}).get("Version") or version_answer.get("Version") or "")
    return EngineIdentity(
        kind=kind, version=version, api_version=str(version_answer.get("ApiVersion") or "")
    )


# Where a client keeps what its engine is: an engine does not change kind under a client, so
# one `/version` (connect_engine's own) answers every create and image inspect after it.
IDENTITY_ATTR = "vigil_engine_identity"


def remember_identity(api: EngineApi, identity: EngineIdentity) -> None:
    """Keep `identity` on the docker-py APIClient of that engine."""
    setattr(api, IDENTITY_ATTR, identity)


def known_identity(api: object) -> EngineIdentity | None:
    """What a client already knows of its engine (no call); None: not asked yet."""
    known = getattr(api, IDENTITY_ATTR, None)
    return known if isinstance(known, EngineIdentity) else None


def identify_api(api: EngineApi) -> EngineIdentity:
    """The engine behind a docker-py APIClient: asked once (`/version`, blocking), then kept."""
    known = known_identity(api)
    if known is not None:
        return known
    identity = identify_engine(dict(api.version()))
    remember_identity(api, identity)
    return identity


def identify_client(client: Engine) -> EngineIdentity:
    """The engine behind a docker-py client (asked once per client; blocking)."""
    return identify_api(client.api)


def engine_of(api: EngineApi) -> EngineKind:
    """The kind of engine behind a docker-py APIClient (asked once per client; blocking)."""
    return identify_api(api).kind
