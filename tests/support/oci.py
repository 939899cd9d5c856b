"""Images and indexes pushed straight through a registry's HTTP API (no engine involved).

For what the engine cannot do in a test: push to a TLS registry whose CA it does not trust,
or push an OCI index (a multi-arch image) built by hand.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from typing import Any

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(http: httpx.Client, base_url: str, repo: str, blob: bytes) -> dict[str, Any]:
    digest = sha256(blob)
    start = http.post(f"{base_url}/v2/{repo}/blobs/uploads/")
    assert start.status_code == 202, start.text
    location = start.headers["location"]
    if location.startswith("/"):
        location = base_url + location
    sep = "&" if "?" in location else "?"
    put = http.put(f"{location}{sep}digest={digest}", content=blob)
    assert put.status_code == 201, put.text
    return {"digest": digest, "size": len(blob)}


def put_manifest(
    http: httpx.Client, base_url: str, repo: str, ref: str, body: dict[str, Any]
) -> dict[str, Any]:
    data = json.dumps(body).encode()
    put = http.put(
        f"{base_url}/v2/{repo}/manifests/{ref}",
        content=data,
        headers={"Content-Type": body["mediaType"]},
    )
    assert put.status_code == 201, put.text
    return {"mediaType": body["mediaType"], "digest": sha256(data), "size": len(data)}


def push_tiny_image(
    http: httpx.Client,
    base_url: str,
    repo: str,
    ref: str,
    marker: str,
    *,
    architecture: str = "amd64",
    created: str | None = None,
) -> dict[str, Any]:
    """A one-layer OCI image (not runnable) under `repo:ref`; its manifest descriptor.
    Its config has no `created` time unless given one."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        data = marker.encode()
        info = tarfile.TarInfo("marker")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer_bytes)]},
            "config": {"Labels": {"marker": marker}},
            **({"created": created} if created is not None else {}),
        }
    ).encode()
    config_desc = push_blob(http, base_url, repo, config)
    layer_desc = push_blob(http, base_url, repo, layer_bytes)
    return put_manifest(
        http,
        base_url,
        repo,
        ref,
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer_desc}],
        },
    )


def push_index(
    http: httpx.Client,
    base_url: str,
    repo: str,
    ref: str,
    manifests: list[tuple[dict[str, Any], str]],
) -> str:
    """An OCI index of (manifest descriptor, architecture) under `repo:ref`; its digest."""
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {**desc, "platform": {"architecture": arch, "os": "linux"}} for desc, arch in manifests
        ],
    }
    return str(put_manifest(http, base_url, repo, ref, body)["digest"])
