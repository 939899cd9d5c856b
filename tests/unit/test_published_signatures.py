"""Vigil's verifier (vigil_gateway.bundles.judge_bundle, the gateway's path for sigstore
bundles) on signatures published by the Sigstore projects themselves, offline: their bytes,
trust roots and keys are in tests/fixtures/sigstore (README.md there names each file's
source, commit and licence). A signature Vigil made and then verified proves only that Vigil
agrees with itself; these prove it agrees with cosign and sigstore-python, and that each
tampering is refused with the reason Vigil names.

The trust root is sigstore-python 4.5.1's embedded production trusted_root.json: the
library verifies each signature at the time the transparency log saw it (the log entry's
integrated time), so certificates long expired still verify, with no clock and no network.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from vigil_gateway.bundles import judge_bundle, load_trust_root
from vigil_gateway.cosign import Proof, load_public_key
from vigil_gateway.trust_policy import Identity, Requirement

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sigstore"
GITHUB_OAUTH = "https://github.com/login/oauth"

# cosign's pkg/cosign/testdata/oci-attestation.sigstore.json: a keyless DSSE attestation of
# an image (its in-toto statement's subject names the image's manifest digest).
COSIGN_BUNDLE = "oci-attestation.sigstore.json"
COSIGN_IMAGE = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
COSIGN_SIGNER = Identity(issuer=GITHUB_OAUTH, subject="cody@soyland.com")

# sigstore-python's test/assets/new_bundle.txt(.sigstore.json): a keyless message signature
# over a file's sha256.
PYTHON_BUNDLE = "new_bundle.txt.sigstore.json"
PYTHON_SIGNER = Identity(issuer=GITHUB_OAUTH, subject="aryadeeptade@gmail.com")

# sigstore-conformance's bundle-verify/intoto-canonical-log-entry: a keyed DSSE bundle.
KEYED_BUNDLE = "intoto-canonical-log-entry.sigstore.json"
KEYED_SUBJECT = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"


def _bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@cache
def _production_root() -> Any:
    return load_trust_root(str(FIXTURES / "production_trusted_root.json"))


def _keyless(raw: bytes, digest: str, *identities: Identity) -> Proof:
    return judge_bundle(
        raw,
        digest=digest,
        requirement=Requirement(kind="signed", identities=identities),
        keys={},
        trust_root=_production_root(),
    )


def _file_digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(_bytes(name)).hexdigest()


def _flip_signature(raw: bytes) -> bytes:
    """The bundle with the last byte of its signature changed (still valid DER: the `s`)."""
    body: dict[str, Any] = json.loads(raw)
    holder = (
        body["dsseEnvelope"]["signatures"][0]
        if "dsseEnvelope" in body
        else body["messageSignature"]
    )
    field = "sig" if "dsseEnvelope" in body else "signature"
    signature = bytearray(base64.b64decode(holder[field]))
    signature[-1] ^= 0x01
    holder[field] = base64.b64encode(bytes(signature)).decode()
    return json.dumps(body).encode()


# --- cosign's published image attestation (keyless, DSSE) -----------------------------


def test_cosign_attestation_verifies_with_its_published_identity() -> None:
    proof = _keyless(_bytes(COSIGN_BUNDLE), COSIGN_IMAGE, COSIGN_SIGNER)
    assert proof == Proof(ok=True, signer="cody@soyland.com (https://github.com/login/oauth)")


def test_cosign_attestation_subject_regexp_identity_verifies() -> None:
    identity = Identity(issuer=GITHUB_OAUTH, subject_regexp=r"^[a-z]+@soyland\.com$")
    assert _keyless(_bytes(COSIGN_BUNDLE), COSIGN_IMAGE, identity).ok


def test_cosign_attestation_refused_for_another_identity() -> None:
    other = Identity(issuer=GITHUB_OAUTH, subject="someone@example.com")
    proof = _keyless(_bytes(COSIGN_BUNDLE), COSIGN_IMAGE, other)
    assert (proof.ok, proof.kind) == (False, "no_key")
    assert proof.reason == (
        "signed by another identity: cody@soyland.com (https://github.com/login/oauth)"
    )


def test_cosign_attestation_refused_for_another_issuer() -> None:
    other = Identity(
        issuer="https://token.actions.githubusercontent.com", subject="cody@soyland.com"
    )
    proof = _keyless(_bytes(COSIGN_BUNDLE), COSIGN_IMAGE, other)
    assert (proof.ok, proof.kind) == (False, "no_key")


def test_cosign_attestation_refused_for_another_image_digest() -> None:
    other = "sha256:" + hashlib.sha256(b"another image").hexdigest()
    proof = _keyless(_bytes(COSIGN_BUNDLE), other, COSIGN_SIGNER)
    assert (proof.ok, proof.kind) == (False, "other_digest")
    assert proof.reason.startswith("signature for another digest")


def test_cosign_attestation_refused_with_a_flipped_signature_byte() -> None:
    """The statement is inside the envelope: a changed signature is a corrupted bundle (not
    a certificate problem, which is what the library's error alone suggested)."""
    proof = _keyless(_flip_signature(_bytes(COSIGN_BUNDLE)), COSIGN_IMAGE, COSIGN_SIGNER)
    assert (proof.ok, proof.kind, proof.reason) == (
        False,
        "corrupt",
        "corrupted bundle (DSSE signature not by its certificate's key)",
    )


# --- sigstore-python's published message signature over a file (keyless) ---------------


def test_sigstore_python_bundle_verifies_against_the_files_digest() -> None:
    """The bundle signs a file, not an image: Vigil's check of a message signature is
    against a sha256 digest (an image's is its manifest's), so the file's sha256 stands in
    for the build's digest on the same code path."""
    digest = _file_digest("new_bundle.txt")
    proof = _keyless(_bytes(PYTHON_BUNDLE), digest, PYTHON_SIGNER)
    assert proof == Proof(ok=True, signer="aryadeeptade@gmail.com (https://github.com/login/oauth)")


def test_sigstore_python_bundle_refused_for_another_identity() -> None:
    digest = _file_digest("new_bundle.txt")
    proof = _keyless(_bytes(PYTHON_BUNDLE), digest, COSIGN_SIGNER)
    assert (proof.ok, proof.kind) == (False, "no_key")
    assert proof.reason.startswith("signed by another identity: aryadeeptade@gmail.com")


def test_sigstore_python_bundle_refused_for_another_files_digest() -> None:
    other = (
        "sha256:"
        + hashlib.sha256(b"Sigstore current issuer certificate regression tesT\n").hexdigest()
    )
    proof = _keyless(_bytes(PYTHON_BUNDLE), other, PYTHON_SIGNER)
    assert (proof.ok, proof.kind, proof.reason) == (
        False,
        "other_digest",
        "signature for another digest",
    )


def test_sigstore_python_bundle_refused_with_a_flipped_signature_byte() -> None:
    digest = _file_digest("new_bundle.txt")
    """A message signature is over a digest given from outside: a changed signature and a
    changed digest look alike (sigstore: "invalid for input"), both refused as another
    digest's."""
    proof = _keyless(_flip_signature(_bytes(PYTHON_BUNDLE)), digest, PYTHON_SIGNER)
    assert (proof.ok, proof.kind, proof.reason) == (
        False,
        "other_digest",
        "signature for another digest",
    )


def test_published_keyless_bundle_untrusted_without_its_trust_root() -> None:
    """The same published bundle under another root (sigstore-python's staging one): the
    certificate chain is not the root's, so it is refused as untrusted."""
    staging = load_trust_root(str(FIXTURES / "staging_trusted_root.json"))
    proof = judge_bundle(
        _bytes(COSIGN_BUNDLE),
        digest=COSIGN_IMAGE,
        requirement=Requirement(kind="signed", identities=(COSIGN_SIGNER,)),
        keys={},
        trust_root=staging,
    )
    assert (proof.ok, proof.kind) == (False, "untrusted")
    assert proof.reason.startswith("certificate untrusted")


# --- sigstore-conformance's published keyed DSSE bundle --------------------------------


def _keyed(raw: bytes, digest: str, pem: bytes) -> Proof:
    key = load_public_key(pem, "published")
    return judge_bundle(
        raw,
        digest=digest,
        requirement=Requirement(kind="signed", keys=("published",)),
        keys={"published": key},
        trust_root=None,
    )


def _other_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


PUBLISHED_KEY = "intoto-canonical-log-entry.key.pub"


def test_keyed_bundle_verifies_with_its_published_key() -> None:
    proof = _keyed(_bytes(KEYED_BUNDLE), KEYED_SUBJECT, _bytes(PUBLISHED_KEY))
    assert proof == Proof(ok=True, signer="published")


@pytest.mark.parametrize(
    ("case", "expected_kind", "expected_reason"),
    [
        ("another key", "no_key", "signed by another key (not published)"),
        ("flipped signature byte", "no_key", "signed by another key (not published)"),
        ("another digest", "other_digest", "signature for another digest"),
    ],
)
def test_keyed_bundle_refused(case: str, expected_kind: str, expected_reason: str) -> None:
    raw, digest, pem = _bytes(KEYED_BUNDLE), KEYED_SUBJECT, _bytes(PUBLISHED_KEY)
    if case == "another key":
        pem = _other_pem()
    elif case == "flipped signature byte":
        raw = _flip_signature(raw)
    else:
        digest = "sha256:" + "0" * 64
    proof = _keyed(raw, digest, pem)
    assert (proof.ok, proof.kind, proof.reason) == (False, expected_kind, expected_reason)
