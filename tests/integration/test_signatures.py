"""Signature checks in the registry-gateway (issue 23, docs/trust.md), against a real
docker-registry over real NATS: cosign tag-layout signatures written into the registry, a
newer build answered `stale` only when a required key signed that very build of that
repository, else `untrusted` with the reason; a registry 5xx on the lookup fails closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from tests.support import cosign_signing, sigstore_bundles, sigstore_keyless
from tests.support.gateway_fixtures import GatewayFactory, check
from tests.support.oci import push_tiny_image
from tests.support.registry_fixtures import RegistryServer
from tests.support.registry_proxy import RegistryProxy
from vigil_gateway.service import Gateway, GatewayConfig, GatewayStartupError
from vigil_shared.bus import Bus
from vigil_shared.contracts import CheckReply, CheckRequest, ImageCheck
from vigil_shared.logs import Redactor

pytestmark = pytest.mark.integration

FLEET = cosign_signing.new_key()
OTHER = cosign_signing.new_key()
RUNNING = "sha256:" + "0" * 64  # what the hosts run: every pushed build is newer
# repository -> how its build is signed
CASES = {
    "team/signed": "fleet",
    "team/unsigned": "",
    "team/otherkey": "other",
    "team/copied": "copied",  # a valid signature of the same digest, for another repository
    "team/older": "older",  # a valid signature, of an older build
    "team/corrupt": "corrupt",
}


@pytest.fixture
def signed_registry(registry: RegistryServer) -> Iterator[dict[str, str]]:
    """Each CASES repository with a `latest` build signed as its case says; digests by repo."""
    digests: dict[str, str] = {}
    with httpx.Client() as http:
        for repo, how in CASES.items():
            digest = push_tiny_image(http, registry.url, repo, "latest", repo)["digest"]
            digests[repo] = digest
            ref = f"{registry.host}/{repo}"
            if how == "fleet":
                cosign_signing.sign(http, registry.url, repo, digest, FLEET, reference=ref)
            elif how == "other":
                cosign_signing.sign(http, registry.url, repo, digest, OTHER, reference=ref)
            elif how == "copied":
                cosign_signing.sign(
                    http, registry.url, repo, digest, FLEET, reference=f"{registry.host}/team/x"
                )
            elif how == "older":
                older = push_tiny_image(http, registry.url, repo, "old", repo + "-old")["digest"]
                cosign_signing.sign(
                    http, registry.url, repo, digest, FLEET, reference=ref, signed_digest=older
                )
            elif how == "corrupt":
                cosign_signing.sign(
                    http, registry.url, repo, digest, FLEET, reference=ref, corrupt=True
                )
    yield digests


def _stale(host: str, repo: str) -> ImageCheck:
    return ImageCheck(image=f"{host}/{repo}:latest", local_digests=(f"{host}/{repo}@{RUNNING}",))


async def test_only_a_build_signed_by_the_fleet_key_for_its_repository_is_stale(
    bus: Bus,
    gateway_factory: GatewayFactory,
    registry: RegistryServer,
    signed_registry: dict[str, str],
    tmp_path: Path,
) -> None:
    key = cosign_signing.write_public_key(FLEET, tmp_path / "fleet.pub")
    gateway = await gateway_factory(verify_keys=(str(key),))
    answers = await check(bus, *(_stale(registry.host, repo) for repo in CASES))
    by_repo = {repo: answers[f"{registry.host}/{repo}:latest"] for repo in CASES}
    signed = by_repo["team/signed"]
    assert signed.outcome == "stale", signed
    assert signed.remote_digest == signed_registry["team/signed"]
    assert any("verified" in line and "fleet" in line for line in signed.signatures)
    reasons = {
        "team/unsigned": "no signature",
        "team/otherkey": "key",
        "team/copied": "team/x",
        "team/older": "digest",
        "team/corrupt": "corrupt",
    }
    for repo, word in reasons.items():
        status = by_repo[repo]
        assert status.outcome == "untrusted", (repo, status)
        assert status.remote_digest == signed_registry[repo]
        assert word in (status.error or ""), (repo, status.error)
    # Signature lookups are not digest checks: one manifest request per image.
    assert gateway.client.manifest_requests == len(CASES)
    assert gateway.client.signature_requests > 0
    # The verdicts are kept by (repository, digest, requirement): another cycle's check of
    # the same builds looks nothing up again.
    lookups = gateway.verifier.lookups if gateway.verifier else -1
    assert lookups == len(CASES)
    again = await bus.request(
        bus.subjects.registry_check,
        CheckRequest(
            scan_id="s2",
            host="h2",
            cycle_key="another",
            images=tuple(_stale(registry.host, r) for r in CASES),
        ),
        CheckReply,
        timeout=30,
    )
    assert {r.image: r.outcome for r in again.results} == {
        s.image: s.outcome for s in answers.values()
    }
    assert gateway.verifier is not None and gateway.verifier.lookups == lookups


async def test_a_build_that_runs_already_needs_no_signature_lookup(
    bus: Bus,
    gateway_factory: GatewayFactory,
    registry: RegistryServer,
    signed_registry: dict[str, str],
    tmp_path: Path,
) -> None:
    key = cosign_signing.write_public_key(FLEET, tmp_path / "fleet.pub")
    gateway = await gateway_factory(verify_keys=(str(key),))
    digest = signed_registry["team/unsigned"]
    image = f"{registry.host}/team/unsigned:latest"
    answers = await check(
        bus, ImageCheck(image=image, local_digests=(f"{registry.host}/team/unsigned@{digest}",))
    )
    assert answers[image].outcome == "current"
    assert gateway.client.signature_requests == 0


async def test_a_registry_error_on_the_signature_lookup_refuses_the_build(
    bus: Bus,
    gateway_factory: GatewayFactory,
    registry: RegistryServer,
    tmp_path: Path,
) -> None:
    """Fail closed: a 500 on the `.sig` lookup is `untrusted`, named, and not kept (the next
    check, with the registry well again, verifies)."""
    key = cosign_signing.write_public_key(FLEET, tmp_path / "fleet.pub")
    proxy = RegistryProxy(registry.url)
    proxy.start()
    try:
        with httpx.Client() as http:
            digest = push_tiny_image(http, registry.url, "team/proxied", "latest", "p")["digest"]
            ref = f"{proxy.host}/team/proxied"
            cosign_signing.sign(http, registry.url, "team/proxied", digest, FLEET, reference=ref)
        await gateway_factory(verify_keys=(str(key),), digest_cache_ttl=0)
        proxy.fault(r"/manifests/sha256-[0-9a-f]+\.sig", status=500)
        check_ = _stale(proxy.host, "team/proxied")
        refused = (await check(bus, check_))[check_.image]
        assert refused.outcome == "untrusted"
        assert "signature lookup failed" in (refused.error or "")
        assert "500" in (refused.error or "")
        proxy.clear_faults()
        verified = (await check(bus, check_))[check_.image]
    finally:
        proxy.stop()
    assert verified.outcome == "stale", verified
    assert verified.remote_digest == digest


async def test_verify_without_a_key_or_policy_stops_the_start(bus: Bus, tmp_path: Path) -> None:
    with pytest.raises(GatewayStartupError, match="--verify needs a key"):
        Gateway(bus, GatewayConfig(verify=True), Redactor())
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    with pytest.raises(GatewayStartupError, match=r"bad\.pub"):
        Gateway(bus, GatewayConfig(verify_keys=(str(bad),)), Redactor())


async def test_a_tag_the_registry_gives_no_digest_for_is_refused(
    bus: Bus,
    gateway_factory: GatewayFactory,
    registry: RegistryServer,
    signed_registry: dict[str, str],
    tmp_path: Path,
) -> None:
    """Without verification a 5xx on the digest check means "pull the tag and compare"; with
    it that pull could bring any build: refused, named (fail closed)."""
    key = cosign_signing.write_public_key(FLEET, tmp_path / "fleet.pub")
    proxy = RegistryProxy(registry.url)
    proxy.start()
    try:
        await gateway_factory(verify_keys=(str(key),), digest_cache_ttl=0)
        proxy.fault(r"/manifests/latest$", status=503)
        check_ = _stale(proxy.host, "team/signed")
        status = (await check(bus, check_))[check_.image]
    finally:
        proxy.stop()
    assert status.outcome == "untrusted", status
    assert "no digest from the registry" in (status.error or "")


async def test_the_containers_label_decides_for_its_container(
    bus: Bus,
    gateway_factory: GatewayFactory,
    registry: RegistryServer,
    signed_registry: dict[str, str],
    tmp_path: Path,
) -> None:
    """io.vigil.verify over the fleet's --verify-key: `none` lets an unsigned build through,
    `key:other` asks for another key (one the fleet knows), a bad label refuses the build."""
    fleet = cosign_signing.write_public_key(FLEET, tmp_path / "fleet.pub")
    other = cosign_signing.write_public_key(OTHER, tmp_path / "other.pub")
    await gateway_factory(verify_keys=(str(fleet), str(other)))
    base = _stale(registry.host, "team/unsigned")
    reply = await bus.request(
        bus.subjects.registry_check,
        CheckRequest(
            scan_id="s1",
            host="h1",
            images=(
                base,
                msgspec.structs.replace(base, verify="none"),
                msgspec.structs.replace(_stale(registry.host, "team/otherkey"), verify="key:other"),
                msgspec.structs.replace(_stale(registry.host, "team/signed"), verify="key:other"),
                msgspec.structs.replace(base, verify="key:nobody"),
            ),
        ),
        CheckReply,
        timeout=30,
    )
    got = {
        (r.image.rsplit("/", 1)[-1], r.verify): (r.outcome, r.error or "") for r in reply.results
    }
    assert got[("unsigned:latest", "")][0] == "untrusted"
    assert got[("unsigned:latest", "none")] == ("stale", "")
    assert got[("otherkey:latest", "key:other")] == ("stale", "")
    assert got[("signed:latest", "key:other")][0] == "untrusted"
    outcome, error = got[("unsigned:latest", "key:nobody")]
    assert outcome == "untrusted" and "no --verify-key named nobody" in error, error


async def test_bundles_found_through_the_referrers_tag_where_the_registry_has_no_api(
    bus: Bus,
    gateway_factory: GatewayFactory,
    registry: RegistryServer,
    tmp_path: Path,
) -> None:
    """OCI 1.1 referrers: keyed sigstore bundles pushed as artifacts whose `subject` is the
    build. docker-registry 2.x answers 404 on the referrers API: the gateway reads the
    referrers tag `sha256-<hex>` instead. Only the bundle by the fleet key over this very
    build proves it; a 500 on the referrers API fails closed, named."""
    key = cosign_signing.write_public_key(FLEET, tmp_path / "fleet.pub")
    builds: dict[str, dict[str, Any]] = {}
    with httpx.Client() as http:
        for repo in ("team/bundled", "team/bundle-older", "team/bundle-otherkey"):
            builds[repo] = push_tiny_image(http, registry.url, repo, "latest", repo)
        older = push_tiny_image(http, registry.url, "team/bundle-older", "old", "o")["digest"]
        for repo, by, digest in (
            ("team/bundled", FLEET, builds["team/bundled"]["digest"]),
            ("team/bundle-older", FLEET, older),
            ("team/bundle-otherkey", OTHER, builds["team/bundle-otherkey"]["digest"]),
        ):
            bundle = sigstore_bundles.keyed_bundle(by, f"{registry.host}/{repo}", digest)
            sigstore_bundles.push_referrer(http, registry.url, repo, builds[repo], bundle)
        flaky = push_tiny_image(http, registry.url, "team/bundle-flaky", "latest", "f")
        bundle = sigstore_bundles.keyed_bundle(FLEET, "team/bundle-flaky", flaky["digest"])
        sigstore_bundles.push_referrer(http, registry.url, "team/bundle-flaky", flaky, bundle)
    proxy = RegistryProxy(registry.url)
    proxy.start()
    host = proxy.host
    try:
        await gateway_factory(verify_keys=(str(key),), digest_cache_ttl=0)
        answers = await check(bus, *(_stale(host, repo) for repo in builds))
        asked = proxy.requests()
        proxy.fault(r"/referrers/", status=500)
        failed = await check(bus, _stale(host, "team/bundle-flaky"))
        proxy.clear_faults()
        healed = await check(bus, _stale(host, "team/bundle-flaky"))
    finally:
        proxy.stop()
    by_repo = {repo: answers[f"{host}/{repo}:latest"] for repo in builds}
    bundled = by_repo["team/bundled"]
    assert bundled.outcome == "stale", bundled
    assert bundled.remote_digest == builds["team/bundled"]["digest"]
    hexdigest = builds["team/bundled"]["digest"].removeprefix("sha256:")
    assert any(
        line.startswith(f"referrers tag sha256-{hexdigest[:4]}") and "verified, fleet" in line
        for line in bundled.signatures
    ), bundled.signatures
    # The registry's 404 on the referrers API led to the tag, not to a refusal.
    assert ("GET", f"/v2/team/bundled/referrers/sha256:{hexdigest}", 404) in [
        (m, p.split("?", 1)[0], s) for m, p, s in asked
    ], asked
    assert ("GET", f"/v2/team/bundled/manifests/sha256-{hexdigest}", 200) in asked, asked
    for repo, word in (
        ("team/bundle-older", "signature for another digest"),
        ("team/bundle-otherkey", "signed by another key"),
    ):
        status = by_repo[repo]
        assert status.outcome == "untrusted", (repo, status)
        assert word in (status.error or ""), (repo, status.error)
    refused = failed[f"{host}/team/bundle-flaky:latest"]
    assert refused.outcome == "untrusted"
    assert "signature lookup failed" in (refused.error or "") and "500" in (refused.error or "")
    assert healed[f"{host}/team/bundle-flaky:latest"].outcome == "stale"  # the refusal not kept


ISSUER = "https://issuer.invalid"


async def test_keyless_bundles_verified_against_the_given_trust_root(
    bus: Bus,
    gateway_factory: GatewayFactory,
    registry: RegistryServer,
    tmp_path: Path,
) -> None:
    """Keyless: bundles by short-lived certificates of a CA made here (with its CT and
    transparency logs, given as --verify-trust-root), pushed as referrers. The identity a
    container's label asks for (issuer and subject, or subject regexp) must be the
    certificate's; a certificate of another identity, expired when logged, of a CA or log
    the root does not hold, is refused with that reason."""
    sigstore = sigstore_keyless.TestSigstore()
    stranger = sigstore_keyless.TestSigstore(name="stranger")
    root = sigstore.trusted_root(tmp_path / "trusted_root.json")
    fleet = cosign_signing.write_public_key(FLEET, tmp_path / "fleet.pub")
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    cases: dict[str, dict[str, Any]] = {
        "keyless/good": {},
        "keyless/mallory": {"email": "mallory@example.com"},
        "keyless/expired": {"cert_from": long_ago},
        "keyless/foreign-ca": {"ca": stranger},
        "keyless/foreign-log": {"log": stranger},
    }
    with httpx.Client() as http:
        for repo, how in cases.items():
            build = push_tiny_image(http, registry.url, repo, "latest", repo)
            bundle = sigstore.bundle(build["digest"], issuer=ISSUER, **how)
            sigstore_bundles.push_referrer(http, registry.url, repo, build, bundle)
    await gateway_factory(verify_keys=(str(fleet),), verify_trust_root=str(root))
    exact = f"identity:{ISSUER},ci@example.com"
    regexp = f"identity-regexp:{ISSUER},^ci@example\\.(com|org)$"
    images = [msgspec.structs.replace(_stale(registry.host, repo), verify=exact) for repo in cases]
    images += [
        msgspec.structs.replace(_stale(registry.host, "keyless/good"), verify=regexp),
        msgspec.structs.replace(
            _stale(registry.host, "keyless/good"), verify=f"identity:{ISSUER}.evil,ci@example.com"
        ),
        _stale(registry.host, "keyless/good"),  # the fleet's --verify-key: a key is needed
    ]
    reply = await bus.request(
        bus.subjects.registry_check,
        CheckRequest(scan_id="k1", host="h1", images=tuple(images)),
        CheckReply,
        timeout=30,
    )
    got = {(r.image.split("/", 1)[1], r.verify): r for r in reply.results}
    good = got[("keyless/good:latest", exact)]
    assert good.outcome == "stale", good
    assert any("verified, ci@example.com (https://issuer.invalid)" in ln for ln in good.signatures)
    assert got[("keyless/good:latest", regexp)].outcome == "stale"
    refusals = {
        ("keyless/mallory:latest", exact): "signed by another identity: mallory@example.com",
        ("keyless/expired:latest", exact): "certificate expired",
        ("keyless/foreign-ca:latest", exact): "certificate untrusted (not issued by a CA",
        ("keyless/foreign-log:latest", exact): "certificate untrusted (its log entry",
        ("keyless/good:latest", f"identity:{ISSUER}.evil,ci@example.com"): "another identity",
        ("keyless/good:latest", ""): "keyless signature, but a key is required",
    }
    for which, words in refusals.items():
        status = got[which]
        assert status.outcome == "untrusted", (which, status)
        assert words in (status.error or ""), (which, status.error)
