"""cosign's keyed tag-layout signatures, written into a real registry by our own code (no
cosign binary can be had here: docs/trust.md): the simple-signing payload as a layer of
an OCI manifest tagged `sha256-<hex>.sig`, the signature in the layer's
`dev.cosignproject.cosign/signature` annotation, as `cosign sign --key` writes them.

Key pairs as `cosign generate-key-pair` writes them: `cosign.pub` a PEM public key,
`cosign.key` a PKCS#8 private key sealed with nacl/secretbox under a key scrypt derives from
the password, in a PEM block `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN
PRIVATE KEY`). tests/unit/test_published_tag_layout.py reads cosign's own published ones."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.oci import OCI_MANIFEST, push_blob, put_manifest
from vigil_gateway.cosign import (
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING,
    signature_tag,
    simple_signing_payload,
)

COSIGN_KEY_LABELS = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")


def load_cosign_key(pem: bytes, password: bytes) -> ec.EllipticCurvePrivateKey:
    """The private key of a `cosign.key`, as cosign's LoadPrivateKey reads it: PKCS#8 only
    (cosign refuses a sealed SEC1 `EC PRIVATE KEY` too). ValueError says why not."""
    import nacl.exceptions
    import nacl.secret

    text = pem.decode().strip().splitlines()
    label = text[0].removeprefix("-----BEGIN ").removesuffix("-----") if text else ""
    if label not in COSIGN_KEY_LABELS or text[-1] != f"-----END {label}-----":
        raise ValueError(f"not a cosign.key (PEM block {label or 'none'})")
    sealed = json.loads(base64.b64decode("".join(text[1:-1])))
    kdf, cipher = sealed["kdf"], sealed["cipher"]
    if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
        raise ValueError(f"unknown sealing ({kdf['name']}, {cipher['name']})")
    n, r, p = (kdf["params"][k] for k in ("N", "r", "p"))
    salt = base64.b64decode(kdf["salt"])
    memory = 128 * r * n + (1 << 20)  # scrypt's own need, over hashlib's 32 MiB default
    box_key = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=memory)
    try:
        der = nacl.secret.SecretBox(box_key).decrypt(
            base64.b64decode(sealed["ciphertext"]), base64.b64decode(cipher["nonce"])
        )
    except nacl.exceptions.CryptoError:
        raise ValueError("wrong password (the secretbox does not open)") from None
    # PrivateKeyInfo: SEQUENCE { INTEGER 0, AlgorithmIdentifier SEQUENCE, ... }; SEC1's
    # ECPrivateKey starts SEQUENCE { INTEGER 1, OCTET STRING, ... }.
    head = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    if der[head : head + 4] != b"\x02\x01\x00\x30":
        raise ValueError("sealed key is not PKCS#8 (cosign: use ParseECPrivateKey instead)")
    key = serialization.load_der_private_key(der, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"a {type(key).__name__}, not an ECDSA key")
    return key


def seal_cosign_key(key: ec.EllipticCurvePrivateKey, password: bytes) -> bytes:
    """`key` as `cosign generate-key-pair` writes cosign.key (scrypt N=65536, r=8, p=1)."""
    import nacl.secret
    import nacl.utils

    salt, n, r, p = os.urandom(32), 65536, 8, 1
    memory = 128 * r * n + (1 << 20)
    box_key = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=memory)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sealed = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": r, "p": p},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(
            nacl.secret.SecretBox(box_key).encrypt(der, nonce).ciphertext
        ).decode(),
    }
    body = base64.b64encode(json.dumps(sealed, separators=(",", ":")).encode()).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    label = COSIGN_KEY_LABELS[0]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


def new_key() -> ec.EllipticCurvePrivateKey:
    """An ECDSA P-256 key, as `cosign generate-key-pair` makes."""
    return ec.generate_private_key(ec.SECP256R1())


def write_public_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    """The PEM public key, as cosign writes cosign.pub."""
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def sign(
    http: httpx.Client,
    base_url: str,
    repo: str,
    digest: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    reference: str,
    signed_digest: str | None = None,
    corrupt: bool = False,
) -> dict[str, Any]:
    """Push a signature of `reference`@`signed_digest` (default `digest`) under `repo`'s
    `sha256-<digest>.sig` tag; `corrupt` stores a signature that is not base64 (a flipped
    byte of a valid one would read as another key's signature, which is what it is)."""
    payload = simple_signing_payload(reference, signed_digest or digest)
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    config = push_blob(http, base_url, repo, b"{}")
    layer = push_blob(http, base_url, repo, payload)
    return put_manifest(
        http,
        base_url,
        repo,
        signature_tag(digest),
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
            "layers": [
                {
                    "mediaType": SIMPLE_SIGNING,
                    **layer,
                    "annotations": {
                        SIGNATURE_ANNOTATION: "!not base64!"
                        if corrupt
                        else base64.b64encode(signature).decode()
                    },
                }
            ],
        },
    )
