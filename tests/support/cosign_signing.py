"""cosign's keyed tag-layout signatures, written into a real registry by our own code (no
cosign binary can be had here: docs/trust.md): the simple-signing payload as a layer of
an OCI manifest tagged `sha256-<hex>.sig`, the signature in the layer's
`dev.cosignproject.cosign/signature` annotation, as `cosign sign --key` writes them."""

from __future__ import annotations

import base64
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
