"""Test images, built locally `FROM scratch` with Debian's static busybox: nothing is pulled.

Each build gets a marker file and label, so two builds of one tag are different images, and
a label naming its tag, so builds of one marker under two tags are different images too: a
container another test (or another suite on the same engine) runs on "v1" never holds this
test's old image in use.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from vigil_gateway.registry_client import MANIFEST_ACCEPT
from vigil_shared.engine_kind import identify_client

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

# A process that stays up, answers SIGTERM at once and can be health-checked. The shell waits
# on a background sleep: `wait` returns at a trapped signal, where a foreground `sleep 1`
# loop ran the trap only once its sleep ended (0-1 s more for every stop in the suite).
DEFAULT_CMD = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 2147483647 & wait"]


def busybox_path() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.exists():
            return path
    found = shutil.which("busybox")
    if found:
        return Path(found)
    raise RuntimeError(
        "busybox is missing: install Debian's busybox-static (scripts/prepare-test-env.sh does)"
    )


def _dockerfile(marker: str, extra: str, tag: str) -> str:
    cmd = ", ".join(f'"{part}"' for part in DEFAULT_CMD)
    return (
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        f"COPY marker /marker\n"
        f'LABEL vigil.test.marker="{marker}"\n'
        f"ENV VIGIL_TEST_MARKER={marker}\n"
        + (f'LABEL vigil.test.tag="{tag}"\n' if tag else "")
        + f"{extra}"
        f"CMD [{cmd}]\n"
    )


def build_context(marker: str, extra: str = "", tag: str = "") -> bytes:
    """A tar build context holding the Dockerfile, busybox and the marker."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in (
            ("Dockerfile", _dockerfile(marker, extra, tag).encode(), 0o644),
            ("busybox", busybox_path().read_bytes(), 0o755),
            ("marker", marker.encode() + b"\n", 0o644),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_test_image(client: Any, tag: str, *, marker: str = "v1", extra: str = "") -> str:
    """Build `tag` on the engine behind `client` (a docker.DockerClient); return its image id.

    `extra` adds Dockerfile lines (HEALTHCHECK, EXPOSE, VOLUME, ...) before CMD.
    """
    context = build_context(marker, extra, tag)
    if identify_client(client).kind == "podman":
        chunks = _podman_build(client.api, context, tag)
    else:
        chunks = client.api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
        )
    for chunk in chunks:
        if "error" in chunk:
            raise RuntimeError(f"build of {tag} failed: {chunk['error']}")
    image_id: str = client.api.inspect_image(tag)["Id"]
    return image_id


def _podman_build(api: Any, context: bytes, tag: str) -> Iterator[dict[str, Any]]:
    """Podman's build, in Docker's image format: in its default (OCI) format Podman drops
    HEALTHCHECK (and STOPSIGNAL's kin), and the tests' images carry healthchecks."""
    response = api._post(
        api._url("/build"),
        params={
            "t": tag,
            "rm": 1,
            "forcerm": 1,
            "outputformat": "application/vnd.docker.distribution.manifest.v2+json",
        },
        data=context,
        headers={"Content-Type": "application/x-tar"},
        stream=True,
    )
    api._raise_for_status(response)
    for line in response.iter_lines():
        if line.strip():
            yield json.loads(line)


def push_image(client: Any, tag: str, auth: dict[str, str] | None = None) -> str:
    """Push `tag` with the engine, as a user's CI would; return the registry digest."""
    repo, _, label = tag.rpartition(":")
    pushed: str | None = None
    for line in client.api.push(repo, tag=label, stream=True, decode=True, auth_config=auth):
        if "error" in line:
            raise RuntimeError(f"push of {tag} failed: {line['error']}")
        digest = (line.get("aux") or {}).get("Digest")
        if isinstance(digest, str):
            pushed = digest
    # Docker says the registry's digest in the push's aux line. Podman says none, and its
    # RepoDigests hold its local manifest's digest, not what it re-encoded on the push:
    # ask the registry, as a client pulling the tag would.
    return pushed or registry_digest(tag, auth)


def registry_digest(tag: str, auth: dict[str, str] | None = None) -> str:
    """The digest the registry answers for `tag` (HEAD of its manifest)."""
    repo, _, label = tag.rpartition(":")
    host, _, path = repo.partition("/")
    basic = (auth["username"], auth["password"]) if auth else None
    last: Exception | None = None
    for scheme in ("https", "http"):
        try:
            answer = httpx.head(
                f"{scheme}://{host}/v2/{path}/manifests/{label}",
                headers={"Accept": MANIFEST_ACCEPT},  # as the gateway asks
                auth=basic,
                verify=False,  # the tests' registries: a test CA or plain HTTP
                timeout=10,
            )
        except httpx.HTTPError as exc:
            last = exc
            continue
        answer.raise_for_status()
        return str(answer.headers["Docker-Content-Digest"])
    raise RuntimeError(f"registry of {tag} did not answer: {last}")


class StaleContainer:
    """A container of a test on the engine behind `client`, running build v1 of
    `{registry_host}/{repo}:latest` while the registry already has build v2 (and the host
    does not): the next cycle must update it. `extra` adds Dockerfile lines to both builds;
    `auth` is the registry login the pushes need."""

    def __init__(
        self,
        client: Any,
        registry_host: str,
        name: str,
        repo: str,
        *,
        extra: str = "",
        auth: dict[str, str] | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.tag = f"{registry_host}/{repo}:latest"
        self.old_image = build_test_image(client, self.tag, marker="v1", extra=extra)
        push_image(client, self.tag, auth=auth)
        client.containers.run(self.tag, name=name, detach=True)
        self.old_id: str = client.api.inspect_container(name)["Id"]
        self.new_image = build_test_image(client, self.tag, marker="v2", extra=extra)
        self.new_digest = push_image(client, self.tag, auth=auth)  # v2's registry digest
        client.api.remove_image(self.tag)  # the next cycle must pull it (with `auth`)

    def updated(self) -> bool:
        """Running under its name on build v2."""
        data = self.client.api.inspect_container(self.name)
        return bool(data["Image"] == self.new_image and data["State"]["Running"])
