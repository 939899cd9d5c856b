"""Cosign's keyed signatures in the tag layout, read and judged without IO.

A build `repo@sha256:H` signed by `cosign sign --key` has a manifest under the tag
`sha256-H.sig` in the same repository. Each of its layers is a simple-signing payload
(`application/vnd.dev.cosign.simplesigning.v1+json`) whose signature (base64, over the
payload's bytes) is the layer's `dev.cosignproject.cosign/signature` annotation. The payload
names what was signed: `critical.image.docker-manifest-digest` and
`critical.identity.docker-reference` (the repository). A signature proves a build only when
the key verifies it, the digest is the build's and the reference is its repository: a
signature copied from another repository or made for an older build proves nothing here.

Keys are PEM public keys (`cosign.pub`): ECDSA P-256 (cosign's default, SHA-256), P-384
(SHA-384), P-521 (SHA-512), RSA (PKCS#1 v1.5, SHA-256) and Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:  # cryptography is imported at the first key read, not at start (issue 21)
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_TYPE = "cosign container image signature"


class KeyFileError(ValueError):
    """A public key that cannot be used; the message names the file and why."""


class NamedKey(msgspec.Struct, frozen=True):
    name: str
    pem: bytes

    def key(self) -> PublicKey:
        return load_public_key(self.pem, self.name)


def load_public_key(pem: bytes, name: str) -> PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if b"PRIVATE KEY-----" in pem:  # cosign.key (or any private key) given for cosign.pub
        raise KeyFileError(
            f"key {name}: a private key, not a public key (give cosign.pub, not cosign.key)"
        )
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"key {name}: not a PEM public key ({exc})") from None
    if isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return key
    raise KeyFileError(f"key {name}: {type(key).__name__} keys are not supported")


def signature_tag(digest: str) -> str:
    """`sha256:abc` -> `sha256-abc.sig`: where cosign puts a build's signatures."""
    return digest.replace(":", "-", 1) + ".sig"


def verify_bytes(key: PublicKey, signature: bytes, payload: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            algorithm: hashes.HashAlgorithm = {
                384: hashes.SHA384(),
                521: hashes.SHA512(),
            }.get(key.curve.key_size, hashes.SHA256())
            key.verify(signature, payload, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, payload)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_digest(key: PublicKey, signature: bytes, digest: bytes) -> bool:
    """A signature over a SHA-256 `digest` (a bundle's message signature): ECDSA and RSA;
    Ed25519 signs whole messages and cannot verify a digest alone."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


class Layer(msgspec.Struct, frozen=True, kw_only=True):
    """One signature of a `.sig` manifest: its payload descriptor and signature."""

    digest: str
    signature: str  # base64, as the annotation holds it
    media_type: str = ""


def signature_layers(manifest: dict[str, Any]) -> tuple[list[Layer], list[str]]:
    """Pure: the signed layers of a `.sig` manifest, and what was wrong with the others."""
    layers: list[Layer] = []
    problems: list[str] = []
    raw = manifest.get("layers")
    if not isinstance(raw, list):
        return [], ["the signature manifest has no layers"]
    for i, layer in enumerate(raw):
        if not isinstance(layer, dict) or not isinstance(layer.get("digest"), str):
            problems.append(f"layer {i}: not a descriptor")
            continue
        notes = layer.get("annotations") or {}
        sig = notes.get(SIGNATURE_ANNOTATION) if isinstance(notes, dict) else None
        if not isinstance(sig, str) or not sig:
            problems.append(f"layer {i}: no {SIGNATURE_ANNOTATION} annotation")
            continue
        layers.append(
            Layer(digest=layer["digest"], signature=sig, media_type=str(layer.get("mediaType")))
        )
    return layers, problems


class Proof(msgspec.Struct, frozen=True, kw_only=True):
    """What one signature proved for a build. `ok` only when all of it holds."""

    ok: bool
    signer: str = ""  # the key's name that verified it
    # why not: "signed by another key", "signature for another digest ...", ...
    reason: str = ""
    kind: str = ""  # no_key | other_digest | other_repository | corrupt


def same_repository(signed: str, repository: str) -> bool:
    """Pure: whether a payload's docker-reference names `repository` (`registry/path`).
    cosign writes Docker Hub as `index.docker.io/...`; a tag or digest on it is ignored."""
    name = signed.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if len(last) == 2 and ":" in last[1]:
        name = last[0] + "/" + last[1].split(":", 1)[0]
    return _hub(name) == _hub(repository)


def _hub(name: str) -> str:
    for alias in ("index.docker.io/", "registry-1.docker.io/"):
        if name.startswith(alias):
            name = "docker.io/" + name[len(alias) :]
    if name.startswith("docker.io/") and name.count("/") == 1:
        name = "docker.io/library/" + name[len("docker.io/") :]
    return name


def judge_signature(
    layer: Layer,
    payload: bytes,
    keys: tuple[tuple[str, PublicKey], ...],
    *,
    digest: str,
    repository: str,
) -> Proof:
    """Pure: what `layer` (with its payload's bytes) proves of the build `repository@digest`
    under `keys` (name, key)."""
    if "sha256:" + hashlib.sha256(payload).hexdigest() != layer.digest:
        return Proof(ok=False, kind="corrupt", reason="corrupted signature layer (digest)")
    try:
        signature = base64.b64decode(layer.signature, validate=True)
    except (binascii.Error, ValueError):
        return Proof(ok=False, kind="corrupt", reason="corrupted signature (not base64)")
    signer = next((name for name, key in keys if verify_bytes(key, signature, payload)), "")
    if not signer:
        names = ", ".join(name for name, _ in keys) or "none"
        return Proof(ok=False, kind="no_key", reason=f"signed by another key (not {names})")
    try:
        body = json.loads(payload)
        critical = body["critical"]
        signed_digest = critical["image"]["docker-manifest-digest"]
        signed_ref = critical["identity"]["docker-reference"]
    except (ValueError, KeyError, TypeError):
        return Proof(
            ok=False, signer=signer, kind="corrupt", reason="payload is not simple signing"
        )
    if signed_digest != digest:
        return Proof(
            ok=False,
            signer=signer,
            kind="other_digest",
            reason=f"signature for another digest ({str(signed_digest)[:19]}…)",
        )
    if not isinstance(signed_ref, str) or not same_repository(signed_ref, repository):
        return Proof(
            ok=False,
            signer=signer,
            kind="other_repository",
            reason=f"docker-reference of another repository ({str(signed_ref)[:100]})",
        )
    return Proof(ok=True, signer=signer)


def simple_signing_payload(docker_reference: str, digest: str) -> bytes:
    """The payload `cosign sign` signs (for tests and docs; field order as cosign's)."""
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": docker_reference},
                "image": {"docker-manifest-digest": digest},
                "type": PAYLOAD_TYPE,
            },
            "optional": None,
        },
        separators=(",", ":"),
    ).encode()
