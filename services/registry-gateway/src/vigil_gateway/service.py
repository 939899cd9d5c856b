"""The registry-gateway service: answers `{prefix}.registry.check` for the whole fleet.

It is the only part of Vigil that holds registry credentials and TLS trust; scanners send it
image references and local digests and get outcomes back, never a secret.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import msgspec

from vigil_gateway.ages import ImageAges
from vigil_gateway.bundles import load_trust_root
from vigil_gateway.credentials import CredentialError, CredentialStore
from vigil_gateway.digests import DigestChecker, warn_on_head_failure
from vigil_gateway.registry_client import RegistryClient, RegistryError
from vigil_gateway.signatures import SignatureVerifier
from vigil_gateway.tags import DEFAULT_PAGE_SIZE, TagLister
from vigil_gateway.tls import TrustError, load_ca_bundle, validate_ca_bundle
from vigil_gateway.trust_policy import TrustConfigError, TrustPolicy, build_policy
from vigil_shared.bus import Bus
from vigil_shared.contracts import CheckReply, CheckRequest, PullAuthReply, PullAuthRequest
from vigil_shared.contracts.registry import pull_auth_binding
from vigil_shared.imageref import InvalidImageRef, parse_image_ref
from vigil_shared.logs import Redactor, get_logger
from vigil_shared.sealing import SealError, seal
from vigil_shared.telemetry import Telemetry

log = get_logger("vigil.gateway")

QUEUE = "registry-gateway"


class GatewayConfig(msgspec.Struct, frozen=True, kw_only=True):
    registry_ca: str | None = None  # a PEM bundle trusted besides the system roots
    insecure_registries: tuple[str, ...] = ()
    # How long one cycle's registry answers serve its other checks (never another cycle's).
    digest_cache_ttl: float = 600.0
    repo_user: str | None = None
    repo_pass: str | None = None
    docker_config_env: str | None = None  # $DOCKER_CONFIG
    home: str | None = None
    request_timeout: float = 15.0
    registry_ca_validate: bool = False
    warn_on_head_failure: str = "auto"  # always, auto, never
    tags_page_size: int = DEFAULT_PAGE_SIZE  # tags asked for a page when listing (`n`)
    # Signature verification (docs/trust.md): off unless one of these is given.
    verify: bool = False
    verify_keys: tuple[str, ...] = ()  # `[NAME=]PATH` of PEM public keys
    verify_policy: str | None = None  # a containers-policy.json-shaped file
    verify_trust_root: str | None = None  # a Sigstore trusted_root.json (keyless)

    def __repr__(self) -> str:  # the password never reaches a log through a repr
        return f"GatewayConfig(registry_ca={self.registry_ca!r}, repo_user={self.repo_user!r})"


class GatewayStartupError(RuntimeError):
    pass


class Gateway:
    def __init__(
        self,
        bus: Bus,
        config: GatewayConfig,
        redactor: Redactor,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.bus = bus
        self.config = config
        self.tracer = (telemetry or Telemetry.disabled()).tracer("vigil.registry-gateway")
        redactor.add(config.repo_pass)
        self.client = RegistryClient(
            ca_pem=self.ca_bundle(config),
            insecure=config.insecure_registries,
            timeout=config.request_timeout,
        )
        self.credentials = CredentialStore(
            repo_user=config.repo_user,
            repo_pass=config.repo_pass,
            docker_config_env=config.docker_config_env,
            home=config.home,
            on_secret=redactor.add,
        )
        self.tags = TagLister(
            self.client,
            self.credentials,
            ttl=config.digest_cache_ttl,
            page_size=config.tags_page_size,
        )
        self.ages = ImageAges(self.client, bus)
        self.verifier = self.signature_verifier(config)
        self.checker = DigestChecker(
            self.client,
            self.credentials,
            ttl=config.digest_cache_ttl,
            tags=self.tags,
            ages=self.ages,
            verifier=self.verifier,
        )
        self.outcomes: Counter[str] = Counter()  # checks answered, by outcome (metrics)

    @staticmethod
    def trust_policy(config: GatewayConfig) -> TrustPolicy:
        """The fleet's trust policy. A bad key or policy file, or --verify with neither key
        nor policy, stops the start (exit 2)."""
        try:
            return build_policy(
                verify=config.verify,
                key_args=config.verify_keys,
                policy_path=config.verify_policy,
            )
        except TrustConfigError as exc:
            raise GatewayStartupError(str(exc)) from None

    def signature_verifier(self, config: GatewayConfig) -> SignatureVerifier | None:
        """The signature checks, or None when verification is off; a trust root that cannot
        be read stops the start too."""
        policy = self.trust_policy(config)
        if not policy.enabled:
            return None
        try:
            root = load_trust_root(config.verify_trust_root) if config.verify_trust_root else None
        except TrustConfigError as exc:
            raise GatewayStartupError(str(exc)) from None
        log.info(
            "signature verification on",
            keys=[k.name for k in policy.keys],
            policy=config.verify_policy or "",
            trust_root=config.verify_trust_root or "",
        )
        return SignatureVerifier(self.client, self.credentials, policy, trust_root=root)

    @staticmethod
    def ca_bundle(config: GatewayConfig) -> str | None:
        """The PEM text of --registry-ca. With --registry-ca-validate any fault stops the
        start; without it a bundle that cannot be used is reported and the system roots
        alone are trusted (registries that need the bundle then fail their checks)."""
        if not config.registry_ca:
            return None
        if config.registry_ca_validate:
            problems = validate_ca_bundle(config.registry_ca)
            if problems:
                raise GatewayStartupError("; ".join(problems))
        try:
            return load_ca_bundle(config.registry_ca)
        except TrustError as exc:
            log.error("registry CA bundle ignored", error=str(exc))
            return None

    async def start(self) -> None:
        subjects = self.bus.subjects
        await self.bus.serve(subjects.registry_check, CheckRequest, self._on_check, queue=QUEUE)
        await self.bus.serve(subjects.pull_auth, PullAuthRequest, self._on_pull_auth, queue=QUEUE)
        log.info("registry gateway serving", subject=self.bus.subjects.registry_check)

    async def close(self) -> None:
        # What the caches still fetch ends first: it would fail on the closed client.
        await self.checker.close()
        if self.verifier is not None:
            await self.verifier.close()
        await self.client.aclose()

    async def _on_check(self, request: CheckRequest, headers: dict[str, str]) -> CheckReply:
        with self.tracer.start_as_current_span("check") as span:
            span.set_attribute("vigil.scan_id", request.scan_id)
            span.set_attribute("vigil.host", request.host)
            span.set_attribute("vigil.images", len(request.images))
            return await self._check(request)

    async def _check(self, request: CheckRequest) -> CheckReply:
        started = time.monotonic()
        results = await asyncio.gather(
            *(self.checker.check(c, request.cycle_key) for c in request.images)
        )
        self.outcomes.update(r.outcome for r in results)
        for status in results:
            if status.outcome in ("error", "rate_limited"):
                log.warning(
                    "image check failed", host=request.host, image=status.image, error=status.error
                )
            elif status.outcome == "untrusted":
                log.warning(
                    "new build refused: signature",
                    host=request.host,
                    image=status.image,
                    digest=status.remote_digest,
                    error=status.error,
                )
            elif status.outcome == "unverified":
                warn = warn_on_head_failure(self.config.warn_on_head_failure, status.image)
                (log.warning if warn else log.debug)(
                    "no digest from the registry; the executor will pull and compare",
                    host=request.host,
                    image=status.image,
                    error=status.error,
                )

        log.info(
            "checked images",
            host=request.host,
            scan_id=request.scan_id,
            images=len(results),
            stale=sum(1 for r in results if r.outcome == "stale"),
            errors=sum(1 for r in results if r.outcome == "error"),
            manifest_requests=self.client.manifest_requests,
            seconds=round(time.monotonic() - started, 3),
        )
        if request.explain:
            results = [
                msgspec.structs.replace(
                    r,
                    token_cache=self._token_state(r.image),
                    rate_limit=self._rate_limit_state(r.image),
                )
                for r in results
            ]
        return CheckReply(scan_id=request.scan_id, results=tuple(results))

    def _token_state(self, image: str) -> str:
        try:
            return self.client.token_state(parse_image_ref(image))
        except InvalidImageRef:
            return ""

    def _rate_limit_state(self, image: str) -> str:
        try:
            registry = parse_image_ref(image).api_host
        except InvalidImageRef:
            return ""
        limit = self.client.rate_limits.get(registry)
        if limit is None or limit.limit is None:
            return ""
        return f"{limit.remaining if limit.remaining is not None else '?'} of {limit.limit} left"

    async def _on_pull_auth(
        self, request: PullAuthRequest, headers: dict[str, str]
    ) -> PullAuthReply:
        """Pull credentials for one image, for one executor: a token scoped to pulling that
        repository where the registry uses tokens, else the credentials, sealed to the
        executor's one-time key either way. Never in clear on the bus."""

        def refuse(error: str, source: str = "anonymous") -> PullAuthReply:
            log.warning(
                "pull credentials refused", host=request.host, image=request.image, error=error
            )
            return PullAuthReply(image=request.image, error=error, credentials=source)

        try:
            ref = parse_image_ref(request.image)
        except InvalidImageRef as exc:
            return refuse(str(exc))
        try:
            creds = await asyncio.to_thread(self.credentials.for_registry, ref.registry)
        except CredentialError as exc:
            return refuse(f"credentials: {exc}")
        try:
            kind, auth_config = await self.client.pull_auth(ref, creds)
        except RegistryError as exc:
            return refuse(str(exc), creds.source)
        if kind == "none":
            return PullAuthReply(image=request.image, credentials=creds.source)
        try:
            sealed = seal(
                request.public_key,
                json.dumps(auth_config).encode(),
                pull_auth_binding(request.host, request.image),
            )
        except SealError as exc:
            return refuse(f"cannot seal the credentials: {exc}", creds.source)
        log.info(
            "pull credentials given",
            host=request.host,
            image=request.image,
            kind=kind,
            credentials=creds.source,
        )
        return PullAuthReply(
            image=request.image, kind=kind, sealed=sealed, credentials=creds.source
        )
