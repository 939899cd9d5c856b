"""Signature checks of new builds, once per digest for the whole fleet (the IO around
`vigil_gateway.cosign` and `vigil_gateway.bundles`).

A build is looked at only when a check found it newer than what runs (`stale`) and the
policy asks for a signature. The verdict is kept by (repository, digest, requirement), shared
by every host: a build that verified stays verified (its bytes cannot change under its
digest); a refusal is kept `ttl` seconds (a signature may be pushed after the build); a lookup
that failed (5xx, unreachable) is never kept, and refuses the build: verification fails
closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from vigil_gateway import bundles
from vigil_gateway.cosign import (
    Layer,
    Proof,
    judge_signature,
    signature_layers,
    signature_tag,
)
from vigil_gateway.credentials import CredentialError, Credentials, CredentialStore
from vigil_gateway.in_flight import settle
from vigil_gateway.registry_client import RegistryClient, RegistryError
from vigil_gateway.trust_policy import Requirement, TrustPolicy
from vigil_shared.imageref import ImageRef

if TYPE_CHECKING:
    from vigil_gateway.cosign import PublicKey

BUNDLE_TYPE = bundles.BUNDLE_TYPE
VERIFIED_KEEP_S = 24 * 3600.0
# Which failure says most of why a build is refused, when several signatures were found.
_REASON_ORDER = ("other_repository", "other_digest", "untrusted", "corrupt", "no_key")


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    reason: str = ""  # why not, for the report
    lines: tuple[str, ...] = ()  # what each signature found proved (`vigil check`)
    keep: bool = True  # a lookup that failed is not kept


class LookupFailed(Exception):
    pass


class SignatureVerifier:
    def __init__(
        self,
        client: RegistryClient,
        credentials: CredentialStore,
        policy: TrustPolicy,
        *,
        trust_root: Any = None,  # a sigstore TrustedRoot (bundles.load_trust_root)
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.policy = policy
        self.trust_root = trust_root
        self.ttl = ttl
        self._clock = clock
        self._keys: dict[str, PublicKey] = {k.name: k.key() for k in policy.keys}
        self._verdicts: dict[tuple[str, str, bytes], tuple[float, Verdict]] = {}
        self._inflight: dict[tuple[str, str, bytes], asyncio.Task[Verdict]] = {}
        self.lookups = 0  # verifications that went to the registry

    async def close(self) -> None:
        """The lookups in flight end before the client they use closes (in_flight.py)."""
        await settle(self._inflight.values())

    async def verify(
        self, ref: ImageRef, digest: str, requirement: Requirement, fresh: bool = False
    ) -> Verdict:
        """Whether the build `ref`'s repository @ `digest` carries what `requirement` asks.
        `fresh` (an explicit cycle): a kept refusal is looked at again."""
        if requirement.kind == "none":
            return Verdict(ok=True, lines=(f"no signature required ({requirement.source})",))
        if requirement.kind == "reject":
            return Verdict(ok=False, reason=f"refused by {requirement.source or 'the policy'}")
        slot = (f"{ref.registry}/{ref.repository}", digest, msgspec.json.encode(requirement))
        kept = self._verdicts.get(slot)
        if kept is not None and kept[0] > self._clock() and (kept[1].ok or not fresh):
            return kept[1]
        task = self._inflight.get(slot)
        if task is None:
            task = asyncio.create_task(self._verify_and_keep(slot, ref, digest, requirement))
            self._inflight[slot] = task
            task.add_done_callback(lambda _: self._inflight.pop(slot, None))
        return await asyncio.shield(task)

    async def _verify_and_keep(
        self, slot: tuple[str, str, bytes], ref: ImageRef, digest: str, requirement: Requirement
    ) -> Verdict:
        verdict = await self._verify(ref, digest, requirement)
        if verdict.keep:
            keep = VERIFIED_KEEP_S if verdict.ok else self.ttl
            if keep > 0:
                self._verdicts[slot] = (self._clock() + keep, verdict)
            if len(self._verdicts) > 4096:
                now = self._clock()
                for key in [k for k, (until, _) in self._verdicts.items() if until <= now]:
                    del self._verdicts[key]
        return verdict

    async def _verify(self, ref: ImageRef, digest: str, requirement: Requirement) -> Verdict:
        self.lookups += 1
        repository = f"{ref.registry}/{ref.repository}"
        try:
            creds = await asyncio.to_thread(self.credentials.for_registry, ref.registry)
        except CredentialError as exc:
            return Verdict(ok=False, reason=f"signature lookup failed: credentials: {exc}")
        proofs: list[tuple[str, Proof]] = []
        try:
            proofs += await self._tag_layout(ref, creds, digest, requirement, repository)
            # One proof is enough: the referrers are looked up only when the tag layout gave
            # none (half the requests for a fleet signed with cosign's tag layout).
            if not any(proof.ok for _, proof in proofs):
                proofs += await self._referrers_layout(ref, creds, digest, requirement, repository)
        except LookupFailed as exc:
            return Verdict(ok=False, reason=f"signature lookup failed: {exc}", keep=False)
        lines = tuple(
            f"{where}: {'verified, ' + proof.signer if proof.ok else proof.reason}"
            for where, proof in proofs
        )
        if any(proof.ok for _, proof in proofs):
            return Verdict(ok=True, lines=lines)
        if not proofs:
            return Verdict(
                ok=False, reason=f"no signature for {digest[:19]}…", lines=("no signature found",)
            )
        failures = sorted(
            (proof for _, proof in proofs),
            key=lambda p: _REASON_ORDER.index(p.kind) if p.kind in _REASON_ORDER else 99,
        )
        return Verdict(ok=False, reason=failures[0].reason, lines=lines)

    async def _get(self, ref: ImageRef, creds: Credentials, path: str) -> tuple[int, bytes]:
        try:
            response = await self.client.fetch(ref, creds, path)
        except RegistryError as exc:
            raise LookupFailed(str(exc)) from None
        if response.status_code in (200, 404):
            return response.status_code, response.content
        raise LookupFailed(
            f"registry {ref.api_host}: HTTP {response.status_code} for {ref.repository}/{path}"
        )

    async def _json(self, ref: ImageRef, creds: Credentials, path: str) -> dict[str, Any] | None:
        status, body = await self._get(ref, creds, path)
        if status == 404:
            return None
        data = msgspec.json.decode(body) if body[:1] == b"{" else None
        if not isinstance(data, dict):
            raise LookupFailed(f"registry {ref.api_host}: {ref.repository}/{path} is not JSON")
        return data

    async def _blob(self, ref: ImageRef, creds: Credentials, digest: str) -> bytes | None:
        status, body = await self._get(ref, creds, f"blobs/{digest}")
        return body if status == 200 else None

    async def _tag_layout(
        self,
        ref: ImageRef,
        creds: Credentials,
        digest: str,
        requirement: Requirement,
        repository: str,
    ) -> list[tuple[str, Proof]]:
        """cosign's `sha256-<hex>.sig` manifest: one proof per signed layer."""
        tag = signature_tag(digest)
        try:
            manifest = await self._json(ref, creds, f"manifests/{tag}")
        except msgspec.DecodeError:
            return [(f"cosign {tag}", Proof(ok=False, kind="corrupt", reason="not JSON"))]
        if manifest is None:
            return []
        layers, problems = signature_layers(manifest)
        proofs = [
            (f"cosign {tag}", Proof(ok=False, kind="corrupt", reason=f"corrupted: {p}"))
            for p in problems
        ]
        keys = tuple((n, self._keys[n]) for n in requirement.keys if n in self._keys)
        for i, layer in enumerate(layers):
            where = f"cosign {tag} layer {i}"
            proofs.append((where, await self._layer(ref, creds, layer, keys, digest, repository)))
        return proofs

    async def _layer(
        self,
        ref: ImageRef,
        creds: Credentials,
        layer: Layer,
        keys: tuple[tuple[str, PublicKey], ...],
        digest: str,
        repository: str,
    ) -> Proof:
        payload = await self._blob(ref, creds, layer.digest)
        if payload is None:
            return Proof(ok=False, kind="corrupt", reason="corrupted: payload blob missing")
        if not keys:
            return Proof(ok=False, kind="no_key", reason="keyed signature, but no key required")
        return judge_signature(layer, payload, keys, digest=digest, repository=repository)

    async def _referrers_layout(
        self,
        ref: ImageRef,
        creds: Credentials,
        digest: str,
        requirement: Requirement,
        repository: str,
    ) -> list[tuple[str, Proof]]:
        """OCI 1.1: sigstore bundles referring to the build, found through the referrers
        API, else through the referrers tag schema (`sha256-<hex>`, an index)."""
        where = "referrers API"
        try:
            index = await self._json(ref, creds, f"referrers/{digest}?artifactType={BUNDLE_TYPE}")
        except msgspec.DecodeError:
            index = None
        if index is None:
            where = f"referrers tag {digest.replace(':', '-', 1)}"
            try:
                index = await self._json(ref, creds, f"manifests/{digest.replace(':', '-', 1)}")
            except msgspec.DecodeError:
                index = None
        if index is None:
            return []
        proofs: list[tuple[str, Proof]] = []
        for entry in index.get("manifests") or ():
            if not isinstance(entry, dict) or entry.get("artifactType") != BUNDLE_TYPE:
                continue
            name = f"{where}: bundle {str(entry.get('digest'))[:19]}…"
            try:
                manifest = await self._json(ref, creds, f"manifests/{entry.get('digest')}")
            except msgspec.DecodeError:
                manifest = None
            layers = (manifest or {}).get("layers") or []
            blob = None
            if layers and isinstance(layers[0], dict):
                blob = await self._blob(ref, creds, str(layers[0].get("digest")))
            if blob is None:
                proofs.append((name, Proof(ok=False, kind="corrupt", reason="corrupted bundle")))
                continue
            proofs.append(
                (
                    name,
                    await asyncio.to_thread(
                        bundles.judge_bundle,
                        blob,
                        digest=digest,
                        requirement=requirement,
                        keys={n: self._keys[n] for n in requirement.keys if n in self._keys},
                        trust_root=self.trust_root,
                    ),
                )
            )
        return proofs
