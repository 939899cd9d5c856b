"""Which image id a registry's build has: its image config's digest.

A host can run a build under another manifest digest than the registry's: Podman re-encodes
an image it pushes and keeps only its local manifest's digest in RepoDigests, so a build
pushed from a Podman host matches no digest the registry answers. The image id (the config's
digest) is the same on both sides, and says that the host runs the registry's build.

The manifest is read once per digest: a digest never changes its content.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from vigil_gateway.credentials import Credentials
from vigil_gateway.in_flight import settle
from vigil_gateway.registry_client import RegistryClient, RegistryError
from vigil_shared.contracts import ImageStatus
from vigil_shared.contracts.registry import CheckOutcome
from vigil_shared.imageref import ImageRef
from vigil_shared.logs import get_logger

log = get_logger("vigil.gateway.build_ids")

_KEPT = 4096


def platform_manifest(index: dict[str, Any]) -> str:
    """Pure: the digest of an index's linux/amd64 manifest, else its first image manifest
    (attestations, `unknown/unknown`, are skipped); "" when it has none."""
    entries = [m for m in index.get("manifests") or () if isinstance(m, dict)]
    images = [
        m
        for m in entries
        if (m.get("platform") or {}).get("os") not in (None, "unknown") and m.get("digest")
    ]
    for m in images:
        platform = m.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return str(m["digest"])
    return str(images[0]["digest"]) if images else ""


def config_digest(manifest: dict[str, Any]) -> str:
    """Pure: an image manifest's config digest; "" for anything else."""
    config = manifest.get("config")
    digest = config.get("digest") if isinstance(config, dict) else None
    return digest if isinstance(digest, str) and ":" in digest else ""


async def read_config_digest(
    client: RegistryClient, ref: ImageRef, credentials: Credentials, digest: str
) -> str:
    """The config digest of the build `digest` names (an index: its platform manifest's);
    "" when it has none. Raises RegistryError."""
    manifest = await client.get_json(ref, credentials, "manifests", digest)
    if "manifests" in manifest:
        chosen = platform_manifest(manifest)
        if not chosen:
            return ""
        manifest = await client.get_json(ref, credentials, "manifests", chosen)
    return config_digest(manifest)


def judge_by_image_id(
    status: ImageStatus, local_image_ids: tuple[str, ...], remote_image_id: str
) -> ImageStatus:
    """Pure: a `stale` answer is `current` when a container on the reference has the image id
    of the registry's build; the id goes with the answer, so each container is judged by it."""
    if not remote_image_id:
        return status
    outcome: CheckOutcome = "current" if remote_image_id in local_image_ids else status.outcome
    return msgspec.structs.replace(status, outcome=outcome, remote_image_id=remote_image_id)


class BuildIds:
    """The image id of each build asked about, read from the registry once per digest; the
    checks asking for one digest at once share one read."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client
        self._ids: dict[str, str] = {}
        self._inflight: dict[str, asyncio.Task[str]] = {}
        self.manifest_reads = 0

    async def close(self) -> None:
        """The reads in flight end before the client they use closes (in_flight.py)."""
        await settle(self._inflight.values())

    async def image_id(self, ref: ImageRef, digest: str, credentials: Credentials) -> str:
        """The build's image id; "" when the registry does not say (not kept: asked again)."""
        if digest in self._ids:
            return self._ids[digest]
        task = self._inflight.get(digest)
        if task is None:
            task = asyncio.create_task(self._read(ref, digest, credentials))
            self._inflight[digest] = task
            task.add_done_callback(lambda _: self._inflight.pop(digest, None))
        return await asyncio.shield(task)

    async def _read(self, ref: ImageRef, digest: str, credentials: Credentials) -> str:
        self.manifest_reads += 1
        try:
            found = await read_config_digest(self.client, ref, credentials, digest)
        except RegistryError as exc:
            log.warning(
                "image config digest not read", image=str(ref), digest=digest, error=str(exc)
            )
            return ""
        if len(self._ids) >= _KEPT:
            self._ids.clear()
        self._ids[digest] = found
        return found
