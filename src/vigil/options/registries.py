"""Options of `vigil`: registries: how images are looked up and pulled."""

from __future__ import annotations

from vigil.options.model import GATEWAYS, Option, _o

OPTIONS: tuple[Option, ...] = (
    # --- registries ------------------------------------------------------------------------
    _o(
        "--warn-on-head-failure",
        env="WATCHTOWER_WARN_ON_HEAD_FAILURE",
        kind="choice",
        choices=("always", "auto", "never"),
        default="auto",
        where=GATEWAYS,
        help="when a registry gives no digest (no HEAD, 5xx, timeout), so that the executor "
        "pulls and compares: warn always, never, or auto (only for Docker Hub and ghcr.io)",
    ),
    _o(
        "--registry-ca",
        env="WATCHTOWER_REGISTRY_CA",
        kind="str",
        metavar="FILE",
        where=GATEWAYS,
        help="PEM bundle of CA certificates added to the system roots for registries",
    ),
    _o(
        "--registry-ca-validate",
        env="WATCHTOWER_REGISTRY_CA_VALIDATE",
        where=GATEWAYS,
        help="refuse to start (exit 2) when the --registry-ca bundle is missing, unreadable, "
        "empty, not PEM, not a CA or expired; without it a bad bundle is logged and ignored",
    ),
    _o(
        "--insecure-registry",
        env="VIGIL_INSECURE_REGISTRIES",
        kind="list",
        metavar="HOST",
        where=GATEWAYS,
        help="registry (host[:port]) whose TLS is not verified or that "
        "speaks plain HTTP; repeatable",
    ),
    _o(
        "--digest-cache-ttl",
        env="VIGIL_DIGEST_CACHE_TTL",
        kind="duration",
        default=600.0,
        metavar="DURATION",
        where=GATEWAYS,
        help="how long the registry answers fetched for one cycle (a trigger, a schedule "
        "tick) serve that cycle's other hosts; never another cycle; 0: only checks in "
        "flight together share a request (default 10m)",
    ),
)
