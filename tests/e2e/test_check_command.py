"""`vigil check IMAGE` and the gateway's start-up checks, through the real command."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import cosign_signing, sigstore_bundles, sigstore_keyless
from tests.support.images import build_test_image, push_image
from tests.support.oci import push_tiny_image
from tests.support.registry_fixtures import RegistryServer, free_port
from tests.support.vigil_process import run_vigil

pytestmark = pytest.mark.integration


def vigil(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_vigil(*args, env=env, timeout=120)


def test_check_prints_digest_credentials_and_token_cache(
    registry_factory: Callable[..., RegistryServer],
    docker_client: Any,
    names: Callable[[str], str],
    tmp_path: Path,
) -> None:
    server = registry_factory(token_users={})
    tag = f"{server.host}/{names('app')}:latest"
    build_test_image(docker_client, tag)
    digest = push_image(docker_client, tag)
    dead = f"127.0.0.1:{free_port()}/gone:latest"

    result = vigil("check", tag, dead, env={"DOCKER_CONFIG": str(tmp_path)})
    assert result.returncode == 1, result.stdout + result.stderr  # one image failed
    assert f"{tag}\n  remote digest: {digest}\n  credentials:   anonymous\n" in result.stdout
    repo = tag.split("/", 1)[1].rsplit(":", 1)[0]
    assert f"token cache:   token cached for repository:{repo}:pull" in result.stdout
    dead_host = dead.split("/")[0]
    assert f"{dead}\n  ERROR: registry {dead_host} unreachable: connection refused" in result.stdout


def test_registry_ca_validate_stops_the_start_with_exit_2(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    result = vigil(
        "registry-gateway",
        "--nats-url",
        "nats://127.0.0.1:1",
        "--registry-ca",
        str(bundle),
        "--registry-ca-validate",
    )
    assert result.returncode == 2
    # The bundle is judged before NATS is reached: the fault named is the bundle's.
    assert f"--registry-ca {bundle}: is empty" in result.stderr


def test_check_with_verify_flags_prints_each_signature_and_what_it_proved(
    registry: RegistryServer, tmp_path: Path
) -> None:
    """`vigil check --verify-key --verify-policy --verify-trust-root IMAGE...` against the
    real registry: cosign's tag layout, a keyed bundle and a keyless one (OCI referrers)
    verified, each signature printed with what it proved; an unsigned build and one signed
    by another key UNTRUSTED with the reason, exit 1."""
    fleet, other = cosign_signing.new_key(), cosign_signing.new_key()
    sigstore = sigstore_keyless.TestSigstore()
    key = cosign_signing.write_public_key(fleet, tmp_path / "fleet.pub")
    root = sigstore.trusted_root(tmp_path / "trusted_root.json")
    policy = tmp_path / "policy.json"
    identity = {"oidcIssuer": "https://issuer.invalid", "subjectEmail": "ci@example.com"}
    policy.write_text(
        json.dumps(
            {
                "default": [{"type": "sigstoreSigned", "keys": ["fleet"]}],
                "transports": {
                    "docker": {
                        f"{registry.host}/chk/keyless": [
                            {"type": "sigstoreSigned", "fulcio": identity}
                        ]
                    }
                },
            }
        )
    )
    repos = ("chk/tagged", "chk/bundled", "chk/keyless", "chk/unsigned", "chk/otherkey")
    builds: dict[str, dict[str, Any]] = {}
    with httpx.Client() as http:
        for repo in repos:
            builds[repo] = build = push_tiny_image(http, registry.url, repo, "latest", repo)
            digest, ref = build["digest"], f"{registry.host}/{repo}"
            if repo == "chk/tagged":
                cosign_signing.sign(http, registry.url, repo, digest, fleet, reference=ref)
            elif repo == "chk/otherkey":
                cosign_signing.sign(http, registry.url, repo, digest, other, reference=ref)
            elif repo == "chk/bundled":
                bundle = sigstore_bundles.keyed_bundle(fleet, ref, digest)
                sigstore_bundles.push_referrer(http, registry.url, repo, build, bundle)
            elif repo == "chk/keyless":
                bundle = sigstore.bundle(digest)
                sigstore_bundles.push_referrer(http, registry.url, repo, build, bundle)
    images = [f"{registry.host}/{repo}:latest" for repo in repos]
    env = {"DOCKER_CONFIG": str(tmp_path)}
    flags = ("--verify-key", str(key), "--verify-policy", str(policy))
    result = vigil("check", *flags, "--verify-trust-root", str(root), *images, env=env)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr  # two builds would not roll out
    blocks = {b.split("\n", 1)[0]: b for b in out.strip().split("\n\n")}
    block = {repo: blocks[f"{registry.host}/{repo}:latest"] for repo in repos}
    tagged_hex = builds["chk/tagged"]["digest"][7:]
    assert (
        f"  signature:     cosign sha256-{tagged_hex}.sig layer 0: verified, fleet"
        in block["chk/tagged"]
    ), out
    bundled_hex = builds["chk/bundled"]["digest"][7:]
    assert f"  signature:     referrers tag sha256-{bundled_hex}: bundle " in block["chk/bundled"]
    assert ": verified, fleet" in block["chk/bundled"], out
    assert "verified, ci@example.com (https://issuer.invalid)" in block["chk/keyless"], out
    for repo in ("chk/tagged", "chk/bundled", "chk/keyless"):
        assert "UNTRUSTED" not in block[repo], out
    assert "  UNTRUSTED: no signature for sha256:" in block["chk/unsigned"], out
    assert "  signature:     no signature found" in block["chk/unsigned"], out
    assert "  UNTRUSTED: signed by another key (not fleet)" in block["chk/otherkey"], out
    assert "cosign sha256-" in block["chk/otherkey"], out
