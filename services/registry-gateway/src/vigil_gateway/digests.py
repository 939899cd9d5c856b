"""Digest checks: one registry request per distinct reference and fleet cycle.

No answer of an earlier cycle decides a later one. Every check names its cycle by a cycle
key (`CheckRequest.cycle_key`: a trigger's scan id, a schedule tick, see
vigil_scanner/ticks.py), and is answered only by a registry request made for that key: in
flight, or done less than `ttl` seconds ago (--digest-cache-ttl), so the fleet's checks of
one cycle cost one request per reference and a push just before a cycle is seen by it. A
check without a key (an older peer, the dashboard) shares only a request in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import msgspec

from vigil_gateway.ages import ImageAges
from vigil_gateway.build_ids import BuildIds, judge_by_image_id
from vigil_gateway.credentials import CredentialError, CredentialStore
from vigil_gateway.in_flight import settle
from vigil_gateway.registry_client import ErrorKind, RegistryClient, RegistryError
from vigil_gateway.signatures import SignatureVerifier
from vigil_gateway.tags import TagLister, TagListError
from vigil_gateway.trust_policy import requirement_for
from vigil_shared.contracts import ImageCheck, ImageStatus
from vigil_shared.contracts.registry import CheckOutcome
from vigil_shared.imageref import (
    ImageRef,
    InvalidImageRef,
    local_digests_for,
    parse_image_ref,
    split_tag,
)
from vigil_shared.semver import PolicyError, parse_policy, pick_tag

K = TypeVar("K")


class RemoteDigest(msgspec.Struct, frozen=True, kw_only=True):
    """A digest the registry served, or why there is none (`kind` as in RegistryError)."""

    digest: str = ""
    error: str = ""
    kind: ErrorKind = "error"
    credentials: str = "anonymous"


# --digest-cache-ttl's default: how long the answers fetched for one cycle serve its other
# hosts' checks. A tick's or a trigger's hosts ask within seconds, a slow host within minutes.
CYCLE_ANSWERS_S = 600.0

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
        ttl: float = CYCLE_ANSWERS_S,
        clock: Callable[[], float] = time.monotonic,
        tags: TagLister | None = None,
        ages: ImageAges | None = None,
        verifier: SignatureVerifier | None = None,
        build_ids: BuildIds | None = None,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.ttl = ttl
        self.tags = tags or TagLister(client, credentials, ttl=ttl, clock=clock)
        self.ages = ages or ImageAges(client, None)
        self.verifier = verifier  # None: signatures are not asked for
        self.build_ids = build_ids or BuildIds(client)
        self._clock = clock
        # (reference, cycle key) -> (until when it serves, the answer fetched for that cycle)
        self._answers: dict[tuple[str, str], tuple[float, RemoteDigest]] = {}
        # (reference, cycle key or "") -> the request in flight
        self._inflight: dict[tuple[str, str], asyncio.Task[RemoteDigest]] = {}

    async def check(self, check: ImageCheck, cycle_key: str = "") -> ImageStatus:
        try:
            ref = parse_image_ref(check.image)
        except InvalidImageRef as exc:
            return ImageStatus(image=check.image, outcome="error", error=str(exc))
        if ref.pinned:
            return ImageStatus(image=check.image, outcome="pinned", remote_digest=ref.digest)
        status = await self._by_policy(check, ref, cycle_key)
        if check.local_image_ids and status.outcome == "stale" and not status.target:
            status = await self._with_image_id(status, ref, check.local_image_ids)
        if self.verifier is not None and status.outcome in ("stale", "unverified"):
            status = await self._with_signature(status, ref, check.verify)
        if check.age and status.remote_digest and status.outcome in ("stale", "current"):
            status = await self._with_age(status, ref)
        return msgspec.structs.replace(status, policy=check.policy, verify=check.verify)

    async def _with_image_id(
        self, status: ImageStatus, ref: ImageRef, local_ids: tuple[str, ...]
    ) -> ImageStatus:
        """No local digest matched: the host may run the registry's build under a manifest
        digest of its own (a Podman push, build_ids.py); its image id says."""
        if not status.remote_digest:
            return status
        try:
            creds = await asyncio.to_thread(self.credentials.for_registry, ref.registry)
        except CredentialError:
            return status
        remote_id = await self.build_ids.image_id(ref, status.remote_digest, creds)
        return judge_by_image_id(status, local_ids, remote_id)

    async def _with_signature(
        self, status: ImageStatus, ref: ImageRef, label: str = ""
    ) -> ImageStatus:
        """A newer build is rolled out only when it carries what the trust policy asks
        (docs/trust.md): else `untrusted`, with the reason. Only a build that would be
        pulled is looked at; one that runs already (`current`) is not."""
        assert self.verifier is not None
        requirement = requirement_for(self.verifier.policy, ref, label)
        if requirement.kind == "none":
            return status
        if not status.remote_digest:
            # No digest (`unverified`): a pull of the tag could bring any build. Fail closed.
            return msgspec.structs.replace(
                status,
                outcome="untrusted",
                error="no digest from the registry to verify a signature against"
                + (f" ({status.error})" if status.error else ""),
            )
        verdict = await self.verifier.verify(ref, status.remote_digest, requirement)
        if verdict.ok:
            return msgspec.structs.replace(status, signatures=verdict.lines)
        return msgspec.structs.replace(
            status, outcome="untrusted", error=verdict.reason, signatures=verdict.lines
        )

    async def _by_policy(self, check: ImageCheck, ref: ImageRef, cycle_key: str) -> ImageStatus:
        """Digest policy: the tag's digest. Semver: the highest newer tag in range, by its
        digest; none newer: the tag's own digest (a rebuild of the same version)."""
        try:
            policy = parse_policy(check.policy)
        except PolicyError as exc:
            return ImageStatus(image=check.image, outcome="error", error=f"policy: {exc}")
        if policy.kind == "semver":
            try:
                tags = await self.tags.tags(ref, cycle_key)
            except TagListError as exc:
                outcome: CheckOutcome = "rate_limited" if exc.kind == "rate_limited" else "error"
                return ImageStatus(image=check.image, outcome=outcome, error=str(exc))
            choice = pick_tag(policy, ref.tag or "latest", tags)
            if choice.error:
                return ImageStatus(image=check.image, outcome="error", error=choice.error)
            if choice.tag:
                newer = msgspec.structs.replace(ref, tag=choice.tag)
                remote = await self.remote_digest(newer, cycle_key)
                if remote.error:
                    return judge(check, newer, remote)
                return ImageStatus(
                    image=check.image,
                    outcome="stale",
                    remote_digest=remote.digest,
                    credentials=remote.credentials,
                    target=f"{split_tag(check.image)[0]}:{choice.tag}",
                )
        return judge(check, ref, await self.remote_digest(ref, cycle_key))

    async def _with_age(self, status: ImageStatus, ref: ImageRef) -> ImageStatus:
        digest = status.remote_digest or ""
        try:
            creds = await asyncio.to_thread(self.credentials.for_registry, ref.registry)
        except CredentialError:
            return status
        created = await self.ages.created(ref, digest, creds)
        first_seen = await self.ages.first_seen(digest)
        return msgspec.structs.replace(status, created=created, first_seen=first_seen)

    async def close(self) -> None:
        """The requests in flight end before the client they use closes (in_flight.py)."""
        await settle(self._inflight.values())
        await self.tags.close()
        await self.build_ids.close()

    async def remote_digest(self, ref: ImageRef, cycle_key: str = "") -> RemoteDigest:
        """The registry's answer for `ref`, fetched for the cycle `cycle_key` (shared by its
        checks for `ttl` seconds); without a key, a request of its own or one in flight."""
        slot = (f"{ref.registry}/{ref.repository}:{ref.reference}", cycle_key)
        cached = self._answers.get(slot)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        task = self._inflight.get(slot)
        if task is None:
            task = asyncio.create_task(self._fetch_and_keep(slot, ref))
            self._inflight[slot] = task
            task.add_done_callback(lambda _: self._inflight.pop(slot, None))
        return await asyncio.shield(task)

    async def _fetch_and_keep(self, slot: tuple[str, str], ref: ImageRef) -> RemoteDigest:
        # The answer is kept before the task completes: a check arriving between the task's
        # end and its waiters' wake-up finds it, instead of asking the registry again.
        answer = await self._fetch(ref)
        if not answer.error and slot[1] and self.ttl > 0:
            self._answers[slot] = (self._clock() + self.ttl, answer)
            _drop_expired(self._answers, self._clock())
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


def _drop_expired(answers: dict[K, tuple[float, RemoteDigest]], now: float) -> None:
    """Keep a cache bounded: past 4096 entries, drop those expired."""
    if len(answers) > 4096:
        for key in [k for k, (expires, _) in answers.items() if expires <= now]:
            del answers[key]
