"""cosign's keyed tag layout (simple signing) judged by Vigil's verifier on signatures
published by others with their key, offline: vigil_gateway.cosign's `signature_layers` and
`judge_signature`, the gateway's path for a `sha256-<hex>.sig` manifest, over the published
payload bytes and base64 signature (tests/fixtures/sigstore/README.md names each source,
commit and licence). No published one comes with its `.sig` manifest, so the manifest is
the one cosign writes around them: one layer, the payload's digest, the signature in the
`dev.cosignproject.cosign/signature` annotation.

And cosign's encrypted private keys (cosign.key) as cosign's own tests publish them, read by
the tests' key loader (tests/support/cosign_signing.py), which signs like cosign.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.cosign_signing import load_cosign_key, seal_cosign_key
from vigil_gateway.cosign import (
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    KeyFileError,
    Proof,
    judge_signature,
    load_public_key,
    signature_layers,
    simple_signing_payload,
)

if TYPE_CHECKING:
    from vigil_gateway.cosign import PublicKey

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sigstore"

# sigstore-rs's src/cosign/signature_layers.rs: a keyed signature with its cosign.pub.
RS = "sigstore-rs-busybox"
RS_REPOSITORY = "registry-testing.svc.lan/busybox"
RS_BUILD = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b"
# containers/image's signature/fixtures: a /usr/bin/cosign signature (keyless: its key is
# in the Fulcio certificate beside it; the same ECDSA over the payload's bytes).
CI = "containers-image-alpine"
CI_REPOSITORY = "192.168.64.2:5000/test-repo-2100826901021538654/alpine"
CI_BUILD = "sha256:fa93b01658e3a5a1686dc3ae55f170d8de487006fb53a28efcd12ab0710a2e5f"

PUBLISHED = {RS: (RS_REPOSITORY, RS_BUILD), CI: (CI_REPOSITORY, CI_BUILD)}


def _published_key(name: str) -> PublicKey:
    if name == CI:
        cert = x509.load_pem_x509_certificate((FIXTURES / f"{CI}.cert.pem").read_bytes())
        pem = cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        pem = (FIXTURES / f"{name}.pub").read_bytes()
    return load_public_key(pem, "published")


def _sig_manifest(payload: bytes, signature: str) -> dict[str, object]:
    """The `.sig` manifest cosign writes for one signature."""
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json"},
        "layers": [
            {
                "mediaType": SIMPLE_SIGNING,
                "size": len(payload),
                "digest": "sha256:" + hashlib.sha256(payload).hexdigest(),
                "annotations": {SIGNATURE_ANNOTATION: signature},
            }
        ],
    }


def _judge(
    name: str,
    *,
    payload: bytes | None = None,
    signature: str | None = None,
    key: PublicKey | None = None,
    digest: str | None = None,
    repository: str | None = None,
) -> Proof:
    """The gateway's verdict on the published signature `name`, with one part replaced."""
    published = (FIXTURES / f"{name}.payload.json").read_bytes()
    published_sig = (FIXTURES / f"{name}.sig").read_text().strip()
    (layer,), problems = signature_layers(_sig_manifest(published, signature or published_sig))
    assert problems == []
    return judge_signature(
        layer,
        published if payload is None else payload,
        (("published", key or _published_key(name)),),
        digest=digest or PUBLISHED[name][1],
        repository=repository or PUBLISHED[name][0],
    )


def _flip_last_byte(signature: str) -> str:
    """The last byte of the DER signature changed (still valid DER: the `s` integer)."""
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("name", [RS, CI])
def test_published_payload_is_the_one_vigils_test_signer_writes(name: str) -> None:
    """tests/support/cosign_signing.py signs the very bytes cosign signs."""
    repository, build = PUBLISHED[name]
    assert (
        simple_signing_payload(repository, build)
        == (FIXTURES / f"{name}.payload.json").read_bytes()
    )


@pytest.mark.parametrize("name", [RS, CI])
def test_published_signature_proves_its_build(name: str) -> None:
    assert _judge(name) == Proof(ok=True, signer="published")


@pytest.mark.parametrize("name", [RS, CI])
@pytest.mark.parametrize(
    ("case", "kind", "reason"),
    [
        ("flipped signature byte", "no_key", "signed by another key (not published)"),
        ("another key", "no_key", "signed by another key (not published)"),
        ("flipped payload byte", "corrupt", "corrupted signature layer (digest)"),
        ("another digest", "other_digest", "signature for another digest ({build19}…)"),
        ("another repository", "other_repository", "docker-reference of another repository"),
    ],
)
def test_published_signature_refused(name: str, case: str, kind: str, reason: str) -> None:
    repository, build = PUBLISHED[name]
    published = (FIXTURES / f"{name}.payload.json").read_bytes()
    if case == "flipped signature byte":
        proof = _judge(name, signature=_flip_last_byte((FIXTURES / f"{name}.sig").read_text()))
    elif case == "another key":
        other = ec.generate_private_key(ec.SECP256R1()).public_key()
        proof = _judge(name, key=other)
    elif case == "flipped payload byte":
        proof = _judge(name, payload=published.replace(b"cosign", b"Cosign", 1))
    elif case == "another digest":
        proof = _judge(name, digest="sha256:" + "0" * 64)
    else:
        proof = _judge(name, repository="registry.example.com/team/app")
        reason += f" ({repository})"
    assert (proof.ok, proof.kind, proof.reason) == (False, kind, reason.format(build19=build[:19]))


# --- cosign.key files: cosign's pkg/cosign/keys_test.go and sigstore-rs's tests/data/keys ---

COSIGN_KEYS = [
    ("cosign-keys_test-pemsigstorekey.key", b"hello"),  # ENCRYPTED SIGSTORE PRIVATE KEY
    ("cosign-keys_test-pemcosignkey.key", b"hello"),  # ENCRYPTED COSIGN PRIVATE KEY
    ("sigstore-rs-cosign_generated_encrypted_empty_private.key", b""),  # no password
]


@pytest.mark.parametrize(("name", "password"), COSIGN_KEYS)
def test_published_cosign_key_is_read_and_signs_what_its_public_key_verifies(
    name: str, password: bytes
) -> None:
    from cryptography.hazmat.primitives import hashes

    key = load_cosign_key((FIXTURES / name).read_bytes(), password)
    payload = simple_signing_payload(RS_REPOSITORY, RS_BUILD)
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    (layer,), _ = signature_layers(_sig_manifest(payload, signature))
    proof = judge_signature(
        layer,
        payload,
        (("fleet", key.public_key()),),
        digest=RS_BUILD,
        repository=RS_REPOSITORY,
    )
    assert proof == Proof(ok=True, signer="fleet")


def test_published_cosign_key_refused_with_the_wrong_password() -> None:
    pem = (FIXTURES / COSIGN_KEYS[0][0]).read_bytes()
    with pytest.raises(ValueError, match=r"^wrong password \(the secretbox does not open\)$"):
        load_cosign_key(pem, b"hellO")


def test_sealed_sec1_key_refused_as_cosign_refuses_it() -> None:
    """keys_test.go's pemcosigneckey seals a SEC1 `EC PRIVATE KEY`: cosign's LoadPrivateKey
    fails on it ("use ParseECPrivateKey instead"), and so does the tests' loader."""
    pem = (FIXTURES / "cosign-keys_test-pemcosigneckey.key").read_bytes()
    with pytest.raises(ValueError, match=r"^sealed key is not PKCS#8 \(cosign: use Parse"):
        load_cosign_key(pem, b"hello")


def test_sealed_key_reads_back() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sealed = seal_cosign_key(key, b"pw")
    assert sealed.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    again = load_cosign_key(sealed, b"pw")
    assert again.private_numbers() == key.private_numbers()


def test_cosign_key_given_as_a_verify_key_is_named() -> None:
    """`--verify-key cosign.key` instead of cosign.pub: the start stops saying so."""
    pem = (FIXTURES / COSIGN_KEYS[0][0]).read_bytes()
    with pytest.raises(KeyFileError) as caught:
        load_public_key(pem, "fleet")
    assert str(caught.value) == (
        "key fleet: a private key, not a public key (give cosign.pub, not cosign.key)"
    )
