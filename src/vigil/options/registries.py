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
    _o(
        "--verify",
        env="VIGIL_VERIFY",
        where=GATEWAYS,
        help="only roll out builds that carry a signature the trust policy asks for "
        "(docs/trust.md); needs --verify-key or --verify-policy",
    ),
    _o(
        "--verify-key",
        env="VIGIL_VERIFY_KEYS",
        kind="list",
        metavar="[NAME=]PATH",
        where=GATEWAYS,
        help="public key (PEM, as cosign writes cosign.pub) a new build must be signed by "
        "(cosign's tag layout or a sigstore bundle); repeatable; turns --verify on",
    ),
    _o(
        "--verify-policy",
        env="VIGIL_VERIFY_POLICY",
        kind="str",
        metavar="FILE",
        where=GATEWAYS,
        help="containers-policy.json-shaped file: who must sign what, by registry or "
        "repository (longest scope wins); turns --verify on",
    ),
    _o(
        "--verify-trust-root",
        env="VIGIL_VERIFY_TRUST_ROOT",
        kind="str",
        metavar="FILE",
        where=GATEWAYS,
        help="Sigstore trusted_root.json for keyless signatures (Fulcio certificates, log "
        "keys), read offline; no public Sigstore service is called",
    ),
)
