"""Sigstore bundles pushed into a real registry as OCI 1.1 referrers, by our own code (no cosign
binary here: docs/trust.md), as `cosign sign --key --new-bundle-format` stores them: the
bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`) the one layer of an artifact
manifest whose `subject` is the image. A registry without the referrers API (Debian's
docker-registry 2.x) is given the referrers tag schema's fallback: an index under the tag
`sha256-<hex>` of the image's digest listing the artifact, as clients maintain it."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.oci import OCI_INDEX, OCI_MANIFEST, push_blob, put_manifest
from vigil_gateway.bundles import BUNDLE_TYPE, dsse_pae

EMPTY = "application/vnd.oci.empty.v1+json"
IN_TOTO = "application/vnd.in-toto+json"


def statement(name: str, digest: str) -> bytes:
    """The in-toto statement cosign v3 signs for an image (predicate `cosign/sign/v1`)."""
    algorithm, _, hexdigest = digest.partition(":")
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": name, "digest": {algorithm: hexdigest}}],
            "predicateType": "https://sigstore.dev/cosign/sign/v1",
            "predicate": {},
        }
    ).encode()


def keyed_bundle(key: ec.EllipticCurvePrivateKey, name: str, digest: str) -> bytes:
    """A keyed bundle: a DSSE envelope over the statement naming `name`@`digest`."""
    payload = statement(name, digest)
    signature = key.sign(dsse_pae(IN_TOTO, payload), ec.ECDSA(hashes.SHA256()))
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return json.dumps(
        {
            "mediaType": BUNDLE_TYPE,
            "verificationMaterial": {
                "publicKey": {"hint": base64.b64encode(hashlib.sha256(der).digest()).decode()},
                "tlogEntries": [],
            },
            "dsseEnvelope": {
                "payload": base64.b64encode(payload).decode(),
                "payloadType": IN_TOTO,
                "signatures": [{"sig": base64.b64encode(signature).decode()}],
            },
        }
    ).encode()


def push_referrer(
    http: httpx.Client, base_url: str, repo: str, subject: dict[str, Any], bundle: bytes
) -> dict[str, Any]:
    """Push `bundle` as an artifact referring to `subject` (the image's manifest descriptor)
    and add it to the referrers tag `sha256-<hex>`; the artifact's descriptor."""
    empty = push_blob(http, base_url, repo, b"{}")
    layer = push_blob(http, base_url, repo, bundle)
    artifact = put_manifest(
        http,
        base_url,
        repo,
        hashlib.sha256(bundle).hexdigest()[:20],  # a tag keeps it from garbage collection
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": BUNDLE_TYPE,
            "config": {"mediaType": EMPTY, **empty},
            "layers": [{"mediaType": BUNDLE_TYPE, **layer}],
            "subject": {
                "mediaType": subject["mediaType"],
                "digest": subject["digest"],
                "size": subject["size"],
            },
        },
    )
    entry = {**artifact, "artifactType": BUNDLE_TYPE}
    tag = str(subject["digest"]).replace(":", "-", 1)
    current = http.get(f"{base_url}/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_INDEX})
    listed = current.json().get("manifests", []) if current.status_code == 200 else []
    put_manifest(
        http,
        base_url,
        repo,
        tag,
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*listed, entry]},
    )
    return entry


def descriptor(http: httpx.Client, base_url: str, repo: str, digest: str) -> dict[str, Any]:
    """The manifest descriptor of `repo`@`digest` as the registry serves it (a subject)."""
    accept = f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"
    got = http.get(f"{base_url}/v2/{repo}/manifests/{digest}", headers={"Accept": accept})
    assert got.status_code == 200, got.text
    return {"mediaType": got.headers["content-type"], "digest": digest, "size": len(got.content)}
