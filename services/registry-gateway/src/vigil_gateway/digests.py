"""Digest checks: one registry request per distinct reference, however many ask at once.

Identical checks in flight share one request, and an answer is reused for `ttl` seconds, so
that a fleet of scanners asking about the same tag costs the registry one request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec

from vigil_gateway.credentials import CredentialError, CredentialStore
from vigil_gateway.registry_client import ErrorKind, RegistryClient, RegistryError
from vigil_shared.contracts import ImageCheck, ImageStatus
from vigil_shared.contracts.registry import CheckOutcome
from vigil_shared.imageref import ImageRef, InvalidImageRef, local_digests_for, parse_image_ref


class RemoteDigest(msgspec.Struct, frozen=True, kw_only=True):
    """A digest the registry served, or why there is none (`kind` as in RegistryError)."""

    digest: str = ""
    error: str = ""
    kind: ErrorKind = "error"
    credentials: str = "anonymous"


_OUTCOME_OF_ERROR: dict[ErrorKind, CheckOutcome] = {
    "error": "error",
    "trust": "error",  # never a fallback: a pull would meet the same certificate
    "rate_limited": "rate_limited",
    "unverified": "unverified",
}


# Registries known to answer manifest HEADs: a failed HEAD there is worth a warning under
# `--warn-on-head-failure auto` (watchtower's rule); elsewhere it is routine.
_HEAD_KNOWN_TO_WORK = frozenset({"docker.io", "ghcr.io"})


def warn_on_head_failure(policy: str, image: str) -> bool:
    """Pure: whether a failed HEAD for `image` is logged as a warning under `policy`."""
    if policy == "always":
        return True
    if policy == "never":
        return False
    try:
        return parse_image_ref(image).registry in _HEAD_KNOWN_TO_WORK
    except InvalidImageRef:
        return True


def judge(check: ImageCheck, ref: ImageRef, remote: RemoteDigest) -> ImageStatus:
    """Pure: the outcome for one image, from its local digests and the registry's answer."""
    if remote.error:
        return ImageStatus(
            image=check.image,
            outcome=_OUTCOME_OF_ERROR[remote.kind],
            error=remote.error,
            credentials=remote.credentials,
        )
    local = local_digests_for(ref, check.local_digests)
    outcome: CheckOutcome = "current" if remote.digest in local else "stale"
    return ImageStatus(
        image=check.image,
        outcome=outcome,
        remote_digest=remote.digest,
        credentials=remote.credentials,
    )


class DigestChecker:
    def __init__(
        self,
        client: RegistryClient,
        credentials: CredentialStore,
        *,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.ttl = ttl
        self._clock = clock
        self._answers: dict[str, tuple[float, RemoteDigest]] = {}
        self._inflight: dict[str, asyncio.Task[RemoteDigest]] = {}

    async def check(self, check: ImageCheck) -> ImageStatus:
        try:
            ref = parse_image_ref(check.image)
        except InvalidImageRef as exc:
            return ImageStatus(image=check.image, outcome="error", error=str(exc))
        if ref.pinned:
            return ImageStatus(image=check.image, outcome="pinned", remote_digest=ref.digest)
        return judge(check, ref, await self.remote_digest(ref))

    async def remote_digest(self, ref: ImageRef) -> RemoteDigest:
        key = f"{ref.registry}/{ref.repository}:{ref.reference}"
        cached = self._answers.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch_and_keep(key, ref))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _fetch_and_keep(self, key: str, ref: ImageRef) -> RemoteDigest:
        # The answer is cached before the task completes: a check arriving between the
        # task's end and its waiters' wake-up finds it, instead of asking the registry again.
        answer = await self._fetch(ref)
        if not answer.error and self.ttl > 0:
            self._answers[key] = (self._clock() + self.ttl, answer)
            self._evict()
        return answer

    async def _fetch(self, ref: ImageRef) -> RemoteDigest:
        try:
            # A credential helper is a process: run it off the event loop.
            creds = await asyncio.to_thread(self.credentials.for_registry, ref.registry)
        except CredentialError as exc:
            return RemoteDigest(error=f"credentials: {exc}")
        try:
            digest = await self.client.manifest_digest(ref, creds)
        except RegistryError as exc:
            return RemoteDigest(error=str(exc), kind=exc.kind, credentials=creds.source)
        return RemoteDigest(digest=digest, credentials=creds.source)

    def _evict(self) -> None:
        if len(self._answers) <= 4096:
            return
        now = self._clock()
        for key in [k for k, (expires, _) in self._answers.items() if expires <= now]:
            del self._answers[key]
