"""The registry-gateway service: answers `{prefix}.registry.check` for the whole fleet.

It is the only part of Vigil that holds registry credentials and TLS trust; scanners send it
image references and local digests and get outcomes back, never a secret.
"""

from __future__ import annotations

import asyncio
import time

import msgspec

from vigil_gateway.credentials import CredentialStore
from vigil_gateway.digests import DigestChecker
from vigil_gateway.registry_client import RegistryClient
from vigil_gateway.tls import TrustError, load_ca_bundle
from vigil_shared.bus import Bus
from vigil_shared.contracts import CheckReply, CheckRequest
from vigil_shared.logs import Redactor, get_logger

log = get_logger("vigil.gateway")

QUEUE = "registry-gateway"


class GatewayConfig(msgspec.Struct, frozen=True, kw_only=True):
    registry_ca: str | None = None  # a PEM bundle trusted besides the system roots
    insecure_registries: tuple[str, ...] = ()
    digest_cache_ttl: float = 30.0
    repo_user: str | None = None
    repo_pass: str | None = None
    docker_config_env: str | None = None  # $DOCKER_CONFIG
    home: str | None = None
    request_timeout: float = 15.0

    def __repr__(self) -> str:  # the password never reaches a log through a repr
        return f"GatewayConfig(registry_ca={self.registry_ca!r}, repo_user={self.repo_user!r})"


class GatewayStartupError(RuntimeError):
    pass


class Gateway:
    def __init__(self, bus: Bus, config: GatewayConfig, redactor: Redactor) -> None:
        self.bus = bus
        self.config = config
        redactor.add(config.repo_pass)
        try:
            ca_pem = load_ca_bundle(config.registry_ca) if config.registry_ca else None
        except TrustError as exc:
            raise GatewayStartupError(str(exc)) from None
        self.client = RegistryClient(
            ca_pem=ca_pem,
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
        self.checker = DigestChecker(self.client, self.credentials, ttl=config.digest_cache_ttl)

    async def start(self) -> None:
        await self.bus.serve(
            self.bus.subjects.registry_check, CheckRequest, self._on_check, queue=QUEUE
        )
        log.info("registry gateway serving", subject=self.bus.subjects.registry_check)

    async def close(self) -> None:
        await self.client.aclose()

    async def _on_check(self, request: CheckRequest, headers: dict[str, str]) -> CheckReply:
        started = time.monotonic()
        results = await asyncio.gather(*(self.checker.check(c) for c in request.images))
        for status in results:
            if status.outcome == "error":
                log.warning(
                    "image check failed", host=request.host, image=status.image, error=status.error
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
        return CheckReply(scan_id=request.scan_id, results=tuple(results))
